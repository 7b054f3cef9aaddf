use std::path::PathBuf;

use datafusion::error::DataFusionError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store is missing, unreadable or of a newer schema (the store crate says which).
    #[error(transparent)]
    Store(#[from] hopscope_store::Error),
    /// The I/O error ends the message and is not chained as a source, which would repeat it.
    #[error("reading {path}: {error}")]
    ReadAlarmState {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("saving alarm state in {path}: {error}")]
    SaveAlarmState {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A Logs Insights query that cannot run, at its line and column (not chained as a
    /// source: the message is the whole story).
    #[error("{0}")]
    Query(crate::insights::QueryError),
    /// A query error, as DataFusion words it. Not chained as a source: DataFusion's message
    /// already carries its causes, and printing the chain would repeat them.
    #[error("{0}")]
    DataFusion(DataFusionError),
}

impl From<crate::insights::QueryError> for Error {
    fn from(e: crate::insights::QueryError) -> Self {
        Error::Query(e)
    }
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        Error::DataFusion(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

use std::path::PathBuf;

use datafusion::error::DataFusionError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no hopscope store at {path}: import data first (`hopscope --store {path} import PATH`) or point --store / HOPSCOPE_STORE at an existing store"
    )]
    NoStore { path: PathBuf },
    #[error("store {path}: {reason}")]
    BadStore { path: PathBuf, reason: String },
    #[error(
        "store {path} was written by a newer hopscope (schema version {found}, this build reads up to {supported}); upgrade hopscope"
    )]
    NewerStore {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
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

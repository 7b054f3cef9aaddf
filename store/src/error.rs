use std::path::PathBuf;

/// Errors of reading and writing the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing Parquet {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("{location}: {source}")]
    Remote {
        location: String,
        source: object_store::Error,
    },
    /// A rollup's summarizer refused a data file's rows.
    #[error("summarizing into {path}: {reason}")]
    Summary { path: PathBuf, reason: String },
    #[error("store location {location}: {reason}")]
    BadLocation { location: String, reason: String },
    #[error("starting the store writer thread: {0}")]
    WriterThread(std::io::Error),
    /// Batches handed to a writer thread after it stopped on an error (reported once, earlier).
    #[error("the store writer stopped after an earlier error")]
    WriterStopped,
    #[error("{0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(
        "store {path} was written by a newer hopscope (schema version {found}, this build reads up to {supported}); upgrade hopscope or choose another --store"
    )]
    NewerStore {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("store {path}: {reason}")]
    BadStore { path: PathBuf, reason: String },
    #[error(
        "no hopscope store at {path}: import data first (`hopscope --store {path} import PATH`) or point --store / HOPSCOPE_STORE at an existing store"
    )]
    NoStore { path: PathBuf },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

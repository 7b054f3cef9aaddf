use std::path::PathBuf;

/// Errors that stop an import or a store operation. A single bad record is never one of these:
/// it becomes a [`crate::Rejection`] and the run goes on.
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
    #[error("store {path}: {reason}")]
    BadStore { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] hopscope_store::Error),
    /// An AWS call that failed for good (not retryable, or out of attempts).
    #[cfg(feature = "aws")]
    #[error("{operation} failed after {attempts} attempt(s): {}", aws_sdk_xray::error::DisplayErrorContext(source.as_ref()))]
    Aws {
        operation: &'static str,
        attempts: u32,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The identity may not make the call: the source that needs it is skipped, with the IAM
    /// action to add.
    #[cfg(feature = "aws")]
    #[error("{operation} was denied ({message}): allow {action} to collect it")]
    AccessDenied {
        operation: &'static str,
        action: String,
        message: String,
    },
    /// A Glue Data Catalog call of `athena-ddl --apply` that failed, with what to do about it.
    #[cfg(feature = "aws")]
    #[error("{operation} {target} failed ({message}): {fix}")]
    Glue {
        operation: &'static str,
        target: String,
        message: String,
        fix: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Sources -> Arrow batches -> the store.
//!
//! The sources are files (`hopscope import`) and, with the `aws` feature, AWS itself
//! ([`collect`], clients built in [`aws`]): X-Ray documents and API responses, CloudWatch
//! Logs responses and Lambda log text, CloudWatch metric responses, OTel spans and Lambda
//! function configurations. Each parser is a pure function from text to rows; [`import`] detects
//! formats and drives them, and the batches go to the store ([`hopscope_store`]), which writes
//! them as Parquet, atomically and without duplicates.

#[cfg(feature = "aws")]
pub mod aws;
mod borrowed;
#[cfg(feature = "aws")]
pub mod collect;
pub mod critical_path;
pub mod cwlogs;
pub mod error;
#[cfg(feature = "aws")]
pub mod glue;
pub mod import;
pub mod lambda_functions;
pub mod lambda_logs;
pub mod metrics;
pub mod otel;
pub mod output;
#[cfg(feature = "aws")]
pub mod publish;
#[cfg(feature = "aws")]
pub mod retry;
pub mod xray;

pub use error::Error;
pub use output::{FileCtx, Output, Rejection};

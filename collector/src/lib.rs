//! Sources -> Arrow batches -> the store.
//!
//! The sources are files (`hopscope import`) and, with the `aws` feature, AWS itself
//! ([`collect`], clients built in [`aws`]): X-Ray documents and API responses, CloudWatch
//! Logs responses and Lambda log text, CloudWatch metric responses and OTel spans. Each parser is a
//! pure function from text to rows; [`import`] detects formats and drives them, [`store`] writes
//! the batches as Parquet, atomically and without duplicates.

#[cfg(feature = "aws")]
pub mod aws;
mod borrowed;
#[cfg(feature = "aws")]
pub mod collect;
pub mod critical_path;
pub mod cwlogs;
pub mod error;
pub mod import;
pub mod lambda_logs;
pub mod metrics;
pub mod otel;
pub mod output;
#[cfg(feature = "aws")]
pub mod publish;
pub mod store;
pub mod xray;

pub use error::Error;
pub use output::{FileCtx, Output, Rejection};

/// Import fills and frees a batch's worth of builders and Parquet buffers (tens of MB) over and
/// over. By default glibc serves blocks that large with `mmap` and unmaps them on free, so every
/// batch faulted its memory in again: page faults, `malloc` and `free` were about a fifth of the
/// parsing thread's profile. Served from the heap and not trimmed, they are reused (the
/// analyzer's Parquet decoding gains too). mimalloc did the same for import but tripled the
/// analyzer's peak memory. A no-op off glibc.
///
/// # Safety
/// Call before any other thread allocates (first thing in `main`): it changes the allocator's
/// process-wide settings.
pub unsafe fn keep_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: the caller guarantees no other thread allocates yet.
    unsafe {
        // 32 MiB is glibc's largest mmap threshold; trimming waits for 512 MiB free at the top.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

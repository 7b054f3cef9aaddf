//! The allocator policy of the process: how glibc's malloc should treat large blocks for what
//! this run of the binary mostly does. A process-wide choice, so it belongs to `main`; the
//! ingest bench includes this file to measure what the binary does.

/// What a run of the binary mostly does, for [`tune_allocator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Import or collect: batch after batch built, handed to the writer, encoded and freed.
    Ingest,
    /// Queries, maps, the dashboard: Parquet decoded into large buffers, query after query.
    Query,
}

/// Sets glibc's allocator up for `workload`. Blocks of at least `M_MMAP_THRESHOLD` bytes get a
/// mapping of their own, returned to the system when freed; smaller ones come from the heap,
/// where freed memory waits for reuse. glibc's default threshold moves up to 32 MiB as large
/// blocks are freed. A no-op off glibc.
/// - [`Workload::Query`]: 32 MiB. Decoding reuses its large buffers from the heap instead of
///   faulting fresh pages in for every query.
/// - [`Workload::Ingest`]: 1 MiB. Each batch's buffers differ in size from the last one's, so in
///   the heap they would not fit the holes the last batch left and the heap would keep growing;
///   mapped, they leave no holes, and peak memory follows the batch size. The parsing thread
///   pays for its fresh pages, but an import waits on the writer thread, the slower of the two.
///
/// The measurements behind both choices are in benches/README.md ("Peak memory of a first
/// import: allocator per workload").
///
/// # Safety
/// Call before any other thread allocates (in `main`, before the runtime starts): it changes the
/// allocator's process-wide settings.
#[allow(unsafe_code)]
pub unsafe fn tune_allocator(workload: Workload) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: the caller guarantees no other thread allocates yet.
    unsafe {
        let mmap_threshold = match workload {
            Workload::Ingest => 1 << 20,
            Workload::Query => 32 << 20,
        };
        libc::mallopt(libc::M_MMAP_THRESHOLD, mmap_threshold);
        // Setting the threshold turns glibc's own tuning off, trimming included: the top of the
        // heap is handed back only once 512 MiB of it are free.
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = workload;
}

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
///   faulting fresh pages in: a GROUP BY over the `raw` column of 10 M spans takes 1.3 s, against
///   2.3 s at 1 MiB.
/// - [`Workload::Ingest`]: 1 MiB. Each batch's buffers differ in size from the last one's, so in
///   the heap they did not fit the holes the last batch left and the heap kept growing. Mapped,
///   they leave no holes. Peak RSS of a first import, two or three runs each (benches/README.md):
///   251-276 MB at 1 M spans, 295-312 at 3 M, 397-420 at 10 M with 32 MiB; 195-198, 232-237 and
///   318-323 with 1 MiB, in the same wall time but at 3 M (+5 %). The parsing thread alone is
///   13 % slower (its fresh pages fault in each batch: criterion 279.8 against 322.4 MB/s), but
///   an import waits on the writer thread, the slower of the two.
///
/// # Safety
/// Call before any other thread allocates (in `main`, before the runtime starts): it changes the
/// allocator's process-wide settings.
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

//! Where finished batches go: the store, a writer thread in front of it, or a test's `Vec`.

mod writer_thread;

use arrow::array::RecordBatch;

use crate::error::Result;

pub use writer_thread::with_writer_thread;

/// Receives finished batches (the store, or a test's Vec).
pub trait BatchSink {
    fn write(&mut self, table: &'static str, batch: RecordBatch) -> Result<()>;

    /// Returns once every batch written so far is durably stored (a checkpoint may then be
    /// saved). Sinks that finish each batch within `write` keep this default.
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}

impl BatchSink for Vec<(&'static str, RecordBatch)> {
    fn write(&mut self, table: &'static str, batch: RecordBatch) -> Result<()> {
        self.push((table, batch));
        Ok(())
    }
}

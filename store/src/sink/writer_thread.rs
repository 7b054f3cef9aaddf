//! A [`BatchSink`] whose writes run on a thread of their own, so that parsing the next batch
//! overlaps encoding, compressing and syncing the previous one.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, PoisonError};

use arrow::array::RecordBatch;

use super::BatchSink;
use crate::error::{Error, Result};

/// Batches handed over and waiting for the writer. One keeps both cores busy (one batch parsed
/// while another is written) and bounds memory: at most this many batches wait, besides the one
/// being written and the one in the builders.
const QUEUED_BATCHES: usize = 1;

enum Message {
    Batch(&'static str, RecordBatch),
    /// Answered once every batch sent before it is written and synced.
    Sync(SyncSender<()>),
}

/// Runs `f` with a sink that hands each batch to a thread writing it into `sink`, in order, and
/// returns once that thread has written everything handed over. An error of `sink` is returned
/// by the `write` or `sync` call that follows it and, if `f` did not see it, by this function.
pub fn with_writer_thread<R, E: From<Error>>(
    sink: &mut (dyn BatchSink + Send),
    f: impl FnOnce(&mut dyn BatchSink) -> Result<R, E>,
) -> Result<R, E> {
    let failure = Mutex::new(None);
    let result = std::thread::scope(|scope| {
        let (tx, rx) = sync_channel(QUEUED_BATCHES);
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn_scoped(scope, || write_all(sink, rx, &failure))
            .map_err(Error::WriterThread)?;
        let mut front = Front {
            tx,
            failure: &failure,
        };
        let result = f(&mut front);
        // Closing the channel lets the writer finish what is queued and stop.
        drop(front);
        if let Err(panic) = writer.join() {
            std::panic::resume_unwind(panic);
        }
        result
    });
    match failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(e.into()),
        None => result,
    }
}

/// The writer thread: writes until the channel closes or a write fails. On failure the error is
/// left in `failure` and the receiver dropped, which makes every later send fail.
fn write_all(
    sink: &mut (dyn BatchSink + Send),
    rx: Receiver<Message>,
    failure: &Mutex<Option<Error>>,
) {
    for message in rx {
        let done = match message {
            Message::Batch(table, batch) => sink.write(table, batch),
            Message::Sync(ack) => sink.sync().map(|()| {
                // The other side waits for this; if it is gone there is nobody to tell.
                let _ = ack.send(());
            }),
        };
        if let Err(e) = done {
            *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
            return;
        }
    }
}

/// The parser's side of the channel.
struct Front<'f> {
    tx: SyncSender<Message>,
    failure: &'f Mutex<Option<Error>>,
}

impl Front<'_> {
    /// The writer's error, the first time it is asked for.
    fn failed(&self) -> Error {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or(Error::WriterStopped)
    }

    fn send(&self, message: Message) -> Result<()> {
        self.tx.send(message).map_err(|_| self.failed())
    }
}

impl BatchSink for Front<'_> {
    fn write(&mut self, table: &'static str, batch: RecordBatch) -> Result<()> {
        self.send(Message::Batch(table, batch))
    }

    fn sync(&mut self) -> Result<()> {
        let (ack, done) = sync_channel(1);
        self.send(Message::Sync(ack))?;
        done.recv().map_err(|_| self.failed())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;
    use std::time::Duration;

    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::Int64Type;

    use super::*;

    fn batch(n: i64) -> RecordBatch {
        RecordBatch::try_from_iter([(
            "n",
            std::sync::Arc::new(Int64Array::from(vec![n])) as arrow::array::ArrayRef,
        )])
        .unwrap()
    }

    fn numbers(batches: &[(&'static str, RecordBatch)]) -> Vec<i64> {
        batches
            .iter()
            .map(|(_, b)| b.column(0).as_primitive::<Int64Type>().value(0))
            .collect()
    }

    /// Writes slowly, so the channel is full most of the time.
    struct Slow(Vec<(&'static str, RecordBatch)>);

    impl BatchSink for Slow {
        fn write(&mut self, table: &'static str, batch: RecordBatch) -> Result<()> {
            std::thread::sleep(Duration::from_millis(2));
            self.0.push((table, batch));
            Ok(())
        }
    }

    #[test]
    fn every_batch_arrives_in_order_when_the_writer_lags() {
        let mut sink = Slow(Vec::new());
        with_writer_thread(&mut sink, |front| -> Result<()> {
            for n in 0..50 {
                front.write("t", batch(n))?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(numbers(&sink.0), (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn sync_returns_after_the_batches_before_it_are_written() {
        let (written_tx, written) = channel();
        struct Reporting(std::sync::mpsc::Sender<i64>);
        impl BatchSink for Reporting {
            fn write(&mut self, _: &'static str, batch: RecordBatch) -> Result<()> {
                std::thread::sleep(Duration::from_millis(5));
                let n = batch.column(0).as_primitive::<Int64Type>().value(0);
                self.0.send(n).unwrap();
                Ok(())
            }
        }
        let mut sink = Reporting(written_tx);
        with_writer_thread(&mut sink, |front| -> Result<()> {
            for n in 0..3 {
                front.write("t", batch(n))?;
            }
            front.sync()?;
            assert_eq!(written.try_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
            Ok(())
        })
        .unwrap();
    }

    /// Fails its `n`th write with a write error naming `path`.
    struct FailsAt(usize);

    impl BatchSink for FailsAt {
        fn write(&mut self, _: &'static str, _: RecordBatch) -> Result<()> {
            self.0 -= 1;
            if self.0 == 0 {
                return Err(Error::Write {
                    path: "disk/full".into(),
                    source: std::io::Error::other("no space left"),
                });
            }
            Ok(())
        }
    }

    #[test]
    fn a_write_error_reaches_the_parser_side() {
        let mut sink = FailsAt(3);
        let mut sent = 0;
        let e = with_writer_thread(&mut sink, |front| -> Result<()> {
            loop {
                front.write("t", batch(sent))?;
                sent += 1;
            }
        })
        .unwrap_err();
        assert!(e.to_string().contains("disk/full"), "{e}");
        // The writer stopped at the failing batch; at most one more was queued behind it.
        assert!((3..=4).contains(&sent), "{sent}");
    }

    #[test]
    fn a_write_error_the_parser_never_saw_is_returned_at_the_end() {
        let mut sink = FailsAt(1);
        let e = with_writer_thread(&mut sink, |front| front.write("t", batch(0))).unwrap_err();
        assert!(e.to_string().contains("disk/full"), "{e}");
    }

    #[test]
    fn sync_reports_a_write_error() {
        let mut sink = FailsAt(2);
        let e = with_writer_thread(&mut sink, |front| {
            front.write("t", batch(0))?;
            front.write("t", batch(1))?;
            front.sync()
        })
        .unwrap_err();
        assert!(e.to_string().contains("disk/full"), "{e}");
    }
}

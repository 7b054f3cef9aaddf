//! Where parsers put what they read: row builders per table, and rejections.

use std::fmt::Display;

use hopscope_schema::lambda_functions::LambdaFunctionBatchBuilder;
use hopscope_schema::lambda_invocations::LambdaInvocationBatchBuilder;
use hopscope_schema::log_events::LogEventBatchBuilder;
use hopscope_schema::metric_points::MetricPointBatchBuilder;
use hopscope_schema::spans::{SpanBatchBuilder, SpanRow};
use hopscope_schema::trace_coverage::TraceCoverageBatchBuilder;
use hopscope_schema::{
    lambda_functions, lambda_invocations, log_events, metric_points, spans, trace_coverage,
};
use hopscope_store::BatchSink;

use crate::error::Result;
use crate::{critical_path, xray};

/// What a parser knows about the file it reads.
#[derive(Debug, Clone, Copy)]
pub struct FileCtx<'a> {
    /// The file as the user named it, for messages.
    pub path: &'a str,
    /// Log group for inputs that do not carry one (FilterLogEvents answers, plain text).
    pub log_group: Option<&'a str>,
    /// When the run started, in epoch microseconds ([`clock_micros`]): a timestamp more than a
    /// day after it is a unit mistake. Passed in so that parsers never read the clock.
    pub now: i64,
}

/// The system clock in epoch microseconds, read once per run for [`FileCtx::now`].
pub fn clock_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// [`FileCtx::now`] in unit tests: 2027-01-01T00:00:00Z.
#[cfg(test)]
pub(crate) const TEST_NOW: i64 = 1_798_761_600_000_000;

/// One record that could not be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub file: String,
    /// Where in the file: `line 12`, `Traces[0].Segments[3]`, `events[7]`.
    pub record: String,
    pub reason: String,
}

impl Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.file, self.record, self.reason)
    }
}

/// How many rejections are kept with their reasons; the rest are only counted.
const KEPT_REJECTIONS: usize = 1000;

/// Row builders for every table plus the rejections of the run. Parsers append rows and call
/// [`Output::flush_full`] between records so memory stays bounded by the batch size.
pub struct Output<'s> {
    pub spans: SpanBatchBuilder,
    pub log_events: LogEventBatchBuilder,
    pub invocations: LambdaInvocationBatchBuilder,
    pub metrics: MetricPointBatchBuilder,
    pub functions: LambdaFunctionBatchBuilder,
    pub coverage: TraceCoverageBatchBuilder,
    sink: &'s mut dyn BatchSink,
    batch_rows: usize,
    rejections: Vec<Rejection>,
    rejected: usize,
    /// Records read, accepted or not (for the summary).
    pub records: usize,
    /// When set, the trace of every Lambda invocation written (REPORT lines name it): the
    /// collector learns which traces to fetch in the Transaction Search world from them.
    pub trace_hints: Option<Vec<TraceHint>>,
    pub(crate) scratch: Scratch,
}

/// A trace an invocation belongs to, with what the invocation says of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceHint {
    pub trace_id: String,
    /// The invocation failed or timed out.
    pub failed: bool,
    pub duration_ms: Option<f64>,
}

/// Buffers the parsers reuse from one record to the next: NDJSON brings a document of a few
/// spans per line, and allocating these for each one was a large share of the import.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) xray_nodes: Vec<xray::Node<'static>>,
    pub(crate) xray_entries: Vec<xray::Entry<'static>>,
    pub(crate) span_rows: Vec<SpanRow<'static>>,
    pub(crate) critical_path: critical_path::Scratch,
}

/// `v`'s allocation, emptied, as a vector of `U`: a buffer of borrowed rows is reused for rows
/// borrowing from the next record. Collecting an emptied `vec::IntoIter` through `map` reuses
/// the allocation when `T` and `U` have the same size and alignment (`Row<'a>` and `Row<'b>`).
pub(crate) fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector was emptied"))
        .collect()
}

impl<'s> Output<'s> {
    pub fn new(sink: &'s mut dyn BatchSink, batch_rows: usize) -> Self {
        Self {
            spans: SpanBatchBuilder::default(),
            log_events: LogEventBatchBuilder::default(),
            invocations: LambdaInvocationBatchBuilder::default(),
            metrics: MetricPointBatchBuilder::default(),
            functions: LambdaFunctionBatchBuilder::default(),
            coverage: TraceCoverageBatchBuilder::default(),
            sink,
            batch_rows: batch_rows.max(1),
            rejections: Vec::new(),
            rejected: 0,
            records: 0,
            trace_hints: None,
            scratch: Scratch::default(),
        }
    }

    /// The account and Region of every row written from now on (`lambda_functions` rows name
    /// their own, from the function's ARN).
    pub fn set_origin(&mut self, origin: &hopscope_schema::Origin) {
        self.spans.set_origin(origin);
        self.log_events.set_origin(origin);
        self.invocations.set_origin(origin);
        self.metrics.set_origin(origin);
        self.coverage.set_origin(origin);
    }

    /// Counts one rejected record and keeps its reason.
    pub fn reject(&mut self, ctx: &FileCtx<'_>, record: impl Display, reason: impl Display) {
        self.rejected += 1;
        if self.rejections.len() < KEPT_REJECTIONS {
            self.rejections.push(Rejection {
                file: ctx.path.to_string(),
                record: record.to_string(),
                reason: reason.to_string(),
            });
        }
    }

    pub fn rejected(&self) -> usize {
        self.rejected
    }

    pub fn rejections(&self) -> &[Rejection] {
        &self.rejections
    }

    /// Writes out every table whose builder holds a full batch.
    pub fn flush_full(&mut self) -> Result<()> {
        self.flush(false)
    }

    /// Writes out everything buffered and waits until the sink has stored it.
    pub fn flush_all(&mut self) -> Result<()> {
        self.flush(true)?;
        Ok(self.sink.sync()?)
    }

    fn flush(&mut self, all: bool) -> Result<()> {
        let n = self.batch_rows;
        // Raw documents make span rows large: flush on bytes as well as rows.
        let full = |len: usize, bytes: usize| len > 0 && (all || len >= n || bytes >= 64 << 20);
        if full(self.spans.len(), self.spans.buffered_bytes()) {
            self.sink.write(spans::TABLE, self.spans.finish())?;
        }
        if full(self.log_events.len(), self.log_events.buffered_bytes()) {
            self.sink
                .write(log_events::TABLE, self.log_events.finish())?;
        }
        if full(self.invocations.len(), 0) {
            self.sink
                .write(lambda_invocations::TABLE, self.invocations.finish())?;
        }
        if full(self.metrics.len(), 0) {
            self.sink
                .write(metric_points::TABLE, self.metrics.finish())?;
        }
        if full(self.functions.len(), 0) {
            self.sink
                .write(lambda_functions::TABLE, self.functions.finish())?;
        }
        if full(self.coverage.len(), 0) {
            self.sink
                .write(trace_coverage::TABLE, self.coverage.finish())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_vectors_keep_their_allocation() {
        let text = String::from("a b c");
        let mut words: Vec<&str> = text.split(' ').collect();
        words.reserve(100);
        let capacity = words.capacity();
        let reused: Vec<&'static str> = recycle(words);
        assert!(reused.is_empty());
        assert_eq!(reused.capacity(), capacity);
    }
}

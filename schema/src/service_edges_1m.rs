//! `service_edges_1m`: the service map's tally per minute, written at ingest beside the spans it
//! summarizes. One row per minute of `start_time` and caller -> callee pair (with their types,
//! account and Region) over the spans that enter a node, as `service_edges` counts them.
//!
//! Each file summarizes exactly one data file of `spans` and carries its name
//! (`service_edges_1m/hour=H/part-N.parquet` summarizes `spans/hour=H/part-N.parquet`): a span
//! is stored once, in one data file, so a reader that takes a data file's summary where it
//! exists and the data file itself where it does not counts every span once.
//!
//! Durations are HdrHistogram V2 values (as `hdr_histogram` makes them): `hdr_merge` rolls the
//! minutes up, and the merged histogram holds what one histogram of all the spans would.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BinaryBuilder, Float64Builder, Int64Builder, RecordBatch, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::types::{DictBuilder, dict_type, timestamp_type};

pub const TABLE: &str = "service_edges_1m";

/// Not deduplicated by key: each file summarizes one data file of [`SOURCE`], whose rows were.
pub const KEY: &[&str] = &[];
pub const TIME: &str = col::MINUTE;
pub const UNIQUE_TEXT: &[&str] = &[];
/// The table it summarizes.
pub const SOURCE: &str = crate::spans::TABLE;

pub mod col {
    pub use crate::origin::{ACCOUNT_ID, REGION};
    /// The minute of the spans' `start_time`.
    pub const MINUTE: &str = "minute";
    /// The parent's service (null: the span enters from outside the trace).
    pub const CALLER: &str = "caller";
    pub const CALLER_TYPE: &str = "caller_type";
    pub const CALLEE: &str = "callee";
    pub const CALLEE_TYPE: &str = "callee_type";
    /// Spans that start their trace.
    pub const ROOTS: &str = "roots";
    pub const REQUESTS: &str = "requests";
    /// Neither error nor fault.
    pub const OK: &str = "ok";
    /// Errors other than throttles.
    pub const ERRORS: &str = "errors";
    pub const THROTTLES: &str = "throttles";
    pub const FAULTS: &str = "faults";
    /// Sum of `duration_ms` over the spans with a duration (`timed`).
    pub const TOTAL_MS: &str = "total_ms";
    pub const TIMED: &str = "timed";
    /// Of `timed`: in progress or timed out (their real duration is longer).
    pub const CENSORED: &str = "censored";
    /// HdrHistogram of the durations (µs, 3 significant digits).
    pub const DURATIONS: &str = "durations";
    /// Spans with a queue dwell (calls the caller did not wait for).
    pub const ASYNC_CALLS: &str = "async_calls";
    /// HdrHistogram of their dwell (µs).
    pub const DWELL: &str = "dwell";
    /// Spans with the error flag, throttles included (unlike `errors`; a throttle need not
    /// carry the flag): what an error rate counts. Null in summaries written before the column
    /// existed.
    pub const FLAGGED_ERRORS: &str = "flagged_errors";
    /// The least and greatest `duration_ms` of the `timed` spans: null when none has one, and
    /// in summaries written before the columns existed (`flagged_errors` is null then).
    pub const MIN_MS: &str = "min_ms";
    pub const MAX_MS: &str = "max_ms";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use col::*;
    let count = |name| Field::new(name, DataType::Int64, false);
    let ms = |name| Field::new(name, DataType::Float64, true);
    let origin = crate::origin::fields();
    Arc::new(Schema::new(vec![
        Field::new(MINUTE, timestamp_type(), false),
        Field::new(CALLER, dict_type(), true),
        Field::new(CALLER_TYPE, dict_type(), true),
        Field::new(CALLEE, dict_type(), true),
        Field::new(CALLEE_TYPE, dict_type(), true),
        count(ROOTS),
        count(REQUESTS),
        count(OK),
        count(ERRORS),
        count(THROTTLES),
        count(FAULTS),
        Field::new(TOTAL_MS, DataType::Float64, false),
        count(TIMED),
        count(CENSORED),
        Field::new(DURATIONS, DataType::Binary, false),
        count(ASYNC_CALLS),
        Field::new(DWELL, DataType::Binary, false),
        origin[0].clone(),
        origin[1].clone(),
        // Added after the first summaries were written: older files lack them.
        Field::new(FLAGGED_ERRORS, DataType::Int64, true),
        ms(MIN_MS),
        ms(MAX_MS),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

/// One minute of one edge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceEdge1mRow<'a> {
    /// Epoch microseconds of the minute's start.
    pub minute: i64,
    pub caller: Option<&'a str>,
    pub caller_type: Option<&'a str>,
    pub callee: Option<&'a str>,
    pub callee_type: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub region: Option<&'a str>,
    pub roots: i64,
    pub requests: i64,
    pub ok: i64,
    pub errors: i64,
    pub throttles: i64,
    pub faults: i64,
    pub total_ms: f64,
    pub timed: i64,
    pub censored: i64,
    pub durations: &'a [u8],
    pub async_calls: i64,
    pub dwell: &'a [u8],
    pub flagged_errors: Option<i64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

#[derive(Default)]
pub struct ServiceEdge1mBatchBuilder {
    minute: TimestampMicrosecondBuilder,
    caller: DictBuilder,
    caller_type: DictBuilder,
    callee: DictBuilder,
    callee_type: DictBuilder,
    counts: [Int64Builder; 6],
    total_ms: Float64Builder,
    timed: Int64Builder,
    censored: Int64Builder,
    durations: BinaryBuilder,
    async_calls: Int64Builder,
    dwell: BinaryBuilder,
    account_id: DictBuilder,
    region: DictBuilder,
    flagged_errors: Int64Builder,
    min_ms: Float64Builder,
    max_ms: Float64Builder,
    rows: usize,
}

impl ServiceEdge1mBatchBuilder {
    pub fn append(&mut self, r: &ServiceEdge1mRow<'_>) {
        self.minute.append_value(r.minute);
        self.caller.append_option(r.caller);
        self.caller_type.append_option(r.caller_type);
        self.callee.append_option(r.callee);
        self.callee_type.append_option(r.callee_type);
        let counts = [r.roots, r.requests, r.ok, r.errors, r.throttles, r.faults];
        for (b, v) in self.counts.iter_mut().zip(counts) {
            b.append_value(v);
        }
        self.total_ms.append_value(r.total_ms);
        self.timed.append_value(r.timed);
        self.censored.append_value(r.censored);
        self.durations.append_value(r.durations);
        self.async_calls.append_value(r.async_calls);
        self.dwell.append_value(r.dwell);
        self.account_id.append_option(r.account_id);
        self.region.append_option(r.region);
        self.flagged_errors.append_option(r.flagged_errors);
        self.min_ms.append_option(r.min_ms);
        self.max_ms.append_option(r.max_ms);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.minute.finish().with_timezone("UTC")),
            Arc::new(self.caller.finish()),
            Arc::new(self.caller_type.finish()),
            Arc::new(self.callee.finish()),
            Arc::new(self.callee_type.finish()),
        ];
        columns.extend(
            self.counts
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.extend([
            Arc::new(self.total_ms.finish()) as ArrayRef,
            Arc::new(self.timed.finish()),
            Arc::new(self.censored.finish()),
            Arc::new(self.durations.finish()),
            Arc::new(self.async_calls.finish()),
            Arc::new(self.dwell.finish()),
            Arc::new(self.account_id.finish()),
            Arc::new(self.region.finish()),
            Arc::new(self.flagged_errors.finish()),
            Arc::new(self.min_ms.finish()),
            Arc::new(self.max_ms.finish()),
        ]);
        self.rows = 0;
        RecordBatch::try_new(schema(), columns)
            .expect("builders follow the service_edges_1m schema")
    }
}

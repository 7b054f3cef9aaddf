//! `hops_1m`: the hop ranking's tally per minute, written at ingest beside the spans it
//! summarizes. One row per minute of `start_time` and hop (`hop_caller -> service`), as `hops`
//! counts them: calls by outcome, critical time and its split, cold starts, timeouts, the
//! durations' histogram, and the slowest traces of the minute.
//!
//! Each file summarizes exactly one data file of `spans`, with its partition and name, as
//! [`crate::service_edges_1m`] does (see there why that keeps every span counted once).
//!
//! The evidence lists stay exact: a trace's critical time in a hop sits on one span
//! (`hop_trace_critical_ms`), so it is in one minute, and the `n` slowest traces of any set of
//! minutes are among the [`SLOWEST_KEPT`] slowest of each, for `n` up to that many.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BinaryBuilder, Float64Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
    StructBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};

use crate::types::{DictBuilder, dict_type, timestamp_type};

pub const TABLE: &str = "hops_1m";

/// Not deduplicated by key: each file summarizes one data file of [`SOURCE`], whose rows were.
pub const KEY: &[&str] = &[];
pub const TIME: &str = col::MINUTE;
pub const UNIQUE_TEXT: &[&str] = &[];
/// The table it summarizes.
pub const SOURCE: &str = crate::spans::TABLE;

/// Slowest traces kept per minute and hop: a report asking for more reads the spans.
pub const SLOWEST_KEPT: usize = 10;

pub mod col {
    /// The minute of the spans' `start_time`.
    pub const MINUTE: &str = "minute";
    /// The spans' `hop_caller` (null: the trace's client).
    pub const CALLER: &str = "caller";
    /// The spans' `service`.
    pub const CALLEE: &str = "callee";
    /// The greatest `service_type` of the spans (as `max()` picks it).
    pub const CALLEE_TYPE: &str = "callee_type";
    /// Spans that start their trace.
    pub const ROOTS: &str = "roots";
    /// Calls: spans where the trace enters the callee.
    pub const REQUESTS: &str = "requests";
    /// Traces the hop appears in (spans with `hop_trace_critical_ms`).
    pub const TRACES: &str = "traces";
    /// Of `requests`: errors other than throttles, throttles, faults.
    pub const ERRORS: &str = "errors";
    pub const THROTTLES: &str = "throttles";
    pub const FAULTS: &str = "faults";
    /// Calls that never answered, and Lambda invocations that timed out.
    pub const TIMEOUTS: &str = "timeouts";
    /// Of the timed calls: in progress or timed out (their real duration is longer).
    pub const CENSORED: &str = "censored";
    /// Lambda initialization subsegments (cold starts, SnapStart restores).
    pub const COLD_STARTS: &str = "cold_starts";
    /// Lambda function segments.
    pub const INVOCATIONS: &str = "invocations";
    /// Sum of `critical_ms`, and of it the Lambda initialization and overhead parts.
    pub const CRITICAL_MS: &str = "critical_ms";
    pub const INIT_MS: &str = "init_ms";
    pub const OVERHEAD_MS: &str = "overhead_ms";
    /// HdrHistogram V2 of the calls' durations (µs, 3 significant digits).
    pub const DURATIONS: &str = "durations";
    /// The minute's slowest traces in the hop, most critical time first, ties to the smaller id.
    pub const SLOWEST: &str = "slowest";
    /// Fields of a `slowest` entry.
    pub const TRACE_ID: &str = "trace_id";
    pub const TRACE_CRITICAL_MS: &str = "critical_ms";
}

/// The fields of one `slowest` entry.
fn slowest_fields() -> Fields {
    Fields::from(vec![
        Field::new(col::TRACE_ID, DataType::Utf8, false),
        Field::new(col::TRACE_CRITICAL_MS, DataType::Float64, false),
    ])
}

fn slowest_item() -> Field {
    Field::new_list_field(DataType::Struct(slowest_fields()), false)
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use col::*;
    let count = |name| Field::new(name, DataType::Int64, false);
    let ms = |name| Field::new(name, DataType::Float64, false);
    Arc::new(Schema::new(vec![
        Field::new(MINUTE, timestamp_type(), false),
        Field::new(CALLER, dict_type(), true),
        Field::new(CALLEE, dict_type(), false),
        Field::new(CALLEE_TYPE, dict_type(), true),
        count(ROOTS),
        count(REQUESTS),
        count(TRACES),
        count(ERRORS),
        count(THROTTLES),
        count(FAULTS),
        count(TIMEOUTS),
        count(CENSORED),
        count(COLD_STARTS),
        count(INVOCATIONS),
        ms(CRITICAL_MS),
        ms(INIT_MS),
        ms(OVERHEAD_MS),
        Field::new(DURATIONS, DataType::Binary, false),
        Field::new(SLOWEST, DataType::List(Arc::new(slowest_item())), false),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

/// One minute of one hop.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hop1mRow<'a> {
    /// Epoch microseconds of the minute's start.
    pub minute: i64,
    pub caller: Option<&'a str>,
    pub callee: &'a str,
    pub callee_type: Option<&'a str>,
    pub roots: i64,
    pub requests: i64,
    pub traces: i64,
    pub errors: i64,
    pub throttles: i64,
    pub faults: i64,
    pub timeouts: i64,
    pub censored: i64,
    pub cold_starts: i64,
    pub invocations: i64,
    pub critical_ms: f64,
    pub init_ms: f64,
    pub overhead_ms: f64,
    pub durations: &'a [u8],
    /// (critical ms, trace id), slowest first.
    pub slowest: &'a [(f64, String)],
}

pub struct Hop1mBatchBuilder {
    minute: TimestampMicrosecondBuilder,
    caller: DictBuilder,
    callee: DictBuilder,
    callee_type: DictBuilder,
    counts: [Int64Builder; 10],
    ms: [Float64Builder; 3],
    durations: BinaryBuilder,
    slowest: ListBuilder<StructBuilder>,
    rows: usize,
}

impl Default for Hop1mBatchBuilder {
    fn default() -> Self {
        Hop1mBatchBuilder {
            minute: TimestampMicrosecondBuilder::new(),
            caller: DictBuilder::default(),
            callee: DictBuilder::default(),
            callee_type: DictBuilder::default(),
            counts: Default::default(),
            ms: Default::default(),
            durations: BinaryBuilder::new(),
            slowest: ListBuilder::new(StructBuilder::from_fields(slowest_fields(), 0))
                .with_field(Arc::new(slowest_item())),
            rows: 0,
        }
    }
}

impl Hop1mBatchBuilder {
    pub fn append(&mut self, r: &Hop1mRow<'_>) {
        self.minute.append_value(r.minute);
        self.caller.append_option(r.caller);
        self.callee.append_value(r.callee);
        self.callee_type.append_option(r.callee_type);
        let counts = [
            r.roots,
            r.requests,
            r.traces,
            r.errors,
            r.throttles,
            r.faults,
            r.timeouts,
            r.censored,
            r.cold_starts,
            r.invocations,
        ];
        for (b, v) in self.counts.iter_mut().zip(counts) {
            b.append_value(v);
        }
        for (b, v) in self
            .ms
            .iter_mut()
            .zip([r.critical_ms, r.init_ms, r.overhead_ms])
        {
            b.append_value(v);
        }
        self.durations.append_value(r.durations);
        let entries = self.slowest.values();
        for (ms, id) in r.slowest {
            entries
                .field_builder::<StringBuilder>(0)
                .expect("trace_id field")
                .append_value(id);
            entries
                .field_builder::<Float64Builder>(1)
                .expect("critical_ms field")
                .append_value(*ms);
            entries.append(true);
        }
        self.slowest.append(true);
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
            Arc::new(self.callee.finish()),
            Arc::new(self.callee_type.finish()),
        ];
        columns.extend(
            self.counts
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.extend(self.ms.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        columns.push(Arc::new(self.durations.finish()));
        columns.push(Arc::new(self.slowest.finish()));
        self.rows = 0;
        RecordBatch::try_new(schema(), columns).expect("builders follow the hops_1m schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Float64Type;

    #[test]
    fn rows_round_trip_with_their_slowest_traces() {
        let slowest = [(9.5, "1-a".to_string()), (2.0, "1-b".to_string())];
        let mut b = Hop1mBatchBuilder::default();
        b.append(&Hop1mRow {
            minute: 60_000_000,
            callee: "api",
            requests: 3,
            critical_ms: 11.5,
            durations: b"h",
            slowest: &slowest,
            ..Hop1mRow::default()
        });
        b.append(&Hop1mRow {
            minute: 120_000_000,
            caller: Some("api"),
            callee: "db",
            ..Hop1mRow::default()
        });
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        let lists = batch.column_by_name(col::SLOWEST).unwrap().as_list::<i32>();
        let first = lists.value(0);
        let first = first.as_struct();
        assert_eq!(first.column(0).as_string::<i32>().value(1), "1-b");
        assert_eq!(first.column(1).as_primitive::<Float64Type>().value(0), 9.5);
        assert_eq!(lists.value(1).len(), 0);
        assert!(batch.column_by_name(col::CALLER).unwrap().is_null(0));
    }
}

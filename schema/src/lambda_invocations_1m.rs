//! `lambda_invocations_1m`: Lambda invocations tallied per minute, written at ingest beside the
//! `lambda_invocations` rows they summarize. One row per minute of `timestamp` and function
//! (with its account and Region), over the invocations that name their function: what a
//! function's alarm statistics need, so a rule over a week reads minutes, not invocations.
//!
//! Each file summarizes exactly one data file of `lambda_invocations` and carries its name, as
//! [`crate::service_edges_1m`] does (see there why that keeps every invocation counted once).
//! Durations are HdrHistogram V2 values, as `hdr_histogram` makes them.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BinaryBuilder, Float64Builder, Int64Builder, RecordBatch, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::types::{DictBuilder, dict_type, timestamp_type};

pub const TABLE: &str = "lambda_invocations_1m";

/// Not deduplicated by key: each file summarizes one data file of [`SOURCE`], whose rows were.
pub const KEY: &[&str] = &[];
pub const TIME: &str = col::MINUTE;
pub const UNIQUE_TEXT: &[&str] = &[];
/// The table it summarizes.
pub const SOURCE: &str = crate::lambda_invocations::TABLE;

pub mod col {
    pub use crate::origin::{ACCOUNT_ID, REGION};
    /// The minute of the invocations' `timestamp`.
    pub const MINUTE: &str = "minute";
    pub const FUNCTION: &str = "function";
    pub const INVOCATIONS: &str = "invocations";
    /// Invocations whose status is `error` or `timeout`.
    pub const ERRORS: &str = "errors";
    pub const TIMEOUTS: &str = "timeouts";
    /// Invocations with an init duration: the first of a new execution environment.
    pub const COLD_STARTS: &str = "cold_starts";
    /// Invocations with a duration, and the sum, least and greatest of their durations (the
    /// latter two null when none has one).
    pub const TIMED: &str = "timed";
    pub const TOTAL_MS: &str = "total_ms";
    pub const MIN_MS: &str = "min_ms";
    pub const MAX_MS: &str = "max_ms";
    /// HdrHistogram of the durations (µs, 3 significant digits).
    pub const DURATIONS: &str = "durations";
    /// Invocations with both their memory used and their memory size, and the greatest ratio
    /// of the two among them (null when none).
    pub const MEMORY_SAMPLES: &str = "memory_samples";
    pub const MAX_MEMORY_RATIO: &str = "max_memory_ratio";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use col::*;
    let count = |name| Field::new(name, DataType::Int64, false);
    let ms = |name| Field::new(name, DataType::Float64, true);
    let origin = crate::origin::fields();
    Arc::new(Schema::new(vec![
        Field::new(MINUTE, timestamp_type(), false),
        Field::new(FUNCTION, dict_type(), true),
        count(INVOCATIONS),
        count(ERRORS),
        count(TIMEOUTS),
        count(COLD_STARTS),
        count(TIMED),
        Field::new(TOTAL_MS, DataType::Float64, false),
        ms(MIN_MS),
        ms(MAX_MS),
        Field::new(DURATIONS, DataType::Binary, false),
        count(MEMORY_SAMPLES),
        ms(MAX_MEMORY_RATIO),
        origin[0].clone(),
        origin[1].clone(),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

/// One minute of one function.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LambdaInvocation1mRow<'a> {
    /// Epoch microseconds of the minute's start.
    pub minute: i64,
    pub function: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub region: Option<&'a str>,
    pub invocations: i64,
    pub errors: i64,
    pub timeouts: i64,
    pub cold_starts: i64,
    pub timed: i64,
    pub total_ms: f64,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub durations: &'a [u8],
    pub memory_samples: i64,
    pub max_memory_ratio: Option<f64>,
}

#[derive(Default)]
pub struct LambdaInvocation1mBatchBuilder {
    minute: TimestampMicrosecondBuilder,
    function: DictBuilder,
    counts: [Int64Builder; 5],
    total_ms: Float64Builder,
    min_ms: Float64Builder,
    max_ms: Float64Builder,
    durations: BinaryBuilder,
    memory_samples: Int64Builder,
    max_memory_ratio: Float64Builder,
    account_id: DictBuilder,
    region: DictBuilder,
    rows: usize,
}

impl LambdaInvocation1mBatchBuilder {
    pub fn append(&mut self, r: &LambdaInvocation1mRow<'_>) {
        self.minute.append_value(r.minute);
        self.function.append_option(r.function);
        let counts = [r.invocations, r.errors, r.timeouts, r.cold_starts, r.timed];
        for (b, v) in self.counts.iter_mut().zip(counts) {
            b.append_value(v);
        }
        self.total_ms.append_value(r.total_ms);
        self.min_ms.append_option(r.min_ms);
        self.max_ms.append_option(r.max_ms);
        self.durations.append_value(r.durations);
        self.memory_samples.append_value(r.memory_samples);
        self.max_memory_ratio.append_option(r.max_memory_ratio);
        self.account_id.append_option(r.account_id);
        self.region.append_option(r.region);
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
            Arc::new(self.function.finish()),
        ];
        columns.extend(
            self.counts
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        columns.extend([
            Arc::new(self.total_ms.finish()) as ArrayRef,
            Arc::new(self.min_ms.finish()),
            Arc::new(self.max_ms.finish()),
            Arc::new(self.durations.finish()),
            Arc::new(self.memory_samples.finish()),
            Arc::new(self.max_memory_ratio.finish()),
            Arc::new(self.account_id.finish()),
            Arc::new(self.region.finish()),
        ]);
        self.rows = 0;
        RecordBatch::try_new(schema(), columns)
            .expect("builders follow the lambda_invocations_1m schema")
    }
}

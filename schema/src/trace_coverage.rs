//! `trace_coverage`: one row per window a collection read traces over, with how many traces it
//! saw there and how many it stored whole. In the Transaction Search world a budget may leave
//! traces out, chosen failed-first then slowest-first: counts over such a window are of the
//! traces held, and percentiles lean towards the slow and failed calls. The analyzer reads this
//! table to say so.

use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, Int64Builder, RecordBatch, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::types::{DictBuilder, dict_type, timestamp_type};

pub const TABLE: &str = "trace_coverage";

/// One row per window and account and Region: a rerun of the same window keeps the first.
pub const KEY: &[&str] = &[
    col::ACCOUNT_ID,
    col::REGION,
    col::WINDOW_START,
    col::WINDOW_END,
];
pub const TIME: &str = col::WINDOW_START;
pub const UNIQUE_TEXT: &[&str] = &[];

pub mod col {
    pub use crate::origin::{ACCOUNT_ID, REGION};
    pub const WINDOW_START: &str = "window_start";
    pub const WINDOW_END: &str = "window_end";
    /// `xray`, `transaction_search` or `spans`.
    pub const WORLD: &str = "world";
    /// Distinct traces seen in the window (summaries, REPORT lines, aws/spans).
    pub const TRACES_SEEN: &str = "traces_seen";
    /// Of them, the traces stored whole.
    pub const TRACES_HELD: &str = "traces_held";
}

/// The trace worlds, as `world` names them.
pub mod world {
    pub const XRAY: &str = "xray";
    pub const TRANSACTION_SEARCH: &str = "transaction_search";
    pub const SPANS: &str = "spans";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use col::*;
    let origin = crate::origin::fields();
    Arc::new(Schema::new(vec![
        Field::new(WINDOW_START, timestamp_type(), false),
        Field::new(WINDOW_END, timestamp_type(), false),
        Field::new(WORLD, dict_type(), false),
        Field::new(TRACES_SEEN, DataType::Int64, false),
        Field::new(TRACES_HELD, DataType::Int64, false),
        origin[0].clone(),
        origin[1].clone(),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceCoverageRow<'a> {
    /// Epoch microseconds.
    pub window_start: i64,
    pub window_end: i64,
    pub world: &'a str,
    pub traces_seen: i64,
    pub traces_held: i64,
}

#[derive(Default)]
pub struct TraceCoverageBatchBuilder {
    collected_from: crate::origin::OriginColumns,
    window_start: TimestampMicrosecondBuilder,
    window_end: TimestampMicrosecondBuilder,
    world: DictBuilder,
    traces_seen: Int64Builder,
    traces_held: Int64Builder,
    rows: usize,
}

impl TraceCoverageBatchBuilder {
    /// The account and Region of the rows appended from now on.
    pub fn set_origin(&mut self, origin: &crate::origin::Origin) {
        self.collected_from.set(origin);
    }

    pub fn append(&mut self, r: &TraceCoverageRow<'_>) {
        self.window_start.append_value(r.window_start);
        self.window_end.append_value(r.window_end);
        self.world.append_value(r.world);
        self.traces_seen.append_value(r.traces_seen);
        self.traces_held.append_value(r.traces_held);
        self.collected_from.append();
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
            Arc::new(self.window_start.finish().with_timezone("UTC")),
            Arc::new(self.window_end.finish().with_timezone("UTC")),
            Arc::new(self.world.finish()),
            Arc::new(self.traces_seen.finish()),
            Arc::new(self.traces_held.finish()),
        ];
        columns.extend(self.collected_from.finish());
        self.rows = 0;
        RecordBatch::try_new(schema(), columns).expect("builders follow the trace_coverage schema")
    }
}

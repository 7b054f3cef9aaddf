//! `lambda_invocations`: one row per Lambda invocation, from REPORT lines or `platform.report`.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::types::{DictBuilder, dict_type, timestamp_type};

pub const TABLE: &str = "lambda_invocations";

/// Natural key: Lambda request ids are unique.
pub const KEY: &[&str] = &[col::REQUEST_ID];
pub const TIME: &str = col::TIMESTAMP;
/// Text unique per row, stored without a Parquet dictionary.
pub const UNIQUE_TEXT: &[&str] = &[col::REQUEST_ID];

pub mod col {
    pub use crate::origin::{ACCOUNT_ID, REGION};
    pub const FUNCTION: &str = "function";
    pub const VERSION: &str = "version";
    pub const REQUEST_ID: &str = "request_id";
    pub const TIMESTAMP: &str = "timestamp";
    pub const DURATION_MS: &str = "duration_ms";
    pub const BILLED_MS: &str = "billed_ms";
    pub const MEMORY_MB: &str = "memory_mb";
    pub const MAX_MEMORY_MB: &str = "max_memory_mb";
    pub const INIT_MS: &str = "init_ms";
    pub const RESTORE_MS: &str = "restore_ms";
    pub const STATUS: &str = "status";
    pub const ERROR_TYPE: &str = "error_type";
    pub const TRACE_ID: &str = "trace_id";
    pub const SEGMENT_ID: &str = "segment_id";
    pub const LOG_GROUP: &str = "log_group";
    pub const LOG_STREAM: &str = "log_stream";
}

/// `status` values.
pub mod status {
    pub const SUCCESS: &str = "success";
    pub const ERROR: &str = "error";
    pub const TIMEOUT: &str = "timeout";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let origin = crate::origin::fields();
    use col::*;
    let f = |name| Field::new(name, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        Field::new(FUNCTION, dict_type(), true),
        Field::new(VERSION, dict_type(), true),
        Field::new(REQUEST_ID, DataType::Utf8, false),
        Field::new(TIMESTAMP, timestamp_type(), false),
        f(DURATION_MS),
        f(BILLED_MS),
        Field::new(MEMORY_MB, DataType::Int32, true),
        Field::new(MAX_MEMORY_MB, DataType::Int32, true),
        f(INIT_MS),
        f(RESTORE_MS),
        Field::new(STATUS, dict_type(), false),
        Field::new(ERROR_TYPE, DataType::Utf8, true),
        Field::new(TRACE_ID, DataType::Utf8, true),
        Field::new(SEGMENT_ID, DataType::Utf8, true),
        Field::new(LOG_GROUP, dict_type(), true),
        Field::new(LOG_STREAM, dict_type(), true),
        origin[0].clone(),
        origin[1].clone(),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

/// One invocation. Owned, because its fields are gathered from several log events
/// (START for the version, REPORT for the numbers, a later line for a timeout).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LambdaInvocationRow {
    pub function: Option<String>,
    pub version: Option<String>,
    pub request_id: String,
    /// Epoch microseconds of the REPORT.
    pub timestamp: i64,
    pub duration_ms: Option<f64>,
    pub billed_ms: Option<f64>,
    pub memory_mb: Option<i32>,
    pub max_memory_mb: Option<i32>,
    /// Present on cold starts.
    pub init_ms: Option<f64>,
    /// Present on SnapStart restores.
    pub restore_ms: Option<f64>,
    pub status: &'static str,
    pub error_type: Option<String>,
    pub trace_id: Option<String>,
    pub segment_id: Option<String>,
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
}

#[derive(Default)]
pub struct LambdaInvocationBatchBuilder {
    collected_from: crate::origin::OriginColumns,
    function: DictBuilder,
    version: DictBuilder,
    request_id: StringBuilder,
    timestamp: TimestampMicrosecondBuilder,
    duration_ms: Float64Builder,
    billed_ms: Float64Builder,
    memory_mb: Int32Builder,
    max_memory_mb: Int32Builder,
    init_ms: Float64Builder,
    restore_ms: Float64Builder,
    status: DictBuilder,
    error_type: StringBuilder,
    trace_id: StringBuilder,
    segment_id: StringBuilder,
    log_group: DictBuilder,
    log_stream: DictBuilder,
    rows: usize,
}

impl LambdaInvocationBatchBuilder {
    /// The account and Region of the rows appended from now on.
    pub fn set_origin(&mut self, origin: &crate::origin::Origin) {
        self.collected_from.set(origin);
    }

    pub fn append(&mut self, r: &LambdaInvocationRow) {
        self.function.append_option(r.function.as_deref());
        self.version.append_option(r.version.as_deref());
        self.request_id.append_value(&r.request_id);
        self.timestamp.append_value(r.timestamp);
        self.duration_ms.append_option(r.duration_ms);
        self.billed_ms.append_option(r.billed_ms);
        self.memory_mb.append_option(r.memory_mb);
        self.max_memory_mb.append_option(r.max_memory_mb);
        self.init_ms.append_option(r.init_ms);
        self.restore_ms.append_option(r.restore_ms);
        self.status.append_value(r.status);
        self.error_type.append_option(r.error_type.as_deref());
        self.trace_id.append_option(r.trace_id.as_deref());
        self.segment_id.append_option(r.segment_id.as_deref());
        self.log_group.append_option(r.log_group.as_deref());
        self.log_stream.append_option(r.log_stream.as_deref());
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
            Arc::new(self.function.finish()),
            Arc::new(self.version.finish()),
            Arc::new(self.request_id.finish()),
            Arc::new(self.timestamp.finish().with_timezone("UTC")),
            Arc::new(self.duration_ms.finish()),
            Arc::new(self.billed_ms.finish()),
            Arc::new(self.memory_mb.finish()),
            Arc::new(self.max_memory_mb.finish()),
            Arc::new(self.init_ms.finish()),
            Arc::new(self.restore_ms.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.error_type.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.segment_id.finish()),
            Arc::new(self.log_group.finish()),
            Arc::new(self.log_stream.finish()),
        ];
        self.rows = 0;
        columns.extend(self.collected_from.finish());
        RecordBatch::try_new(schema(), columns)
            .expect("builders follow the lambda_invocations schema")
    }
}

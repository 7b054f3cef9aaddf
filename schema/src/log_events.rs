//! `log_events`: one row per CloudWatch Logs event (Lambda platform lines and application logs).

use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::types::{DictBuilder, dict_type, timestamp_type};

pub const TABLE: &str = "log_events";

/// Natural key: CloudWatch event ids are unique within a log group.
pub const KEY: &[&str] = &[col::LOG_GROUP, col::EVENT_ID];
pub const TIME: &str = col::TIMESTAMP;
/// Text unique (or nearly) per row, stored without a Parquet dictionary.
pub const UNIQUE_TEXT: &[&str] = &[col::EVENT_ID, col::MESSAGE];

pub mod col {
    pub use crate::origin::{ACCOUNT_ID, REGION};
    pub const LOG_GROUP: &str = "log_group";
    pub const LOG_STREAM: &str = "log_stream";
    pub const FUNCTION: &str = "function";
    pub const TIMESTAMP: &str = "timestamp";
    pub const INGESTION_TIME: &str = "ingestion_time";
    pub const EVENT_ID: &str = "event_id";
    pub const RECORD_TYPE: &str = "record_type";
    pub const LEVEL: &str = "level";
    pub const REQUEST_ID: &str = "request_id";
    pub const TRACE_ID: &str = "trace_id";
    pub const MESSAGE: &str = "message";
}

/// `record_type` values besides the platform line names (`START`, `REPORT`, `platform.report`, ...).
pub mod record_type {
    /// A line the function itself wrote.
    pub const APP: &str = "app";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let origin = crate::origin::fields();
    use col::*;
    Arc::new(Schema::new(vec![
        Field::new(LOG_GROUP, dict_type(), true),
        Field::new(LOG_STREAM, dict_type(), true),
        Field::new(FUNCTION, dict_type(), true),
        Field::new(TIMESTAMP, timestamp_type(), false),
        Field::new(INGESTION_TIME, timestamp_type(), true),
        Field::new(EVENT_ID, DataType::Utf8, false),
        Field::new(RECORD_TYPE, dict_type(), false),
        Field::new(LEVEL, dict_type(), true),
        Field::new(REQUEST_ID, DataType::Utf8, true),
        Field::new(TRACE_ID, DataType::Utf8, true),
        Field::new(MESSAGE, DataType::Utf8, false),
        origin[0].clone(),
        origin[1].clone(),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogEventRow<'a> {
    pub log_group: Option<&'a str>,
    pub log_stream: Option<&'a str>,
    pub function: Option<&'a str>,
    /// Epoch microseconds.
    pub timestamp: i64,
    pub ingestion_time: Option<i64>,
    /// CloudWatch's event id, or a content hash when the source has none.
    pub event_id: &'a str,
    pub record_type: &'a str,
    pub level: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub trace_id: Option<&'a str>,
    pub message: &'a str,
}

#[derive(Default)]
pub struct LogEventBatchBuilder {
    collected_from: crate::origin::OriginColumns,
    log_group: DictBuilder,
    log_stream: DictBuilder,
    function: DictBuilder,
    timestamp: TimestampMicrosecondBuilder,
    ingestion_time: TimestampMicrosecondBuilder,
    event_id: StringBuilder,
    record_type: DictBuilder,
    level: DictBuilder,
    request_id: StringBuilder,
    trace_id: StringBuilder,
    message: StringBuilder,
    rows: usize,
}

impl LogEventBatchBuilder {
    /// The account and Region of the rows appended from now on.
    pub fn set_origin(&mut self, origin: &crate::origin::Origin) {
        self.collected_from.set(origin);
    }

    pub fn append(&mut self, r: &LogEventRow<'_>) {
        self.log_group.append_option(r.log_group);
        self.log_stream.append_option(r.log_stream);
        self.function.append_option(r.function);
        self.timestamp.append_value(r.timestamp);
        self.ingestion_time.append_option(r.ingestion_time);
        self.event_id.append_value(r.event_id);
        self.record_type.append_value(r.record_type);
        self.level.append_option(r.level);
        self.request_id.append_option(r.request_id);
        self.trace_id.append_option(r.trace_id);
        self.message.append_value(r.message);
        self.collected_from.append();
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn buffered_bytes(&self) -> usize {
        self.message.values_slice().len() + self.rows * 120
    }

    pub fn finish(&mut self) -> RecordBatch {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.log_group.finish()),
            Arc::new(self.log_stream.finish()),
            Arc::new(self.function.finish()),
            Arc::new(self.timestamp.finish().with_timezone("UTC")),
            Arc::new(self.ingestion_time.finish().with_timezone("UTC")),
            Arc::new(self.event_id.finish()),
            Arc::new(self.record_type.finish()),
            Arc::new(self.level.finish()),
            Arc::new(self.request_id.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.message.finish()),
        ];
        self.rows = 0;
        columns.extend(self.collected_from.finish());
        RecordBatch::try_new(schema(), columns).expect("builders follow the log_events schema")
    }
}

//! `traces`: one row per trace. The analyzer derives it from `spans` as a view, so a trace whose
//! segments arrive in several imports is always summarised from all of them; this module is the
//! contract that view must meet.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::types::{dict_type, timestamp_type};

pub const TABLE: &str = "traces";

pub mod col {
    pub const TRACE_ID: &str = "trace_id";
    pub const START_TIME: &str = "start_time";
    pub const END_TIME: &str = "end_time";
    pub const DURATION_MS: &str = "duration_ms";
    pub const ROOT_SERVICE: &str = "root_service";
    pub const ROOT_SERVICE_TYPE: &str = "root_service_type";
    pub const ROOT_SEGMENT_ID: &str = "root_segment_id";
    pub const HTTP_METHOD: &str = "http_method";
    pub const HTTP_URL: &str = "http_url";
    pub const HTTP_STATUS: &str = "http_status";
    pub const ERROR: &str = "error";
    pub const FAULT: &str = "fault";
    pub const THROTTLE: &str = "throttle";
    pub const SPAN_COUNT: &str = "span_count";
    pub const SEGMENT_COUNT: &str = "segment_count";
    pub const PARTIAL: &str = "partial";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use col::*;
    Arc::new(Schema::new(vec![
        Field::new(TRACE_ID, DataType::Utf8, false),
        Field::new(START_TIME, timestamp_type(), true),
        Field::new(END_TIME, timestamp_type(), true),
        Field::new(DURATION_MS, DataType::Float64, true),
        Field::new(ROOT_SERVICE, dict_type(), true),
        Field::new(ROOT_SERVICE_TYPE, dict_type(), true),
        Field::new(ROOT_SEGMENT_ID, DataType::Utf8, true),
        Field::new(HTTP_METHOD, dict_type(), true),
        Field::new(HTTP_URL, DataType::Utf8, true),
        Field::new(HTTP_STATUS, DataType::UInt16, true),
        Field::new(ERROR, DataType::Boolean, true),
        Field::new(FAULT, DataType::Boolean, true),
        Field::new(THROTTLE, DataType::Boolean, true),
        Field::new(SPAN_COUNT, DataType::Int64, false),
        Field::new(SEGMENT_COUNT, DataType::Int64, false),
        Field::new(PARTIAL, DataType::Boolean, true),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

//! `spans`: one row per X-Ray segment and per subsegment at any depth (and per OTel span).

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder, UInt16Builder, UInt32Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::MapColumnBuilder;
use crate::types::{DictBuilder, dict_type, finish_reserving, string_map_type, timestamp_type};

pub const TABLE: &str = "spans";

/// Natural key: a span is one (trace_id, id); importing it again changes nothing.
pub const KEY: &[&str] = &[col::TRACE_ID, col::ID];
/// The event time that places a row in its hour partition.
pub const TIME: &str = col::START_TIME;
/// Text unique (or nearly) per row, stored without a Parquet dictionary: the writer would fill
/// one per column chunk and then fall back to plain encoding anyway.
pub const UNIQUE_TEXT: &[&str] = &[col::ID, col::AWS_REQUEST_ID, col::METADATA, col::RAW];

pub mod col {
    pub use crate::origin::{ACCOUNT_ID, REGION};
    pub const TRACE_ID: &str = "trace_id";
    pub const ID: &str = "id";
    pub const PARENT_ID: &str = "parent_id";
    /// True on a trace's root span (the one without a `parent_id`), false on every other:
    /// counting it counts traces without decoding the `parent_id` strings. Null in files
    /// written before the column existed.
    pub const ROOT: &str = "root";
    pub const SEGMENT_ID: &str = "segment_id";
    pub const KIND: &str = "kind";
    pub const NAME: &str = "name";
    pub const NAMESPACE: &str = "namespace";
    pub const ORIGIN: &str = "origin";
    pub const SERVICE: &str = "service";
    pub const SERVICE_TYPE: &str = "service_type";
    /// The node of the parent span: where it differs from `service`, this span is a hop (an
    /// edge of the service map). Resolved at ingest within a trace's documents; null when the
    /// parent was not in the same import unit (a caller joins on `parent_id` then).
    pub const PARENT_SERVICE: &str = "parent_service";
    pub const PARENT_SERVICE_TYPE: &str = "parent_service_type";
    /// The caller of the service visit this span belongs to: the hop `hop_caller -> service` its
    /// time is spent on ([`super::enters_service`] decides where a visit begins). A span inherits it from the span where the trace entered its node
    /// (whose `parent_service` it is); null at a trace's root (the client's hop).
    pub const HOP_CALLER: &str = "hop_caller";
    pub const DEPTH: &str = "depth";
    pub const START_TIME: &str = "start_time";
    pub const END_TIME: &str = "end_time";
    /// `end_time - start_time` in ms. For a span that never ended (`in_progress`), the time its
    /// caller waited for it, up to the end of the nearest enclosing span that ended: a lower
    /// bound (a right-censored duration), so that percentiles and averages count the calls that
    /// never answered instead of dropping them. Null when nothing around it ended either.
    pub const DURATION_MS: &str = "duration_ms";
    /// This span's own time on its trace's critical path (the chain of work the root waited
    /// on), in ms: time spent here while no child it waited on was running. Over a whole trace
    /// they add up to the root's duration. Null when the span's tree could not be walked.
    pub const CRITICAL_MS: &str = "critical_ms";
    /// On the first span (by start time) of each hop `hop_caller -> service` in a trace: the
    /// `critical_ms` of all that hop's spans in the trace; null on every other span. Counting
    /// it counts the traces a hop appears in, and its largest values are the traces the hop
    /// slowed most, both without grouping by trace at query time.
    pub const HOP_TRACE_CRITICAL_MS: &str = "hop_trace_critical_ms";
    /// For a span its parent did not wait for (an SQS or SNS consumer, an asynchronous Step
    /// Functions execution: it outlived the call that started it), the time from the end of
    /// that call to this span's start, in ms: queue dwell, apart from the processing time
    /// (`duration_ms`). Null for synchronous spans.
    pub const DWELL_MS: &str = "dwell_ms";
    /// The span never ended: its `duration_ms`, where set, is a lower bound (censored).
    pub const IN_PROGRESS: &str = "in_progress";
    pub const ERROR: &str = "error";
    pub const FAULT: &str = "fault";
    pub const THROTTLE: &str = "throttle";
    pub const HTTP_METHOD: &str = "http_method";
    pub const HTTP_URL: &str = "http_url";
    pub const HTTP_STATUS: &str = "http_status";
    pub const HTTP_CONTENT_LENGTH: &str = "http_content_length";
    pub const AWS_OPERATION: &str = "aws_operation";
    pub const AWS_REGION: &str = "aws_region";
    pub const AWS_REQUEST_ID: &str = "aws_request_id";
    pub const AWS_ACCOUNT_ID: &str = "aws_account_id";
    pub const AWS_RESOURCE: &str = "aws_resource";
    /// Retries the AWS SDK made inside this call (X-Ray `aws.retries`): each one an attempt
    /// the service rejected (throttled, failed) before the one the span ends with.
    pub const AWS_RETRIES: &str = "aws_retries";
    pub const RESOURCE_ARN: &str = "resource_arn";
    pub const SQL_URL: &str = "sql_url";
    pub const SQL_DATABASE_TYPE: &str = "sql_database_type";
    pub const SQL_SANITIZED_QUERY: &str = "sql_sanitized_query";
    pub const CAUSE_TYPE: &str = "cause_type";
    pub const CAUSE_MESSAGE: &str = "cause_message";
    pub const ANNOTATIONS: &str = "annotations";
    pub const METADATA: &str = "metadata";
    pub const USER: &str = "user";
    /// The span's own JSON document as received. A span with subsegments keeps them out (each
    /// is a row with its own `raw`): its array reads `"subsegments":[]`.
    pub const RAW: &str = "raw";
}

/// `kind` values.
pub mod kind {
    pub const SEGMENT: &str = "segment";
    pub const SUBSEGMENT: &str = "subsegment";
    pub const INFERRED: &str = "inferred";
    /// A span imported from OpenTelemetry (`aws/spans`), not an X-Ray document.
    pub const OTEL: &str = "otel";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let origin = crate::origin::fields();
    use col::*;
    let s = |name| Field::new(name, DataType::Utf8, true);
    let d = |name| Field::new(name, dict_type(), true);
    let b = |name| Field::new(name, DataType::Boolean, false);
    Arc::new(Schema::new(vec![
        Field::new(TRACE_ID, DataType::Utf8, false),
        Field::new(ID, DataType::Utf8, false),
        s(PARENT_ID),
        Field::new(ROOT, DataType::Boolean, true),
        Field::new(SEGMENT_ID, DataType::Utf8, false),
        Field::new(KIND, dict_type(), false),
        Field::new(NAME, DataType::Utf8, false),
        d(NAMESPACE),
        d(ORIGIN),
        Field::new(SERVICE, dict_type(), false),
        d(SERVICE_TYPE),
        d(PARENT_SERVICE),
        d(PARENT_SERVICE_TYPE),
        d(HOP_CALLER),
        Field::new(DEPTH, DataType::UInt16, false),
        Field::new(START_TIME, timestamp_type(), false),
        Field::new(END_TIME, timestamp_type(), true),
        Field::new(DURATION_MS, DataType::Float64, true),
        Field::new(CRITICAL_MS, DataType::Float64, true),
        Field::new(HOP_TRACE_CRITICAL_MS, DataType::Float64, true),
        Field::new(DWELL_MS, DataType::Float64, true),
        b(IN_PROGRESS),
        b(ERROR),
        b(FAULT),
        b(THROTTLE),
        d(HTTP_METHOD),
        s(HTTP_URL),
        Field::new(HTTP_STATUS, DataType::UInt16, true),
        Field::new(HTTP_CONTENT_LENGTH, DataType::Int64, true),
        d(AWS_OPERATION),
        d(AWS_REGION),
        s(AWS_REQUEST_ID),
        d(AWS_ACCOUNT_ID),
        s(AWS_RESOURCE),
        Field::new(AWS_RETRIES, DataType::UInt32, true),
        s(RESOURCE_ARN),
        s(SQL_URL),
        d(SQL_DATABASE_TYPE),
        s(SQL_SANITIZED_QUERY),
        s(CAUSE_TYPE),
        s(CAUSE_MESSAGE),
        Field::new(ANNOTATIONS, string_map_type(), true),
        s(METADATA),
        s(USER),
        s(RAW),
        origin[0].clone(),
        origin[1].clone(),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

/// The one rule of where a trace enters something, for ingest and for every reader.
///
/// A *hop* is a call from one service to another: a span enters its service when its parent
/// span belongs to another service (by name) or is not known (the trace's root, entered from
/// its client, or a parent outside the import unit). This is what `hop_caller`, the hops
/// ranking and a hop's detail count. A Lambda function and the Lambda service in front of it
/// share a name and are one hop: its init, handler and overhead are one call's parts.
///
/// A *node* of the service map is a service name and type, as in X-Ray's service graph: a span
/// enters its node when it enters its service, or when its parent's type differs. The one case
/// in practice is a function segment under its Lambda service segment, which the map draws as
/// an edge of its own (`fn -> fn`, carrying the function's faults).
///
/// Generic so that hand-written tallies can compare interned ids rather than strings.
pub fn enters_service<T: PartialEq + Copy>(parent_service: Option<T>, service: T) -> bool {
    parent_service.is_none_or(|p| p != service)
}

/// See [`enters_service`]: the service map's nodes are `(name, type)`.
pub fn enters_node<T: PartialEq + Copy, U: PartialEq + Copy>(
    parent: Option<(T, Option<U>)>,
    node: (T, Option<U>),
) -> bool {
    parent.is_none_or(|p| p != node)
}

/// One span, borrowing its strings from the parsed document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanRow<'a> {
    pub trace_id: &'a str,
    pub id: &'a str,
    pub parent_id: Option<&'a str>,
    pub segment_id: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub service: &'a str,
    pub service_type: Option<&'a str>,
    pub parent_service: Option<&'a str>,
    pub parent_service_type: Option<&'a str>,
    pub hop_caller: Option<&'a str>,
    pub depth: u16,
    /// Epoch microseconds.
    pub start_time: i64,
    pub end_time: Option<i64>,
    /// For a span that never ended: when the span that waited on it ended (set at ingest by
    /// the critical-path walk). Its duration is counted up to there.
    pub censored_end: Option<i64>,
    pub critical_ms: Option<f64>,
    pub hop_trace_critical_ms: Option<f64>,
    pub dwell_ms: Option<f64>,
    pub in_progress: bool,
    pub error: bool,
    pub fault: bool,
    pub throttle: bool,
    pub http_method: Option<&'a str>,
    pub http_url: Option<&'a str>,
    pub http_status: Option<u16>,
    pub http_content_length: Option<i64>,
    pub aws_operation: Option<&'a str>,
    pub aws_region: Option<&'a str>,
    pub aws_request_id: Option<&'a str>,
    pub aws_account_id: Option<&'a str>,
    pub aws_resource: Option<&'a str>,
    pub aws_retries: Option<u32>,
    pub resource_arn: Option<&'a str>,
    pub sql_url: Option<&'a str>,
    pub sql_database_type: Option<&'a str>,
    pub sql_sanitized_query: Option<&'a str>,
    pub cause_type: Option<&'a str>,
    pub cause_message: Option<&'a str>,
    pub annotations: Vec<(&'a str, &'a str)>,
    pub metadata: Option<&'a str>,
    pub user: Option<&'a str>,
    pub raw: Option<&'a str>,
    /// Text that follows `raw` in the stored value: the end of a document whose subsegments
    /// were cut out of the middle.
    pub raw_rest: &'a str,
}

impl SpanRow<'_> {
    /// Duration in milliseconds: to its end, or for a span that never ended to its
    /// `censored_end` (a lower bound).
    pub fn duration_ms(&self) -> Option<f64> {
        self.end_time
            .or(self.censored_end)
            .map(|end| (end - self.start_time) as f64 / 1000.0)
    }
}

/// Appends [`SpanRow`]s column by column.
#[derive(Default)]
pub struct SpanBatchBuilder {
    collected_from: crate::origin::OriginColumns,
    trace_id: StringBuilder,
    id: StringBuilder,
    parent_id: StringBuilder,
    root: BooleanBuilder,
    segment_id: StringBuilder,
    kind: DictBuilder,
    name: StringBuilder,
    namespace: DictBuilder,
    origin: DictBuilder,
    service: DictBuilder,
    service_type: DictBuilder,
    parent_service: DictBuilder,
    parent_service_type: DictBuilder,
    hop_caller: DictBuilder,
    depth: UInt16Builder,
    start_time: TimestampMicrosecondBuilder,
    end_time: TimestampMicrosecondBuilder,
    duration_ms: Float64Builder,
    critical_ms: Float64Builder,
    hop_trace_critical_ms: Float64Builder,
    dwell_ms: Float64Builder,
    in_progress: BooleanBuilder,
    error: BooleanBuilder,
    fault: BooleanBuilder,
    throttle: BooleanBuilder,
    http_method: DictBuilder,
    http_url: StringBuilder,
    http_status: UInt16Builder,
    http_content_length: Int64Builder,
    aws_operation: DictBuilder,
    aws_region: DictBuilder,
    aws_request_id: StringBuilder,
    aws_account_id: DictBuilder,
    aws_resource: StringBuilder,
    aws_retries: UInt32Builder,
    resource_arn: StringBuilder,
    sql_url: StringBuilder,
    sql_database_type: DictBuilder,
    sql_sanitized_query: StringBuilder,
    cause_type: StringBuilder,
    cause_message: StringBuilder,
    annotations: MapColumnBuilder,
    metadata: StringBuilder,
    user: StringBuilder,
    raw: StringBuilder,
    rows: usize,
}

impl SpanBatchBuilder {
    /// The account and Region of the rows appended from now on.
    pub fn set_origin(&mut self, origin: &crate::origin::Origin) {
        self.collected_from.set(origin);
    }

    pub fn append(&mut self, r: &SpanRow<'_>) {
        self.trace_id.append_value(r.trace_id);
        self.id.append_value(r.id);
        self.parent_id.append_option(r.parent_id);
        self.root.append_value(r.parent_id.is_none());
        self.segment_id.append_value(r.segment_id);
        self.kind.append_value(r.kind);
        self.name.append_value(r.name);
        self.namespace.append_option(r.namespace);
        self.origin.append_option(r.origin);
        self.service.append_value(r.service);
        self.service_type.append_option(r.service_type);
        self.parent_service.append_option(r.parent_service);
        self.parent_service_type
            .append_option(r.parent_service_type);
        self.hop_caller.append_option(r.hop_caller);
        self.depth.append_value(r.depth);
        self.start_time.append_value(r.start_time);
        self.end_time.append_option(r.end_time);
        self.duration_ms.append_option(r.duration_ms());
        self.critical_ms.append_option(r.critical_ms);
        self.hop_trace_critical_ms
            .append_option(r.hop_trace_critical_ms);
        self.dwell_ms.append_option(r.dwell_ms);
        self.in_progress.append_value(r.in_progress);
        self.error.append_value(r.error);
        self.fault.append_value(r.fault);
        self.throttle.append_value(r.throttle);
        self.http_method.append_option(r.http_method);
        self.http_url.append_option(r.http_url);
        self.http_status.append_option(r.http_status);
        self.http_content_length
            .append_option(r.http_content_length);
        self.aws_operation.append_option(r.aws_operation);
        self.aws_region.append_option(r.aws_region);
        self.aws_request_id.append_option(r.aws_request_id);
        self.aws_account_id.append_option(r.aws_account_id);
        self.aws_resource.append_option(r.aws_resource);
        self.aws_retries.append_option(r.aws_retries);
        self.resource_arn.append_option(r.resource_arn);
        self.sql_url.append_option(r.sql_url);
        self.sql_database_type.append_option(r.sql_database_type);
        self.sql_sanitized_query
            .append_option(r.sql_sanitized_query);
        self.cause_type.append_option(r.cause_type);
        self.cause_message.append_option(r.cause_message);
        self.annotations.append(r.annotations.iter().copied());
        self.metadata.append_option(r.metadata);
        self.user.append_option(r.user);
        match r.raw {
            Some(head) if !r.raw_rest.is_empty() => {
                use std::fmt::Write;
                // Writing to a string builder cannot fail.
                let _ = self.raw.write_str(head);
                let _ = self.raw.write_str(r.raw_rest);
                self.raw.append_value("");
            }
            raw => self.raw.append_option(raw),
        }
        self.collected_from.append();
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bytes of string data buffered so far; callers flush on it to bound memory.
    pub fn buffered_bytes(&self) -> usize {
        self.raw.values_slice().len() + self.metadata.values_slice().len() + self.rows * 160
    }

    pub fn finish(&mut self) -> RecordBatch {
        let ts = |b: &mut TimestampMicrosecondBuilder| -> ArrayRef {
            Arc::new(b.finish().with_timezone("UTC"))
        };
        let mut columns: Vec<ArrayRef> = vec![
            finish_reserving(&mut self.trace_id),
            finish_reserving(&mut self.id),
            finish_reserving(&mut self.parent_id),
            Arc::new(self.root.finish()),
            finish_reserving(&mut self.segment_id),
            Arc::new(self.kind.finish()),
            finish_reserving(&mut self.name),
            Arc::new(self.namespace.finish()),
            Arc::new(self.origin.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.service_type.finish()),
            Arc::new(self.parent_service.finish()),
            Arc::new(self.parent_service_type.finish()),
            Arc::new(self.hop_caller.finish()),
            Arc::new(self.depth.finish()),
            ts(&mut self.start_time),
            ts(&mut self.end_time),
            Arc::new(self.duration_ms.finish()),
            Arc::new(self.critical_ms.finish()),
            Arc::new(self.hop_trace_critical_ms.finish()),
            Arc::new(self.dwell_ms.finish()),
            Arc::new(self.in_progress.finish()),
            Arc::new(self.error.finish()),
            Arc::new(self.fault.finish()),
            Arc::new(self.throttle.finish()),
            Arc::new(self.http_method.finish()),
            finish_reserving(&mut self.http_url),
            Arc::new(self.http_status.finish()),
            Arc::new(self.http_content_length.finish()),
            Arc::new(self.aws_operation.finish()),
            Arc::new(self.aws_region.finish()),
            finish_reserving(&mut self.aws_request_id),
            Arc::new(self.aws_account_id.finish()),
            finish_reserving(&mut self.aws_resource),
            Arc::new(self.aws_retries.finish()),
            finish_reserving(&mut self.resource_arn),
            finish_reserving(&mut self.sql_url),
            Arc::new(self.sql_database_type.finish()),
            finish_reserving(&mut self.sql_sanitized_query),
            finish_reserving(&mut self.cause_type),
            finish_reserving(&mut self.cause_message),
            self.annotations.finish(),
            finish_reserving(&mut self.metadata),
            finish_reserving(&mut self.user),
            finish_reserving(&mut self.raw),
        ];
        self.rows = 0;
        columns.extend(self.collected_from.finish());
        RecordBatch::try_new(schema(), columns).expect("builders follow the spans schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hop_changes_service_and_a_node_also_type() {
        let (lambda, function) = (Some("AWS::Lambda"), Some("AWS::Lambda::Function"));
        // The trace's root, entered from its client.
        assert!(enters_service(None, "api"));
        assert!(enters_node(None, ("api", None::<&str>)));
        assert!(enters_service(Some("api"), "fn"));
        // A function segment under its Lambda service segment: the same hop, another node.
        assert!(!enters_service(Some("fn"), "fn"));
        assert!(enters_node(Some(("fn", lambda)), ("fn", function)));
        // A subsegment of the function.
        assert!(!enters_node(Some(("fn", function)), ("fn", function)));
    }
}

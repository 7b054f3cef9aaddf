//! One span as `aws/spans` stores it, parsed into borrowed structs, and its mapping onto a
//! `spans` row once its place in the trace (enclosing segment, depth) is known.

use std::borrow::Cow;
use std::collections::BTreeMap;

use hopscope_schema::spans::{SpanRow, kind};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::node::{self, SpanKind, flags, origin_of, remote_node, xray_trace_id};
use crate::borrowed::{self, Text};

/// A flat OTel attribute map (`aws/spans` flattens OTLP's key/value list), values kept as JSON.
pub type Attrs<'a> = BTreeMap<Text<'a>, &'a RawValue>;

type Str<'a> = Option<Cow<'a, str>>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span<'a> {
    #[serde(default, borrow)]
    pub resource: Resource<'a>,
    #[serde(borrow)]
    pub scope: Option<Scope<'a>>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    pub trace_id: Str<'a>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    pub span_id: Str<'a>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    pub parent_span_id: Str<'a>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub kind: Option<&'a RawValue>,
    /// Kept as JSON: the nanoseconds exceed 2^53, so they must never pass through an f64.
    #[serde(borrow)]
    pub start_time_unix_nano: Option<&'a RawValue>,
    #[serde(borrow)]
    pub end_time_unix_nano: Option<&'a RawValue>,
    /// Only OTel log records have it: they share traceId/spanId with spans, and land in the same
    /// exports, so it tells the two apart in a rejection.
    pub time_unix_nano: Option<IgnoredAny>,
    #[serde(default, borrow)]
    pub attributes: Attrs<'a>,
    #[serde(borrow)]
    pub status: Option<Status<'a>>,
    #[serde(default, borrow)]
    pub events: Vec<Event<'a>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Resource<'a> {
    #[serde(default, borrow)]
    pub attributes: Attrs<'a>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct Scope<'a> {
    #[serde(
        borrow,
        default,
        deserialize_with = "borrowed::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Str<'a>,
    #[serde(
        borrow,
        default,
        deserialize_with = "borrowed::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Str<'a>,
}

#[derive(Debug, Deserialize)]
pub struct Status<'a> {
    #[serde(borrow)]
    pub code: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    pub message: Str<'a>,
}

#[derive(Debug, Deserialize)]
pub struct Event<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    pub name: Str<'a>,
    #[serde(default, borrow)]
    pub attributes: Attrs<'a>,
}

/// Where a span sits in its trace, as resolved over the file.
#[derive(Debug, Clone, Copy)]
pub struct Place<'s> {
    /// The span starting the X-Ray segment this span belongs to.
    pub segment_id: &'s str,
    pub depth: u16,
}

/// A span checked for the fields a row cannot do without.
#[derive(Debug)]
pub struct ValidSpan<'a> {
    pub span: Span<'a>,
    pub raw: &'a str,
    pub trace_id: Cow<'a, str>,
    pub id: Cow<'a, str>,
    pub kind: SpanKind,
    /// Epoch microseconds.
    pub start: i64,
    pub end: Option<i64>,
}

/// Epoch nanoseconds from 2000 to 2100; anything else is a unit mistake.
const EPOCH_NANOS: std::ops::Range<u64> = 946_684_800_000_000_000..4_102_444_800_000_000_000;

impl<'a> ValidSpan<'a> {
    /// Checks ids and times; the error is the rejection reason.
    pub fn new(mut span: Span<'a>, raw: &'a str) -> Result<Self, String> {
        if span.start_time_unix_nano.is_none() && span.time_unix_nano.is_some() {
            return Err(
                "an OTel log record (timeUnixNano, no startTimeUnixNano), not a span".into(),
            );
        }
        let trace_id = nonempty(span.trace_id.take()).ok_or("no `traceId`: not an OTel span")?;
        let id = nonempty(span.span_id.take()).ok_or("no `spanId`")?;
        let start = match span.start_time_unix_nano.map(nanos) {
            None | Some(Ok(None)) => return Err(format!("span {id}: no `startTimeUnixNano`")),
            Some(Err(raw)) => {
                return Err(format!(
                    "span {id}: `startTimeUnixNano` {raw} is not integer nanoseconds"
                ));
            }
            Some(Ok(Some(n))) if !EPOCH_NANOS.contains(&n) => {
                return Err(format!(
                    "span {id}: `startTimeUnixNano` {n} is not epoch nanoseconds between 2000 and 2100"
                ));
            }
            Some(Ok(Some(n))) => n,
        };
        // A span still running is exported with no end, or OTLP's default 0.
        let end = match span.end_time_unix_nano.map(nanos) {
            None | Some(Ok(None | Some(0))) => None,
            Some(Err(raw)) => {
                return Err(format!(
                    "span {id}: `endTimeUnixNano` {raw} is not integer nanoseconds"
                ));
            }
            Some(Ok(Some(n))) if n < start => {
                return Err(format!(
                    "span {id}: `endTimeUnixNano` {n} is before `startTimeUnixNano` {start}"
                ));
            }
            Some(Ok(Some(n))) => Some(micros(n)),
        };
        let kind = span
            .kind
            .map_or(SpanKind::Unspecified, |k| SpanKind::from_json(k.get()));
        Ok(ValidSpan {
            trace_id,
            id,
            kind,
            start: micros(start),
            end,
            span,
            raw,
        })
    }

    pub fn parent_id(&self) -> Option<&str> {
        self.span
            .parent_span_id
            .as_deref()
            .filter(|p| !p.trim().is_empty())
    }

    /// Whether the exporter makes this span an X-Ray segment; Application Signals marks a local
    /// root that is not a SERVER span (a scheduled job, a queue poller) with `aws.span.kind`.
    pub fn starts_segment(&self) -> bool {
        self.kind.starts_segment() || self.attr("aws.span.kind").as_deref() == Some("LOCAL_ROOT")
    }

    fn attr(&self, key: &str) -> Str<'_> {
        self.span.attributes.get(key).and_then(|v| text(v))
    }

    fn first_attr(&self, keys: &[&str]) -> Str<'_> {
        keys.iter().find_map(|k| self.attr(k))
    }

    /// A span attribute, else the resource attribute.
    fn attr_or_resource(&self, keys: &[&str]) -> Str<'_> {
        self.first_attr(keys).or_else(|| self.resource(keys))
    }

    fn resource(&self, keys: &[&str]) -> Str<'_> {
        let resource = &self.span.resource.attributes;
        keys.iter()
            .find_map(|k| resource.get(*k).and_then(|v| text(v)))
    }

    /// The row fields of this span at `place`.
    pub fn fields<'s>(&'s self, place: Place<'s>) -> Fields<'s> {
        let s = &self.span;
        let aws_sdk = self.attr("rpc.system").as_deref() == Some("aws-api");
        let remote = if self.kind.is_remote() {
            remote_node(|k| self.attr(k), aws_sdk)
        } else {
            None
        };
        let (namespace, origin) = match &remote {
            Some(_) if aws_sdk => (Some("aws"), None),
            Some(_) => (Some("remote"), None),
            None => (
                None,
                self.resource(&["cloud.platform"])
                    .and_then(|p| origin_of(&p)),
            ),
        };
        let is_remote = remote.is_some();
        let (service, service_type) = remote.unwrap_or_else(|| {
            let service = self
                .resource(&["aws.local.service", "service.name"])
                .or_else(|| self.attr("aws.local.service"))
                .unwrap_or(Cow::Borrowed("unknown_service"));
            let service_type = origin
                .map(Cow::Borrowed)
                .or_else(|| self.resource(&["cloud.platform", "aws.service.type"]));
            (service, service_type)
        });
        let http_status = self
            .first_attr(&["http.response.status_code", "http.status_code"])
            .and_then(|s| s.parse().ok());
        let status_error = s
            .status
            .as_ref()
            .and_then(|st| st.code)
            .is_some_and(|c| matches!(c.get(), "\"ERROR\"" | "\"STATUS_CODE_ERROR\"" | "2"));
        let exception = s
            .events
            .iter()
            .find(|e| e.name.as_deref() == Some("exception"));
        let exception_attr = |k: &str| {
            exception
                .and_then(|e| e.attributes.get(k))
                .and_then(|v| text(v))
        };
        let status_message = s
            .status
            .as_ref()
            .and_then(|st| st.message.as_deref())
            .map(Cow::Borrowed);
        let aws_resource = self.first_attr(&[node::REMOTE_RESOURCE]).or_else(|| {
            let tables = s
                .attributes
                .get("aws.dynamodb.table_names")
                .and_then(|v| first_of_list(v));
            tables.or_else(|| self.first_attr(&["aws.s3.bucket", "aws.sqs.queue_url"]))
        });
        // The resource describes the local service: its ARN is no property of a call it makes.
        let resource_arn = self
            .first_attr(&["aws.lambda.invoked_arn", "cloud.resource_id"])
            .or_else(|| {
                if is_remote {
                    None
                } else {
                    self.resource(&["cloud.resource_id"])
                }
            });
        let metadata = (!s.resource.attributes.is_empty() || s.scope.is_some()).then(|| {
            serde_json::to_string(&Metadata {
                resource: &s.resource.attributes,
                scope: s.scope.as_ref(),
            })
            .expect("attributes are JSON already")
        });
        Fields {
            trace_id: xray_trace_id(&self.trace_id),
            id: &self.id,
            parent_id: self.parent_id(),
            segment_id: place.segment_id,
            name: s.name.as_deref().unwrap_or(""),
            namespace,
            origin,
            service,
            service_type,
            parent_service: None,
            parent_service_type: None,
            depth: place.depth,
            start: self.start,
            end: self.end,
            flags: flags(http_status, status_error),
            http_method: self.first_attr(&["http.request.method", "http.method"]),
            http_url: self.first_attr(&["url.full", "http.url"]),
            http_status,
            http_content_length: self
                .first_attr(&["http.response.body.size", "http.response_content_length"])
                .and_then(|n| n.parse().ok()),
            aws_operation: self.first_attr(&["rpc.method", "aws.remote.operation"]),
            aws_region: self.attr_or_resource(&["aws.region", "cloud.region"]),
            aws_request_id: self.first_attr(&["aws.request_id", "aws.requestId"]),
            aws_account_id: self.attr_or_resource(&["cloud.account.id"]),
            aws_resource,
            resource_arn,
            sql_database_type: self.attr("db.system"),
            sql_query: self.first_attr(&["db.statement", "db.query.text"]),
            cause_type: exception_attr("exception.type"),
            cause_message: exception_attr("exception.message").or(status_message),
            user: self.attr("enduser.id"),
            annotations: s
                .attributes
                .iter()
                .filter_map(|(k, v)| text(v).map(|v| (k.0.as_ref(), v)))
                .collect(),
            metadata,
            raw: self.raw,
        }
    }
}

/// What `metadata` holds: the resource attributes and the instrumentation scope.
#[derive(Serialize)]
struct Metadata<'s, 'a> {
    resource: &'s Attrs<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'s Scope<'a>>,
}

/// The mapped values of one span, owning what had to be computed; [`Fields::row`] lends them out.
#[derive(Debug)]
pub struct Fields<'s> {
    pub trace_id: Cow<'s, str>,
    pub id: &'s str,
    pub parent_id: Option<&'s str>,
    pub segment_id: &'s str,
    pub name: &'s str,
    pub namespace: Option<&'static str>,
    pub origin: Option<&'static str>,
    pub service: Cow<'s, str>,
    pub service_type: Str<'s>,
    /// Filled by the caller once every span of the file is mapped.
    pub parent_service: Option<Cow<'s, str>>,
    pub parent_service_type: Str<'s>,
    pub depth: u16,
    pub start: i64,
    pub end: Option<i64>,
    pub flags: node::Flags,
    pub http_method: Str<'s>,
    pub http_url: Str<'s>,
    pub http_status: Option<u16>,
    pub http_content_length: Option<i64>,
    pub aws_operation: Str<'s>,
    pub aws_region: Str<'s>,
    pub aws_request_id: Str<'s>,
    pub aws_account_id: Str<'s>,
    pub aws_resource: Str<'s>,
    pub resource_arn: Str<'s>,
    pub sql_database_type: Str<'s>,
    pub sql_query: Str<'s>,
    pub cause_type: Str<'s>,
    pub cause_message: Str<'s>,
    pub user: Str<'s>,
    pub annotations: Vec<(&'s str, Cow<'s, str>)>,
    pub metadata: Option<String>,
    pub raw: &'s str,
}

impl Fields<'_> {
    pub fn row(&self) -> SpanRow<'_> {
        SpanRow {
            trace_id: &self.trace_id,
            id: self.id,
            parent_id: self.parent_id,
            segment_id: self.segment_id,
            kind: kind::OTEL,
            name: self.name,
            namespace: self.namespace,
            origin: self.origin,
            service: &self.service,
            service_type: self.service_type.as_deref(),
            parent_service: self.parent_service.as_deref(),
            parent_service_type: self.parent_service_type.as_deref(),
            hop_caller: None,
            depth: self.depth,
            start_time: self.start,
            end_time: self.end,
            censored_end: None,
            critical_ms: None,
            hop_trace_critical_ms: None,
            dwell_ms: None,
            in_progress: self.end.is_none(),
            error: self.flags.error,
            fault: self.flags.fault,
            throttle: self.flags.throttle,
            http_method: self.http_method.as_deref(),
            http_url: self.http_url.as_deref(),
            http_status: self.http_status,
            http_content_length: self.http_content_length,
            aws_operation: self.aws_operation.as_deref(),
            aws_region: self.aws_region.as_deref(),
            aws_request_id: self.aws_request_id.as_deref(),
            aws_account_id: self.aws_account_id.as_deref(),
            aws_resource: self.aws_resource.as_deref(),
            aws_retries: None,
            resource_arn: self.resource_arn.as_deref(),
            sql_url: None,
            sql_database_type: self.sql_database_type.as_deref(),
            sql_sanitized_query: self.sql_query.as_deref(),
            cause_type: self.cause_type.as_deref(),
            cause_message: self.cause_message.as_deref(),
            annotations: self
                .annotations
                .iter()
                .map(|(k, v)| (*k, v.as_ref()))
                .collect(),
            metadata: self.metadata.as_deref(),
            user: self.user.as_deref(),
            raw: Some(self.raw),
            raw_rest: "",
        }
    }
}

fn nonempty(s: Str<'_>) -> Str<'_> {
    s.filter(|s| !s.trim().is_empty())
}

fn micros(nanos: u64) -> i64 {
    // u64::MAX / 1000 fits an i64.
    (nanos / 1000) as i64
}

/// Nanoseconds as a JSON number or, as OTLP/JSON encodes 64-bit integers, a numeric string;
/// `Ok(None)` for null, `Err(text)` for anything else.
fn nanos(raw: &RawValue) -> Result<Option<u64>, &str> {
    match raw.get() {
        "null" => Ok(None),
        s => s.trim_matches('"').parse().map(Some).map_err(|_| s),
    }
}

/// An attribute value as text: strings unquoted, numbers and booleans as written, lists and maps
/// as compact JSON; `None` for null.
pub fn text(v: &RawValue) -> Str<'_> {
    let s = v.get();
    match s.as_bytes().first() {
        Some(b'"') if !s.contains('\\') => Some(Cow::Borrowed(&s[1..s.len() - 1])),
        Some(b'"') => serde_json::from_str::<String>(s).ok().map(Cow::Owned),
        Some(b'n') => None,
        // Lists are rare in attributes and may be pretty-printed: compacting them is off the hot
        // path.
        Some(b'[' | b'{') => serde_json::from_str::<serde_json::Value>(s)
            .ok()
            .map(|v| Cow::Owned(v.to_string())),
        _ => Some(Cow::Borrowed(s)),
    }
}

/// The first element of a list attribute (a plain string counts as a list of one).
fn first_of_list(v: &RawValue) -> Str<'_> {
    if v.get().starts_with('[') {
        serde_json::from_str::<Vec<&RawValue>>(v.get())
            .ok()?
            .first()
            .and_then(|first| text(first))
    } else {
        text(v)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn valid(json: &str) -> Result<ValidSpan<'_>, String> {
        ValidSpan::new(serde_json::from_str(json).map_err(|e| e.to_string())?, json)
    }

    const SPAN: &str = r#"{"traceId":"691bbd4b51c1a4c319aa2bf92068c474","spanId":"2d60a188d4c50d72","name":"n","startTimeUnixNano":1763425611858303367"#;

    #[rstest]
    #[case::number(r#","endTimeUnixNano":1763425614850563891}"#, Ok((1_763_425_611_858_303, Some(1_763_425_614_850_563))))]
    #[case::string(r#","endTimeUnixNano":"1763425614850563891"}"#, Ok((1_763_425_611_858_303, Some(1_763_425_614_850_563))))]
    #[case::running(r#","endTimeUnixNano":0}"#, Ok((1_763_425_611_858_303, None)))]
    #[case::no_end("}", Ok((1_763_425_611_858_303, None)))]
    #[case::float_end(
        r#","endTimeUnixNano":1.7634256148505638e18}"#,
        Err(
            "span 2d60a188d4c50d72: `endTimeUnixNano` 1.7634256148505638e18 is not integer nanoseconds"
        )
    )]
    #[case::end_first(
        r#","endTimeUnixNano":1763425611000000000}"#,
        Err(
            "span 2d60a188d4c50d72: `endTimeUnixNano` 1763425611000000000 is before `startTimeUnixNano` 1763425611858303367"
        )
    )]
    fn times_are_exact_microseconds(
        #[case] tail: &str,
        #[case] expected: Result<(i64, Option<i64>), &str>,
    ) {
        let json = format!("{SPAN}{tail}");
        let got = valid(&json).map(|s| (s.start, s.end));
        assert_eq!(got, expected.map_err(String::from));
    }

    #[rstest]
    #[case::no_trace(
        r#"{"spanId":"a","startTimeUnixNano":1763425611858303367}"#,
        "no `traceId`: not an OTel span"
    )]
    #[case::no_span_id(
        r#"{"traceId":"t","startTimeUnixNano":1763425611858303367}"#,
        "no `spanId`"
    )]
    #[case::no_start(r#"{"traceId":"t","spanId":"a"}"#, "span a: no `startTimeUnixNano`")]
    #[case::text_start(
        r#"{"traceId":"t","spanId":"a","startTimeUnixNano":"yesterday"}"#,
        "span a: `startTimeUnixNano` \"yesterday\" is not integer nanoseconds"
    )]
    #[case::micros(
        r#"{"traceId":"t","spanId":"a","startTimeUnixNano":1763425611858303}"#,
        "span a: `startTimeUnixNano` 1763425611858303 is not epoch nanoseconds between 2000 and 2100"
    )]
    #[case::log_record(
        r#"{"traceId":"t","spanId":"a","timeUnixNano":1763425611858303367,"body":"hi"}"#,
        "an OTel log record (timeUnixNano, no startTimeUnixNano), not a span"
    )]
    fn incomplete_spans_are_rejected_with_the_field(#[case] json: &str, #[case] reason: &str) {
        assert_eq!(valid(json).unwrap_err(), reason);
    }

    #[test]
    fn attributes_map_onto_xray_columns() {
        let json = r#"{"resource":{"attributes":{"service.name":"svc","cloud.region":"us-east-1","cloud.resource_id":"arn:local"}},
            "scope":{"name":"botocore"},"traceId":"691bbd4b51c1a4c319aa2bf92068c474","spanId":"2d60a188d4c50d72",
            "parentSpanId":"","name":"DynamoDB.PutItem","kind":"CLIENT","startTimeUnixNano":1763425611858303367,
            "endTimeUnixNano":1763425611868303367,"attributes":{"rpc.system":"aws-api","rpc.method":"PutItem",
            "aws.remote.service":"AWS::DynamoDB","aws.dynamodb.table_names":["users"],"http.status_code":"429",
            "db.system":"dynamodb","note":"say \"hi\"","n":3,"gone":null},
            "status":{"code":"ERROR","message":"slow down"},
            "events":[{"name":"exception","attributes":{"exception.type":"ThrottlingException"}}]}"#;
        let span = valid(json).unwrap();
        let fields = span.fields(Place {
            segment_id: "566184bb85cb04f6",
            depth: 2,
        });
        let row = fields.row();
        assert_eq!(row.trace_id, "1-691bbd4b-51c1a4c319aa2bf92068c474");
        assert_eq!(row.parent_id, None);
        assert_eq!(
            (row.service, row.service_type),
            ("DynamoDB", Some("AWS::DynamoDB"))
        );
        assert_eq!(
            (row.namespace, row.segment_id, row.depth),
            (Some("aws"), "566184bb85cb04f6", 2)
        );
        assert_eq!(
            (row.error, row.fault, row.throttle, row.http_status),
            (true, false, true, Some(429))
        );
        assert_eq!(
            (row.aws_operation, row.aws_region, row.aws_resource),
            (Some("PutItem"), Some("us-east-1"), Some("users"))
        );
        assert_eq!(
            row.resource_arn, None,
            "the caller's ARN is not the callee's"
        );
        assert_eq!(
            (row.cause_type, row.cause_message),
            (Some("ThrottlingException"), Some("slow down"))
        );
        assert_eq!(row.sql_database_type, Some("dynamodb"));
        assert_eq!(row.duration_ms(), Some(10.0));
        let keys: Vec<_> = row.annotations.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "aws.dynamodb.table_names",
                "aws.remote.service",
                "db.system",
                "http.status_code",
                "n",
                "note",
                "rpc.method",
                "rpc.system"
            ]
        );
        assert!(
            row.annotations.contains(&("note", "say \"hi\""))
                && row
                    .annotations
                    .contains(&("aws.dynamodb.table_names", "[\"users\"]"))
        );
        assert_eq!(
            row.metadata,
            Some(
                r#"{"resource":{"cloud.region":"us-east-1","cloud.resource_id":"arn:local","service.name":"svc"},"scope":{"name":"botocore"}}"#
            )
        );
    }

    #[test]
    fn server_spans_are_their_service_on_its_platform() {
        let json = r#"{"resource":{"attributes":{"aws.local.service":"checkout","service.name":"other","cloud.platform":"aws_lambda","cloud.resource_id":"arn:fn"}},
            "traceId":"t","spanId":"a","kind":"SPAN_KIND_SERVER","startTimeUnixNano":1763425611858303367,
            "attributes":{"http.request.method":"GET","url.full":"https://x/y","http.response.status_code":502}}"#;
        let span = valid(json).unwrap();
        let fields = span.fields(Place {
            segment_id: "a",
            depth: 0,
        });
        let row = fields.row();
        assert_eq!(
            (row.service, row.service_type, row.origin),
            (
                "checkout",
                Some("AWS::Lambda::Function"),
                Some("AWS::Lambda::Function")
            )
        );
        assert_eq!(
            (row.http_method, row.http_url, row.http_status),
            (Some("GET"), Some("https://x/y"), Some(502))
        );
        assert_eq!(
            (row.fault, row.in_progress, row.resource_arn),
            (true, true, Some("arn:fn"))
        );
        assert_eq!(row.name, "");
    }
}

//! Format detection: by the shape of the document, never by the file name.

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// The input formats hopscope imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// `{"Traces": [{"Id", "Segments": [{"Id", "Document"}]}]}`, Documents as strings or objects.
    BatchGetTraces,
    /// One segment document, a JSON array of them, or NDJSON.
    SegmentDocuments,
    /// X-Ray daemon UDP payloads: `{"format": "json", "version": 1}` + newline + document.
    DaemonPayloads,
    /// OpenTelemetry spans as Transaction Search stores them in `aws/spans`.
    OtelSpans,
    /// CloudWatch Logs events: FilterLogEvents / GetLogEvents answers, subscription payloads,
    /// PutLogEvents input, plain arrays of events.
    LogEvents,
    /// Lambda log output as text, including the JSON log format, one record per line.
    LambdaLogText,
    /// GetMetricData / GetMetricStatistics answers.
    MetricData,
    /// Lambda ListFunctions / ListVersionsByFunction answers, or one GetFunctionConfiguration
    /// answer.
    FunctionConfigurations,
    /// A file that starts like a JSON document but is not valid JSON.
    InvalidJson,
    /// A recognised AWS document that holds no rows for hopscope (e.g. GetServiceGraph).
    Known(&'static str),
    Unsupported,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Format::BatchGetTraces => "BatchGetTraces response",
            Format::SegmentDocuments => "segment documents",
            Format::DaemonPayloads => "X-Ray daemon payloads",
            Format::OtelSpans => "OTel spans (aws/spans)",
            Format::LogEvents => "CloudWatch Logs events",
            Format::LambdaLogText => "Lambda log text",
            Format::MetricData => "CloudWatch metric data",
            Format::FunctionConfigurations => "Lambda function configurations",
            Format::InvalidJson => "invalid JSON",
            Format::Known(what) => what,
            Format::Unsupported => "unsupported",
        };
        f.write_str(name)
    }
}

pub const UNSUPPORTED_HINT: &str = "format not recognised: hopscope imports BatchGetTraces responses, X-Ray segment documents (JSON, NDJSON or daemon payloads), aws/spans OTel spans, CloudWatch Logs events (FilterLogEvents, GetLogEvents, subscription payloads), Lambda log text, GetMetricData responses and Lambda ListFunctions, ListVersionsByFunction or GetFunctionConfiguration responses";

pub fn known_hint(what: &str) -> &'static str {
    match what {
        TEST_SNAPSHOT => {
            "it wraps API answers in test metadata with placeholder values; save the API answer itself"
        }
        SERVICES => "hopscope builds the service map from the traces themselves",
        "GetTraceSummaries response" => {
            "summaries hold no segments; import the BatchGetTraces response for those ids"
        }
        "GetMetricData request" => {
            "it holds the queries, not their data; import the response (or the two together)"
        }
        "PutTraceSegments response" => "it only lists segments X-Ray did not accept",
        _ => "it is a request or a projection, not data",
    }
}

pub fn detect(text: &str) -> Format {
    let trimmed = text.trim_start();
    if trimmed.starts_with("{\"format\"") {
        let header = trimmed.split_inclusive('}').next().unwrap_or("");
        if header.contains("\"version\"") {
            return Format::DaemonPayloads;
        }
    }
    let format = match trimmed.as_bytes().first() {
        Some(b'{') => match object_keys(trimmed) {
            Some(keys) => classify(&keys),
            // Not one JSON document: NDJSON, or text that starts with a JSON record.
            None => detect_lines(trimmed),
        },
        Some(b'[') => match serde_json::from_str::<FirstElementKeys>(trimmed) {
            Ok(FirstElementKeys(Some(keys))) => match classify(&keys) {
                Format::Known("PutLogEvents input") => Format::LogEvents,
                f => f,
            },
            Ok(FirstElementKeys(None)) => Format::Known("empty JSON array"),
            Err(e) if e.is_data() => Format::Unsupported,
            // Python's `[INFO]` lines start with a bracket too.
            Err(_) if starts_like_json_array(trimmed) => Format::InvalidJson,
            Err(_) => Format::LambdaLogText,
        },
        Some(_) => Format::LambdaLogText,
        None => Format::Known("empty file"),
    };
    // A FilterLogEvents answer on `aws/spans` carries one OTel span per message.
    if format == Format::LogEvents
        && trimmed.contains("startTimeUnixNano")
        && trimmed.contains("spanId")
    {
        return Format::OtelSpans;
    }
    format
}

/// NDJSON of segments or spans is classified by its first line. A document that is not valid
/// JSON goes to the parser of what it claims to be, which rejects it with the JSON error;
/// anything else is log text.
fn detect_lines(text: &str) -> Format {
    let first = text.lines().next().unwrap_or("");
    match serde_json::from_str::<TopKeys>(first).map(|k| classify(&k)) {
        Ok(f @ (Format::SegmentDocuments | Format::OtelSpans)) => f,
        Ok(_) => Format::LambdaLogText,
        Err(_) if text.contains("\"Traces\"") || text.contains("\"Segments\"") => {
            Format::BatchGetTraces
        }
        Err(_) if text.contains("\"trace_id\"") || text.contains("\"start_time\"") => {
            Format::SegmentDocuments
        }
        Err(_) if text.contains("\"Services\"") => Format::Known(SERVICES),
        Err(_) if is_broken_document(text) => Format::InvalidJson,
        Err(_) => Format::LambdaLogText,
    }
}

/// Whether `text`, whose first line is not a JSON value, is one JSON document gone wrong rather
/// than lines of log text that begin with a broken record (their error is on line 1 or where
/// line 2 starts): a document on one line, a document opened by a lone `{` as pretty-printers
/// write it, or an error further down.
fn is_broken_document(text: &str) -> bool {
    let Some(e) = first_json_error(text) else {
        return false;
    };
    let text = text.trim();
    !text.contains('\n') || text.lines().next().is_some_and(|l| l.trim() == "{") || e.line() > 2
}

/// The error in the first JSON value of `text`, if it has one (what follows it is not read).
fn first_json_error(text: &str) -> Option<serde_json::Error> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<IgnoredAny>()
        .next()
        .and_then(Result::err)
}

/// Where a file detected as [`Format::InvalidJson`] goes wrong: in its first value, or (an
/// array with something after it) where the rest begins.
pub fn json_error(text: &str) -> Option<serde_json::Error> {
    first_json_error(text).or_else(|| serde_json::from_str::<IgnoredAny>(text).err())
}

/// `[` followed by what may begin a JSON value.
fn starts_like_json_array(text: &str) -> bool {
    text.strip_prefix('[')
        .map(str::trim_start)
        .and_then(|rest| rest.bytes().next())
        .is_none_or(|b| {
            matches!(
                b,
                b'{' | b'[' | b'"' | b']' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
            )
        })
}

const TEST_SNAPSHOT: &str = "LocalStack test snapshot";

const SERVICES: &str = "X-Ray service list (GetServiceGraph response or root-cause excerpt)";

/// Keys that settle the format on their own: whatever else it holds, a document with one of them
/// is a BatchGetTraces answer.
const TRACE_KEYS: [&str; 3] = ["Traces", "Segments", "Document"];

fn classify(k: &TopKeys) -> Format {
    let has = |name: &str| k.0.iter().any(|key| key == name);
    if TRACE_KEYS.iter().any(|key| has(key)) {
        Format::BatchGetTraces
    } else if has("_aws") {
        // Embedded Metric Format records (Lambda Insights, EMF) are log lines.
        Format::LambdaLogText
    } else if has("_source_test") || k.0.iter().any(|key| key.contains("::test_")) {
        Format::Known(TEST_SNAPSHOT)
    } else if has("trace_id") || (has("id") && has("start_time") && has("name")) {
        Format::SegmentDocuments
    } else if (has("traceId") && has("spanId")) || has("raw_otel_json") {
        Format::OtelSpans
    } else if has("MetricDataResults") || has("Datapoints") {
        Format::MetricData
    } else if has("Functions")
        || has("Versions")
        || (has("FunctionName") && has("FunctionArn") && has("LastModified"))
    {
        Format::FunctionConfigurations
    } else if has("events")
        || has("logEvents")
        || has("awslogs")
        || has("Records")
        || has("records")
        || (has("timestamp")
            && has("message")
            && (has("ingestionTime") || has("id") || has("eventId") || has("logStreamName")))
    {
        Format::LogEvents
    } else if has("timestamp") && has("message") && k.0.len() == 2 {
        Format::Known("PutLogEvents input")
    } else if (has("time") && has("type") && has("record"))
        || has("requestId")
        || has("level")
        || has("function_request_id")
    {
        Format::LambdaLogText
    } else if has("Services") {
        Format::Known(SERVICES)
    } else if has("TraceSummaries") {
        Format::Known("GetTraceSummaries response")
    } else if has("UnprocessedTraceSegments") {
        Format::Known("PutTraceSegments response")
    } else if has("MetricDataQueries") || (has("Id") && (has("MetricStat") || has("Expression"))) {
        Format::Known("GetMetricData request")
    } else {
        Format::Unsupported
    }
}

/// The keys of a JSON object, values skipped.
struct TopKeys(Vec<String>);

impl<'de> Deserialize<'de> for TopKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut keys = Vec::new();
        d.deserialize_map(Keys {
            keys: &mut keys,
            stop_at_trace_keys: false,
        })?;
        Ok(TopKeys(keys))
    }
}

/// The keys of `text` if it is one JSON object (`None` otherwise). Reading stops at a key of
/// [`TRACE_KEYS`]: a BatchGetTraces answer is nearly all traces, and skipping them only to
/// classify the file would scan it twice; its importer validates the rest.
fn object_keys(text: &str) -> Option<TopKeys> {
    let mut keys = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let read = de
        .deserialize_map(Keys {
            keys: &mut keys,
            stop_at_trace_keys: true,
        })
        .and_then(|()| de.end());
    // Stopping early leaves the object unclosed, which serde_json reports as an error.
    let stopped = keys
        .last()
        .is_some_and(|k| TRACE_KEYS.contains(&k.as_str()));
    (read.is_ok() || stopped).then_some(TopKeys(keys))
}

struct Keys<'k> {
    keys: &'k mut Vec<String>,
    stop_at_trace_keys: bool,
}

impl<'de> Visitor<'de> for Keys<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let stop = self.stop_at_trace_keys && TRACE_KEYS.contains(&key.as_str());
            self.keys.push(key);
            if stop {
                return Ok(());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// The keys of the first element of a JSON array (the rest is only validated).
struct FirstElementKeys(Option<TopKeys>);

impl<'de> Deserialize<'de> for FirstElementKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct First;
        impl<'de> Visitor<'de> for First {
            type Value = FirstElementKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FirstElementKeys, A::Error> {
                let first = seq.next_element::<TopKeys>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstElementKeys(first))
            }
        }
        d.deserialize_seq(First)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::pretty_printed_missing_colon(
        "{     \n    \"time\": \"2020-08-20T12:31:32.123Z\",\n    \"record\": {\"droppedRecords\": 123,\n        \"droppedBytes\" 12345\n    }\n}\n",
        Format::InvalidJson
    )]
    #[case::one_line(
        r#"{"time": "2020-08-20T12:31:32.123Z", "type" "platform.start"}"#,
        Format::InvalidJson
    )]
    #[case::trailing_comma_far_down(
        "{\"time\": \"2022-10-12T00:01:15.000Z\",\n\"type\": \"platform.report\",\n\"record\": {\n\"a\": 1,\n}\n}",
        Format::InvalidJson
    )]
    #[case::array(r#"[{"level": "INFO"},]"#, Format::InvalidJson)]
    #[case::array_then_more(r#"[{"level": "INFO"}] x"#, Format::InvalidJson)]
    #[case::valid_array_of_strings(r#"["a"]"#, Format::Unsupported)]
    #[case::python_level_line(
        "[INFO]\t2024-01-01T00:00:00.000Z\tc793869b-ee49-115b-a5b6-4fd21e8dedac\thi\n",
        Format::LambdaLogText
    )]
    // A broken record on line 1, then log text: the good lines still import.
    #[case::broken_first_record_then_text(
        "{\"timestamp\":\"2024-02-09T08:42:44.078Z\",\"message\":\"x\"\n[Extension] 2024/04/11 02:14:17 started\n",
        Format::LambdaLogText
    )]
    #[case::pretty_printed_records(
        "{\n  \"level\": \"INFO\"\n}\n{\n  \"level\": \"DEBUG\"\n}\n",
        Format::LambdaLogText
    )]
    fn json_that_is_not_valid_is_not_log_text(#[case] text: &str, #[case] format: Format) {
        assert_eq!(detect(text), format);
    }

    #[rstest]
    #[case::list_functions(r#"{"Functions": [{"FunctionName": "f"}], "NextMarker": "m"}"#)]
    #[case::list_functions_empty(r#"{"Functions": []}"#)]
    #[case::list_versions_by_function(r#"{"Versions": [], "NextMarker": null}"#)]
    #[case::get_function_configuration(
        r#"{"FunctionName": "f", "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f", "Version": "$LATEST", "LastModified": "2024-03-01T12:30:45.123+0000", "MemorySize": 128}"#
    )]
    fn detects_lambda_function_configurations(#[case] text: &str) {
        assert_eq!(detect(text), Format::FunctionConfigurations);
    }

    #[test]
    fn a_function_name_alone_is_not_a_configuration() {
        assert_eq!(detect(r#"{"FunctionName": "f"}"#), Format::Unsupported);
    }

    #[test]
    fn detects_by_shape() {
        assert_eq!(detect(r#"{"Traces":[]}"#), Format::BatchGetTraces);
        assert_eq!(
            detect("{\"format\": \"json\", \"version\": 1}\n{\"trace_id\":\"1-a-b\"}"),
            Format::DaemonPayloads
        );
        assert_eq!(
            detect("{\"trace_id\":\"t\",\"id\":\"a\"}\n{\"trace_id\":\"t\",\"id\":\"b\"}"),
            Format::SegmentDocuments
        );
        assert_eq!(
            detect("START RequestId: x Version: $LATEST"),
            Format::LambdaLogText
        );
        assert_eq!(detect(r#"{"MetricDataResults":[]}"#), Format::MetricData);
        assert_eq!(
            detect(r#"[{"timestamp":1,"message":"m"}]"#),
            Format::LogEvents
        );
        assert_eq!(detect(r#"{"Services":[]}"#), Format::Known(SERVICES));
        assert_eq!(
            detect("{\n \"trace_id\": \"1-a-b\",\n \"id\": 1,,\n}"),
            Format::SegmentDocuments
        );
        assert_eq!(
            detect(r#"{"Id":"1-a-b","Segments":[]}"#),
            Format::BatchGetTraces
        );
        assert_eq!(detect(r#"["a"]"#), Format::Unsupported);
        // Classified at its first trace key; the importer rejects what follows.
        assert_eq!(
            detect(r#"{"Traces":[{"Segments":[}],"NextToken":"x"}"#),
            Format::BatchGetTraces
        );
    }
}

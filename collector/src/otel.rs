//! OpenTelemetry spans as CloudWatch Transaction Search stores them in `aws/spans` -> `spans` rows,
//! translated the way the ADOT collector's X-Ray exporter would, so they join X-Ray data.
//!
//! A file holds one span, a JSON array of them, NDJSON, records wrapping a span as
//! `{"timestamp", "raw_otel_json": {span}}` (the AgentCore toolkit's captures), or CloudWatch Logs
//! events whose `message` is the span's JSON. The spans of a file are resolved together: a span's
//! X-Ray segment and depth come from its ancestors in the same file.

mod node;
mod span;

#[cfg(feature = "aws")]
pub(crate) use node::xray_trace_id;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Display;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::critical_path;
use crate::error::Result;
use crate::output::{FileCtx, Output};
use span::{Place, Span, ValidSpan};

/// Where a record sits in its file, for rejections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Document,
    Index(usize),
    Line(usize),
    Event(usize),
}

impl Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Document => f.write_str("document"),
            Location::Index(i) => write!(f, "[{i}]"),
            Location::Line(n) => write!(f, "line {n}"),
            Location::Event(i) => write!(f, "events[{i}]"),
        }
    }
}

/// The fields that tell a span from the envelopes it arrives in; everything else is skipped.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "traceId")]
    trace_id: Option<IgnoredAny>,
    #[serde(borrow)]
    raw_otel_json: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(borrow, alias = "logEvents")]
    events: Option<&'a RawValue>,
}

/// Rows flushed between batches of this many spans.
const FLUSH_EVERY: usize = 4096;

pub fn import(text: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) -> Result<()> {
    let records = match split(text.trim()) {
        Ok(records) => records,
        Err(reason) => {
            out.records += 1;
            out.reject(ctx, "file", reason);
            return Ok(());
        }
    };
    out.records += records.len();
    let mut texts = Vec::with_capacity(records.len());
    for (location, record) in records {
        match unwrap(record) {
            Ok(text) => texts.push((location, text)),
            Err(reason) => out.reject(ctx, location, reason),
        }
    }
    let mut spans = Vec::with_capacity(texts.len());
    for (location, text) in &texts {
        let parsed = serde_json::from_str::<Span<'_>>(text)
            .map_err(|e| format!("not a valid OTel span: {e}"))
            .and_then(|span| ValidSpan::new(span, text));
        match parsed {
            Ok(span) => spans.push(span),
            Err(reason) => out.reject(ctx, location, reason),
        }
    }
    let parents = parents(&spans);
    let places = places(&spans, &parents);
    let mut fields: Vec<_> = spans
        .iter()
        .zip(places)
        .map(|(span, place)| span.fields(place))
        .collect();
    for (i, parent) in parents.iter().enumerate() {
        if let Some(p) = *parent {
            fields[i].parent_service = Some(fields[p].service.clone());
            fields[i].parent_service_type = fields[p].service_type.clone();
        }
    }
    let mut rows: Vec<_> = fields.iter().map(|f| f.row()).collect();
    critical_path::annotate(&mut rows, &mut out.scratch.critical_path);
    for (n, row) in rows.iter().enumerate() {
        out.spans.append(row);
        if n % FLUSH_EVERY == FLUSH_EVERY - 1 {
            out.flush_full()?;
        }
    }
    Ok(())
}

/// The records of a file: array elements, a single document, the events of a CloudWatch Logs
/// answer, or NDJSON lines. The error is the whole file's rejection.
fn split(text: &str) -> Result<Vec<(Location, &str)>, String> {
    if text.starts_with('[') {
        let elements = serde_json::from_str::<Vec<&RawValue>>(text)
            .map_err(|e| format!("not a valid JSON array of spans: {e}"))?;
        return Ok(elements
            .iter()
            .enumerate()
            .map(|(i, e)| (Location::Index(i), e.get()))
            .collect());
    }
    if let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(text) {
        // Spans have `events` too (their own): only an object that is no span is a log answer.
        let is_span = envelope.trace_id.is_some() || envelope.raw_otel_json.is_some();
        return match envelope.events.filter(|_| !is_span) {
            Some(events) => {
                let events = serde_json::from_str::<Vec<&RawValue>>(events.get())
                    .map_err(|e| format!("`events` is not a list of log events: {e}"))?;
                Ok(events
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (Location::Event(i), e.get()))
                    .collect())
            }
            None => Ok(vec![(Location::Document, text)]),
        };
    }
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| (Location::Line(n + 1), line.trim()))
        .collect())
}

/// The span JSON inside a record: the record itself, its `raw_otel_json`, or the JSON string in
/// the `message` of a log event.
fn unwrap(record: &str) -> Result<Cow<'_, str>, String> {
    let envelope: Envelope<'_> =
        serde_json::from_str(record).map_err(|e| format!("not a JSON object: {e}"))?;
    if let Some(span) = envelope.raw_otel_json {
        return Ok(Cow::Borrowed(span.get()));
    }
    match envelope
        .message
        .filter(|m| envelope.trace_id.is_none() && m.get().starts_with('"'))
    {
        Some(message) => serde_json::from_str::<String>(message.get())
            .map(Cow::Owned)
            .map_err(|e| format!("`message` is not a JSON string: {e}")),
        None => Ok(Cow::Borrowed(record)),
    }
}

/// The index of each span's parent in the file, when the file holds it.
fn parents(spans: &[ValidSpan<'_>]) -> Vec<Option<usize>> {
    let index: HashMap<(&str, &str), usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.trace_id.as_ref(), s.id.as_ref()), i))
        .collect();
    spans
        .iter()
        .map(|s| {
            s.parent_id()
                .and_then(|p| index.get(&(s.trace_id.as_ref(), p)).copied())
        })
        .collect()
}

/// Each span's enclosing X-Ray segment and depth below it: the nearest span at or above it that
/// starts a segment, else its topmost ancestor in the file (the file may hold part of a trace).
fn places<'s>(spans: &'s [ValidSpan<'_>], parents: &[Option<usize>]) -> Vec<Place<'s>> {
    let parent = |i: usize| parents[i];
    (0..spans.len())
        .map(|i| {
            let (mut top, mut depth) = (i, 0u16);
            // Bounded so that a parent cycle in bad data cannot loop forever.
            for _ in 0..spans.len() {
                match parent(top) {
                    Some(p) if !spans[top].starts_segment() => {
                        top = p;
                        depth = depth.saturating_add(1);
                    }
                    _ => break,
                }
            }
            Place {
                segment_id: &spans[top].id,
                depth,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use arrow::array::{Array, AsArray, RecordBatch};
    use arrow::datatypes::Int32Type;
    use hopscope_schema::spans::col;
    use rstest::rstest;

    use super::*;

    /// What importing `text` gives: the spans batch, the rejections as `record: reason`, and the
    /// records counted.
    struct Imported {
        batch: RecordBatch,
        rejections: Vec<String>,
        records: usize,
    }

    fn run(text: &str) -> Imported {
        let mut sink = Vec::new();
        let mut out = Output::new(&mut sink, 1 << 20);
        import(
            text,
            &FileCtx {
                path: "t.json",
                log_group: None,
                now: crate::output::TEST_NOW,
            },
            &mut out,
        )
        .unwrap();
        let rejections = out
            .rejections()
            .iter()
            .map(|r| format!("{}: {}", r.record, r.reason))
            .collect();
        Imported {
            batch: out.spans.finish(),
            rejections,
            records: out.records,
        }
    }

    /// (column, row) -> the value as text, for strings and dictionary strings.
    fn str_at(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
        let array = batch.column_by_name(column).unwrap();
        if array.is_null(row) {
            return None;
        }
        Some(match array.as_dictionary_opt::<Int32Type>() {
            Some(dict) => {
                let key = dict.keys().value(row) as usize;
                dict.values().as_string::<i32>().value(key).to_string()
            }
            None => array.as_string::<i32>().value(row).to_string(),
        })
    }

    fn corpus_file(name: &str) -> String {
        let root = std::env::var("HOPSCOPE_CORPUS").map_or_else(
            |_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus")),
            PathBuf::from,
        );
        let path = root.join("otel-spans").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    #[rstest]
    #[case("agentcore_raw_otel_langchain_spans.json", 12, 0)]
    #[case("agentcore_raw_otel_strands_bedrock_spans.json", 50, 0)]
    #[case("agentcore_raw_otel_strands_openai_spans.json", 48, 0)]
    #[case("agentcore_raw_otel_langchain_runtime_logs.json", 0, 16)]
    fn corpus_files_import(#[case] name: &str, #[case] rows: usize, #[case] rejected: usize) {
        let got = run(&corpus_file(name));
        assert_eq!(
            (got.batch.num_rows(), got.rejections.len(), got.records),
            (rows, rejected, rows + rejected)
        );
    }

    #[test]
    fn runtime_log_records_are_rejected_as_such() {
        let reasons = run(&corpus_file(
            "agentcore_raw_otel_langchain_runtime_logs.json",
        ))
        .rejections;
        assert_eq!(reasons[0], "[0]: no `traceId`: not an OTel span");
        assert_eq!(
            reasons[1],
            "[1]: an OTel log record (timeUnixNano, no startTimeUnixNano), not a span"
        );
    }

    #[test]
    fn langchain_spans_map_like_xray() {
        let b = &run(&corpus_file("agentcore_raw_otel_langchain_spans.json")).batch;
        let at = |column, row| str_at(b, column, row);
        // [0] is the runtime's SERVER span; its parent is in AgentCore, not in the file.
        assert_eq!(
            at(col::TRACE_ID, 0).as_deref(),
            Some("1-691bbd4b-51c1a4c319aa2bf92068c474")
        );
        assert_eq!(at(col::PARENT_ID, 0).as_deref(), Some("566184bb85cb04f6"));
        assert_eq!(at(col::SEGMENT_ID, 0).as_deref(), Some("2be7614b3627c50a"));
        assert_eq!(at(col::SERVICE, 0).as_deref(), Some("agent_lg.DEFAULT"));
        assert_eq!(
            at(col::SERVICE_TYPE, 0).as_deref(),
            Some("aws_bedrock_agentcore")
        );
        assert_eq!(at(col::KIND, 0).as_deref(), Some("otel"));
        // [5] is botocore's Converse call, under the LangChain CLIENT span [1] of the same trace.
        assert_eq!(at(col::ID, 5).as_deref(), Some("81a4cbb3de6b19d4"));
        assert_eq!(at(col::PARENT_ID, 5).as_deref(), Some("2d60a188d4c50d72"));
        assert_eq!(at(col::SEGMENT_ID, 5).as_deref(), Some("2be7614b3627c50a"));
        assert_eq!(
            at(col::SERVICE, 5).as_deref(),
            Some("BedrockRuntime:us.anthropic.claude-3-5-haiku-20241022-v1:0")
        );
        assert_eq!(
            at(col::SERVICE_TYPE, 5).as_deref(),
            Some("AWS::Bedrock::Model")
        );
        assert_eq!(at(col::NAMESPACE, 5).as_deref(), Some("aws"));
        assert_eq!(at(col::AWS_OPERATION, 5).as_deref(), Some("Converse"));
        assert_eq!(
            at(col::AWS_REQUEST_ID, 5).as_deref(),
            Some("749a7175-f570-4fd0-a083-73581ff39f54")
        );
        assert_eq!(
            at(col::SERVICE, 1).as_deref(),
            Some("amazon_bedrock:us.anthropic.claude-3-5-haiku-20241022-v1:0")
        );
        let depth = b
            .column_by_name(col::DEPTH)
            .unwrap()
            .as_primitive::<arrow::datatypes::UInt16Type>();
        // SERVER [0] <- LangGraph.workflow [3] <- chatbot.task [2] <- chat CLIENT [1] <- Converse [5]
        assert_eq!(
            (
                depth.value(0),
                depth.value(3),
                depth.value(2),
                depth.value(1),
                depth.value(5)
            ),
            (0, 1, 2, 3, 4)
        );
        let start = b
            .column_by_name(col::START_TIME)
            .unwrap()
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(start.value(0), 1_763_425_611_858_303);
    }

    #[test]
    fn access_denied_span_carries_its_exception() {
        let b = &run(&corpus_file("agentcore_raw_otel_strands_openai_spans.json")).batch;
        let errors = b.column_by_name(col::ERROR).unwrap().as_boolean();
        let failed: Vec<usize> = (0..b.num_rows()).filter(|&i| errors.value(i)).collect();
        assert_eq!(failed, [15]);
        let at = |column| str_at(b, column, 15);
        assert_eq!(at(col::SERVICE).as_deref(), Some("BedrockAgentCore"));
        assert_eq!(
            at(col::AWS_OPERATION).as_deref(),
            Some("StartCodeInterpreterSession")
        );
        assert_eq!(
            at(col::CAUSE_TYPE).as_deref(),
            Some("botocore.errorfactory.AccessDeniedException")
        );
        assert!(
            at(col::CAUSE_MESSAGE)
                .unwrap()
                .starts_with("An error occurred (AccessDeniedException)")
        );
        let fault = b.column_by_name(col::FAULT).unwrap().as_boolean();
        assert!(
            !fault.value(15),
            "a 403 is the caller's error, though the status is ERROR"
        );
    }

    const A: &str = r#"{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"GET /","kind":"SERVER","startTimeUnixNano":1763425611858303367}"#;
    const B: &str = r#"{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"00f067aa0ba902b7","parentSpanId":"b7ad6b7169203331","name":"work","kind":"INTERNAL","startTimeUnixNano":1763425611858303367}"#;

    #[rstest]
    #[case::array(format!("[{A},{B}]"), vec![])]
    #[case::ndjson(format!("{A}\n\n{B}\n"), vec![])]
    #[case::wrapped(format!(r#"[{{"timestamp":"x","raw_otel_json":{A}}},{{"timestamp":"x","raw_otel_json":{B}}}]"#), vec![])]
    #[case::log_events(format!(r#"{{"events":[{{"timestamp":1,"message":{}}},{{"message":{}}}],"searchedLogStreams":[]}}"#, serde_json::to_string(A).unwrap(), serde_json::to_string(B).unwrap()), vec![])]
    #[case::bad_line(format!("{A}\nnot json\n{B}"), vec!["line 2: not a JSON object: expected ident at line 1 column 2".to_string()])]
    #[case::no_start(format!(r#"[{A},{B},{{"traceId":"t","spanId":"s"}}]"#), vec!["[2]: span s: no `startTimeUnixNano`".to_string()])]
    fn every_envelope_yields_the_same_spans(#[case] text: String, #[case] rejections: Vec<String>) {
        let got = run(&text);
        let b = &got.batch;
        assert_eq!(b.num_rows(), 2);
        assert_eq!(
            str_at(b, col::SEGMENT_ID, 1).as_deref(),
            Some("b7ad6b7169203331")
        );
        assert_eq!(
            str_at(b, col::PARENT_ID, 1).as_deref(),
            Some("b7ad6b7169203331")
        );
        assert_eq!(got.records, 2 + rejections.len());
        assert_eq!(got.rejections, rejections);
    }

    #[test]
    fn a_single_span_is_one_record() {
        let got = run(A);
        assert_eq!(
            (
                got.batch.num_rows(),
                got.records,
                str_at(&got.batch, col::PARENT_ID, 0)
            ),
            (1, 1, None)
        );
    }
}

//! X-Ray segment documents -> `spans` rows: one row per segment and per subsegment at any depth.
//!
//! A document and all its subsegments are read in one pass into borrowed structs (`read`), which
//! also gives every span its own `raw` text from the parser's positions.

mod document;
mod node;
mod read;

use std::borrow::Cow;
use std::fmt::Write;

use serde::Deserialize;
use serde_json::value::RawValue;

use hopscope_schema::spans::SpanRow;

use crate::critical_path;
use crate::error::Result;
use crate::output::{FileCtx, Output, recycle};

pub(crate) use document::Node;
pub use document::SegmentDoc;
pub use node::node_of;
pub(crate) use read::Entry;

/// A BatchGetTraces response: `Traces[].Segments[].Document`, the Document a JSON-encoded string
/// (as the API returns it) or an already-parsed object (as some tools save it). Dumps of one
/// trace (`{"Id", "Segments"}`) or one segment entry (`{"Id", "Document"}`) are read too.
#[derive(Deserialize)]
struct BatchGetTraces<'a> {
    #[serde(rename = "Traces", borrow, default)]
    traces: Vec<TraceEntry<'a>>,
    #[serde(rename = "Segments", borrow)]
    segments: Option<Vec<SegmentEntry<'a>>>,
    #[serde(rename = "Document", borrow)]
    document: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct TraceEntry<'a> {
    #[serde(rename = "Segments", borrow, default)]
    segments: Vec<SegmentEntry<'a>>,
}

#[derive(Deserialize)]
struct SegmentEntry<'a> {
    #[serde(rename = "Document", borrow)]
    document: Option<&'a RawValue>,
}

pub fn import_batch_get_traces(text: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) -> Result<()> {
    let mut response: BatchGetTraces<'_> = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            out.records += 1;
            out.reject(
                ctx,
                "file",
                format!("not a valid BatchGetTraces response: {e}"),
            );
            return Ok(());
        }
    };
    if let Some(segments) = response.segments.take() {
        response.traces.push(TraceEntry { segments });
    }
    if let Some(document) = response.document {
        response.traces.push(TraceEntry {
            segments: vec![SegmentEntry {
                document: Some(document),
            }],
        });
    }
    let single = response.traces.len() == 1;
    for (t, trace) in response.traces.iter().enumerate() {
        let mut docs: Vec<(Cow<'_, str>, String)> = Vec::with_capacity(trace.segments.len());
        for (s, segment) in trace.segments.iter().enumerate() {
            let location = if single {
                format!("Segments[{s}]")
            } else {
                format!("Traces[{t}].Segments[{s}]")
            };
            let Some(document) = segment.document else {
                out.records += 1;
                out.reject(ctx, &location, "no Document");
                continue;
            };
            let raw = document.get();
            let text: Cow<'_, str> = if raw.starts_with('"') {
                match serde_json::from_str::<String>(raw) {
                    Ok(s) => Cow::Owned(s),
                    Err(e) => {
                        out.records += 1;
                        out.reject(
                            ctx,
                            &location,
                            format!("Document is not a valid JSON string: {e}"),
                        );
                        continue;
                    }
                }
            } else {
                Cow::Borrowed(raw)
            };
            docs.push((text, location));
        }
        let docs: Vec<(&str, &str)> = docs.iter().map(|(t, l)| (t.as_ref(), l.as_str())).collect();
        import_trace(&docs, ctx, out);
        out.flush_full()?;
    }
    Ok(())
}

/// One segment document, a JSON array of them, or NDJSON (one per line).
pub fn import_segment_documents(text: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) -> Result<()> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        match serde_json::from_str::<Vec<&RawValue>>(trimmed) {
            Ok(docs) => {
                for (i, doc) in docs.iter().enumerate() {
                    import_document(doc.get(), &format!("[{i}]"), ctx, out);
                    out.flush_full()?;
                }
            }
            Err(e) => {
                out.records += 1;
                out.reject(
                    ctx,
                    "file",
                    format!("not a valid JSON array of segment documents: {e}"),
                );
            }
        }
        return Ok(());
    }
    // A single (possibly pretty-printed) document is one record; otherwise one per line.
    if let Err(e) = serde_json::from_str::<&RawValue>(trimmed) {
        let first_line = trimmed.lines().next().unwrap_or("");
        if serde_json::from_str::<&RawValue>(first_line).is_err() {
            out.records += 1;
            out.reject(ctx, "document", format!("not valid JSON: {e}"));
            return Ok(());
        }
    } else {
        import_document(trimmed, "document", ctx, out);
        return Ok(());
    }
    import_segment_lines(text, 1, ctx, out)
}

/// NDJSON of segment documents; `first_line` numbers the first line of `text` in its file (large
/// files arrive in chunks).
pub fn import_segment_lines(
    text: &str,
    first_line: usize,
    ctx: &FileCtx<'_>,
    out: &mut Output<'_>,
) -> Result<()> {
    let lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    // One location buffer for every line: it is only read when something is rejected.
    let mut location = String::new();
    for (n, line) in lines {
        location.clear();
        write!(location, "line {}", first_line + n).expect("writing to a String never fails");
        import_document(line.trim(), &location, ctx, out);
        if n % 4096 == 0 {
            out.flush_full()?;
        }
    }
    Ok(())
}

/// X-Ray daemon UDP payloads: a `{"format": "json", "version": 1}` header, a newline (or, in
/// documentation copies, a literal `\n`), then the segment document; one or more per file.
pub fn import_daemon_payloads(text: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) -> Result<()> {
    const HEADER_END: char = '}';
    let mut rest = text.trim_start();
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        let location = format!("payload {n}");
        let Some(header_end) = rest.find(HEADER_END) else {
            out.records += 1;
            out.reject(ctx, &location, "daemon header without a closing brace");
            break;
        };
        let header = &rest[..=header_end];
        if !header.contains("\"format\"") {
            out.records += 1;
            out.reject(ctx, &location, format!("expected a daemon header like {{\"format\": \"json\", \"version\": 1}}, found {}", header.chars().take(60).collect::<String>()));
            break;
        }
        let body = rest[header_end + 1..].trim_start_matches([' ', '\t', '\r']);
        let body = body
            .strip_prefix("\\n")
            .or_else(|| body.strip_prefix('\n'))
            .unwrap_or(body);
        // The document runs to the end of its line.
        let (doc, next) = match body.find('\n') {
            Some(i) => (&body[..i], &body[i + 1..]),
            None => (body, ""),
        };
        import_document(doc.trim(), &location, ctx, out);
        rest = next.trim_start();
    }
    Ok(())
}

/// Parses one document (a segment, or an independent subsegment) and appends its spans; a bad
/// document or subsegment is rejected on its own and the rest of the document goes through.
pub fn import_document(text: &str, location: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) {
    import_trace(&[(text, location)], ctx, out);
}

/// Parses the documents of one trace together, so that a segment learns the node of its caller
/// (a subsegment in another document) and a `cause` may reference an exception anywhere in it.
pub fn import_trace(docs: &[(&str, &str)], ctx: &FileCtx<'_>, out: &mut Output<'_>) {
    let mut nodes: Vec<Node<'_>> = recycle(std::mem::take(&mut out.scratch.xray_nodes));
    let mut entries: Vec<read::Entry<'_>> = recycle(std::mem::take(&mut out.scratch.xray_entries));
    let mut rejected = Vec::new();
    for (text, location) in docs {
        let before = rejected.len();
        document::flatten(text, &mut nodes, &mut rejected, &mut entries);
        for (path, _) in &mut rejected[before..] {
            path.insert_str(0, location);
        }
    }
    out.records += nodes.len() + rejected.len();
    for (path, reason) in rejected {
        out.reject(ctx, path, reason);
    }
    document::resolve_parent_services(&mut nodes);
    let causes = document::exception_index(&nodes);
    let mut rows: Vec<SpanRow<'_>> = recycle(std::mem::take(&mut out.scratch.span_rows));
    rows.extend(nodes.iter().map(|node| node.row(&causes)));
    critical_path::annotate(&mut rows, &mut out.scratch.critical_path);
    for row in &rows {
        out.spans.append(row);
    }
    out.scratch.span_rows = recycle(rows);
    drop(causes);
    out.scratch.xray_nodes = recycle(nodes);
    out.scratch.xray_entries = recycle(entries);
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray, RecordBatch};
    use arrow::datatypes::{Float64Type, Int64Type, UInt16Type};
    use rstest::rstest;

    use super::*;

    /// Imports `text` as segment documents; returns the spans batch and the rejections.
    fn spans(text: &str) -> (RecordBatch, Vec<String>) {
        let mut sink: Vec<(&'static str, RecordBatch)> = Vec::new();
        let mut out = Output::new(&mut sink, 1 << 16);
        let ctx = FileCtx {
            path: "t.json",
            log_group: None,
            now: crate::output::TEST_NOW,
        };
        import_segment_documents(text, &ctx, &mut out).unwrap();
        out.flush_all().unwrap();
        let rejected = out
            .rejections()
            .iter()
            .map(|r| format!("{}: {}", r.record, r.reason))
            .collect();
        drop(out);
        let batch = sink.pop().map_or_else(
            || RecordBatch::new_empty(hopscope_schema::spans::schema()),
            |(_, b)| b,
        );
        (batch, rejected)
    }

    fn text(b: &RecordBatch, col: &str, row: usize) -> Option<String> {
        let c = b.column_by_name(col).unwrap();
        let options = arrow::util::display::FormatOptions::default();
        let f = arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &options).unwrap();
        c.is_valid(row).then(|| f.value(row).to_string())
    }

    const T: &str = r#""trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed""#;

    #[rstest]
    #[case::plain(
        r#""start_time":1596566305.535414,"end_time":1596566305.545414"#,
        Some(10.0)
    )]
    #[case::scientific(
        r#""start_time":1.478293361271E9,"end_time":1.478293361449E9"#,
        Some(178.0)
    )]
    #[case::float_noise(
        r#""start_time":1533928226.6130002,"end_time":1533928226.6230002"#,
        Some(10.0)
    )]
    #[case::in_progress(r#""start_time":1596566305.5,"in_progress":true"#, None)]
    #[case::no_end_no_flag(r#""start_time":1596566305.5"#, None)]
    fn times(#[case] fields: &str, #[case] duration_ms: Option<f64>) {
        let (b, rejected) = spans(&format!(
            r#"{{{T},"id":"70de5b6f19ff9a0a","name":"n",{fields}}}"#
        ));
        assert!(rejected.is_empty(), "{rejected:?}");
        let d = b
            .column_by_name("duration_ms")
            .unwrap()
            .as_primitive::<Float64Type>();
        assert_eq!(
            d.is_valid(0)
                .then(|| (d.value(0) * 1000.0).round() / 1000.0),
            duration_ms
        );
        let in_progress = b
            .column_by_name("in_progress")
            .unwrap()
            .as_boolean()
            .value(0);
        assert_eq!(in_progress, duration_ms.is_none());
    }

    #[rstest]
    #[case::number("861", Some(861))]
    #[case::string(r#""861""#, Some(861))]
    #[case::minus_one("-1", Some(-1))]
    #[case::garbage(r#""n/a""#, None)]
    fn content_length(#[case] value: &str, #[case] expected: Option<i64>) {
        let doc = format!(
            r#"{{{T},"id":"70de5b6f19ff9a0a","name":"n","start_time":1596566305.5,"end_time":1596566306,"http":{{"response":{{"status":200,"content_length":{value}}}}}}}"#
        );
        let (b, _) = spans(&doc);
        let c = b
            .column_by_name("http_content_length")
            .unwrap()
            .as_primitive::<Int64Type>();
        assert_eq!(c.is_valid(0).then(|| c.value(0)), expected);
        assert_eq!(
            b.column_by_name("http_status")
                .unwrap()
                .as_primitive::<UInt16Type>()
                .value(0),
            200
        );
    }

    #[rstest]
    #[case::object(
        r#"{"exceptions":[{"id":"e1","type":"KeyError","message":"user"}]}"#,
        Some("KeyError"),
        Some("user")
    )]
    #[case::reference_resolved(r#""e1""#, Some("KeyError"), Some("user"))]
    #[case::unknown_reference(r#""ffffffffffffffff""#, None, None)]
    #[case::invalid_number("200", None, None)]
    fn cause_forms(#[case] cause: &str, #[case] kind: Option<&str>, #[case] message: Option<&str>) {
        // The referenced exception is recorded on a subsegment of the same document.
        let doc = format!(
            r#"{{{T},"id":"70de5b6f19ff9a0a","name":"n","start_time":1596566305.5,"end_time":1596566306,"fault":true,"cause":{cause},
               "subsegments":[{{"id":"1c3ef8c2a2b5f0a1","name":"s","start_time":1596566305.6,"end_time":1596566305.7,
                 "cause":{{"exceptions":[{{"id":"e1","type":"KeyError","message":"user"}}]}}}}]}}"#
        );
        let (b, rejected) = spans(&doc);
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(text(&b, "cause_type", 0).as_deref(), kind);
        assert_eq!(text(&b, "cause_message", 0).as_deref(), message);
    }

    #[rstest]
    #[case::no_id(
        r#"{"trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed","name":"n","start_time":1596566305.5}"#,
        "document: no `id`"
    )]
    #[case::no_start(
        r#"{"trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed","id":"70de5b6f19ff9a0a","name":"n"}"#,
        "document: 70de5b6f19ff9a0a: no `start_time`"
    )]
    #[case::eleven_digit_epoch(
        r#"{"trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed","id":"70de5b6f19ff9a0a","name":"n","start_time":14782323361.271}"#,
        "not epoch seconds"
    )]
    #[case::no_trace_id(
        r#"{"id":"70de5b6f19ff9a0a","name":"n","start_time":1596566305.5}"#,
        "70de5b6f19ff9a0a: no `trace_id`"
    )]
    #[case::independent_without_parent(
        r#"{"type":"subsegment","trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed","id":"70de5b6f19ff9a0a","name":"n","start_time":1596566305.5}"#,
        "without `parent_id`"
    )]
    #[case::not_json(
        r#"{"trace_id": "1-5f187253-6a106696d56b1f4ef9eba2ed", "id": 1,,}"#,
        "not valid JSON"
    )]
    // Ids as third-party tests and fixtures write them (FORMAT_NOTES.md), never as X-Ray does.
    #[case::test_trace_id(
        r#"{"trace_id":"1-test-trace","id":"70de5b6f19ff9a0a","name":"n","start_time":1596566305.5}"#,
        r#"70de5b6f19ff9a0a: `trace_id` "1-test-trace" is not an X-Ray trace id"#
    )]
    #[case::non_hex_trace_id(
        r#"{"trace_id":"1-12345678-1234567890abcdefghijklmn","id":"70de5b6f19ff9a0a","name":"n","start_time":1596566305.5}"#,
        "is not an X-Ray trace id"
    )]
    #[case::twenty_hex_tail(
        r#"{"trace_id":"1-5f187253-6a106696d56b1f4ef9eb","id":"70de5b6f19ff9a0a","name":"n","start_time":1596566305.5}"#,
        "is not an X-Ray trace id"
    )]
    #[case::w3c_trace_id(
        r#"{"trace_id":"5f1872536a106696d56b1f4ef9eba2ed","id":"70de5b6f19ff9a0a","name":"n","start_time":1596566305.5}"#,
        "is not an X-Ray trace id"
    )]
    #[case::fake_22_char_id(
        r#"{"trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed","id":"fakeid11111111aaaaaaaa","name":"n","start_time":1596566305.5}"#,
        r#"document: `id` "fakeid11111111aaaaaaaa" is not an X-Ray segment id: 16 hex digits"#
    )]
    #[case::non_hex_id(
        r#"{"trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed","id":"abcdefgh12345678","name":"n","start_time":1596566305.5}"#,
        "is not an X-Ray segment id"
    )]
    #[case::short_parent_id(
        r#"{"trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed","id":"70de5b6f19ff9a0a","parent_id":"p1","name":"n","start_time":1596566305.5}"#,
        r#"`parent_id` "p1" is not an X-Ray segment id"#
    )]
    fn rejections_name_the_field(#[case] doc: &str, #[case] reason: &str) {
        let (b, rejected) = spans(doc);
        assert_eq!(b.num_rows(), 0);
        assert_eq!(rejected.len(), 1, "{rejected:?}");
        assert!(rejected[0].contains(reason), "{rejected:?}");
    }

    #[test]
    fn a_bad_subsegment_skips_only_its_subtree() {
        let doc = format!(
            r#"{{{T},"id":"70de5b6f19ff9a0a","name":"root","start_time":1596566305.5,"end_time":1596566306,"subsegments":[
                {{"id":"1c3ef8c2a2b5f0a1","name":"good","start_time":1596566305.6,"end_time":1596566305.7}},
                {{"name":"no id","start_time":1596566305.6,"subsegments":[{{"id":"53995c3f42cd8ad8","name":"child","start_time":1596566305.6}}]}}]}}"#
        );
        let (b, rejected) = spans(&doc);
        assert_eq!(b.num_rows(), 2);
        assert_eq!(
            rejected,
            vec![
                "document.subsegments[1]: no `id`: every segment and subsegment needs one (its 1 subsegments are skipped with it)"
            ]
        );
        assert_eq!(
            text(&b, "parent_id", 1).as_deref(),
            Some("70de5b6f19ff9a0a")
        );
        assert_eq!(
            text(&b, "segment_id", 1).as_deref(),
            Some("70de5b6f19ff9a0a")
        );
        assert_eq!(text(&b, "service", 1).as_deref(), Some("root"));
    }

    #[test]
    fn a_segment_with_a_bad_id_is_rejected_and_the_rest_of_the_file_goes_through() {
        let ndjson = format!(
            "{{{T},\"id\":\"70de5b6f19ff9a0a\",\"name\":\"ok\",\"start_time\":1596566305.5}}\n\
             {{{T},\"id\":\"segment-2\",\"name\":\"bad\",\"start_time\":1596566305.5}}\n\
             {{{T},\"id\":\"1c3ef8c2a2b5f0a1\",\"name\":\"ok too\",\"start_time\":1596566305.5,\"subsegments\":[\
               {{\"id\":\"exception-1\",\"name\":\"bad sub\",\"start_time\":1596566305.6}},\
               {{\"id\":\"53995c3f42cd8ad8\",\"name\":\"good sub\",\"start_time\":1596566305.6}}]}}\n"
        );
        let (b, rejected) = spans(&ndjson);
        assert_eq!(
            (0..b.num_rows())
                .map(|i| text(&b, "name", i).unwrap())
                .collect::<Vec<_>>(),
            ["ok", "ok too", "good sub"]
        );
        assert_eq!(
            rejected,
            [
                "line 2: `id` \"segment-2\" is not an X-Ray segment id: 16 hex digits, as in 70de5b6f19ff9a0a",
                "line 3.subsegments[0]: `id` \"exception-1\" is not an X-Ray segment id: 16 hex digits, as in 70de5b6f19ff9a0a"
            ]
        );
    }

    #[test]
    fn independent_subsegments_keep_their_parent() {
        let (b, _) = spans(
            r#"{"type":"subsegment","trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed","parent_id":"6b55dcc497934f1a","id":"70de5b6f19ff9a0a","name":"api.example.com","namespace":"remote","start_time":1596566305.5,"end_time":1596566306}"#,
        );
        assert_eq!(text(&b, "kind", 0).as_deref(), Some("subsegment"));
        assert_eq!(
            text(&b, "parent_id", 0).as_deref(),
            Some("6b55dcc497934f1a")
        );
        assert_eq!(text(&b, "service", 0).as_deref(), Some("api.example.com"));
        assert_eq!(text(&b, "service_type", 0).as_deref(), Some("remote"));
    }

    #[test]
    fn annotations_are_text_and_raw_is_each_spans_own() {
        let (b, _) = spans(&format!(
            r#"{{{T},"id":"70de5b6f19ff9a0a","name":"n","start_time":1596566305.5,"end_time":1596566306,"annotations":{{"aws:api_id":"x1","n":42,"ok":true}},
               "subsegments":[{{"id":"1c3ef8c2a2b5f0a1","name":"s","start_time":1596566305.6,"end_time":1596566305.7}}]}}"#
        ));
        assert_eq!(
            text(&b, "annotations", 0).as_deref(),
            Some("{aws:api_id: x1, n: 42, ok: true}")
        );
        assert_eq!(
            text(&b, "raw", 1).as_deref(),
            Some(
                r#"{"id":"1c3ef8c2a2b5f0a1","name":"s","start_time":1596566305.6,"end_time":1596566305.7}"#
            )
        );
        // The segment keeps its own fields; its subsegment is only in the subsegment's row.
        let own = text(&b, "raw", 0).unwrap();
        assert!(own.ends_with(r#""subsegments":[]}"#), "{own}");
        let own: serde_json::Value = serde_json::from_str(&own).unwrap();
        assert_eq!(own["annotations"]["n"], 42);
        assert_eq!(own["subsegments"], serde_json::json!([]));
    }

    #[test]
    fn daemon_payloads_with_a_literal_newline() {
        let text = r#"{"format": "json", "version": 1}\n{"trace_id": "1-5759e988-bd862e3fe1be46a994272793", "id": "defdfd9912dc5a56", "start_time": 1461096053.37518, "end_time": 1461096053.4042, "name": "test"}"#;
        let mut sink: Vec<(&'static str, RecordBatch)> = Vec::new();
        let mut out = Output::new(&mut sink, 16);
        import_daemon_payloads(
            text,
            &FileCtx {
                path: "d",
                log_group: None,
                now: crate::output::TEST_NOW,
            },
            &mut out,
        )
        .unwrap();
        out.flush_all().unwrap();
        assert_eq!(out.rejected(), 0);
        drop(out);
        assert_eq!(sink[0].1.num_rows(), 1);
    }
}

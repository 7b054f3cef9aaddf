//! X-Ray segment documents -> `spans` rows: one row per segment and per subsegment at any depth.
//!
//! Documents are parsed straight into borrowed structs; each level's subsegments are kept as raw
//! JSON and parsed in turn, which also gives every span its own `raw` text for free.

mod document;
mod node;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::Result;
use crate::output::{FileCtx, Output};

pub use document::SegmentDoc;
pub use node::node_of;

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
            import_document(&text, &location, ctx, out);
        }
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
    let lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    for (n, line) in lines {
        import_document(line.trim(), &format!("line {}", n + 1), ctx, out);
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
    let mut nodes = Vec::new();
    let mut rejected = Vec::new();
    document::flatten(text, &mut nodes, &mut rejected);
    out.records += nodes.len() + rejected.len();
    for (path, reason) in rejected {
        out.reject(ctx, format!("{location}{path}"), reason);
    }
    let causes = document::exception_index(&nodes);
    for node in &nodes {
        out.spans.append(&node.row(&causes));
    }
}

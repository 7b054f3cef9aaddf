//! Lambda log text -> events: which lines start an event and which continue one.

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::line::{LineKind, classify_line, strip_tail_prefix};
use super::record::JsonRecord;

/// One event of a text input.
#[derive(Debug, Clone, PartialEq)]
pub struct TextEvent<'a> {
    /// 1-based line where the event starts.
    pub line: usize,
    pub text: &'a str,
    /// From a `sam logs` / `aws logs tail` prefix.
    pub stream: Option<&'a str>,
    /// From that prefix, or from a console copy's timestamp line above the event.
    pub timestamp: Option<i64>,
    /// The event started like a JSON record but is not valid JSON.
    pub json_error: Option<String>,
    /// The event is a whole CloudWatch Logs JSON document (GetLogEvents output pasted after a
    /// CLI's other output), for [`crate::cwlogs`] to read.
    pub log_events_document: bool,
}

/// Splits text into events. A line starting a record (a platform line, a runtime's timestamped
/// or `[LEVEL]` line, a JSON record) begins an event; other lines (tracebacks, multi-line
/// JSON) continue the open one. A JSON record closes its event: nothing continues it.
pub fn split_text(text: &str) -> Vec<TextEvent<'_>> {
    if text.trim_start().starts_with('[')
        && let Some(events) = split_array(text)
    {
        return events;
    }
    let mut events: Vec<TextEvent<'_>> = Vec::new();
    // Whether the last event may still take continuation lines.
    let mut open = false;
    let mut pending_timestamp = None;
    let mut pos = 0;
    let mut line_no = 1;
    while pos < text.len() {
        let end = memchr::memchr(b'\n', &text.as_bytes()[pos..]).map_or(text.len(), |i| pos + i);
        let line = &text[pos..end];
        let mut json_error = None;
        if line.starts_with('{') {
            let value = json_len(&text[pos..]).map(|len| &text[pos..pos + len]);
            let log_events_document = value.as_ref().is_ok_and(|v| is_log_events_document(v));
            match value {
                Ok(value) if !value.contains('\n') || log_events_document || is_record(value) => {
                    events.push(TextEvent {
                        line: line_no,
                        text: value,
                        stream: None,
                        timestamp: pending_timestamp.take(),
                        json_error: None,
                        log_events_document,
                    });
                    open = false;
                    line_no += value.matches('\n').count();
                    pos += value.len();
                    // Whatever follows the record on its last line is a line of its own.
                    let rest_end = memchr::memchr(b'\n', &text.as_bytes()[pos..])
                        .map_or(text.len(), |i| pos + i);
                    if text[pos..rest_end].trim().is_empty() {
                        pos = rest_end + 1;
                        line_no += 1;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => json_error = Some(e.to_string()),
            }
        }
        let (stream, prefix_timestamp, mut body) = match strip_tail_prefix(line) {
            Some((stream, timestamp, message)) => (stream, Some(timestamp), message),
            None => (None, None, line),
        };
        // Each line of `sam logs` / `aws logs tail` output is an event of its own.
        let prefixed = prefix_timestamp.is_some();
        let mut kind = classify_line(body);
        let mut next = end + 1;
        let mut next_line_no = line_no + 1;
        // A JSON record glued to the end of a text line (an extension's print without a newline).
        if kind == LineKind::Continuation
            && !prefixed
            && let Some(i) = glued_record_start(body)
        {
            body = &body[..i];
            kind = classify_line(body);
            next = pos + i;
            next_line_no = line_no;
        }
        let body_start = body.as_ptr() as usize - text.as_ptr() as usize;
        let line_end = body_start + body.len();
        match kind {
            LineKind::Timestamp(t) if !prefixed => {
                pending_timestamp = Some(t);
                open = false;
            }
            LineKind::Continuation if !prefixed && open => extend(&mut events, text, line_end),
            // The platform's XRAY line belongs to the REPORT before it.
            LineKind::Platform("XRAY")
                if open && events.last().is_some_and(|e| e.text.starts_with("REPORT")) =>
            {
                extend(&mut events, text, line_end);
            }
            LineKind::Continuation if body.trim().is_empty() => {}
            _ => {
                events.push(TextEvent {
                    line: line_no,
                    text: &text[body_start..line_end],
                    stream,
                    timestamp: prefix_timestamp.or(pending_timestamp.take()),
                    json_error,
                    log_events_document: false,
                });
                open = true;
            }
        }
        pos = next;
        line_no = next_line_no;
    }
    events
}

/// Makes the last event run up to `end`.
fn extend<'a>(events: &mut [TextEvent<'a>], text: &'a str, end: usize) {
    if let Some(last) = events.last_mut() {
        let start = last.text.as_ptr() as usize - text.as_ptr() as usize;
        last.text = &text[start..end];
    }
}

/// A JSON array of records (Powertools samples): one event per element.
fn split_array(text: &str) -> Option<Vec<TextEvent<'_>>> {
    let elements: Vec<&RawValue> = serde_json::from_str(text).ok()?;
    let base = text.as_ptr() as usize;
    let events = elements
        .into_iter()
        .map(|raw| {
            let value = raw.get();
            let offset = value.as_ptr() as usize - base;
            let line = text[..offset].matches('\n').count() + 1;
            TextEvent {
                line,
                text: value,
                stream: None,
                timestamp: None,
                json_error: None,
                log_events_document: false,
            }
        })
        .collect();
    Some(events)
}

/// Byte length of the JSON value at the start of `s`.
fn json_len(s: &str) -> Result<usize, serde_json::Error> {
    let mut values = serde_json::Deserializer::from_str(s).into_iter::<IgnoredAny>();
    match values.next() {
        Some(Err(e)) => Err(e),
        _ => Ok(values.byte_offset()),
    }
}

/// `{"events": [...]}` or `{"logEvents": [...]}`.
fn is_log_events_document(value: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        events: Option<IgnoredAny>,
        #[serde(rename = "logEvents")]
        log_events: Option<IgnoredAny>,
    }
    serde_json::from_str::<Probe>(value).is_ok_and(|p| p.events.is_some() || p.log_events.is_some())
}

fn is_record(value: &str) -> bool {
    serde_json::from_str::<JsonRecord>(value).is_ok_and(|r| r.is_record())
}

/// Where a JSON log record starts inside a text line, if one ends the line.
fn glued_record_start(line: &str) -> Option<usize> {
    memchr::memmem::find_iter(line.as_bytes(), b"{\"")
        .filter(|&i| i > 0)
        .find(|&i| {
            let rest = line[i..].trim_end();
            json_len(rest).is_ok_and(|len| len == rest.len()) && is_record(rest)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<(usize, &str)> {
        split_text(text)
            .into_iter()
            .map(|e| (e.line, e.text))
            .collect()
    }

    #[test]
    fn continuation_lines_join_their_event() {
        let text = "START RequestId: a Version: $LATEST\n\
            2019-06-07T19:11:20.563Z\tc793869b-ee49-115b-a5b6-4fd21e8dedac\tINFO\tEVENT\n{\n  \"key\": \"value\"\n}\n\
            [ERROR] CustomException: boom\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"h.py\", line 6\n\
            REPORT RequestId: a\tDuration: 1 ms\t\nXRAY TraceId: 1-5d83c0ad-b8eb33a0b1de97d804fac890\tSegmentId: 31255c3b19bd3637\tSampled: true\t\n";
        assert_eq!(
            texts(text),
            [
                (1, "START RequestId: a Version: $LATEST"),
                (
                    2,
                    "2019-06-07T19:11:20.563Z\tc793869b-ee49-115b-a5b6-4fd21e8dedac\tINFO\tEVENT\n{\n  \"key\": \"value\"\n}"
                ),
                (
                    6,
                    "[ERROR] CustomException: boom\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"h.py\", line 6"
                ),
                (
                    9,
                    "REPORT RequestId: a\tDuration: 1 ms\t\nXRAY TraceId: 1-5d83c0ad-b8eb33a0b1de97d804fac890\tSegmentId: 31255c3b19bd3637\tSampled: true\t"
                ),
            ]
        );
    }

    #[test]
    fn json_records_pretty_single_line_and_glued() {
        let text = "{\n  \"time\": \"2020-08-20T12:31:32.123Z\",\n  \"type\": \"platform.start\",\n  \"record\": {\"requestId\": \"r\"}\n}\n\
            [Extension] started{\"time\":\"2024-02-09T08:42:44.078Z\",\"type\":\"platform.end\",\"record\":{}}\n\
            {\"message\":\"No level field here\"}\n";
        let events = split_text(text);
        let got: Vec<_> = events.iter().map(|e| (e.line, e.text)).collect();
        assert_eq!(
            got,
            [
                (
                    1,
                    "{\n  \"time\": \"2020-08-20T12:31:32.123Z\",\n  \"type\": \"platform.start\",\n  \"record\": {\"requestId\": \"r\"}\n}"
                ),
                (6, "[Extension] started"),
                (
                    6,
                    "{\"time\":\"2024-02-09T08:42:44.078Z\",\"type\":\"platform.end\",\"record\":{}}"
                ),
                (7, "{\"message\":\"No level field here\"}"),
            ]
        );
    }

    #[test]
    fn invalid_json_record_is_an_event_with_its_error() {
        let events = split_text(
            "{\"timestamp\":\"2024-02-09T08:42:44.078Z\",\"message\":\"x\"\n{\"level\":\"INFO\"}\n",
        );
        assert_eq!(events.len(), 2);
        assert!(events[0].json_error.is_some());
        assert_eq!(events[1].text, "{\"level\":\"INFO\"}");
    }

    #[test]
    fn console_copy_timestamp_lines_and_sam_prefix() {
        let events = split_text(
            "2024-11-19T10:34:33.325Z\nINIT_START Runtime Version: provided:al2023.v41\n",
        );
        assert_eq!(
            (events.len(), events[0].timestamp),
            (1, Some(1_732_012_473_325_000))
        );
        let events = split_text(
            "2023/06/02/[72]88ab219a63d343d294d0a9947e8ab36a 2023-06-02T11:27:22.719000 RESTORE_REPORT Restore Duration: 398.97 ms\n",
        );
        assert_eq!(events[0].text, "RESTORE_REPORT Restore Duration: 398.97 ms");
        assert_eq!(
            events[0].stream,
            Some("2023/06/02/[72]88ab219a63d343d294d0a9947e8ab36a")
        );
    }

    #[test]
    fn json_array_of_records() {
        let events = split_text("[\n  {\"level\": \"INFO\"},\n  {\"level\": \"DEBUG\"}\n]");
        assert_eq!(
            events.iter().map(|e| (e.line, e.text)).collect::<Vec<_>>(),
            [(2, "{\"level\": \"INFO\"}"), (3, "{\"level\": \"DEBUG\"}")]
        );
    }
}

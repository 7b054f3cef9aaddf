//! Lambda's text log lines: what starts an event, and the platform lines' fields.
//!
//! Platform lines are split on any whitespace, not only TAB: console and blog copies turn the
//! TABs into spaces. Some saved payloads hold the escapes literally (`\t`, `\n` as two
//! characters), so those separate fields too.

use std::fmt;

use chrono::{DateTime, NaiveDateTime};

/// What a line of Lambda log text is, judged by its start.
#[derive(Debug, Clone, PartialEq)]
pub enum LineKind<'a> {
    /// A platform line (`START`, `REPORT`, `INIT_START`, ...): the keyword is its record type.
    Platform(&'static str),
    /// `<ISO ts> <request id> Task timed out after N seconds`.
    Timeout { timestamp: i64, request_id: &'a str },
    /// A runtime's application line: Node `<ISO>\t<reqid>\t<LEVEL>\t<msg>`, Python
    /// `[LEVEL]\t<ISO>\t<reqid>\t<msg>`, log4j `<date time> <reqid> LEVEL ...`, Go `<date time> ...`.
    App {
        timestamp: Option<i64>,
        request_id: Option<&'a str>,
        level: Option<&'a str>,
    },
    /// A line holding only a timestamp: the CloudWatch console copy puts it above its message.
    Timestamp(i64),
    /// Anything else continues the event before it (tracebacks, multi-line JSON).
    Continuation,
}

/// Platform line keywords, with the word that must follow the ones an application could also
/// print at the start of a line.
const PLATFORM: [(&str, Option<&str>); 10] = [
    ("START", None),
    ("END", None),
    ("REPORT", None),
    ("INIT_START", None),
    ("INIT_REPORT", None),
    ("RESTORE_START", None),
    ("RESTORE_REPORT", None),
    ("XRAY", Some("TraceId:")),
    ("EXTENSION", Some("Name:")),
    ("TELEMETRY", Some("Name:")),
];

/// Levels recognised in Python's `[LEVEL]` prefix (PowerShell's `[Information]`) and in
/// Node/log4j level columns.
const LEVELS: [&str; 12] = [
    "INFO",
    "ERROR",
    "WARN",
    "WARNING",
    "DEBUG",
    "TRACE",
    "FATAL",
    "CRITICAL",
    "VERBOSE",
    "Information",
    "Warning",
    "Error",
];

/// Classifies one line (without its newline) by how it starts.
pub fn classify_line(line: &str) -> LineKind<'_> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut words = tokens(line);
    let Some(first) = words.next() else {
        return LineKind::Continuation;
    };
    if let Some(&(keyword, then)) = PLATFORM.iter().find(|(k, _)| *k == first) {
        if then.is_none() || words.next() == then {
            return LineKind::Platform(keyword);
        }
        return LineKind::Continuation;
    }
    if let Some(level) = first.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
        if LEVELS.contains(&level) {
            let timestamp = words.next().and_then(parse_timestamp);
            let request_id = timestamp.and(words.next()).filter(|w| is_request_id(w));
            return LineKind::App {
                timestamp,
                request_id,
                level: Some(level),
            };
        }
        return LineKind::Continuation;
    }
    if let Some(timestamp) = parse_timestamp(first) {
        let Some(second) = words.next() else {
            return LineKind::Timestamp(timestamp);
        };
        if is_request_id(second) {
            let third = words.next();
            if third == Some("Task") && line.contains("Task timed out after") {
                return LineKind::Timeout {
                    timestamp,
                    request_id: second,
                };
            }
            let level = third.filter(|w| LEVELS.contains(w));
            return LineKind::App {
                timestamp: Some(timestamp),
                request_id: Some(second),
                level,
            };
        }
        return LineKind::App {
            timestamp: Some(timestamp),
            request_id: None,
            level: None,
        };
    }
    // Java's Lambda logger without its date (as `sam logs` prints it): `<reqid> LEVEL ...`.
    if is_request_id(first) {
        let level = words.next().filter(|w| LEVELS.contains(w));
        return LineKind::App {
            timestamp: None,
            request_id: Some(first),
            level,
        };
    }
    // log4j and Go print the date and the time as two words.
    if let Some(second) = words.next()
        && first.len() == 10
        && first.as_bytes()[4] == first.as_bytes()[7]
        && let Some(timestamp) = line
            .get(..first.len() + 1 + second.len())
            .and_then(parse_timestamp)
    {
        let third = words.next();
        let request_id = third.filter(|w| is_request_id(w));
        let level = if request_id.is_some() {
            words.next()
        } else {
            third
        };
        let level = level.filter(|w| LEVELS.contains(w));
        return LineKind::App {
            timestamp: Some(timestamp),
            request_id,
            level,
        };
    }
    LineKind::Continuation
}

/// A `sam logs` or `aws logs tail` prefix: `<stream> <ts> <message>`, `<ts> <stream> <message>`,
/// or (`--format short`) `<ts> <platform line>`; or a row of the CloudWatch console's table view
/// copied as text, `<ts in the viewer's offset> | <message>`. Returns the stream, the timestamp
/// and the message.
pub fn strip_tail_prefix(line: &str) -> Option<(Option<&str>, i64, &str)> {
    if let Some((time, message)) = line.split_once('|')
        && let Some(timestamp) = parse_timestamp(time.trim())
    {
        let message = message.strip_prefix([' ', '\t']).unwrap_or(message);
        return Some((None, timestamp, message));
    }
    let (a, rest) = line.split_once(' ')?;
    let (b, message) = rest.split_once(' ').unwrap_or((rest, &rest[rest.len()..]));
    if is_log_stream(a) {
        return Some((Some(a), parse_timestamp(b)?, message));
    }
    let timestamp = parse_timestamp(a)?;
    if is_log_stream(b) {
        return Some((Some(b), timestamp, message));
    }
    matches!(classify_line(rest), LineKind::Platform(_)).then_some((None, timestamp, rest))
}

/// `YYYY/MM/DD/[$LATEST]<hex>` or `YYYY/MM/DD/[<version>]<hex>`.
fn is_log_stream(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 13
        && b[4] == b'/'
        && b[7] == b'/'
        && b[10] == b'/'
        && b[11] == b'['
        && s[12..].contains(']')
}

/// A Lambda request id: a UUID, letters allowed where the docs write `xmpl`.
pub fn is_request_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_alphanumeric()
            }
        })
}

/// Epoch microseconds from the timestamp forms Lambda logs use: RFC 3339, ISO without a zone
/// (`sam logs`), Powertools Python's `2021-05-03 11:47:12,494+0000`, log4j's and Go's
/// `2020-03-18 08:52:43` / `2020/03/27 03:40:05`. Zoneless times are UTC, Lambda's zone.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || !b[0].is_ascii_digit() || !(b[4] == b'-' || b[4] == b'/') {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S,%3f%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.timestamp_micros());
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S,%3f",
        "%Y/%m/%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    None
}

/// Words of a platform line: split on whitespace and on literal `\t` / `\n` escapes.
fn tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(char::is_whitespace)
        .flat_map(|w| w.split("\\t"))
        .flat_map(|w| w.split("\\n"))
        .filter(|w| !w.is_empty())
}

/// `Key Words: value [unit]` pairs of a platform line after its keyword, keys without the colon.
/// `XRAY` in front of `TraceId` is dropped so that an XRAY part joins the REPORT's fields.
fn fields(s: &str) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    let mut key: Vec<&str> = Vec::new();
    let mut words = tokens(s).peekable();
    while let Some(word) = words.next() {
        let Some(last) = word.strip_suffix(':') else {
            key.push(word);
            continue;
        };
        key.push(last);
        let name = key
            .iter()
            .filter(|w| **w != "XRAY")
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        key.clear();
        let value = words.next_if(|w| !w.ends_with(':')).unwrap_or("");
        words.next_if(|w| matches!(*w, "ms" | "MB"));
        out.push((name, value));
    }
    out
}

/// Why a platform line could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldError {
    Missing(&'static str),
    NotANumber { field: &'static str, value: String },
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::Missing(field) => write!(f, "no {field}"),
            FieldError::NotANumber { field, value } => {
                write!(f, "{field} \"{value}\" is not a number")
            }
        }
    }
}

/// A REPORT line, with the XRAY line of its event when there is one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report<'a> {
    pub request_id: &'a str,
    pub duration_ms: f64,
    pub billed_ms: Option<f64>,
    pub memory_mb: Option<i32>,
    pub max_memory_mb: Option<i32>,
    pub init_ms: Option<f64>,
    pub restore_ms: Option<f64>,
    /// `Status:` as written (`timeout`, `error`); absent on successful invocations.
    pub status: Option<&'a str>,
    pub error_type: Option<&'a str>,
    pub trace_id: Option<&'a str>,
    pub segment_id: Option<&'a str>,
}

/// Parses a REPORT event: the REPORT line plus, optionally, its `XRAY TraceId:` line.
pub fn parse_report(text: &str) -> Result<Report<'_>, FieldError> {
    let text = text.trim_start();
    // Only the REPORT line and its XRAY line: a text copy may glue unrelated lines to the event.
    let lines = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.starts_with("XRAY"));
    let pairs = lines.flat_map(|(_, l)| fields(l.strip_prefix("REPORT").unwrap_or(l)));
    let mut report = Report::default();
    let mut duration = None;
    for (key, value) in pairs {
        let number = |field: &'static str| {
            value.parse::<f64>().map_err(|_| FieldError::NotANumber {
                field,
                value: value.to_string(),
            })
        };
        let int = |field: &'static str| {
            value.parse::<i32>().map_err(|_| FieldError::NotANumber {
                field,
                value: value.to_string(),
            })
        };
        match key.as_str() {
            "RequestId" => report.request_id = value,
            "Duration" => duration = Some(number("Duration")?),
            "Billed Duration" => report.billed_ms = Some(number("Billed Duration")?),
            "Memory Size" => report.memory_mb = Some(int("Memory Size")?),
            "Max Memory Used" => report.max_memory_mb = Some(int("Max Memory Used")?),
            "Init Duration" => report.init_ms = Some(number("Init Duration")?),
            "Restore Duration" => report.restore_ms = Some(number("Restore Duration")?),
            "Status" => report.status = Some(value),
            "Error Type" => report.error_type = Some(value),
            "TraceId" => report.trace_id = Some(value),
            "SegmentId" => report.segment_id = Some(value),
            _ => {}
        }
    }
    if report.request_id.is_empty() {
        return Err(FieldError::Missing("RequestId"));
    }
    report.duration_ms = duration.ok_or(FieldError::Missing("Duration"))?;
    Ok(report)
}

/// `START RequestId: <id> Version: <v>` -> (request id, version).
pub fn parse_start(line: &str) -> Result<(&str, Option<&str>), FieldError> {
    let body = line.trim_start().strip_prefix("START").unwrap_or(line);
    let mut request_id = None;
    let mut version = None;
    for (key, value) in fields(body) {
        match key.as_str() {
            "RequestId" if !value.is_empty() => request_id = Some(value),
            "Version" if !value.is_empty() => version = Some(value),
            _ => {}
        }
    }
    Ok((request_id.ok_or(FieldError::Missing("RequestId"))?, version))
}

/// One field of a platform line: `RequestId` of `END RequestId: <id>`, `TraceId` of an XRAY line.
pub fn platform_field<'a>(line: &'a str, keyword: &str, key: &str) -> Option<&'a str> {
    fields(line.trim_start().strip_prefix(keyword)?)
        .into_iter()
        .find(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const ID: &str = "8edab1f8-7d34-4a8e-a965-15ccbbb78d4c";

    #[rstest]
    #[case::tabs("REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c\tDuration: 2.90 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 36 MB\t\n",
        Report { request_id: ID, duration_ms: 2.90, billed_ms: Some(3.0), memory_mb: Some(128), max_memory_mb: Some(36), ..Default::default() })]
    #[case::space_before_tab("REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c\tDuration: 26.73 ms\tBilled Duration: 27 ms \tMemory Size: 128 MB\tMax Memory Used: 75 MB\t\n",
        Report { request_id: ID, duration_ms: 26.73, billed_ms: Some(27.0), memory_mb: Some(128), max_memory_mb: Some(75), ..Default::default() })]
    #[case::double_spaces("REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c Duration: 0.81 ms  Billed Duration: 100 ms Memory Size: 128 MB Max Memory Used: 90 MB  Init Duration: 1234 ms",
        Report { request_id: ID, duration_ms: 0.81, billed_ms: Some(100.0), memory_mb: Some(128), max_memory_mb: Some(90), init_ms: Some(1234.0), ..Default::default() })]
    #[case::init_first_custom_runtime("REPORT RequestId: f8ac1208... Init Duration: 48.26 ms   Duration: 237.17 ms   Billed Duration: 300 ms   Memory Size: 128 MB   Max Memory Used: 26 MB",
        Report { request_id: "f8ac1208...", duration_ms: 237.17, billed_ms: Some(300.0), memory_mb: Some(128), max_memory_mb: Some(26), init_ms: Some(48.26), ..Default::default() })]
    #[case::snapstart("REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c\tDuration: 2338.66 ms\tBilled Duration: 2521 ms\tMemory Size: 3009 MB\tMax Memory Used: 173 MB\tRestore Duration: 398.97 ms\tBilled Restore Duration: 182 ms\t",
        Report { request_id: ID, duration_ms: 2338.66, billed_ms: Some(2521.0), memory_mb: Some(3009), max_memory_mb: Some(173), restore_ms: Some(398.97), ..Default::default() })]
    #[case::xray_second_line("REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c\tDuration: 1711.87 ms\tBilled Duration: 1800 ms\tMemory Size: 128 MB\tMax Memory Used: 98 MB\t\nXRAY TraceId: 1-5d83c0ad-b8eb33a0b1de97d804fac890\tSegmentId: 31255c3b19bd3637\tSampled: true\t\n",
        Report { request_id: ID, duration_ms: 1711.87, billed_ms: Some(1800.0), memory_mb: Some(128), max_memory_mb: Some(98), trace_id: Some("1-5d83c0ad-b8eb33a0b1de97d804fac890"), segment_id: Some("31255c3b19bd3637"), ..Default::default() })]
    #[case::xray_same_line("REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c\tDuration: 128.83 ms\tBilled Duration: 200 ms\tMemory Size: 128 MB\tMax Memory Used: 74 MB\tInit Duration: 166.62 ms\tXRAY TraceId: 1-5d9d007f-0a8c7fd02xmpl480aed55ef0\tSegmentId: 3d752xmpl1bbe37e\tSampled: true",
        Report { request_id: ID, duration_ms: 128.83, billed_ms: Some(200.0), memory_mb: Some(128), max_memory_mb: Some(74), init_ms: Some(166.62), trace_id: Some("1-5d9d007f-0a8c7fd02xmpl480aed55ef0"), segment_id: Some("3d752xmpl1bbe37e"), ..Default::default() })]
    #[case::legacy_100ms_mixed_separators("REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c\tDuration: 12.34 ms\tBilled Duration: 100 ms Memory Size: 128 MB\tMax Memory Used: 18 MB",
        Report { request_id: ID, duration_ms: 12.34, billed_ms: Some(100.0), memory_mb: Some(128), max_memory_mb: Some(18), ..Default::default() })]
    #[case::one_decimal_2017("REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c\tDuration: 1.0 ms\tBilled Duration: 1 ms \tMemory Size: 128 MB\tMax Memory Used: 15 MB",
        Report { request_id: ID, duration_ms: 1.0, billed_ms: Some(1.0), memory_mb: Some(128), max_memory_mb: Some(15), ..Default::default() })]
    #[case::status_timeout("REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: timeout\t",
        Report { request_id: ID, duration_ms: 3000.0, billed_ms: Some(3000.0), memory_mb: Some(128), max_memory_mb: Some(40), status: Some("timeout"), ..Default::default() })]
    #[case::status_error_type("REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c\tDuration: 5.01 ms\tBilled Duration: 6 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: error\tError Type: Runtime.ExitError",
        Report { request_id: ID, duration_ms: 5.01, billed_ms: Some(6.0), memory_mb: Some(128), max_memory_mb: Some(40), status: Some("error"), error_type: Some("Runtime.ExitError"), ..Default::default() })]
    #[case::literal_escapes(r"REPORT RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c\tDuration: 3003.16 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 48 MB\tInit Duration: 127.02 ms\t\n",
        Report { request_id: ID, duration_ms: 3003.16, billed_ms: Some(3000.0), memory_mb: Some(128), max_memory_mb: Some(48), init_ms: Some(127.02), ..Default::default() })]
    fn parses_report_variants(#[case] text: &str, #[case] expected: Report<'_>) {
        assert_eq!(parse_report(text), Ok(expected));
    }

    #[rstest]
    #[case::not_a_number(
        "REPORT RequestId: x\tDuration: abc ms\tBilled Duration: 3 ms",
        "Duration \"abc\" is not a number"
    )]
    #[case::memory_not_int(
        "REPORT RequestId: x\tDuration: 1.5 ms\tMemory Size: 12.5 MB",
        "Memory Size \"12.5\" is not a number"
    )]
    #[case::no_fields("REPORT invalid report log line", "no RequestId")]
    #[case::no_duration("REPORT RequestId: x\tBilled Duration: 3 ms", "no Duration")]
    fn rejects_malformed_reports(#[case] text: &str, #[case] reason: &str) {
        assert_eq!(parse_report(text).unwrap_err().to_string(), reason);
    }

    #[rstest]
    #[case::start(
        "START RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c Version: $LATEST",
        LineKind::Platform("START")
    )]
    #[case::end(
        "END RequestId: 8edab1f8-7d34-4a8e-a965-15ccbbb78d4c",
        LineKind::Platform("END")
    )]
    #[case::report("REPORT RequestId: x\tDuration: 1 ms", LineKind::Platform("REPORT"))]
    #[case::init_start(
        "INIT_START Runtime Version: python:3.10.v11\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:abc",
        LineKind::Platform("INIT_START")
    )]
    #[case::init_report_phase_status(
        "INIT_REPORT Init Duration: 9999.76 ms Phase: init Status: timeout",
        LineKind::Platform("INIT_REPORT")
    )]
    #[case::restore_report(
        "RESTORE_REPORT Restore Duration: 398.97 ms",
        LineKind::Platform("RESTORE_REPORT")
    )]
    #[case::xray(
        "XRAY TraceId: 1-5e34a66a-474xmpl7c2534a87870b4370   SegmentId: 073cxmpl3e442861 Sampled: true",
        LineKind::Platform("XRAY")
    )]
    #[case::timeout_after_report("2020-06-09T15:02:26.150Z 7c9567b5-107b-4a6c-8798-0157ac21db52 Task timed out after 3.00 seconds",
        LineKind::Timeout { timestamp: 1_591_714_946_150_000, request_id: "7c9567b5-107b-4a6c-8798-0157ac21db52" })]
    #[case::node("2019-06-07T19:11:20.562Z\tc793869b-ee49-115b-a5b6-4fd21e8dedac\tINFO\tENVIRONMENT VARIABLES",
        LineKind::App { timestamp: Some(1_559_934_680_562_000), request_id: Some("c793869b-ee49-115b-a5b6-4fd21e8dedac"), level: Some("INFO") })]
    #[case::node_cr_multiline("2019-06-05T19:30:03.173Z\t4ce9340a-b765-490f-ad8a-02ab3415e2bf\tINFO\tEVENT\r{\r  \"key\": \"value\"\r}",
        LineKind::App { timestamp: Some(1_559_763_003_173_000), request_id: Some("4ce9340a-b765-490f-ad8a-02ab3415e2bf"), level: Some("INFO") })]
    #[case::node_pre_2019_no_level("2017-04-10T21:54:32.683Z\t479fb51c-1e38-11e7-99ca-67bf163608ed\tvalue1 = undefined",
        LineKind::App { timestamp: Some(1_491_861_272_683_000), request_id: Some("479fb51c-1e38-11e7-99ca-67bf163608ed"), level: None })]
    #[case::python_logging("[INFO]  2020-01-31T22:12:58.534Z    1c8df7d3-xmpl-46da-9778-518e6eca8125    ## EVENT",
        LineKind::App { timestamp: Some(1_580_508_778_534_000), request_id: Some("1c8df7d3-xmpl-46da-9778-518e6eca8125"), level: Some("INFO") })]
    #[case::python_uncaught_error("[ERROR] CustomException: some error occurred\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/handler.py\", line 6, in handler",
        LineKind::App { timestamp: None, request_id: None, level: Some("ERROR") })]
    #[case::log4j("2020-03-18 08:52:43 6bc28136-xmpl-4365-b021-0ce6b2e64ab0 INFO  Handler - CONTEXT:",
        LineKind::App { timestamp: Some(1_584_521_563_000_000), request_id: Some("6bc28136-xmpl-4365-b021-0ce6b2e64ab0"), level: Some("INFO") })]
    #[case::request_id_first("8c360c87-d4b7-4423-b5f3-af02be3c1763 DEBUG ChatGPTLambda:56 - Intent: FallbackIntent",
        LineKind::App { timestamp: None, request_id: Some("8c360c87-d4b7-4423-b5f3-af02be3c1763"), level: Some("DEBUG") })]
    #[case::go("2020/03/27 03:40:05 EVENT: {", LineKind::App { timestamp: Some(1_585_280_405_000_000), request_id: None, level: None })]
    #[case::console_timestamp_alone(
        "2024-11-19T10:34:33.325Z",
        LineKind::Timestamp(1_732_012_473_325_000)
    )]
    #[case::traceback(
        "\u{a0}\u{a0}File \"/var/task/handler.py\", line 6, in handler",
        LineKind::Continuation
    )]
    #[case::json_continuation("  \"key\": \"value\"", LineKind::Continuation)]
    #[case::word_xray("XRAY is a word", LineKind::Continuation)]
    #[case::extension(
        "EXTENSION\tName: datadog-agent\tState: Ready\tEvents: [INVOKE,SHUTDOWN]",
        LineKind::Platform("EXTENSION")
    )]
    #[case::powershell("[Information] - ## Environment variables", LineKind::App { timestamp: None, request_id: None, level: Some("Information") })]
    fn classifies_lines(#[case] line: &str, #[case] expected: LineKind<'_>) {
        assert_eq!(classify_line(line), expected);
    }

    #[rstest]
    #[case::rfc3339_z("2024-07-01T11:00:37.886Z", Some(1_719_831_637_886_000))]
    #[case::offset("2024-07-01T13:00:37.934+02:00", Some(1_719_831_637_934_000))]
    #[case::powertools_python("2021-05-03 11:47:12,494+0000", Some(1_620_042_432_494_000))]
    #[case::powertools_python_offset("2023-10-09 17:33:55,734-0400", Some(1_696_887_235_734_000))]
    #[case::powertools_python_no_zone("2021-05-03 11:47:12,494", Some(1_620_042_432_494_000))]
    #[case::sam_logs_micros("2023-06-02T11:27:22.355000", Some(1_685_705_242_355_000))]
    #[case::custom_datefmt("10/28/2022 02:35:03 PM", None)]
    #[case::word("hello", None)]
    fn parses_timestamps(#[case] s: &str, #[case] expected: Option<i64>) {
        assert_eq!(parse_timestamp(s), expected);
    }

    #[test]
    fn strips_sam_logs_and_tail_prefixes() {
        let line = "2023/06/02/[72]88ab219a63d343d294d0a9947e8ab36a 2023-06-02T11:27:22.719000 RESTORE_REPORT Restore Duration: 398.97 ms";
        assert_eq!(
            strip_tail_prefix(line),
            Some((
                Some("2023/06/02/[72]88ab219a63d343d294d0a9947e8ab36a"),
                1_685_705_242_719_000,
                "RESTORE_REPORT Restore Duration: 398.97 ms"
            ))
        );
        let tail = "2024-01-01T00:00:00.000000+00:00 2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef END RequestId: x";
        assert_eq!(
            strip_tail_prefix(tail).map(|(s, _, m)| (s, m)),
            Some((
                Some("2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef"),
                "END RequestId: x"
            ))
        );
        let short = "2024-01-01T00:00:00.000000+00:00 REPORT RequestId: x\tDuration: 1.00 ms";
        assert_eq!(
            strip_tail_prefix(short),
            Some((
                None,
                1_704_067_200_000_000,
                "REPORT RequestId: x\tDuration: 1.00 ms"
            ))
        );
        assert_eq!(
            strip_tail_prefix("2020-06-09T15:02:26.150Z 7c9567b5 Task timed out"),
            None
        );
    }

    #[rstest]
    #[case::offset(
        "2024-05-01T12:00:00.123+02:00 | END RequestId: x",
        Some((1_714_557_600_123_000, "END RequestId: x"))
    )]
    #[case::offset_without_colon(
        "2024-05-01T12:00:00.123+0530 | END RequestId: x",
        Some((1_714_545_000_123_000, "END RequestId: x"))
    )]
    #[case::tabs("2024-05-01T10:00:00.123Z\t|\tEND", Some((1_714_557_600_123_000, "END")))]
    #[case::pipe_in_a_message(
        "2024-05-01T10:00:00.123Z\tc793869b-ee49-115b-a5b6-4fd21e8dedac\tINFO\ta | b",
        None
    )]
    #[case::not_a_timestamp("status | 200", None)]
    fn strips_console_table_rows(#[case] row: &str, #[case] expected: Option<(i64, &str)>) {
        assert_eq!(
            strip_tail_prefix(row).map(|(stream, t, message)| {
                assert_eq!(stream, None);
                (t, message)
            }),
            expected
        );
    }

    #[test]
    fn parses_start_and_end() {
        assert_eq!(
            parse_start("START RequestId: 479fb51c-1e38-11e7-99ca-67bf163608ed Version: 99"),
            Ok(("479fb51c-1e38-11e7-99ca-67bf163608ed", Some("99")))
        );
        assert_eq!(
            parse_start(r"START RequestId: id Version: $LATEST\n"),
            Ok(("id", Some("$LATEST")))
        );
        assert_eq!(parse_start("START"), Err(FieldError::Missing("RequestId")));
        assert_eq!(
            platform_field("END RequestId: id\n", "END", "RequestId"),
            Some("id")
        );
        let xray = "XRAY TraceId: 1-5e34a66a-474xmpl7c2534a87870b4370   SegmentId: 073cxmpl3e442861 Sampled: true";
        assert_eq!(
            platform_field(xray, "XRAY", "TraceId"),
            Some("1-5e34a66a-474xmpl7c2534a87870b4370")
        );
    }
}

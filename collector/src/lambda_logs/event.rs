//! One log event's text -> what the `log_events` row and the invocation learn from it.

use std::borrow::Cow;

use hopscope_schema::lambda_invocations::{LambdaInvocationRow, status};
use hopscope_schema::log_events::record_type;

use super::line::{
    LineKind, classify_line, parse_report, parse_start, parse_timestamp, platform_field,
};
use super::record::{JsonRecord, Record, trace_root};

/// What an event says about its invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact<'a> {
    /// START / platform.start: the function version.
    Start { version: Option<Cow<'a, str>> },
    /// REPORT / platform.report: the numbers, status and trace of the invocation.
    Report(Box<LambdaInvocationRow>),
    /// A later word on the outcome: a timeout line, platform.runtimeDone.
    Outcome { status: &'static str },
}

/// A parsed event.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<'a> {
    pub record_type: Cow<'a, str>,
    pub level: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub trace_id: Option<Cow<'a, str>>,
    /// The event's own timestamp, when its text carries one.
    pub timestamp: Option<i64>,
    pub fact: Option<Fact<'a>>,
    /// Why the invocation this event describes could not be read (the event itself is kept).
    pub problem: Option<String>,
}

impl<'a> Parsed<'a> {
    fn new(record_type: impl Into<Cow<'a, str>>) -> Self {
        Parsed {
            record_type: record_type.into(),
            level: None,
            request_id: None,
            trace_id: None,
            timestamp: None,
            fact: None,
            problem: None,
        }
    }
}

/// The status a platform line or record names; anything but success and timeout is an error.
pub fn status_of(s: &str) -> &'static str {
    match s {
        "success" => status::SUCCESS,
        "timeout" => status::TIMEOUT,
        _ => status::ERROR,
    }
}

/// Parses one event: a text event (first line decides, an XRAY line may follow) or a JSON record.
pub fn parse_event(text: &str) -> Parsed<'_> {
    let text = text.trim_start();
    if text.starts_with('{') {
        match serde_json::from_str::<JsonRecord>(text) {
            Ok(record) => return parse_record(record),
            // Valid JSON of the wrong shape (a metric as a string): say so, keep the event.
            Err(e) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
                return Parsed {
                    problem: Some(format!("JSON record: {e}")),
                    ..Parsed::new(record_type::APP)
                };
            }
            // Not JSON after all: a text line that happens to start with a brace.
            Err(_) => {}
        }
    }
    let first = text.split('\n').next().unwrap_or("");
    match classify_line(first) {
        LineKind::Platform(keyword) => parse_platform(keyword, text),
        LineKind::Timeout {
            timestamp,
            request_id,
        } => Parsed {
            timestamp: Some(timestamp),
            request_id: Some(request_id.into()),
            fact: Some(Fact::Outcome {
                status: status::TIMEOUT,
            }),
            ..Parsed::new("TIMEOUT")
        },
        LineKind::App {
            timestamp,
            request_id,
            level,
        } => Parsed {
            timestamp,
            request_id: request_id.map(Cow::Borrowed),
            level: level.map(Cow::Borrowed),
            ..Parsed::new(record_type::APP)
        },
        LineKind::Timestamp(timestamp) => Parsed {
            timestamp: Some(timestamp),
            ..Parsed::new(record_type::APP)
        },
        LineKind::Continuation => Parsed::new(record_type::APP),
    }
}

fn parse_platform<'a>(keyword: &'static str, text: &'a str) -> Parsed<'a> {
    let mut parsed = Parsed::new(keyword);
    match keyword {
        "START" => match parse_start(text) {
            Ok((request_id, version)) => {
                parsed.request_id = Some(request_id.into());
                parsed.fact = Some(Fact::Start {
                    version: version.map(Cow::Borrowed),
                });
            }
            Err(e) => parsed.problem = Some(format!("START: {e}")),
        },
        "END" => parsed.request_id = platform_field(text, "END", "RequestId").map(Cow::Borrowed),
        // An XRAY line on its own, when no REPORT came right before it.
        "XRAY" => parsed.trace_id = platform_field(text, "XRAY", "TraceId").map(Cow::Borrowed),
        "REPORT" => match parse_report(text) {
            Ok(r) => {
                parsed.request_id = Some(r.request_id.into());
                parsed.trace_id = r.trace_id.map(Cow::Borrowed);
                parsed.fact = Some(Fact::Report(Box::new(LambdaInvocationRow {
                    request_id: r.request_id.to_string(),
                    duration_ms: Some(r.duration_ms),
                    billed_ms: r.billed_ms,
                    memory_mb: r.memory_mb,
                    max_memory_mb: r.max_memory_mb,
                    init_ms: r.init_ms,
                    restore_ms: r.restore_ms,
                    status: r.status.map_or(status::SUCCESS, status_of),
                    error_type: r.error_type.map(str::to_string),
                    trace_id: r.trace_id.map(str::to_string),
                    segment_id: r.segment_id.map(str::to_string),
                    ..Default::default()
                })));
            }
            Err(e) => parsed.problem = Some(format!("REPORT: {e}")),
        },
        _ => {}
    }
    parsed
}

fn parse_record(record: JsonRecord<'_>) -> Parsed<'_> {
    let JsonRecord {
        time,
        kind,
        record,
        timestamp,
        level,
        request_id,
        function_request_id,
        xray_trace_id,
    } = record;
    let mut parsed = Parsed::new(kind.0.unwrap_or(Cow::Borrowed(record_type::APP)));
    parsed.timestamp = time.get().or(timestamp.get()).and_then(parse_timestamp);
    parsed.level = level.0;
    parsed.request_id = request_id.0.or(function_request_id.0);
    parsed.trace_id = xray_trace_id.0;
    let platform = match record {
        Record::Platform(p) => p,
        // platform.fault writes `RequestId: <id> <what happened>`.
        Record::Text(text) => {
            if parsed.request_id.is_none() {
                parsed.request_id = fault_request_id(&text).map(|id| Cow::Owned(id.to_string()));
            }
            return parsed;
        }
        Record::None => return parsed,
    };
    if let Some(id) = platform.request_id.0 {
        parsed.request_id = Some(id);
    }
    if let Some(root) = platform
        .tracing
        .as_ref()
        .and_then(|t| t.value.get())
        .and_then(trace_root)
    {
        parsed.trace_id = Some(Cow::Owned(root.to_string()));
    }
    let Some(request_id) = parsed.request_id.as_deref() else {
        if parsed.record_type == "platform.report" {
            parsed.problem = Some("platform.report: no record.requestId".to_string());
        }
        return parsed;
    };
    match parsed.record_type.as_ref() {
        "platform.start" => {
            parsed.fact = Some(Fact::Start {
                version: platform.version.0,
            });
        }
        "platform.report" => {
            let m = platform.metrics.unwrap_or_default();
            parsed.fact = Some(Fact::Report(Box::new(LambdaInvocationRow {
                request_id: request_id.to_string(),
                duration_ms: m.duration_ms,
                billed_ms: m.billed_duration_ms,
                memory_mb: m.memory_size_mb.map(|v| v as i32),
                max_memory_mb: m.max_memory_used_mb.map(|v| v as i32),
                init_ms: m.init_duration_ms,
                restore_ms: m.restore_duration_ms,
                status: platform.status.get().map_or(status::SUCCESS, status_of),
                error_type: platform.error_type.get().map(str::to_string),
                trace_id: parsed.trace_id.as_deref().map(str::to_string),
                ..Default::default()
            })));
        }
        "platform.runtimeDone" => {
            if let Some(s) = platform
                .status
                .get()
                .map(status_of)
                .filter(|s| *s != status::SUCCESS)
            {
                parsed.fact = Some(Fact::Outcome { status: s });
            }
        }
        _ => {}
    }
    parsed
}

fn fault_request_id(text: &str) -> Option<&str> {
    text.strip_prefix("RequestId: ")?.split_whitespace().next()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn report(p: &Parsed<'_>) -> LambdaInvocationRow {
        match &p.fact {
            Some(Fact::Report(r)) => (**r).clone(),
            other => panic!("no report: {other:?}"),
        }
    }

    #[test]
    fn report_with_xray_line_gives_trace_and_segment() {
        let p = parse_event(
            "REPORT RequestId: 814ba7cb-071e-4181-9a09-fa41db5bccad\tDuration: 1711.87 ms\tBilled Duration: 1800 ms\tMemory Size: 128 MB\tMax Memory Used: 98 MB\t\nXRAY TraceId: 1-5d83c0ad-b8eb33a0b1de97d804fac890\tSegmentId: 31255c3b19bd3637\tSampled: true\t\n",
        );
        assert_eq!(p.record_type, "REPORT");
        assert_eq!(
            p.trace_id.as_deref(),
            Some("1-5d83c0ad-b8eb33a0b1de97d804fac890")
        );
        let r = report(&p);
        assert_eq!(
            (r.duration_ms, r.segment_id.as_deref(), r.status),
            (Some(1711.87), Some("31255c3b19bd3637"), "success")
        );
    }

    #[test]
    fn malformed_report_keeps_the_event_and_names_the_field() {
        let p = parse_event(
            "REPORT RequestId: 814ba7cb-071e-4181-9a09-fa41db5bccad\tDuration: abc ms\tBilled Duration: 3 ms",
        );
        assert_eq!(p.record_type, "REPORT");
        assert_eq!(p.fact, None);
        assert_eq!(
            p.problem.as_deref(),
            Some("REPORT: Duration \"abc\" is not a number")
        );
    }

    #[test]
    fn python_traceback_with_no_break_spaces() {
        let p = parse_event(
            "[ERROR] CustomException: some error occurred\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/handler.py\", line 6, in handler\n\u{a0}\u{a0}\u{a0}\u{a0}raise CustomException(\"some error occurred\")",
        );
        assert_eq!(
            (p.record_type.as_ref(), p.level.as_deref(), p.timestamp),
            ("app", Some("ERROR"), None)
        );
    }

    #[test]
    fn timeout_line_names_the_request() {
        let p = parse_event(
            "2020-06-09T15:02:26.150Z 7c9567b5-107b-4a6c-8798-0157ac21db52 Task timed out after 3.00 seconds\n\n",
        );
        assert_eq!(p.record_type, "TIMEOUT");
        assert_eq!(
            p.request_id.as_deref(),
            Some("7c9567b5-107b-4a6c-8798-0157ac21db52")
        );
        assert_eq!(p.fact, Some(Fact::Outcome { status: "timeout" }));
    }

    #[rstest]
    #[case::init_int(r#"{"time":"2024-10-04T00:36:35.800Z","type":"platform.report","record":{"requestId":"4d789d71-2f2c-4c66-a4b5-531a0223233d","metrics":{"durationMs":0.81,"billedDurationMs":100,"memorySizeMB":128,"maxMemoryUsedMB":90,"initDurationMs":1234},"status":"success"}}"#,
        Some(0.81), Some(100.0), Some(128), Some(1234.0), None, "success")]
    #[case::init_float_timeout(r#"{"time":"2024-10-18T19:38:39.661Z","type":"platform.report","record":{"requestId":"b441820a-ebe5-4d5f-93bc-f945707b0225","metrics":{"durationMs":30000.0,"billedDurationMs":30000,"memorySizeMB":128,"maxMemoryUsedMB":74,"initDurationMs":985.413},"status":"timeout"}}"#,
        Some(30000.0), Some(30000.0), Some(128), Some(985.413), None, "timeout")]
    #[case::managed_instances_duration_only(r#"{"time":"2026-01-08T18:22:35.343Z","type":"platform.report","record":{"requestId":"4f423807-598d-47ae-9652-4f7ee31d4d10","metrics":{"durationMs":2.524},"spans":[{"name":"responseLatency","start":"2026-01-08T18:22:35.342Z","durationMs":0.642}],"status":"success"}}"#,
        Some(2.524), None, None, None, None, "success")]
    #[case::snapstart(r#"{"time":"2024-02-09T08:42:44.080Z","type":"platform.report","record":{"requestId":"d661f7cf-9208-46b9-85b0-213b04a91065","status":"success","metrics":{"durationMs": 147.156,"billedDurationMs": 201, "memorySizeMB": 512,"maxMemoryUsedMB": 91,"restoreDurationMs": 500.795,"billedRestoreDurationMs": 53 }}}"#,
        Some(147.156), Some(201.0), Some(512), None, Some(500.795), "success")]
    #[case::error_status(r#"{"time":"2024-02-09T08:42:44.080Z","type":"platform.report","record":{"requestId":"r1","status":"error","errorType":"Runtime.ExitError","metrics":{"durationMs":5.0}}}"#,
        Some(5.0), None, None, None, None, "error")]
    fn platform_report_variants(
        #[case] json: &str,
        #[case] duration: Option<f64>,
        #[case] billed: Option<f64>,
        #[case] memory: Option<i32>,
        #[case] init: Option<f64>,
        #[case] restore: Option<f64>,
        #[case] status: &str,
    ) {
        let p = parse_event(json);
        assert_eq!(p.record_type, "platform.report");
        let r = report(&p);
        assert_eq!(
            (
                r.duration_ms,
                r.billed_ms,
                r.memory_mb,
                r.init_ms,
                r.restore_ms,
                r.status
            ),
            (duration, billed, memory, init, restore, status)
        );
        assert_eq!(p.request_id.as_deref(), Some(r.request_id.as_str()));
        assert!(p.timestamp.is_some());
    }

    #[test]
    fn platform_records() {
        let start = parse_event(
            r#"{"time":"2022-10-21T14:05:03.165Z","type":"platform.start","record":{"requestId":"459921b5-681c-4a96-beb0-81e0aa586026","version":"$LATEST","tracing":{"spanId":"24cd7d670fa455f0","type":"X-Amzn-Trace-Id","value":"Root=1-6352a70e-1e2c502e358361800241fd45;Parent=35465b3a9e2f7c6a;Sampled=1"}}}"#,
        );
        assert_eq!(
            start.fact,
            Some(Fact::Start {
                version: Some("$LATEST".into())
            })
        );
        assert_eq!(
            start.trace_id.as_deref(),
            Some("1-6352a70e-1e2c502e358361800241fd45")
        );
        assert_eq!(start.timestamp, Some(1_666_361_103_165_000));

        let fault = parse_event(
            r#"{"time": "2020-08-20T12:31:32.123Z", "type": "platform.fault", "record": "RequestId: d783b35e-a91d-4251-af17-035953428a2c Process exited before completing request"}"#,
        );
        assert_eq!(
            (fault.record_type.as_ref(), fault.request_id.as_deref()),
            (
                "platform.fault",
                Some("d783b35e-a91d-4251-af17-035953428a2c")
            )
        );

        let done = parse_event(
            r#"{"time":"2021-02-04T20:00:05.123Z","type":"platform.runtimeDone","record":{"requestId":"6f7f0961f83442118a7af6fe80b88","status":"timeout"}}"#,
        );
        assert_eq!(done.fact, Some(Fact::Outcome { status: "timeout" }));

        let no_id = parse_event(
            r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.report","record":{"metrics":{"durationMs":1.0}}}"#,
        );
        assert_eq!(
            no_id.problem.as_deref(),
            Some("platform.report: no record.requestId")
        );
    }

    #[test]
    fn wrongly_typed_json_record_is_kept_and_reported() {
        let p = parse_event(
            r#"{"time":"2024-01-01T00:00:00Z","type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":"slow"}}}"#,
        );
        assert_eq!((p.record_type.as_ref(), p.fact.is_none()), ("app", true));
        assert!(
            p.problem
                .unwrap()
                .starts_with("JSON record: invalid type: string \"slow\", expected f64")
        );
    }

    #[test]
    fn app_records() {
        let app = parse_event(
            r#"{"timestamp":"2024-02-09T08:42:44.078Z","level":"INFO","requestId":"d661f7cf-9208-46b9-85b0-213b04a91065","message":"Just some logs here =)"}"#,
        );
        assert_eq!(
            (
                app.record_type.as_ref(),
                app.level.as_deref(),
                app.request_id.as_deref()
            ),
            (
                "app",
                Some("INFO"),
                Some("d661f7cf-9208-46b9-85b0-213b04a91065")
            )
        );
        let powertools = parse_event(
            r#"{"level":"INFO","message":"Collecting payment","timestamp":"2021-05-03 11:47:12,494+0000","function_request_id":"52fdfc07-2182-154f-163f-5f0f9a621d72","xray_trace_id":"1-66bc8205-21f8b5190da519d22b2b0533"}"#,
        );
        assert_eq!(
            powertools.request_id.as_deref(),
            Some("52fdfc07-2182-154f-163f-5f0f9a621d72")
        );
        assert_eq!(
            powertools.trace_id.as_deref(),
            Some("1-66bc8205-21f8b5190da519d22b2b0533")
        );
        assert_eq!(powertools.timestamp, Some(1_620_042_432_494_000));
    }
}

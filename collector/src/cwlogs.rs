//! CloudWatch Logs events as JSON -> `log_events` and `lambda_invocations` rows.
//!
//! Accepted shapes: FilterLogEvents / GetLogEvents answers (`events[]`), subscription payloads
//! (`logEvents[]`, decoded, or base64 gzip/zlib in `awslogs.data`, Kinesis `Records[].kinesis.data`,
//! Firehose `records[].data`) and plain arrays of `{timestamp, message}` (PutLogEvents input).
//! Every message goes through the Lambda log parser ([`crate::lambda_logs`]).

use std::borrow::Cow;
use std::fmt::Display;
use std::io::Read;

use serde::Deserialize;

use crate::borrowed;
use crate::error::Result;
use crate::lambda_logs::{EventMeta, LogWriter};
use crate::output::{FileCtx, Output};

/// Any of the accepted JSON documents (an object; arrays are read as `Vec<ApiEvent>`).
#[derive(Deserialize)]
struct Document<'a> {
    #[serde(borrow, default)]
    events: Option<Vec<ApiEvent<'a>>>,
    #[serde(borrow, default, rename = "logEvents")]
    log_events: Option<Vec<ApiEvent<'a>>>,
    #[serde(
        borrow,
        default,
        rename = "messageType",
        deserialize_with = "borrowed::option"
    )]
    message_type: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        rename = "logGroup",
        deserialize_with = "borrowed::option"
    )]
    log_group: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        rename = "logStream",
        deserialize_with = "borrowed::option"
    )]
    log_stream: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    awslogs: Option<Encoded<'a>>,
    #[serde(borrow, default, rename = "Records")]
    kinesis_records: Option<Vec<KinesisRecord<'a>>>,
    #[serde(borrow, default)]
    records: Option<Vec<Encoded<'a>>>,
}

/// One event of any of the APIs: FilterLogEvents adds `logStreamName` and `eventId`,
/// subscriptions name the id `id`, GetLogEvents and PutLogEvents have neither.
#[derive(Deserialize)]
struct ApiEvent<'a> {
    #[serde(
        borrow,
        default,
        rename = "logStreamName",
        deserialize_with = "borrowed::option"
    )]
    log_stream_name: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<Number>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    message: Option<Cow<'a, str>>,
    #[serde(default, rename = "ingestionTime")]
    ingestion_time: Option<Number>,
    #[serde(
        borrow,
        default,
        rename = "eventId",
        alias = "id",
        deserialize_with = "borrowed::option"
    )]
    event_id: Option<Cow<'a, str>>,
}

/// A number, or anything else (saved fixtures replace times with placeholders) read as absent.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Number(serde_json::Number),
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct Encoded<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

#[derive(Deserialize)]
struct KinesisRecord<'a> {
    #[serde(borrow)]
    kinesis: Encoded<'a>,
}

/// One event as FilterLogEvents returns it, for callers that hold them as typed values (the
/// collector) rather than JSON text.
#[derive(Debug, Clone, Copy)]
pub struct LogEvent<'a> {
    pub stream: Option<&'a str>,
    pub timestamp_ms: i64,
    pub ingestion_ms: Option<i64>,
    pub event_id: Option<&'a str>,
    pub message: &'a str,
}

/// Parses the events of one log group, page after page, through the same parser as imports.
/// Invocation rows are emitted at [`GroupImport::finish`]: a timeout line can follow its REPORT
/// on a later page.
pub struct GroupImport<'c> {
    writer: LogWriter<'c>,
}

impl<'c> GroupImport<'c> {
    /// `ctx.log_group` names the group of every event.
    pub fn new(ctx: FileCtx<'c>) -> Self {
        Self {
            writer: LogWriter::new(ctx),
        }
    }

    pub fn write(
        &mut self,
        out: &mut Output<'_>,
        event: &LogEvent<'_>,
        location: &str,
    ) -> Result<()> {
        let meta = EventMeta {
            group: self.writer.ctx().log_group,
            stream: event.stream,
            timestamp: event.timestamp_ms.saturating_mul(1000),
            ingestion_time: event.ingestion_ms.map(|ms| ms.saturating_mul(1000)),
            event_id: event.event_id,
        };
        self.writer
            .write_message(out, &meta, event.message, location)
    }

    pub fn finish(self, out: &mut Output<'_>) -> Result<()> {
        self.writer.finish(out)
    }
}

pub fn import(text: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) -> Result<()> {
    let mut writer = LogWriter::new(*ctx);
    import_into(text, "", ctx, out, &mut writer)?;
    writer.finish(out)
}

/// Imports one document through `writer`; `prefix` locates it inside its file (`awslogs.data.`,
/// `line 5 `).
pub(crate) fn import_into(
    text: &str,
    prefix: &str,
    ctx: &FileCtx<'_>,
    out: &mut Output<'_>,
    writer: &mut LogWriter<'_>,
) -> Result<()> {
    let text = text.trim_start();
    if text.starts_with('[') {
        return match serde_json::from_str::<Vec<ApiEvent>>(text) {
            Ok(events) => write_events(&events, prefix, None, None, ctx, out, writer),
            Err(e) => {
                out.records += 1;
                out.reject(
                    ctx,
                    whole(prefix),
                    format!("not an array of log events: {e}"),
                );
                Ok(())
            }
        };
    }
    let doc: Document = match serde_json::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            out.records += 1;
            out.reject(
                ctx,
                whole(prefix),
                format!("not a CloudWatch Logs document: {e}"),
            );
            return Ok(());
        }
    };
    // Subscriptions send one when they are set up: no events in it.
    if doc.message_type.as_deref() == Some("CONTROL_MESSAGE") {
        return Ok(());
    }
    let group = doc.log_group.as_deref().or(ctx.log_group);
    let stream = doc.log_stream.as_deref();
    let holds_events = doc.events.is_some()
        || doc.log_events.is_some()
        || doc.awslogs.is_some()
        || doc.kinesis_records.is_some()
        || doc.records.is_some();
    if !holds_events {
        // A single event object, as saved from a console or a script.
        return match serde_json::from_str::<ApiEvent>(text) {
            Ok(event) => write_event(&event, whole(prefix), group, stream, ctx, out, writer),
            Err(e) => {
                out.records += 1;
                out.reject(ctx, whole(prefix), format!("not a log event: {e}"));
                Ok(())
            }
        };
    }
    if let Some(events) = &doc.events {
        write_events(
            events,
            &format!("{prefix}events"),
            group,
            stream,
            ctx,
            out,
            writer,
        )?;
    }
    if let Some(events) = &doc.log_events {
        write_events(
            events,
            &format!("{prefix}logEvents"),
            group,
            stream,
            ctx,
            out,
            writer,
        )?;
    }
    let mut encoded: Vec<(String, &str)> = Vec::new();
    if let Some(a) = &doc.awslogs {
        encoded.push((format!("{prefix}awslogs.data"), &a.data));
    }
    for (i, r) in doc.kinesis_records.iter().flatten().enumerate() {
        encoded.push((
            format!("{prefix}Records[{i}].kinesis.data"),
            &r.kinesis.data,
        ));
    }
    for (i, r) in doc.records.iter().flatten().enumerate() {
        encoded.push((format!("{prefix}records[{i}].data"), &r.data));
    }
    for (location, data) in encoded {
        match decode_payload(data) {
            Ok(inner) => import_into(&inner, &format!("{location}."), ctx, out, writer)?,
            Err(reason) => {
                out.records += 1;
                out.reject(ctx, &location, reason);
            }
        }
    }
    Ok(())
}

/// The location of a whole document: the file, or the field it was decoded from.
fn whole(prefix: &str) -> &str {
    match prefix.trim_end_matches(['.', ' ']) {
        "" => "file",
        p => p,
    }
}

fn write_events(
    events: &[ApiEvent<'_>],
    field: &str,
    group: Option<&str>,
    stream: Option<&str>,
    ctx: &FileCtx<'_>,
    out: &mut Output<'_>,
    writer: &mut LogWriter<'_>,
) -> Result<()> {
    for (i, event) in events.iter().enumerate() {
        write_event(
            event,
            format_args!("{field}[{i}]"),
            group,
            stream,
            ctx,
            out,
            writer,
        )?;
    }
    Ok(())
}

fn write_event(
    event: &ApiEvent<'_>,
    location: impl Display,
    group: Option<&str>,
    stream: Option<&str>,
    ctx: &FileCtx<'_>,
    out: &mut Output<'_>,
    writer: &mut LogWriter<'_>,
) -> Result<()> {
    let Some(timestamp) = event.timestamp.as_ref().and_then(millis_to_micros) else {
        out.records += 1;
        out.reject(ctx, location, "no timestamp (epoch milliseconds)");
        return Ok(());
    };
    if let Some(reason) = implausible(timestamp, ctx.now) {
        out.records += 1;
        out.reject(ctx, location, reason);
        return Ok(());
    }
    let Some(message) = event.message.as_deref() else {
        out.records += 1;
        out.reject(ctx, location, "no message");
        return Ok(());
    };
    let meta = EventMeta {
        group,
        stream: event.log_stream_name.as_deref().or(stream),
        timestamp,
        ingestion_time: event.ingestion_time.as_ref().and_then(millis_to_micros),
        event_id: event.event_id.as_deref(),
    };
    writer.write_message(out, &meta, message, location)
}

/// 2000-01-01T00:00:00Z in epoch microseconds: CloudWatch Logs has no earlier events.
const EARLIEST: i64 = 946_684_800_000_000;

/// A day in microseconds: the most a timestamp may run ahead of the clock (CloudWatch refuses
/// events two hours ahead; the rest is for a skewed clock where the file is imported).
const AHEAD: i64 = 86_400_000_000;

/// Why `micros`, read from epoch milliseconds, cannot be when a CloudWatch Logs event happened
/// (given `now`), with the unit it seems to be in instead: seconds land in 1970, microseconds
/// in the far future, and either would otherwise be stored without a word.
fn implausible(micros: i64, now: i64) -> Option<String> {
    let plausible = |t: i64| (EARLIEST..=now.saturating_add(AHEAD)).contains(&t);
    if plausible(micros) {
        return None;
    }
    let (problem, unit, fix) = if micros < EARLIEST {
        (
            "before 2000",
            micros.saturating_mul(1000),
            "seconds: multiply by 1000",
        )
    } else {
        (
            "more than a day after the import started",
            micros / 1000,
            "microseconds: divide by 1000",
        )
    };
    let when = chrono::DateTime::from_timestamp_micros(micros).map_or_else(
        || "out of range".to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    );
    let hint = if plausible(unit) {
        format!("; this one looks like epoch {fix}")
    } else {
        String::new()
    };
    Some(format!(
        "timestamp {} is {when}, {problem}: CloudWatch Logs timestamps are epoch milliseconds{hint}",
        micros / 1000
    ))
}

fn millis_to_micros(n: &Number) -> Option<i64> {
    let Number::Number(n) = n else { return None };
    match n.as_i64() {
        Some(ms) => ms.checked_mul(1000),
        None => n.as_f64().map(|ms| (ms * 1000.0).round() as i64),
    }
}

/// base64 of gzip (what AWS sends) or zlib (seen in test fixtures) JSON.
fn decode_payload(data: &str) -> Result<String, String> {
    let bytes = base64_decode(data).ok_or("not base64")?;
    let mut text = String::new();
    let read = match bytes.first() {
        Some(0x1f) => flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut text),
        Some(0x78) => flate2::read::ZlibDecoder::new(&bytes[..]).read_to_string(&mut text),
        _ => {
            return String::from_utf8(bytes)
                .map_err(|_| "base64 of neither gzip, zlib nor text".to_string());
        }
    };
    read.map_err(|e| format!("cannot decompress: {e}"))?;
    Ok(text)
}

/// Standard base64 with optional padding; whitespace is skipped.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use arrow::array::RecordBatch;

    use super::*;
    use crate::lambda_logs::tests::{floats, read_corpus, strings, table, times};

    struct Imported {
        events: Option<RecordBatch>,
        invocations: Option<RecordBatch>,
        records: usize,
        rejections: Vec<String>,
    }

    fn import_str(text: &str, group: Option<&str>) -> Imported {
        let mut sink: Vec<(&'static str, RecordBatch)> = Vec::new();
        let mut out = Output::new(&mut sink, 1024);
        let ctx = FileCtx {
            path: "test.json",
            log_group: group,
            now: crate::output::TEST_NOW,
        };
        import(text, &ctx, &mut out).unwrap();
        out.flush_all().unwrap();
        let records = out.records;
        let rejections = out
            .rejections()
            .iter()
            .map(|r| format!("{}: {}", r.record, r.reason))
            .collect();
        drop(out);
        Imported {
            events: table(&sink, "log_events"),
            invocations: table(&sink, "lambda_invocations"),
            records,
            rejections,
        }
    }

    /// A FilterLogEvents answer: a good event, the event given as `timestamp`, a good event.
    #[rstest::rstest]
    #[case::seconds(
        "1591714946",
        "timestamp 1591714946 is 1970-01-19T10:08:34.946Z, before 2000: CloudWatch Logs timestamps are epoch milliseconds; this one looks like epoch seconds: multiply by 1000"
    )]
    #[case::float_seconds("1591714946.15", "1970-01-19T10:08:34.946Z, before 2000")]
    #[case::before_2000(
        "915148800000",
        "timestamp 915148800000 is 1999-01-01T00:00:00.000Z, before 2000: CloudWatch Logs timestamps are epoch milliseconds"
    )]
    #[case::microseconds(
        "1591714946150000",
        "timestamp 1591714946150000 is +52409-06-09T16:35:50.000Z, more than a day after the import started: CloudWatch Logs timestamps are epoch milliseconds; this one looks like epoch microseconds: divide by 1000"
    )]
    // TEST_NOW plus a day and a second.
    #[case::a_day_ahead(
        "1798848001000",
        "2027-01-02T00:00:01.000Z, more than a day after the import started"
    )]
    fn implausible_timestamps_are_rejected(#[case] timestamp: &str, #[case] reason: &str) {
        let text = format!(
            r#"{{"events":[
                {{"timestamp":1704067200000,"message":"first"}},
                {{"timestamp":{timestamp},"message":"odd"}},
                {{"timestamp":1798840800000,"message":"a few hours ahead of the clock"}}]}}"#
        );
        let got = import_str(&text, Some("/aws/lambda/f"));
        assert_eq!(got.records, 3);
        assert_eq!(got.rejections.len(), 1, "{:?}", got.rejections);
        assert!(
            got.rejections[0].starts_with("events[1]: timestamp "),
            "{:?}",
            got.rejections
        );
        assert!(got.rejections[0].contains(reason), "{:?}", got.rejections);
        assert_eq!(
            strings(&got.events.unwrap(), "message"),
            [
                Some("first".into()),
                Some("a few hours ahead of the clock".into())
            ]
        );
    }

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(base64_decode("aGVsbG8"), Some(b"hello".to_vec()));
        assert_eq!(base64_decode("a*"), None);
    }

    #[test]
    fn filter_log_events_answer_uses_the_context_group() {
        let text = r#"{"events":[
            {"logStreamName":"2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef","timestamp":1704067200000,"message":"START RequestId: 0a9df60d-e2de-447d-ba3e-45f149eae6c9 Version: 3\n","ingestionTime":1704067200500,"eventId":"3761"},
            {"logStreamName":"2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef","timestamp":1704067200100,"message":"REPORT RequestId: 0a9df60d-e2de-447d-ba3e-45f149eae6c9\tDuration: 5.50 ms\tBilled Duration: 6 ms\tMemory Size: 256 MB\tMax Memory Used: 70 MB\tStatus: error\tError Type: Runtime.ExitError\n","eventId":"3762"},
            {"logStreamName":"s","message":"no time"}
        ]}"#;
        let got = import_str(text, Some("/aws/lambda/orders"));
        assert_eq!(got.records, 3);
        assert_eq!(
            got.rejections,
            ["events[2]: no timestamp (epoch milliseconds)"]
        );
        let ev = got.events.unwrap();
        assert_eq!(
            strings(&ev, "event_id"),
            [Some("3761".to_string()), Some("3762".to_string())]
        );
        assert_eq!(
            times(&ev, "ingestion_time"),
            [Some(1_704_067_200_500_000), None]
        );
        assert_eq!(
            strings(&ev, "message")[0].as_deref(),
            Some("START RequestId: 0a9df60d-e2de-447d-ba3e-45f149eae6c9 Version: 3")
        );
        let inv = got.invocations.unwrap();
        assert_eq!(strings(&inv, "function")[0].as_deref(), Some("orders"));
        assert_eq!(strings(&inv, "version")[0].as_deref(), Some("3"));
        assert_eq!(strings(&inv, "status")[0].as_deref(), Some("error"));
        assert_eq!(
            strings(&inv, "error_type")[0].as_deref(),
            Some("Runtime.ExitError")
        );
        assert_eq!(times(&inv, "timestamp")[0], Some(1_704_067_200_100_000));
    }

    #[test]
    fn events_land_the_same_from_text_and_from_json() {
        let id = "0a9df60d-e2de-447d-ba3e-45f149eae6c9";
        let lines = [
            format!("2020-06-09T15:02:26.150Z\t{id}\tINFO\thello"),
            format!(
                "REPORT RequestId: {id}\tDuration: 2.90 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 36 MB\t\nXRAY TraceId: 1-5d83c0ad-b8eb33a0b1de97d804fac890\tSegmentId: 31255c3b19bd3637\tSampled: true"
            ),
        ];
        let events: Vec<String> = lines
            .iter()
            .map(|m| {
                format!(
                    r#"{{"timestamp":1591714946150,"message":{}}}"#,
                    serde_json::to_string(m).unwrap()
                )
            })
            .collect();
        let json = format!(r#"{{"events":[{}]}}"#, events.join(","));

        let run = |text: &str, json: bool| {
            let mut sink: Vec<(&'static str, RecordBatch)> = Vec::new();
            let mut out = Output::new(&mut sink, 1024);
            let ctx = FileCtx {
                path: "f",
                log_group: Some("/aws/lambda/f"),
                now: crate::output::TEST_NOW,
            };
            if json {
                import(text, &ctx, &mut out).unwrap();
            } else {
                crate::lambda_logs::import_text(text, &ctx, &mut out).unwrap();
            }
            out.flush_all().unwrap();
            drop(out);
            (
                table(&sink, "log_events").unwrap(),
                table(&sink, "lambda_invocations").unwrap(),
            )
        };
        let from_text = run(&lines.join("\n"), false);
        let from_json = run(&json, true);
        assert_eq!(from_text, from_json);
        assert_eq!(
            strings(&from_json.1, "segment_id")[0].as_deref(),
            Some("31255c3b19bd3637")
        );
    }

    #[test]
    fn single_event_object() {
        let got = import_str(
            r#"{"timestamp":1433190184356,"message":"[ERROR] boom","ingestionTime":1433190184400,"eventId":"e1"}"#,
            Some("/aws/lambda/f"),
        );
        let ev = got.events.unwrap();
        assert_eq!(strings(&ev, "event_id")[0].as_deref(), Some("e1"));
        assert_eq!(strings(&ev, "level")[0].as_deref(), Some("ERROR"));
        assert_eq!(times(&ev, "timestamp")[0], Some(1_433_190_184_356_000));
    }

    #[test]
    fn control_message_imports_nothing() {
        let got = import_str(
            r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","logEvents":[{"id":"","timestamp":1440442987000,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#,
            None,
        );
        assert_eq!((got.records, got.events.is_none()), (0, true));
    }

    #[test]
    fn imports_corpus_subscription_payloads() {
        // Literal `\t` / `\n` escapes in the saved messages, and a timeout line after the REPORT.
        let got = import_str(
            &read_corpus("cwlogs-api/datadog_subscription_cloudwatch_log_timeout.json"),
            None,
        );
        assert!(got.rejections.is_empty(), "{:?}", got.rejections);
        let ev = got.events.unwrap();
        assert_eq!(
            strings(&ev, "record_type"),
            ["START", "END", "REPORT", "TIMEOUT"].map(|s| Some(s.to_string()))
        );
        assert_eq!(
            strings(&ev, "function")[0].as_deref(),
            Some("storms-cloudwatch-event")
        );
        let inv = got.invocations.unwrap();
        assert_eq!(
            (
                strings(&inv, "status")[0].as_deref(),
                floats(&inv, "duration_ms")[0],
                floats(&inv, "init_ms")[0]
            ),
            (Some("timeout"), Some(3003.16), Some(127.02))
        );

        // base64(gzip) inside Kinesis records: two invocations, one a cold start with XRAY.
        let got = import_str(
            &read_corpus("cwlogs-api/powertools_py_kinesisStreamCloudWatchLogsEvent.json"),
            None,
        );
        assert!(got.rejections.is_empty(), "{:?}", got.rejections);
        let inv = got.invocations.unwrap();
        assert_eq!(inv.num_rows(), 2);
        assert!(
            strings(&inv, "trace_id")
                .iter()
                .any(std::option::Option::is_some)
        );
        assert!(
            strings(&got.events.unwrap(), "log_group")
                .iter()
                .all(|g| g.as_deref()
                    == Some("/aws/lambda/pt-1488-DummyLogDataFunction-gnWXPvL6jJyG"))
        );

        // base64(zlib) in awslogs.data.
        let got = import_str(
            &read_corpus("cwlogs-api/powertools_py_cloudWatchLogEventWithPolicyLevel.json"),
            None,
        );
        let ev = got.events.unwrap();
        assert_eq!(
            strings(&ev, "level"),
            [Some("ERROR".to_string()), Some("ERROR".to_string())]
        );
        assert_eq!(strings(&ev, "event_id")[1].as_deref(), Some("eventId2"));

        // GetLogEvents: no group in it, no ids; identical events stay two rows.
        let got = import_str(
            &read_corpus("cwlogs-api/awscli_GetLogEvents.json"),
            Some("g"),
        );
        let ev = got.events.unwrap();
        assert_eq!(ev.num_rows(), 3);
        let ids = strings(&ev, "event_id");
        assert_ne!(ids[0], ids[1]);
        assert_eq!(strings(&ev, "log_group")[0].as_deref(), Some("g"));
    }
}

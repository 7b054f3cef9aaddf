//! Lambda log output -> `log_events` rows and `lambda_invocations` rows.
//!
//! Text (console copies, `aws logs tail`, `sam logs`, CLI tails) is first split into events, then
//! every event, whether it came from text or from CloudWatch Logs JSON ([`crate::cwlogs`]), goes
//! through the same [`event::parse_event`] and [`LogWriter`], so a REPORT is read the same way
//! however it arrived.

mod event;
mod line;
mod record;
mod split;

use std::collections::HashMap;
use std::fmt::Display;

use hopscope_schema::lambda_invocations::{LambdaInvocationRow, status};
use hopscope_schema::log_events::LogEventRow;

use crate::error::Result;
use crate::output::{FileCtx, Output, TraceHint};

use event::{Fact, parse_event};
use split::split_text;

/// Rows are written in chunks of this many events, so memory stays bounded on large inputs.
const FLUSH_EVERY: usize = 4096;

/// Imports Lambda log text: plain lines, the JSON log format (one record per line, pretty-printed
/// records, or a JSON array of them), and mixtures of both.
pub fn import_text(text: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) -> Result<()> {
    let (documents, events): (Vec<_>, Vec<_>) = split_text(text)
        .into_iter()
        .partition(|e| e.log_events_document);
    let mut writer = LogWriter::new(*ctx);
    for document in &documents {
        let prefix = format!("line {} ", document.line);
        crate::cwlogs::import_into(document.text, &prefix, ctx, out, &mut writer)?;
    }
    let parsed: Vec<_> = events.iter().map(|e| parse_event(e.text)).collect();
    let times: Vec<Option<i64>> = events
        .iter()
        .zip(&parsed)
        .map(|(e, p)| e.timestamp.or(p.timestamp))
        .collect();
    let Some(first) = times.iter().flatten().next().copied() else {
        for event in &events {
            out.records += 1;
            let reason = event.json_error.as_deref().map_or_else(
                || NO_TIMESTAMP.to_string(),
                |e| format!("not a valid JSON record ({e}), and no timestamp on any text line of the file"),
            );
            out.reject(ctx, format_args!("line {}", event.line), reason);
        }
        return writer.finish(out);
    };
    let mut last = first;
    for ((event, parsed), time) in events.iter().zip(parsed).zip(times) {
        // An event without a time of its own happened at or after the last one that had one.
        last = time.unwrap_or(last);
        let meta = EventMeta {
            group: ctx.log_group,
            stream: event.stream,
            timestamp: last,
            ingestion_time: None,
            event_id: None,
        };
        let location = format_args!("line {}", event.line);
        writer.write(out, &meta, event.text, &parsed, location)?;
    }
    writer.finish(out)
}

const NO_TIMESTAMP: &str = "no timestamp on this event nor on any other text line of the file (console and CLI copies drop them); import the events as JSON instead (`aws logs filter-log-events` or `get-log-events` output), or `aws logs tail` / `sam logs` output, which keeps them";

/// Where an event came from and when.
pub(crate) struct EventMeta<'a> {
    pub group: Option<&'a str>,
    pub stream: Option<&'a str>,
    /// Epoch microseconds.
    pub timestamp: i64,
    pub ingestion_time: Option<i64>,
    /// CloudWatch's id; synthesized from the content when absent.
    pub event_id: Option<&'a str>,
}

/// Writes the events of one import call and gathers their invocations, which it emits at
/// [`LogWriter::finish`]: a timeout line comes after its REPORT, so rows wait for the whole call.
pub(crate) struct LogWriter<'c> {
    ctx: FileCtx<'c>,
    invocations: Invocations,
    /// Occurrences of each content hash, so identical events in one input stay distinct rows
    /// while a re-import of the same input produces the same ids.
    seen: HashMap<u64, u32>,
    id_buf: Vec<u8>,
    written: usize,
}

impl<'c> LogWriter<'c> {
    pub fn new(ctx: FileCtx<'c>) -> Self {
        Self {
            ctx,
            invocations: Invocations::default(),
            seen: HashMap::new(),
            id_buf: Vec::new(),
            written: 0,
        }
    }

    pub fn ctx(&self) -> &FileCtx<'c> {
        &self.ctx
    }

    /// Parses `message` and writes it (an event from JSON, whose message is not split further).
    pub fn write_message(
        &mut self,
        out: &mut Output<'_>,
        meta: &EventMeta<'_>,
        message: &str,
        location: impl Display,
    ) -> Result<()> {
        let parsed = parse_event(message);
        self.write(out, meta, message, &parsed, location)
    }

    fn write(
        &mut self,
        out: &mut Output<'_>,
        meta: &EventMeta<'_>,
        message: &str,
        parsed: &event::Parsed<'_>,
        location: impl Display,
    ) -> Result<()> {
        out.records += 1;
        let message = message.trim_end_matches(['\n', '\r']);
        let synthesized;
        let event_id = match meta.event_id {
            Some(id) => id,
            None => {
                synthesized = self.synthesize_id(meta, message);
                synthesized.as_str()
            }
        };
        out.log_events.append(&LogEventRow {
            log_group: meta.group,
            log_stream: meta.stream,
            function: function_of(meta.group, meta.stream),
            timestamp: meta.timestamp,
            ingestion_time: meta.ingestion_time,
            event_id,
            record_type: &parsed.record_type,
            level: parsed.level.as_deref(),
            request_id: parsed.request_id.as_deref(),
            trace_id: parsed.trace_id.as_deref(),
            message,
        });
        if let Some(problem) = &parsed.problem {
            out.reject(&self.ctx, &location, problem);
        }
        if let (Some(fact), Some(request_id)) = (&parsed.fact, parsed.request_id.as_deref()) {
            self.invocations.apply(request_id, fact, meta);
        }
        self.written += 1;
        if self.written.is_multiple_of(FLUSH_EVERY) {
            out.flush_full()?;
        }
        Ok(())
    }

    /// xxh3-64 of group|stream|timestamp|message (and the occurrence number from the second one on).
    fn synthesize_id(&mut self, meta: &EventMeta<'_>, message: &str) -> String {
        let buf = &mut self.id_buf;
        buf.clear();
        buf.extend_from_slice(meta.group.unwrap_or("").as_bytes());
        buf.push(b'|');
        buf.extend_from_slice(meta.stream.unwrap_or("").as_bytes());
        buf.push(b'|');
        buf.extend_from_slice(meta.timestamp.to_string().as_bytes());
        buf.push(b'|');
        buf.extend_from_slice(message.as_bytes());
        let hash = twox_hash::XxHash3_64::oneshot(buf);
        let n = self.seen.entry(hash).or_insert(0);
        *n += 1;
        if *n == 1 {
            return format!("{hash:016x}");
        }
        buf.extend_from_slice(format!("|{n}").as_bytes());
        format!("{:016x}", twox_hash::XxHash3_64::oneshot(buf))
    }

    /// Emits the invocations that had a REPORT (or platform.report).
    pub fn finish(self, out: &mut Output<'_>) -> Result<()> {
        for row in self
            .invocations
            .rows
            .into_iter()
            .filter_map(|(row, reported)| reported.then_some(row))
        {
            if let (Some(hints), Some(trace_id)) = (&mut out.trace_hints, &row.trace_id) {
                hints.push(TraceHint {
                    trace_id: trace_id.clone(),
                    failed: row.status != status::SUCCESS,
                    duration_ms: row.duration_ms,
                });
            }
            out.invocations.append(&row);
        }
        out.flush_full()
    }
}

/// The function that wrote an event: the `<name>` of a `/aws/lambda/<name>` group, else the one
/// a custom group's stream names. Lambda names the streams of custom (possibly shared) groups
/// `YYYY/MM/DD/<function>[<version>]<environment id>` ("Configuring CloudWatch log groups",
/// Lambda Developer Guide), while default groups' streams carry no function name.
fn function_of<'a>(group: Option<&'a str>, stream: Option<&'a str>) -> Option<&'a str> {
    let valid = |name: &&str| !name.is_empty() && !name.contains('/');
    if let Some(name) = group.and_then(|g| g.strip_prefix("/aws/lambda/")) {
        return Some(name).filter(valid);
    }
    let mut parts = stream?.splitn(4, '/');
    let date_parts = [parts.next()?, parts.next()?, parts.next()?];
    if !date_parts
        .iter()
        .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let rest = parts.next()?;
    Some(&rest[..rest.find('[')?]).filter(valid)
}

/// Invocations of one import call, in order of first appearance.
#[derive(Default)]
struct Invocations {
    /// Each row with whether a REPORT filled it.
    rows: Vec<(LambdaInvocationRow, bool)>,
    /// Request id -> its latest row. Retries of an async event reuse the request id, so a second
    /// START or REPORT after a REPORT opens a new row.
    latest: HashMap<String, usize>,
}

impl Invocations {
    fn apply(&mut self, request_id: &str, fact: &Fact<'_>, meta: &EventMeta<'_>) {
        let reported = self.latest.get(request_id).map(|&i| self.rows[i].1);
        let opens = matches!(fact, Fact::Start { .. } | Fact::Report(_));
        let index = match reported {
            Some(true) if opens => None,
            Some(_) => self.latest.get(request_id).copied(),
            None => None,
        };
        let index = index.unwrap_or_else(|| {
            self.rows.push((
                LambdaInvocationRow {
                    request_id: request_id.to_string(),
                    status: status::SUCCESS,
                    ..Default::default()
                },
                false,
            ));
            self.latest
                .insert(request_id.to_string(), self.rows.len() - 1);
            self.rows.len() - 1
        });
        let (row, reported) = &mut self.rows[index];
        match fact {
            Fact::Start { version } => row.version = version.as_deref().map(str::to_string),
            Fact::Report(report) => {
                let earlier = row.status;
                *row = LambdaInvocationRow {
                    function: function_of(meta.group, meta.stream).map(str::to_string),
                    version: row.version.take(),
                    timestamp: meta.timestamp,
                    log_group: meta.group.map(str::to_string),
                    log_stream: meta.stream.map(str::to_string),
                    ..(**report).clone()
                };
                row.status = worst(earlier, report.status);
                *reported = true;
            }
            Fact::Outcome { status } => row.status = worst(row.status, status),
        }
    }
}

/// The more telling of two statuses: a timeout explains an error, an error overrides success.
fn worst(a: &'static str, b: &'static str) -> &'static str {
    let rank = |s: &str| match s {
        status::TIMEOUT => 2,
        status::ERROR => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use arrow::array::{Array, AsArray, RecordBatch};
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, Float64Type, Int32Type, TimestampMicrosecondType};

    use super::*;

    #[test]
    fn the_function_comes_from_a_default_group_or_a_custom_groups_stream() {
        let f = |g, s| function_of(Some(g), s);
        assert_eq!(
            f("/aws/lambda/orders", Some("2024/05/01/[$LATEST]ab12")),
            Some("orders")
        );
        // A shared group: each stream names its function and version.
        let stream = "2024/05/01/orders-api[$LATEST]0123abcd";
        assert_eq!(f("/shop/app-logs", Some(stream)), Some("orders-api"));
        assert_eq!(
            f("/shop/app-logs", Some("2024/05/01/users[7]ff00")),
            Some("users")
        );
        assert_eq!(f("/shop/app-logs", Some("2024/05/01/[$LATEST]ab12")), None);
        assert_eq!(f("/shop/app-logs", Some("ecs/web/1234")), None);
        assert_eq!(f("/shop/app-logs", None), None);
        assert_eq!(f("/aws/lambda/", None), None);
    }

    /// The conformance corpus: `$HOPSCOPE_CORPUS`, else `shared/corpus` next to the clone.
    pub fn corpus(file: &str) -> PathBuf {
        let root = std::env::var_os("HOPSCOPE_CORPUS").map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus")),
            PathBuf::from,
        );
        root.join(file)
    }

    pub fn read_corpus(file: &str) -> String {
        let path = corpus(file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (set HOPSCOPE_CORPUS)", path.display()))
    }

    /// Batches of one table, concatenated.
    pub fn table(batches: &[(&'static str, RecordBatch)], name: &str) -> Option<RecordBatch> {
        let parts: Vec<_> = batches
            .iter()
            .filter(|(t, _)| *t == name)
            .map(|(_, b)| b.clone())
            .collect();
        let first = parts.first()?;
        Some(arrow::compute::concat_batches(&first.schema(), &parts).unwrap())
    }

    /// One column as strings (dictionaries decoded), nulls as None.
    pub fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
        let col = cast(batch.column_by_name(column).unwrap(), &DataType::Utf8).unwrap();
        let col = col.as_string::<i32>();
        (0..col.len())
            .map(|i| col.is_valid(i).then(|| col.value(i).to_string()))
            .collect()
    }

    pub fn floats(batch: &RecordBatch, column: &str) -> Vec<Option<f64>> {
        let col = batch
            .column_by_name(column)
            .unwrap()
            .as_primitive::<Float64Type>();
        (0..col.len())
            .map(|i| col.is_valid(i).then(|| col.value(i)))
            .collect()
    }

    pub fn ints(batch: &RecordBatch, column: &str) -> Vec<Option<i32>> {
        let col = batch
            .column_by_name(column)
            .unwrap()
            .as_primitive::<Int32Type>();
        (0..col.len())
            .map(|i| col.is_valid(i).then(|| col.value(i)))
            .collect()
    }

    pub fn times(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
        let col = batch
            .column_by_name(column)
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        (0..col.len())
            .map(|i| col.is_valid(i).then(|| col.value(i)))
            .collect()
    }

    struct Imported {
        events: Option<RecordBatch>,
        invocations: Option<RecordBatch>,
        records: usize,
        rejections: Vec<String>,
    }

    fn import(text: &str, group: Option<&str>) -> Imported {
        let mut sink: Vec<(&'static str, RecordBatch)> = Vec::new();
        let mut out = Output::new(&mut sink, 1024);
        let ctx = FileCtx {
            path: "test.log",
            log_group: group,
            now: crate::output::TEST_NOW,
        };
        import_text(text, &ctx, &mut out).unwrap();
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

    #[test]
    fn timeout_after_report_marks_the_invocation() {
        let text = "START RequestId: 7c9567b5-107b-4a6c-8798-0157ac21db52 Version: $LATEST\n\
            END RequestId: 7c9567b5-107b-4a6c-8798-0157ac21db52\n\
            REPORT RequestId: 7c9567b5-107b-4a6c-8798-0157ac21db52\tDuration: 3003.16 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 48 MB\tInit Duration: 127.02 ms\t\n\
            2020-06-09T15:02:26.150Z 7c9567b5-107b-4a6c-8798-0157ac21db52 Task timed out after 3.00 seconds\n\n";
        let got = import(text, Some("/aws/lambda/storms"));
        assert_eq!(got.records, 4);
        assert!(got.rejections.is_empty(), "{:?}", got.rejections);
        let ev = got.events.unwrap();
        assert_eq!(
            strings(&ev, "record_type"),
            ["START", "END", "REPORT", "TIMEOUT"].map(|s| Some(s.to_string()))
        );
        // Lines before the first timestamp take the first one found.
        assert_eq!(
            times(&ev, "timestamp"),
            vec![Some(1_591_714_946_150_000); 4]
        );
        assert_eq!(strings(&ev, "function")[0].as_deref(), Some("storms"));
        let inv = got.invocations.unwrap();
        assert_eq!(inv.num_rows(), 1);
        assert_eq!(strings(&inv, "status")[0].as_deref(), Some("timeout"));
        assert_eq!(strings(&inv, "version")[0].as_deref(), Some("$LATEST"));
        assert_eq!(floats(&inv, "duration_ms")[0], Some(3003.16));
        assert_eq!(floats(&inv, "init_ms")[0], Some(127.02));
    }

    /// Rows copied from the CloudWatch console's table view: `<timestamp with offset> | <message>`,
    /// a message's further lines on rows of their own.
    #[rstest::rstest]
    #[case::plus_two_hours("+02:00", 1_714_557_600_123_000)]
    #[case::utc("Z", 1_714_564_800_123_000)]
    #[case::minus_five_hours("-05:00", 1_714_582_800_123_000)]
    #[case::offset_without_colon("+0530", 1_714_545_000_123_000)]
    fn console_table_rows_are_split_into_events(#[case] offset: &str, #[case] first: i64) {
        let id = "7c9567b5-107b-4a6c-8798-0157ac21db52";
        let text = format!(
            "2024-05-01T12:00:00.123{offset} | START RequestId: {id} Version: $LATEST\n\
             2024-05-01T12:00:00.200{offset} | [ERROR] Boom\n\
             Traceback (most recent call last):\n\
             2024-05-01T12:00:03.130{offset} | END RequestId: {id}\n\
             2024-05-01T12:00:03.130{offset} | REPORT RequestId: {id}  Duration: 3003.16 ms  Billed Duration: 3000 ms  Memory Size: 128 MB  Max Memory Used: 48 MB\n\
             2024-05-01T12:00:03.150{offset} | 2024-05-01T10:00:03.150Z {id} Task timed out after 3.00 seconds\n"
        );
        let got = import(&text, Some("/aws/lambda/storms"));
        assert!(got.rejections.is_empty(), "{:?}", got.rejections);
        let ev = got.events.unwrap();
        assert_eq!(
            strings(&ev, "record_type"),
            ["START", "app", "END", "REPORT", "TIMEOUT"].map(|s| Some(s.to_string()))
        );
        assert_eq!(
            strings(&ev, "message")[1].as_deref(),
            Some("[ERROR] Boom\nTraceback (most recent call last):")
        );
        assert_eq!(times(&ev, "timestamp")[0], Some(first));
        let inv = got.invocations.unwrap();
        assert_eq!(inv.num_rows(), 1);
        assert_eq!(strings(&inv, "status")[0].as_deref(), Some("timeout"));
        assert_eq!(floats(&inv, "duration_ms")[0], Some(3003.16));
    }

    #[test]
    fn malformed_report_is_kept_as_event_and_rejected_as_invocation() {
        let text = "2024-01-01T00:00:00.000Z\t0a9df60d-e2de-447d-ba3e-45f149eae6c9\tINFO\thi\n\
            REPORT RequestId: 0a9df60d-e2de-447d-ba3e-45f149eae6c9\tDuration: abc ms\tBilled Duration: 1 ms\t\n";
        let got = import(text, None);
        assert_eq!(got.events.unwrap().num_rows(), 2);
        assert!(got.invocations.is_none());
        assert_eq!(
            got.rejections,
            ["line 2: REPORT: Duration \"abc\" is not a number"]
        );
    }

    #[test]
    fn file_without_timestamps_is_rejected_with_a_hint() {
        let got = import(
            "START RequestId: x Version: $LATEST\nEND RequestId: x\n",
            None,
        );
        assert_eq!(got.records, 2);
        assert!(got.events.is_none());
        assert_eq!(got.rejections.len(), 2);
        assert!(
            got.rejections[1].starts_with("line 2: no timestamp"),
            "{}",
            got.rejections[1]
        );
        assert!(got.rejections[1].contains("filter-log-events"));
    }

    #[test]
    fn event_ids_are_deterministic_and_distinct_for_repeats() {
        let text = "2024-01-01T00:00:00.000Z\t0a9df60d-e2de-447d-ba3e-45f149eae6c9\tINFO\tsame\n\
            2024-01-01T00:00:00.000Z\t0a9df60d-e2de-447d-ba3e-45f149eae6c9\tINFO\tsame\n";
        let a = strings(&import(text, Some("g")).events.unwrap(), "event_id");
        let b = strings(&import(text, Some("g")).events.unwrap(), "event_id");
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
        assert_eq!(a[0].as_ref().unwrap().len(), 16);
    }

    #[test]
    fn imports_corpus_text_files() {
        let got = import(
            &read_corpus("lambda-logs/docwho2_sam_logs_snapstart_restore.log"),
            None,
        );
        assert!(got.rejections.is_empty(), "{:?}", got.rejections);
        let ev = got.events.unwrap();
        assert_eq!(ev.num_rows(), 16);
        assert_eq!(
            strings(&ev, "record_type")[..3],
            ["RESTORE_START", "RESTORE_REPORT", "START"].map(|s| Some(s.to_string()))
        );
        assert_eq!(
            strings(&ev, "log_stream")[0].as_deref(),
            Some("2023/06/02/[72]88ab219a63d343d294d0a9947e8ab36a")
        );
        assert_eq!(strings(&ev, "level")[3].as_deref(), Some("DEBUG"));
        let inv = got.invocations.unwrap();
        assert_eq!(inv.num_rows(), 1);
        assert_eq!(
            (
                strings(&inv, "version")[0].as_deref(),
                ints(&inv, "memory_mb")[0],
                floats(&inv, "restore_ms")[0]
            ),
            (Some("72"), Some(3009), Some(398.97))
        );

        let got = import(
            &read_corpus("lambda-logs/doc_nodejs_invocation_with_xray_report.txt"),
            Some("/aws/lambda/my-function"),
        );
        let ev = got.events.unwrap();
        // START, three Node lines (two of them with multi-line JSON), END, REPORT.
        assert_eq!(ev.num_rows(), 6);
        assert_eq!(strings(&ev, "level")[3].as_deref(), Some("WARN"));
        assert!(
            strings(&ev, "message")[1]
                .as_deref()
                .unwrap()
                .ends_with("...\n}")
        );
        let inv = got.invocations.unwrap();
        assert_eq!(
            strings(&inv, "trace_id")[0].as_deref(),
            Some("1-5d9d007f-0a8c7fd02xmpl480aed55ef0")
        );
        assert_eq!(strings(&inv, "function")[0].as_deref(), Some("my-function"));

        let got = import(
            &read_corpus("lambda-logs/powertuning_jsonformat_mixed_with_extension_text.log"),
            None,
        );
        let ev = got.events.unwrap();
        assert_eq!(
            strings(&ev, "record_type"),
            [
                "app",
                "app",
                "platform.start",
                "platform.runtimeDone",
                "platform.report"
            ]
            .map(|s| Some(s.to_string()))
        );
        let inv = got.invocations.unwrap();
        assert_eq!(
            (
                strings(&inv, "version")[0].as_deref(),
                floats(&inv, "init_ms")[0]
            ),
            (Some("8"), Some(20.0))
        );

        // An Invoke response (no timestamp: rejected), then GetLogEvents output (imported).
        let got = import(
            &read_corpus("cwlogs-api/doc_lambda_GetLogEvents_concat.txt"),
            Some("/aws/lambda/my-function"),
        );
        assert_eq!(got.rejections.len(), 1);
        assert!(
            got.rejections[0].starts_with("line 1: no timestamp"),
            "{:?}",
            got.rejections
        );
        let ev = got.events.unwrap();
        assert_eq!(ev.num_rows(), 5);
        assert_eq!(strings(&ev, "level")[1].as_deref(), Some("INFO"));
        assert_eq!(times(&ev, "ingestion_time")[0], Some(1_559_763_003_309_000));
        let inv = got.invocations.unwrap();
        assert_eq!(
            (floats(&inv, "billed_ms")[0], ints(&inv, "max_memory_mb")[0]),
            (Some(27.0), Some(75))
        );
        assert_eq!(strings(&inv, "version")[0].as_deref(), Some("$LATEST"));

        let got = import(
            &read_corpus("lambda-logs/issue_llrt694_init_report_timeout_console.txt"),
            None,
        );
        let ev = got.events.unwrap();
        assert_eq!(
            strings(&ev, "record_type"),
            ["INIT_START", "INIT_REPORT", "INIT_REPORT"].map(|s| Some(s.to_string()))
        );
        assert_eq!(times(&ev, "timestamp")[2], Some(1_732_012_543_372_000));
    }
}

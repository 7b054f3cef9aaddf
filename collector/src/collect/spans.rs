//! The `aws/spans` log group of CloudWatch Transaction Search: one OpenTelemetry span per event.
//!
//! A trace's spans arrive in any order across FilterLogEvents pages, so the whole window is read
//! and grouped by trace before anything is imported: the OTel importer then sees each trace
//! whole, and parents, nodes and critical paths are right. Spans whose trace started before the
//! window are fetched again by the next window's overlap; the store keeps each span once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::api::{Api, Caller};
use super::priority::{Candidate, Candidates};
use super::{Progress, Summary};
use crate::error::Result;
use crate::output::{FileCtx, Output};

/// Where CloudWatch Transaction Search stores spans.
pub const SPANS_GROUP: &str = "aws/spans";

/// The window's span lines, by W3C trace id (lines with no readable trace id under ""), and what
/// they say of each trace, read as the lines arrive.
#[derive(Debug, Default)]
pub struct SpanLines {
    pub by_trace: BTreeMap<String, Vec<String>>,
    /// Per trace: whether any span failed, and its root's duration.
    facts: BTreeMap<String, (bool, Option<f64>)>,
}

/// The fields of a span line that choose what to fetch.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "traceId")]
    trace_id: Option<String>,
    #[serde(rename = "parentSpanId")]
    parent_span_id: Option<String>,
    #[serde(rename = "durationNano")]
    duration_nano: Option<f64>,
    status: Option<Status>,
}

#[derive(Deserialize)]
struct Status {
    code: Option<serde_json::Value>,
}

impl Status {
    /// OTLP JSON writes the code as a number (2) or a name (`ERROR`, `STATUS_CODE_ERROR`).
    fn is_error(&self) -> bool {
        match &self.code {
            Some(serde_json::Value::Number(n)) => n.as_u64() == Some(2),
            Some(serde_json::Value::String(s)) => s.ends_with("ERROR"),
            _ => false,
        }
    }
}

/// Every span line of `[start, end]`, every page, grouped by trace.
pub async fn read(
    client: &aws_sdk_cloudwatchlogs::Client,
    caller: &Caller,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    summary: &mut Summary,
    progress: &dyn Progress,
) -> Result<SpanLines> {
    let mut lines = SpanLines::default();
    let mut token: Option<String> = None;
    loop {
        let page = caller
            .call(Api::FilterLogEvents, || {
                client
                    .filter_log_events()
                    .log_group_name(SPANS_GROUP)
                    .start_time(start.timestamp_millis())
                    .end_time(end.timestamp_millis())
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        for message in page.events().iter().filter_map(|e| e.message()) {
            let head = serde_json::from_str::<Head>(message).ok();
            let trace = head
                .as_ref()
                .and_then(|h| h.trace_id.clone())
                .unwrap_or_default();
            if let Some(head) = head.filter(|_| !trace.is_empty()) {
                let (failed, duration_ms) = lines.facts.entry(trace.clone()).or_default();
                *failed |= head.status.as_ref().is_some_and(Status::is_error);
                if head.parent_span_id.as_deref().is_none_or(str::is_empty) {
                    *duration_ms = head.duration_nano.map(|n| n / 1e6);
                }
            }
            lines
                .by_trace
                .entry(trace)
                .or_default()
                .push(message.to_string());
        }
        summary.span_events += page.events().len();
        progress.inc(0);
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(lines);
        }
    }
}

impl SpanLines {
    /// Imports each trace's spans together.
    pub fn import(&self, out: &mut Output<'_>) -> Result<usize> {
        let ctx = FileCtx {
            path: "FilterLogEvents aws/spans",
            log_group: Some(SPANS_GROUP),
            now: crate::output::clock_micros(),
        };
        for lines in self.by_trace.values() {
            crate::otel::import(&lines.join("\n"), &ctx, out)?;
            out.flush_full()?;
        }
        Ok(self.by_trace.keys().filter(|t| !t.is_empty()).count())
    }

    /// What the spans say of each trace: failed if any span did, its root's duration.
    pub fn candidates(&self) -> Candidates {
        let mut all = Candidates::default();
        for (trace, &(failed, duration_ms)) in &self.facts {
            all.add(Candidate {
                id: crate::otel::xray_trace_id(trace).into_owned(),
                failed,
                duration_ms,
            });
        }
        all
    }
}

//! X-Ray: GetTraceSummaries over the window (every page), then BatchGetTraces in batches of five
//! ids (the API's maximum), the documents parsed by the same code as imports.

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_xray::primitives::DateTime as AwsTime;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::task::JoinSet;

use super::api::{Api, Caller};
use super::priority::{Candidate, Candidates};
use super::{Progress, Summary};
use crate::error::Result;
use crate::output::{FileCtx, Output};

/// BatchGetTraces takes at most five trace ids.
pub const BATCH: usize = 5;
/// GetTraceSummaries refuses time ranges longer than this: longer windows are split.
const MAX_RANGE: TimeDelta = TimeDelta::hours(6);
/// Rounds of re-asking for UnprocessedTraceIds before reporting them.
const UNPROCESSED_ROUNDS: usize = 5;
/// Service type of a Lambda function in trace summaries: names the functions to get metrics of.
const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";

/// Trace summaries of the window (what matters to choose which traces to fetch first), and the
/// Lambda functions they name.
pub async fn list(
    client: &aws_sdk_xray::Client,
    caller: &Caller,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    filter: Option<&str>,
    functions: &mut BTreeSet<String>,
) -> Result<Candidates> {
    let mut ids = Candidates::default();
    let mut from = start;
    while from < end {
        let to = (from + MAX_RANGE).min(end);
        let mut token: Option<String> = None;
        loop {
            let page = caller
                .call(Api::GetTraceSummaries, || {
                    client
                        .get_trace_summaries()
                        .start_time(AwsTime::from_millis(from.timestamp_millis()))
                        .end_time(AwsTime::from_millis(to.timestamp_millis()))
                        .set_filter_expression(filter.map(str::to_string))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            for summary in page.trace_summaries() {
                if let Some(id) = summary.id() {
                    ids.add(Candidate {
                        id: id.to_string(),
                        failed: summary.has_fault().unwrap_or(false)
                            || summary.has_error().unwrap_or(false),
                        duration_ms: summary.response_time().map(|s| s * 1000.0),
                    });
                }
                for service in summary.service_ids() {
                    if let (Some(name), Some(LAMBDA_FUNCTION)) = (service.name(), service.r#type())
                    {
                        functions.insert(name.to_string());
                    }
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        from = to;
    }
    Ok(ids)
}

/// One BatchGetTraces answer, every page of it.
struct Fetched {
    ids: Vec<String>,
    /// (trace id, segment documents)
    traces: Vec<(String, Vec<String>)>,
    unprocessed: Vec<String>,
}

async fn fetch(
    client: aws_sdk_xray::Client,
    caller: Arc<Caller>,
    ids: Vec<String>,
) -> Result<Fetched> {
    let mut fetched = Fetched {
        ids,
        traces: Vec::new(),
        unprocessed: Vec::new(),
    };
    let mut token: Option<String> = None;
    loop {
        let page = caller
            .call(Api::BatchGetTraces, || {
                client
                    .batch_get_traces()
                    .set_trace_ids(Some(fetched.ids.clone()))
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        for trace in page.traces() {
            let documents = trace
                .segments()
                .iter()
                .filter_map(|s| s.document().map(str::to_string))
                .collect();
            fetched
                .traces
                .push((trace.id().unwrap_or_default().to_string(), documents));
        }
        fetched
            .unprocessed
            .extend(page.unprocessed_trace_ids().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(fetched);
        }
    }
}

/// One trace's segment documents, imported together: segments learn their caller's node.
pub fn import_documents(
    trace_id: &str,
    documents: &[String],
    ctx: &FileCtx<'_>,
    out: &mut Output<'_>,
) {
    let locations: Vec<String> = (0..documents.len())
        .map(|s| format!("trace {trace_id} Segments[{s}]"))
        .collect();
    let docs: Vec<(&str, &str)> = documents
        .iter()
        .zip(&locations)
        .map(|(d, l)| (d.as_ref(), l.as_str()))
        .collect();
    crate::xray::import_trace(&docs, ctx, out);
}

/// Fetches `ids` with at most `concurrency` requests in flight, parsing answers as they arrive.
/// Returns whether every trace was processed.
pub async fn collect(
    client: &aws_sdk_xray::Client,
    caller: &Arc<Caller>,
    ids: Vec<String>,
    concurrency: usize,
    out: &mut Output<'_>,
    summary: &mut Summary,
    progress: &dyn Progress,
) -> Result<bool> {
    let ctx = FileCtx {
        path: "BatchGetTraces",
        log_group: None,
        now: crate::output::clock_micros(),
    };
    let mut pending = ids;
    let mut found_any = false;
    let listed = pending.len();
    for round in 0..UNPROCESSED_ROUNDS {
        if pending.is_empty() {
            break;
        }
        let mut batches = pending.chunks(BATCH).map(<[String]>::to_vec);
        let mut in_flight = JoinSet::new();
        let mut unprocessed = Vec::new();
        loop {
            while in_flight.len() < concurrency.max(1) {
                let Some(batch) = batches.next() else { break };
                in_flight.spawn(fetch(client.clone(), Arc::clone(caller), batch));
            }
            let Some(done) = in_flight.join_next().await else {
                break;
            };
            let fetched = done.expect("BatchGetTraces task does not panic")?;
            let mut returned = 0;
            for (trace_id, documents) in &fetched.traces {
                found_any |= !documents.is_empty();
                returned += 1;
                import_documents(trace_id, documents, &ctx, out);
                summary.traces += 1;
            }
            unprocessed.extend(fetched.unprocessed);
            out.flush_full()?;
            progress.inc(returned);
        }
        if !unprocessed.is_empty() {
            tracing::info!(
                traces = unprocessed.len(),
                round,
                "BatchGetTraces left traces unprocessed; asking again."
            );
        }
        pending = unprocessed;
    }
    if !pending.is_empty() {
        summary.notes.push(format!(
            "X-Ray: {} traces stayed unprocessed after {UNPROCESSED_ROUNDS} rounds of BatchGetTraces (first: {}); rerun to collect them",
            pending.len(),
            pending[0]
        ));
    }
    if listed > 0 && !found_any {
        summary.notes.push(format!(
            "X-Ray: GetTraceSummaries listed {listed} traces but BatchGetTraces returned no segments. With CloudWatch Transaction Search enabled, spans live in the aws/spans log group: collect it with --log-groups aws/spans"
        ));
    }
    Ok(pending.is_empty())
}

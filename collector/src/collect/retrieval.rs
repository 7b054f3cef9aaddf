//! Whole traces in the Transaction Search world: StartTraceRetrieval for a batch of ids, then
//! ListRetrievedTraces (XRAY format: the BatchGetTraces documents, read by the same parser) until
//! the retrieval is COMPLETE, every page of it.
//!
//! A retrieval answers nothing while SCHEDULED or RUNNING, so it is polled with a growing pause;
//! a token expires after 60 minutes ("Retrievals will time out after 60 minutes",
//! API_StartTraceRetrieval): a retrieval that expires, fails or is cancelled is started once
//! more, then its ids are reported.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_xray::primitives::DateTime as AwsTime;
use aws_sdk_xray::types::{RetrievalStatus, TraceFormatType};
use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use super::api::{Api, Caller};
use super::{Progress, Summary};
use crate::error::Result;
use crate::output::{FileCtx, Output};

/// Trace ids per StartTraceRetrieval (TraceIdListForRetrieval holds at most 100: the X-Ray API
/// reference and its service model).
pub const RETRIEVAL_BATCH: usize = 100;
/// Polls of one retrieval before it counts as timed out (with [`POLL_PAUSE`] growing to 5 s:
/// about ten minutes).
const MAX_POLLS: u32 = 130;
/// First pause between polls of a running retrieval.
const POLL_PAUSE: Duration = Duration::from_millis(200);
/// Starts of one batch: the first, and one more after an expiry or failure.
const STARTS: usize = 2;

/// One batch's outcome: its traces' documents, or why it has none.
struct Retrieved {
    ids: Vec<String>,
    traces: Vec<(String, Vec<String>)>,
    /// Set when the retrieval did not complete: the last status seen.
    failed: Option<String>,
}

async fn retrieve(
    client: aws_sdk_xray::Client,
    caller: Arc<Caller>,
    ids: Vec<String>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Retrieved> {
    let mut last = String::new();
    for _ in 0..STARTS {
        let started = caller
            .call(Api::StartTraceRetrieval, || {
                client
                    .start_trace_retrieval()
                    .set_trace_ids(Some(ids.clone()))
                    .start_time(AwsTime::from_millis(start.timestamp_millis()))
                    .end_time(AwsTime::from_millis(end.timestamp_millis()))
                    .send()
            })
            .await?;
        let Some(token) = started.retrieval_token().map(str::to_string) else {
            last = "no RetrievalToken in the answer".into();
            continue;
        };
        match poll(&client, &caller, &token).await? {
            Ok(traces) => {
                return Ok(Retrieved {
                    ids,
                    traces,
                    failed: None,
                });
            }
            Err(status) => last = status,
        }
    }
    Ok(Retrieved {
        ids,
        traces: Vec::new(),
        failed: Some(last),
    })
}

/// The traces of a retrieval once COMPLETE, or the status it ended in.
async fn poll(
    client: &aws_sdk_xray::Client,
    caller: &Caller,
    token: &str,
) -> Result<std::result::Result<Vec<(String, Vec<String>)>, String>> {
    let mut traces = Vec::new();
    let mut next: Option<String> = None;
    let mut pause = POLL_PAUSE;
    let mut polls = 0;
    loop {
        let page = caller
            .call(Api::ListRetrievedTraces, || {
                client
                    .list_retrieved_traces()
                    .retrieval_token(token)
                    .trace_format(TraceFormatType::Xray)
                    .set_next_token(next.clone())
                    .send()
            })
            .await;
        let page = match page {
            Ok(page) => page,
            // An expired or unknown token: the retrieval is started again.
            Err(crate::Error::Aws { source, .. }) if is_gone(source.as_ref()) => {
                return Ok(Err("expired".into()));
            }
            Err(e) => return Err(e),
        };
        match page.retrieval_status() {
            Some(RetrievalStatus::Complete) => {}
            Some(RetrievalStatus::Scheduled | RetrievalStatus::Running) | None => {
                polls += 1;
                if polls >= MAX_POLLS {
                    return Ok(Err("still RUNNING after ten minutes".into()));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
            Some(other) => return Ok(Err(other.as_str().to_string())),
        }
        for trace in page.traces() {
            let documents = trace
                .spans()
                .iter()
                .filter_map(|s| s.document().map(str::to_string))
                .collect();
            traces.push((trace.id().unwrap_or_default().to_string(), documents));
        }
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            return Ok(Ok(traces));
        }
    }
}

/// Whether a failed call says the retrieval token is no longer known (expired or never issued).
fn is_gone(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    let text = aws_sdk_xray::error::DisplayErrorContext(error).to_string();
    text.contains("ResourceNotFoundException") || text.contains("expired")
}

/// Retrieves `ids` with at most `concurrency` retrievals in flight, importing traces as they
/// arrive. Returns whether every batch completed.
#[allow(clippy::too_many_arguments)]
pub async fn collect(
    client: &aws_sdk_xray::Client,
    caller: &Arc<Caller>,
    ids: Vec<String>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    concurrency: usize,
    out: &mut Output<'_>,
    summary: &mut Summary,
    progress: &dyn Progress,
) -> Result<bool> {
    let ctx = FileCtx {
        path: "ListRetrievedTraces",
        log_group: None,
        now: crate::output::clock_micros(),
    };
    let mut batches = ids.chunks(RETRIEVAL_BATCH).map(<[String]>::to_vec);
    let mut in_flight = JoinSet::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    loop {
        while in_flight.len() < concurrency.max(1) {
            let Some(batch) = batches.next() else { break };
            in_flight.spawn(retrieve(
                client.clone(),
                Arc::clone(caller),
                batch,
                start,
                end,
            ));
        }
        let Some(done) = in_flight.join_next().await else {
            break;
        };
        let retrieved = done.expect("retrieval task does not panic")?;
        if let Some(status) = retrieved.failed {
            failed.extend(retrieved.ids.into_iter().map(|id| (id, status.clone())));
            continue;
        }
        for (trace_id, documents) in &retrieved.traces {
            super::xray::import_documents(trace_id, documents, &ctx, out);
            summary.traces += 1;
        }
        out.flush_full()?;
        progress.inc(retrieved.traces.len() as u64);
    }
    if let Some((first, status)) = failed.first() {
        summary.notes.push(format!(
            "X-Ray: the retrieval of {} traces did not complete ({status}; first: {first}); rerun to collect them",
            failed.len()
        ));
    }
    Ok(failed.is_empty())
}

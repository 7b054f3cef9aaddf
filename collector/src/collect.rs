//! `hopscope collect`: X-Ray traces, CloudWatch Logs events and CloudWatch metrics of a time
//! window, from AWS into the store, through the same parsers as `hopscope import`.
//!
//! Each source (`xray`, `logs:<group>`, `metrics`) is collected whole, flushed to the store, then
//! checkpointed ([`checkpoint`]); the store drops rows it already holds, so re-reading a window
//! after a crash, or the overlap kept for late data, adds nothing twice.

pub mod api;
pub mod checkpoint;
pub mod functions;
mod logs;
mod metrics;
pub mod priority;
mod retrieval;
pub mod spans;
mod xray;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

pub use api::{Api, ApiStats, Caller};
// The policy `Caller::new` takes, where its callers look for it.
pub use crate::lambda_functions::LAMBDA_PREFIX;
pub use crate::retry::RetryPolicy;
pub use metrics::{MAX_QUERIES, SERIES, SERVICE_SERIES};
pub use retrieval::RETRIEVAL_BATCH;
pub use spans::SPANS_GROUP;
pub use xray::BATCH;

use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::output::{Output, Rejection};
use hopscope_schema::Origin;
use hopscope_schema::trace_coverage::{TraceCoverageRow, world as coverage_world};
use hopscope_store::{Store, StoreWriter};
use priority::{Candidate, Candidates};

/// Where traces are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceSource {
    /// Ask GetTraceSegmentDestination which world the account is in.
    #[default]
    Auto,
    /// The classic world: GetTraceSummaries, then BatchGetTraces.
    XRay,
    /// The spans of `aws/spans` themselves (OpenTelemetry), grouped by trace.
    Spans,
}

/// Which trace world a collection found the account in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// Segments go to X-Ray: every trace through BatchGetTraces.
    XRay,
    /// CloudWatch Transaction Search: spans in `aws/spans`, only an indexed share summarized,
    /// whole traces through StartTraceRetrieval.
    TransactionSearch,
    /// `--traces spans`: the OTel spans of `aws/spans` are the traces.
    Spans,
}

impl World {
    /// As the `trace_coverage` table names it.
    pub fn name(self) -> &'static str {
        match self {
            World::XRay => coverage_world::XRAY,
            World::TransactionSearch => coverage_world::TRANSACTION_SEARCH,
            World::Spans => coverage_world::SPANS,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            World::XRay => "X-Ray (segments sent to X-Ray)",
            World::TransactionSearch => "Transaction Search (spans in aws/spans)",
            World::Spans => "aws/spans read as OpenTelemetry spans",
        }
    }
}

/// What to collect.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Glob (`*`, `?`) on Lambda function names: which log groups and metrics to collect.
    pub functions: Option<String>,
    /// Log groups to read; empty: every function's log group (its `LoggingConfig.LogGroup`)
    /// and every `/aws/lambda/*` group, of the functions matching `functions`.
    pub log_groups: Vec<String>,
    /// X-Ray filter expression, passed to GetTraceSummaries as it is.
    pub xray_filter: Option<String>,
    pub traces: TraceSource,
    /// Whole traces fetched at most per window in the Transaction Search world, chosen by
    /// [`Candidates::prioritized`].
    pub trace_budget: usize,
    /// How far before a checkpoint a rerun starts again: X-Ray indexes traces minutes late.
    pub overlap: TimeDelta,
    /// BatchGetTraces requests (or trace retrievals) in flight at once.
    pub concurrency: usize,
    /// Rows per table buffered before a batch is written.
    pub batch_rows: usize,
}

impl CollectOptions {
    /// Whether `function` is one `functions` selects (all when there is no pattern).
    pub fn wants(&self, function: &str) -> bool {
        self.functions
            .as_ref()
            .is_none_or(|p| glob_match(p, function))
    }

    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self {
            start,
            end,
            functions: None,
            log_groups: Vec::new(),
            xray_filter: None,
            traces: TraceSource::Auto,
            trace_budget: 10_000,
            overlap: TimeDelta::minutes(5),
            concurrency: 4,
            batch_rows: 64 * 1024,
        }
    }
}

/// A source left out of a collection, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// What was not collected (`Lambda functions`, `log group /x`, ...).
    pub source: String,
    pub reason: String,
    /// The IAM action that would allow it, when a denial was the reason.
    pub action: Option<String>,
}

/// What a collection did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub apis: BTreeMap<Api, ApiStats>,
    /// The account and Region collected from.
    pub origin: Origin,
    /// The trace world the traces were read in (always set by [`collect`]).
    pub world: Option<World>,
    /// Traces imported whole.
    pub traces: usize,
    /// Distinct traces the window was seen to hold (summaries, REPORT lines, spans): `traces`
    /// of them were fetched. Equal unless the budget or a failure left some out.
    pub traces_seen: usize,
    /// Function version configurations read (rows offered to `lambda_functions`).
    pub function_configurations: usize,
    pub log_groups: usize,
    pub log_events: usize,
    /// Events of `aws/spans` read (one span each).
    pub span_events: usize,
    /// Functions whose metrics were asked for.
    pub functions: Vec<String>,
    /// Metric series asked for (Lambda's per function, and the other services' ListMetrics
    /// found).
    pub metric_series: usize,
    /// Sources skipped because their checkpoint already covers the window.
    pub up_to_date: Vec<String>,
    /// Sources left out, with the reason and the permission to add.
    pub skipped: Vec<Skipped>,
    /// Things the user should know: partial answers, forbidden metrics, unprocessed traces.
    pub notes: Vec<String>,
    pub records: usize,
    pub rejected: usize,
    pub rejections: Vec<Rejection>,
    pub elapsed: Duration,
}

impl Summary {
    /// Records `source` as skipped when `result` is a denial; other errors stop the run.
    fn denied<T>(&mut self, source: &str, result: Result<T>) -> Result<Option<T>> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(Error::AccessDenied {
                operation,
                action,
                message,
            }) => {
                self.skipped.push(Skipped {
                    source: source.to_string(),
                    reason: format!("{operation} was denied: {message}"),
                    action: Some(action),
                });
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Progress of a run, shown as a bar on a terminal or as log lines.
pub trait Progress: Sync {
    /// A new stage (`X-Ray`, a log group, metrics) with its expected count of items (0: unknown).
    fn stage(&self, name: &str, total: u64);
    fn inc(&self, n: u64);
}

/// Progress that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
}

/// Collects the window of `opts` into the store through `writer`: Lambda functions first (they
/// name the log groups), then logs (their REPORT lines name traces), then traces, then metrics.
pub async fn collect(
    clients: &Clients,
    caller: &Arc<Caller>,
    store: &Store,
    writer: &mut StoreWriter,
    opts: &CollectOptions,
    progress: &dyn Progress,
) -> Result<Summary> {
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut out = Output::new(writer, opts.batch_rows);
    let origin = origin(clients, caller, &mut summary).await?;
    out.set_origin(&origin);
    summary.origin = origin.clone();
    // Checkpoints are kept per account and Region: one store holds several.
    let scoped = |source: &str| scoped_source(source, &origin);

    progress.stage("Lambda functions", 0);
    let discovered = functions::discover(
        &clients.lambda,
        caller,
        crate::output::clock_micros(),
        &mut out,
        &mut summary.function_configurations,
    )
    .await;
    let discovered = summary.denied("Lambda functions and their custom log groups", discovered)?;
    out.flush_all()?;
    let mut functions: BTreeSet<String> = discovered
        .iter()
        .flatten()
        .map(|f| f.name.clone())
        .filter(|f| opts.wants(f))
        .collect();

    let (groups, read_spans) =
        log_groups(clients, caller, opts, discovered.as_deref(), &mut summary).await?;
    summary.log_groups = groups.len();
    out.trace_hints = Some(Vec::new());
    for group in &groups {
        if let Some(function) = group.strip_prefix(LAMBDA_PREFIX) {
            functions.insert(function.to_string());
        }
        let source = scoped(&format!("logs:{group}"));
        let saved = checkpoint::load(store, &source)?;
        let Some((start, end)) = checkpoint::remaining(saved, opts.start, opts.end, opts.overlap)
        else {
            summary.up_to_date.push(source);
            continue;
        };
        progress.stage(group, 0);
        let read = logs::collect(
            &clients.logs,
            caller,
            group,
            start,
            end,
            &mut out,
            &mut summary,
            progress,
        )
        .await;
        if summary
            .denied(&format!("log group {group}"), read)?
            .is_some()
        {
            out.flush_all()?;
            checkpoint::save(store, &source, &checkpoint::extend(saved, start, end))?;
        }
    }
    let hints = out.trace_hints.take().unwrap_or_default();

    let source = if read_spans {
        TraceSource::Spans
    } else {
        opts.traces
    };
    let world = match source {
        TraceSource::XRay => World::XRay,
        TraceSource::Spans => World::Spans,
        TraceSource::Auto => {
            let found = detect_world(&clients.xray, caller).await;
            summary
                .denied("the trace world (assumed X-Ray)", found)?
                .unwrap_or(World::XRay)
        }
    };
    summary.world = Some(world);
    let checkpoint_name = scoped(if world == World::Spans {
        "spans"
    } else {
        "xray"
    });
    let saved = checkpoint::load(store, &checkpoint_name)?;
    match checkpoint::remaining(saved, opts.start, opts.end, opts.overlap) {
        None => summary.up_to_date.push(checkpoint_name.clone()),
        Some((start, end)) => {
            let (seen_before, held_before) = (summary.traces_seen, summary.traces);
            let complete = match world {
                World::XRay => {
                    classic(
                        clients,
                        caller,
                        start,
                        end,
                        opts,
                        &mut functions,
                        &mut out,
                        &mut summary,
                        progress,
                    )
                    .await
                }
                World::TransactionSearch => {
                    transaction_search(
                        clients,
                        caller,
                        start,
                        end,
                        opts,
                        hints,
                        &mut functions,
                        &mut out,
                        &mut summary,
                        progress,
                    )
                    .await
                }
                World::Spans => {
                    progress.stage("aws/spans", 0);
                    match spans::read(&clients.logs, caller, start, end, &mut summary, progress)
                        .await
                    {
                        Ok(lines) => lines.import(&mut out).map(|n| {
                            summary.traces += n;
                            summary.traces_seen += n;
                            true
                        }),
                        Err(e) => Err(e),
                    }
                }
            };
            let complete = summary.denied("traces", complete)?.unwrap_or(false);
            if complete {
                // In the same flush as the traces, before the checkpoint: a window is covered
                // once, by the run that completed it.
                out.coverage.append(&TraceCoverageRow {
                    window_start: start.timestamp_micros(),
                    window_end: end.timestamp_micros(),
                    world: world.name(),
                    traces_seen: (summary.traces_seen - seen_before) as i64,
                    traces_held: (summary.traces - held_before) as i64,
                });
            }
            out.flush_all()?;
            if complete {
                checkpoint::save(
                    store,
                    &checkpoint_name,
                    &checkpoint::extend(saved, start, end),
                )?;
            }
        }
    }

    summary.functions = functions.into_iter().filter(|f| opts.wants(f)).collect();
    let metrics_source = scoped("metrics");
    let saved = checkpoint::load(store, &metrics_source)?;
    match checkpoint::remaining(saved, opts.start, opts.end, opts.overlap) {
        None => summary.up_to_date.push(metrics_source.clone()),
        Some((start, end)) => {
            progress.stage("CloudWatch metrics", 0);
            let mut series = metrics::lambda_series(&summary.functions);
            let listed = metrics::service_series(&clients.cloudwatch, caller).await;
            if let Some(mut listed) = summary.denied(
                "metrics of API Gateway, SQS, DynamoDB, Step Functions and RDS",
                listed,
            )? {
                if listed.len() > metrics::MAX_SERVICE_SERIES {
                    summary.notes.push(format!(
                        "CloudWatch: ListMetrics lists {} series of other services; the first {} (by namespace, metric, dimensions) were fetched",
                        listed.len(),
                        metrics::MAX_SERVICE_SERIES
                    ));
                    listed.truncate(metrics::MAX_SERVICE_SERIES);
                }
                series.extend(listed);
            }
            summary.metric_series = series.len();
            let complete = metrics::collect(
                &clients.cloudwatch,
                caller,
                &series,
                start,
                end,
                &mut out,
                &mut summary,
            )
            .await;
            let complete = summary
                .denied("CloudWatch metrics", complete)?
                .unwrap_or(false);
            out.flush_all()?;
            if complete {
                checkpoint::save(
                    store,
                    &metrics_source,
                    &checkpoint::extend(saved, start, end),
                )?;
            }
        }
    }

    summary.records = out.records;
    summary.rejected = out.rejected();
    summary.rejections = out.rejections().to_vec();
    summary.apis = caller.stats();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The account (GetCallerIdentity) and Region the clients reach.
async fn origin(clients: &Clients, caller: &Caller, summary: &mut Summary) -> Result<Origin> {
    let identity = caller
        .call(Api::GetCallerIdentity, || {
            clients.sts.get_caller_identity().send()
        })
        .await;
    let identity = summary.denied("the account id of rows (left empty)", identity)?;
    Ok(Origin {
        account_id: identity.and_then(|i| i.account().map(str::to_string)),
        region: clients.region.clone(),
    })
}

/// A checkpoint name for `source` in the account and Region of `origin`: `xray@123456789012/eu-west-1`.
fn scoped_source(source: &str, origin: &Origin) -> String {
    match (&origin.account_id, &origin.region) {
        (None, None) => source.to_string(),
        (account, region) => format!(
            "{source}@{}/{}",
            account.as_deref().unwrap_or("-"),
            region.as_deref().unwrap_or("-")
        ),
    }
}

/// The log groups to read, and whether `aws/spans` was named among them (then it is read as the
/// traces, whole, rather than as logs).
async fn log_groups(
    clients: &Clients,
    caller: &Caller,
    opts: &CollectOptions,
    discovered: Option<&[functions::Function]>,
    summary: &mut Summary,
) -> Result<(Vec<String>, bool)> {
    if !opts.log_groups.is_empty() {
        let read_spans = opts.log_groups.iter().any(|g| g == SPANS_GROUP);
        let groups = opts
            .log_groups
            .iter()
            .filter(|g| *g != SPANS_GROUP)
            .cloned()
            .collect();
        return Ok((groups, read_spans));
    }
    let mut groups: BTreeSet<String> = discovered
        .into_iter()
        .flatten()
        .filter(|f| opts.wants(&f.name))
        .map(|f| f.log_group.clone())
        .collect();
    // Groups of functions ListFunctions no longer lists (deleted, or the listing was denied).
    let named = logs::discover(&clients.logs, caller, LAMBDA_PREFIX).await;
    if let Some(named) = summary.denied("/aws/lambda/* log groups", named)? {
        groups.extend(
            named
                .into_iter()
                .filter(|g| g.strip_prefix(LAMBDA_PREFIX).is_none_or(|f| opts.wants(f))),
        );
    }
    Ok((groups.into_iter().collect(), false))
}

/// Which world the account's segments go to (GetTraceSegmentDestination).
async fn detect_world(client: &aws_sdk_xray::Client, caller: &Caller) -> Result<World> {
    use aws_sdk_xray::types::TraceSegmentDestination;
    let answer = caller
        .call(Api::GetTraceSegmentDestination, || {
            client.get_trace_segment_destination().send()
        })
        .await?;
    Ok(match answer.destination() {
        Some(TraceSegmentDestination::CloudWatchLogs) => World::TransactionSearch,
        _ => World::XRay,
    })
}

/// The classic world: every summarized trace through BatchGetTraces.
#[allow(clippy::too_many_arguments)]
async fn classic(
    clients: &Clients,
    caller: &Arc<Caller>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    opts: &CollectOptions,
    functions: &mut BTreeSet<String>,
    out: &mut Output<'_>,
    summary: &mut Summary,
    progress: &dyn Progress,
) -> Result<bool> {
    progress.stage("X-Ray trace summaries", 0);
    let listed = xray::list(
        &clients.xray,
        caller,
        start,
        end,
        opts.xray_filter.as_deref(),
        functions,
    )
    .await?;
    let ids = listed.ids();
    tracing::info!(traces = ids.len(), %start, %end, "Listed trace summaries.");
    summary.traces_seen += ids.len();
    progress.stage("X-Ray traces", ids.len() as u64);
    xray::collect(
        &clients.xray,
        caller,
        ids,
        opts.concurrency,
        out,
        summary,
        progress,
    )
    .await
}

/// The Transaction Search world: trace ids from the indexed summaries, the REPORT lines and
/// `aws/spans`; the most telling `trace_budget` of them retrieved whole.
#[allow(clippy::too_many_arguments)]
async fn transaction_search(
    clients: &Clients,
    caller: &Arc<Caller>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    opts: &CollectOptions,
    hints: Vec<crate::output::TraceHint>,
    functions: &mut BTreeSet<String>,
    out: &mut Output<'_>,
    summary: &mut Summary,
    progress: &dyn Progress,
) -> Result<bool> {
    progress.stage("X-Ray trace summaries (indexed share)", 0);
    let mut candidates = xray::list(
        &clients.xray,
        caller,
        start,
        end,
        opts.xray_filter.as_deref(),
        functions,
    )
    .await?;
    let indexed = candidates.len();
    for hint in hints {
        candidates.add(Candidate {
            id: hint.trace_id,
            failed: hint.failed,
            duration_ms: hint.duration_ms,
        });
    }
    progress.stage("aws/spans (trace ids)", 0);
    let read = spans::read(&clients.logs, caller, start, end, summary, progress).await;
    if let Some(lines) = summary.denied("trace ids of aws/spans", read)? {
        candidates.extend(lines.candidates());
    }
    let chosen = choose(&candidates, opts.trace_budget, indexed, summary);
    progress.stage("X-Ray trace retrievals", chosen.len() as u64);
    retrieval::collect(
        &clients.xray,
        caller,
        chosen,
        start,
        end,
        opts.concurrency,
        out,
        summary,
        progress,
    )
    .await
}

/// The ids to retrieve under the budget, with a note when some are left out.
fn choose(
    candidates: &Candidates,
    budget: usize,
    indexed: usize,
    summary: &mut Summary,
) -> Vec<String> {
    let chosen = candidates.prioritized(budget);
    summary.traces_seen += candidates.len();
    tracing::info!(
        seen = candidates.len(),
        indexed,
        chosen = chosen.len(),
        "Chose traces to retrieve."
    );
    if chosen.len() < candidates.len() {
        summary.notes.push(format!(
            "X-Ray: the window holds {} traces; {} were retrieved ({:.1}%: every failed one, then the slowest, then a uniform sample); raise --trace-budget to hold more",
            candidates.len(),
            chosen.len(),
            100.0 * chosen.len() as f64 / candidates.len() as f64
        ));
    }
    chosen
}

/// `*` matches any run of characters, `?` any one; everything else itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Classic iterative matcher with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("orders-*", "orders-api", true)]
    #[case("orders-*", "users-api", false)]
    #[case("*-api", "users-api", true)]
    #[case("u?ers*", "users-create", true)]
    #[case("exact", "exact", true)]
    #[case("exact", "exactly", false)]
    #[case("*", "", true)]
    fn glob(#[case] pattern: &str, #[case] text: &str, #[case] expected: bool) {
        assert_eq!(glob_match(pattern, text), expected);
    }
}

//! `hopscope collect`: X-Ray traces, CloudWatch Logs events and CloudWatch metrics of a time
//! window, from AWS into the store, through the same parsers as `hopscope import`.
//!
//! Each source (`xray`, `logs:<group>`, `metrics`) is collected whole, flushed to the store, then
//! checkpointed ([`checkpoint`]); the store drops rows it already holds, so re-reading a window
//! after a crash, or the overlap kept for late data, adds nothing twice.

pub mod api;
pub mod checkpoint;
mod logs;
mod metrics;
mod xray;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

pub use api::{Api, ApiStats, Caller};
// The policy `Caller::new` takes, where its callers look for it.
pub use crate::retry::RetryPolicy;
pub use logs::{LAMBDA_PREFIX, SPANS_GROUP};
pub use metrics::{MAX_QUERIES, SERIES};
pub use xray::BATCH;

use crate::aws::Clients;
use crate::error::Result;
use crate::output::{Output, Rejection};
use crate::store::{Store, StoreWriter};

/// What to collect.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Glob (`*`, `?`) on Lambda function names: which log groups and metrics to collect.
    pub functions: Option<String>,
    /// Log groups to read; empty: every `/aws/lambda/*` group (matching `functions`).
    pub log_groups: Vec<String>,
    /// X-Ray filter expression, passed to GetTraceSummaries as it is.
    pub xray_filter: Option<String>,
    /// How far before a checkpoint a rerun starts again: X-Ray indexes traces minutes late.
    pub overlap: TimeDelta,
    /// BatchGetTraces requests in flight at once.
    pub concurrency: usize,
    /// Rows per table buffered before a batch is written.
    pub batch_rows: usize,
}

impl CollectOptions {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self {
            start,
            end,
            functions: None,
            log_groups: Vec::new(),
            xray_filter: None,
            overlap: TimeDelta::minutes(5),
            concurrency: 4,
            batch_rows: 64 * 1024,
        }
    }
}

/// What a collection did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub apis: BTreeMap<Api, ApiStats>,
    /// Traces returned by BatchGetTraces.
    pub traces: usize,
    pub log_groups: usize,
    pub log_events: usize,
    /// Functions whose metrics were asked for.
    pub functions: Vec<String>,
    /// Sources skipped because their checkpoint already covers the window.
    pub up_to_date: Vec<String>,
    /// Things the user should know: partial answers, forbidden metrics, unprocessed traces.
    pub notes: Vec<String>,
    pub records: usize,
    pub rejected: usize,
    pub rejections: Vec<Rejection>,
    pub elapsed: Duration,
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

/// Collects the window of `opts` into the store through `writer`.
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
    let mut functions = BTreeSet::new();
    let mut out = Output::new(writer, opts.batch_rows);

    const XRAY: &str = "xray";
    let saved = checkpoint::load(store, XRAY)?;
    match checkpoint::remaining(saved, opts.start, opts.end, opts.overlap) {
        None => summary.up_to_date.push(XRAY.into()),
        Some((start, end)) => {
            progress.stage("X-Ray trace summaries", 0);
            let ids = xray::list(
                &clients.xray,
                caller,
                start,
                end,
                opts.xray_filter.as_deref(),
                &mut functions,
            )
            .await?;
            tracing::info!(traces = ids.len(), %start, %end, "Listed trace summaries.");
            progress.stage("X-Ray traces", ids.len() as u64);
            let complete = xray::collect(
                &clients.xray,
                caller,
                ids,
                opts.concurrency,
                &mut out,
                &mut summary,
                progress,
            )
            .await?;
            out.flush_all()?;
            if complete {
                checkpoint::save(store, XRAY, &checkpoint::extend(saved, start, end))?;
            }
        }
    }

    let groups = if opts.log_groups.is_empty() {
        progress.stage("Discovering log groups", 0);
        logs::discover(&clients.logs, caller, LAMBDA_PREFIX).await?
    } else {
        opts.log_groups.clone()
    };
    let groups: Vec<String> = groups
        .into_iter()
        .filter(|g| match (g.strip_prefix(LAMBDA_PREFIX), &opts.functions) {
            (Some(function), Some(pattern)) => glob_match(pattern, function),
            _ => true,
        })
        .collect();
    summary.log_groups = groups.len();
    for group in &groups {
        if let Some(function) = group.strip_prefix(LAMBDA_PREFIX) {
            functions.insert(function.to_string());
        }
        let source = format!("logs:{group}");
        let saved = checkpoint::load(store, &source)?;
        let Some((start, end)) = checkpoint::remaining(saved, opts.start, opts.end, opts.overlap)
        else {
            summary.up_to_date.push(source);
            continue;
        };
        progress.stage(group, 0);
        logs::collect(
            &clients.logs,
            caller,
            group,
            start,
            end,
            &mut out,
            &mut summary,
            progress,
        )
        .await?;
        out.flush_all()?;
        checkpoint::save(store, &source, &checkpoint::extend(saved, start, end))?;
    }

    summary.functions = functions
        .into_iter()
        .filter(|f| opts.functions.as_ref().is_none_or(|p| glob_match(p, f)))
        .collect();
    const METRICS: &str = "metrics";
    let saved = checkpoint::load(store, METRICS)?;
    match checkpoint::remaining(saved, opts.start, opts.end, opts.overlap) {
        None => summary.up_to_date.push(METRICS.into()),
        Some(_) if summary.functions.is_empty() => {}
        Some((start, end)) => {
            progress.stage("CloudWatch metrics", 0);
            let functions = summary.functions.clone();
            let complete = metrics::collect(
                &clients.cloudwatch,
                caller,
                &functions,
                start,
                end,
                &mut out,
                &mut summary,
            )
            .await?;
            out.flush_all()?;
            if complete {
                checkpoint::save(store, METRICS, &checkpoint::extend(saved, start, end))?;
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

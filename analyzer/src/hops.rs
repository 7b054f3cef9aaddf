//! Slow hops: which caller -> callee edge is responsible for the latency users saw.
//!
//! Every span carries its own critical-path time (`critical_ms`) and the hop it belongs to
//! (`hop_caller -> service`), both computed at ingest (see the collector's `critical_path`).
//! A hop's responsibility is then the sum of its spans' critical time: the time the trace's root
//! waited on that hop's own work, not on what the hop itself waited for downstream. Ranking is
//! one `GROUP BY` over `spans`, with no join and no tree walk at query time.
//!
//! With a baseline (by default the same length of time just before the window) hops are ranked
//! by how much critical time per trace they added; without one, by the critical time they hold.

use std::collections::HashMap;

use hopscope_schema::spans::{TABLE as SPANS, col as s, kind};
use serde::Serialize;

use crate::error::Result;
use crate::hdr::{HDR_COUNT, HDR_HISTOGRAM, HDR_QUANTILE};
use crate::session::Session;
use crate::top_n::TOP_N;
pub use crate::window::Window;

/// The SQL view of hops over everything in the store (no window, no baseline).
pub const HOPS: &str = "hops";

mod detail;
mod tally;
pub use detail::{Bucket, HISTOGRAM_BUCKETS, HopDetail, Percentile};
pub(crate) use tally::{coarsen, summarize, timed_out};

/// Lambda's own subsegments of a function segment, as the Lambda runtime names them.
const INIT_SUBSEGMENTS_LIST: [&str; 2] = ["Initialization", "Restore"];
const INIT_SUBSEGMENTS: &str = "('Initialization', 'Restore')";
/// What the Lambda runtime logs, and X-Ray records as the cause, when a function times out.
pub(crate) const TIMEOUT_MESSAGE: &str = "Task timed out";
const OVERHEAD_SUBSEGMENT: &str = "Overhead";
pub(crate) const LAMBDA_SERVICE: &str = "AWS::Lambda";
pub(crate) const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";

/// What to compare the window with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// The same length of time just before the window.
    Preceding,
    Window(Window),
    Off,
}

impl Baseline {
    /// The baseline window of `window`, if any.
    pub fn of(self, window: Window) -> Option<Window> {
        match self {
            Baseline::Preceding => Some(window.preceding()),
            Baseline::Window(w) => Some(w),
            Baseline::Off => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HopQuery {
    /// `None`: the last hour of data in the store.
    pub window: Option<Window>,
    pub baseline: Baseline,
    /// How many trace ids to give per hop as evidence, slowest (most critical time) first.
    pub slowest_traces: usize,
    /// Buckets of the per-hop p99 series over the window (0: no series).
    pub series_buckets: usize,
}

impl Default for HopQuery {
    fn default() -> Self {
        HopQuery {
            window: None,
            baseline: Baseline::Preceding,
            slowest_traces: 3,
            series_buckets: 0,
        }
    }
}

/// Hops of a window, ranked: index 0 is the hop that added the most latency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HopReport {
    pub window: Window,
    pub baseline: Option<Window>,
    /// Traces that started in the window (root spans).
    pub traces: i64,
    pub baseline_traces: i64,
    pub hops: Vec<Hop>,
    /// What share of the window's traces the store holds, when collections recorded it.
    pub coverage: Option<crate::coverage::Coverage>,
    /// Data files read whole because they have no summary in `hops_1m` (a store written before
    /// rollups, or a run killed between the two files): `hopscope store rebuild-rollups`.
    #[serde(skip)]
    pub unsummarized_files: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    /// `None`: the client that called the trace's entry point.
    pub caller: Option<String>,
    pub callee: String,
    pub callee_type: Option<String>,
    pub now: HopStats,
    /// The same hop in the baseline window, when it was seen there.
    pub before: Option<HopStats>,
    /// Critical time per trace now minus in the baseline (all of it when there is no baseline).
    pub added_ms_per_trace: f64,
    pub slowest_traces: Vec<SlowTrace>,
    /// p99 of the hop's calls per bucket of the window (`None`: no call in that bucket).
    pub p99_series: Vec<Option<f64>>,
}

/// A trace where the hop held much of the critical path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowTrace {
    pub trace_id: String,
    pub critical_ms: f64,
}

/// One hop over one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HopStats {
    /// Calls of the hop (spans where the trace entered the callee from the caller).
    pub requests: i64,
    /// Traces the hop appears in.
    pub traces: i64,
    /// The hop's own time on the critical paths of the window's traces.
    pub critical_ms: f64,
    /// `critical_ms` over the window's traces.
    pub critical_ms_per_trace: f64,
    /// `critical_ms` as a fraction of all critical time in the window.
    pub share: f64,
    /// Of `critical_ms`: Lambda initialization (cold starts, SnapStart restores).
    pub init_ms: f64,
    /// Of `critical_ms`: the function's own code and anything else of the callee's.
    pub handler_ms: f64,
    /// Of `critical_ms`: the Lambda service (invoke, queueing) and the runtime's overhead.
    pub overhead_ms: f64,
    /// Critical time of the hops this callee called (not part of `critical_ms`).
    pub downstream_ms: f64,
    /// Percentiles of the calls' durations, calls that never answered counted at the time
    /// their caller waited (see `censored`).
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Calls with a duration: what the percentiles are taken over.
    pub samples: i64,
    /// Of `samples`: calls that never answered (counted at the time their caller waited) and
    /// Lambda invocations that timed out (counted at the timeout): their real duration is
    /// longer.
    pub censored: i64,
    /// Below CloudWatch's significance bound (`10 / (1 - p)` samples): the percentile is set
    /// by a few calls. See [`crate::significance`].
    pub p50_low_sample: bool,
    pub p90_low_sample: bool,
    pub p99_low_sample: bool,
    /// 4xx answers other than throttles.
    pub errors: i64,
    pub throttles: i64,
    /// 5xx answers.
    pub faults: i64,
    /// Calls that never answered, and Lambda invocations that timed out.
    pub timeouts: i64,
    pub cold_starts: i64,
    /// Lambda function invocations (function segments); 0 for other callees.
    pub invocations: i64,
    pub cold_start_ratio: Option<f64>,
}

impl HopReport {
    pub async fn load(session: &Session, q: &HopQuery) -> Result<HopReport> {
        let window = crate::window::or_last_hour(session, q.window).await?;
        let baseline = q.baseline.of(window);
        // One tally of the window, the baseline and each bucket of the p99 series.
        let buckets = series_buckets(window, q.series_buckets);
        let windows: Vec<Window> = std::iter::once(window)
            .chain(baseline)
            .chain(buckets.iter().copied())
            .collect();
        let (periods, unsummarized_files) =
            tally::tally(session, &windows, q.slowest_traces).await?;
        let mut periods = periods.into_iter();
        let now = periods.next().unwrap_or_default();
        let before = if baseline.is_some() {
            periods.next().unwrap_or_default()
        } else {
            Period::default()
        };
        let mut series = p99_series(periods);
        let (traces, baseline_traces) = (now.traces, before.traces);
        let mut before: HashMap<(Option<String>, String), HopStats> = before
            .hops
            .into_iter()
            .map(|r| ((r.caller, r.callee), r.stats))
            .collect();
        let mut hops: Vec<Hop> = now
            .hops
            .into_iter()
            .map(|r| {
                let before = before.remove(&(r.caller.clone(), r.callee.clone()));
                let base_per_trace = before.as_ref().map_or(0.0, |b| b.critical_ms_per_trace);
                let added_ms_per_trace = if baseline_traces > 0 {
                    r.stats.critical_ms_per_trace - base_per_trace
                } else {
                    r.stats.critical_ms_per_trace
                };
                Hop {
                    p99_series: series
                        .remove(&(r.caller.clone(), r.callee.clone()))
                        .unwrap_or_else(|| vec![None; buckets.len()]),
                    caller: r.caller,
                    callee: r.callee,
                    callee_type: r.callee_type,
                    now: r.stats,
                    before,
                    added_ms_per_trace,
                    slowest_traces: r.slowest_traces,
                }
            })
            .collect();
        hops.sort_by(|a, b| {
            b.added_ms_per_trace
                .total_cmp(&a.added_ms_per_trace)
                .then(b.now.critical_ms.total_cmp(&a.now.critical_ms))
                .then_with(|| (&a.caller, &a.callee).cmp(&(&b.caller, &b.callee)))
        });
        Ok(HopReport {
            window,
            baseline,
            traces,
            baseline_traces,
            hops,
            coverage: crate::coverage::Coverage::of(session, Some(window)).await?,
            unsummarized_files,
        })
    }
}

/// Traces named per hop in the `hops` view's `slowest_traces`.
const VIEW_SLOWEST_TRACES: usize = 3;

/// Per hop: calls, outcomes, latency of its calls, its critical time split by part, and the
/// traces it appears in (and the slowest of them).
fn hop_aggregate_sql() -> String {
    let entry = crate::entry::enters_service();
    let crit = s::CRITICAL_MS;
    let init = format!(
        "{k} = '{sub}' AND {st} = '{LAMBDA_FUNCTION}' AND {n} IN {INIT_SUBSEGMENTS}",
        k = s::KIND,
        sub = kind::SUBSEGMENT,
        st = s::SERVICE_TYPE,
        n = s::NAME,
    );
    let overhead = format!(
        "{st} = '{LAMBDA_SERVICE}' OR ({st} = '{LAMBDA_FUNCTION}' AND {n} = '{OVERHEAD_SUBSEGMENT}')",
        st = s::SERVICE_TYPE,
        n = s::NAME,
    );
    let count_if = |cond: &str| format!("sum(CASE WHEN {cond} THEN 1 ELSE 0 END)");
    format!(
        "SELECT {hc} AS caller, {sv} AS callee,
                max({st}) AS callee_type,
                {requests} AS requests,
                count({hop_trace}) AS traces,
                {TOP_N}({tid}, {hop_trace}, {VIEW_SLOWEST_TRACES}) AS slowest_traces,
                coalesce(sum({crit}), 0) AS critical_ms,
                coalesce(sum(CASE WHEN {init} THEN {crit} END), 0) AS init_ms,
                coalesce(sum(CASE WHEN {overhead} THEN {crit} END), 0) AS overhead_ms,
                {hist}(CASE WHEN {entry} THEN {d} END) AS histogram,
                {censored} AS censored,
                {errors} AS errors, {throttles} AS throttles, {faults} AS faults,
                {timeouts} AS timeouts,
                {cold} AS cold_starts,
                {invocations} AS invocations
         FROM {SPANS}
         GROUP BY {hc}, {sv}",
        hop_trace = s::HOP_TRACE_CRITICAL_MS,
        hc = s::HOP_CALLER,
        sv = s::SERVICE,
        st = s::SERVICE_TYPE,
        tid = s::TRACE_ID,
        d = s::DURATION_MS,
        hist = HDR_HISTOGRAM,
        requests = count_if(&entry),
        errors = count_if(&format!("{entry} AND {} AND NOT {}", s::ERROR, s::THROTTLE)),
        throttles = count_if(&format!("{entry} AND {}", s::THROTTLE)),
        faults = count_if(&format!("{entry} AND {}", s::FAULT)),
        timeouts = count_if(&format!(
            "({entry} AND {ip}) OR {cm} LIKE '%{TIMEOUT_MESSAGE}%'",
            ip = s::IN_PROGRESS,
            cm = s::CAUSE_MESSAGE
        )),
        censored = count_if(&format!(
            "{entry} AND {d} IS NOT NULL AND ({censored})",
            d = s::DURATION_MS,
            censored = crate::views::censored_predicate(),
        )),
        cold = count_if(&init),
        invocations = count_if(&format!(
            "{} = '{}' AND {} = '{LAMBDA_FUNCTION}'",
            s::KIND,
            kind::SEGMENT,
            s::SERVICE_TYPE
        )),
    )
}

/// `hops`: every hop over everything stored, with percentiles, shares and downstream time: the
/// SQL statement of what [`tally`] computes by hand for a window (a test holds the two together).
pub fn hops_view_sql() -> String {
    let q = |p: f64| format!("{HDR_QUANTILE}(a.histogram, {p})");
    let low = |p: f64| {
        format!(
            "{HDR_COUNT}(a.histogram) < {}",
            crate::significance::min_samples(p).unwrap_or(0)
        )
    };
    format!(
        "CREATE VIEW {HOPS} AS
         WITH a AS ({agg})
         SELECT a.caller, a.callee, a.callee_type, a.requests, a.traces, a.slowest_traces,
                a.critical_ms, a.critical_ms / nullif(sum(a.critical_ms) OVER (), 0) AS share,
                a.init_ms, a.critical_ms - a.init_ms - a.overhead_ms AS handler_ms, a.overhead_ms,
                coalesce(d.downstream_ms, 0) AS downstream_ms,
                {p50} AS p50_ms, {p90} AS p90_ms, {p99} AS p99_ms,
                CAST({HDR_COUNT}(a.histogram) AS BIGINT) AS samples, a.censored,
                {low50} AS p50_low_sample, {low90} AS p90_low_sample, {low99} AS p99_low_sample,
                a.errors, a.throttles, a.faults, a.timeouts, a.cold_starts, a.invocations,
                CAST(a.cold_starts AS DOUBLE) / nullif(a.invocations, 0) AS cold_start_ratio,
                a.histogram
         FROM a LEFT JOIN (
           SELECT caller, sum(critical_ms) AS downstream_ms FROM a GROUP BY caller
         ) d ON d.caller = a.callee",
        agg = hop_aggregate_sql(),
        p50 = q(0.5),
        p90 = q(0.9),
        p99 = q(0.99),
        low50 = low(0.5),
        low90 = low(0.9),
        low99 = low(0.99),
    )
}

/// One hop's row of a window.
struct HopRow {
    caller: Option<String>,
    callee: String,
    callee_type: Option<String>,
    stats: HopStats,
    slowest_traces: Vec<SlowTrace>,
}

/// A window's traces (root spans) and hops.
#[derive(Default)]
struct Period {
    traces: i64,
    hops: Vec<HopRow>,
}

/// The spans of one hop, as a SQL predicate: `hop_caller` is `caller` (NULL: the trace's
/// client) and `service` is `callee`.
pub(crate) fn hop_predicate(caller: Option<&str>, callee: &str) -> String {
    let lit = crate::sql_literal::string;
    let caller = caller.map_or_else(
        || format!("{} IS NULL", s::HOP_CALLER),
        |c| format!("{} = {}", s::HOP_CALLER, lit(c)),
    );
    format!("({caller} AND {} = {})", s::SERVICE, lit(callee))
}

/// The spans of any of `hops`, as one disjunction.
fn hop_filter(hops: &[Hop]) -> String {
    let mut out = String::new();
    for (i, h) in hops.iter().enumerate() {
        if i > 0 {
            out.push_str(" OR ");
        }
        out.push_str(&hop_predicate(h.caller.as_deref(), &h.callee));
    }
    out
}

/// The `n` buckets of `window`'s p99 series: near-equal parts of it, their inner bounds on
/// whole minutes when the parts are a minute or longer, so the rollups answer them whole.
fn series_buckets(window: Window, n: usize) -> Vec<Window> {
    const MINUTE: i64 = 60_000_000;
    let len = i128::from(window.len_us());
    let bound = |k: usize| -> i64 {
        if k == 0 || k == n {
            return if k == 0 {
                window.start_us
            } else {
                window.end_us
            };
        }
        let t = window.start_us + (len * k as i128 / n as i128) as i64;
        if len / n as i128 >= i128::from(MINUTE) {
            (t + MINUTE / 2).div_euclid(MINUTE) * MINUTE
        } else {
            t
        }
    };
    (0..n)
        .map(|k| Window {
            start_us: bound(k),
            end_us: bound(k + 1),
        })
        .collect()
}

/// Per hop, the p99 of its calls in each of `buckets` (a tally's periods, in order).
fn p99_series(
    buckets: impl ExactSizeIterator<Item = Period>,
) -> HashMap<(Option<String>, String), Vec<Option<f64>>> {
    let n = buckets.len();
    let mut series: HashMap<_, Vec<Option<f64>>> = HashMap::new();
    for (k, bucket) in buckets.enumerate() {
        for r in bucket.hops {
            series
                .entry((r.caller, r.callee))
                .or_insert_with(|| vec![None; n])[k] = r.stats.p99_ms;
        }
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000_000;

    /// The buckets cover the window once, in order.
    fn assert_tiles(window: Window, buckets: &[Window]) {
        assert_eq!(buckets.first().unwrap().start_us, window.start_us);
        assert_eq!(buckets.last().unwrap().end_us, window.end_us);
        for pair in buckets.windows(2) {
            assert_eq!(pair[0].end_us, pair[1].start_us);
            assert!(pair[0].len_us() > 0);
        }
    }

    #[test]
    fn series_buckets_tile_the_window_on_whole_minutes() {
        // An hour from 10:00:17 in 24 buckets of 2.5 minutes: inner bounds on whole minutes.
        let window = Window {
            start_us: 17_000_000,
            end_us: 17_000_000 + 60 * MINUTE,
        };
        let buckets = series_buckets(window, 24);
        assert_eq!(buckets.len(), 24);
        assert_tiles(window, &buckets);
        for b in &buckets[1..] {
            assert_eq!(b.start_us % MINUTE, 0, "{b:?}");
        }
        assert!(
            buckets
                .iter()
                .all(|b| b.len_us() <= 3 * MINUTE + MINUTE / 2)
        );
        // Parts under a minute keep exact bounds.
        let short = Window {
            start_us: 5,
            end_us: 5 + 10 * MINUTE,
        };
        let buckets = series_buckets(short, 24);
        assert_tiles(short, &buckets);
        assert_eq!(buckets[1].start_us, 5 + 25_000_000);
        assert!(series_buckets(window, 0).is_empty());
    }
}

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

use crate::columns;
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
pub(crate) use tally::timed_out;

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
        let windows: Vec<Window> = std::iter::once(window).chain(baseline).collect();
        let mut periods = tally::tally(session, &windows, q.slowest_traces)
            .await?
            .into_iter();
        let now = periods.next().unwrap_or_default();
        let before = periods.next().unwrap_or_default();
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
                    caller: r.caller,
                    callee: r.callee,
                    callee_type: r.callee_type,
                    now: r.stats,
                    before,
                    added_ms_per_trace,
                    slowest_traces: r.slowest_traces,
                    p99_series: Vec::new(),
                }
            })
            .collect();
        hops.sort_by(|a, b| {
            b.added_ms_per_trace
                .total_cmp(&a.added_ms_per_trace)
                .then(b.now.critical_ms.total_cmp(&a.now.critical_ms))
                .then_with(|| (&a.caller, &a.callee).cmp(&(&b.caller, &b.callee)))
        });
        if q.series_buckets > 0 {
            add_p99_series(session, window, q.series_buckets, &mut hops).await?;
        }
        Ok(HopReport {
            window,
            baseline,
            traces,
            baseline_traces,
            hops,
            coverage: crate::coverage::Coverage::of(session, Some(window)).await?,
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

/// How many hops get evidence and series: the ones anyone looks at.
const DETAILED_HOPS: usize = 50;

/// The top hops, which get evidence and series.
fn detailed(hops: &mut [Hop]) -> &mut [Hop] {
    let shown = hops.len().min(DETAILED_HOPS);
    &mut hops[..shown]
}

async fn add_p99_series(
    session: &Session,
    window: Window,
    buckets: usize,
    hops: &mut [Hop],
) -> Result<()> {
    let detailed = detailed(hops);
    if detailed.is_empty() {
        return Ok(());
    }
    let step_us = (window.len_us() / buckets as i64).max(1);
    let sql = format!(
        "SELECT {hc}, {sv}, (CAST({st} AS BIGINT) - {start}) / {step_us} AS bucket,
                {HDR_QUANTILE}({HDR_HISTOGRAM}({d}), 0.99) AS p99
         FROM {SPANS} WHERE ({hops}) AND {entry} AND {window}
         GROUP BY 1, 2, 3",
        hc = s::HOP_CALLER,
        sv = s::SERVICE,
        st = s::START_TIME,
        d = s::DURATION_MS,
        start = window.start_us,
        hops = hop_filter(detailed),
        entry = crate::entry::enters_service(),
        window = window.predicate(s::START_TIME),
    );
    let mut series: HashMap<(Option<String>, String), Vec<Option<f64>>> = HashMap::new();
    for b in session.collect(&sql).await? {
        let (caller, callee) = (columns::strings(&b, 0), columns::strings(&b, 1));
        let (bucket, p99) = (columns::ints(&b, 2), columns::opt_floats(&b, 3));
        for i in 0..b.num_rows() {
            let slots = series
                .entry((caller[i].clone(), callee[i].clone().unwrap_or_default()))
                .or_insert_with(|| vec![None; buckets]);
            if let Some(slot) = usize::try_from(bucket[i])
                .ok()
                .and_then(|k| slots.get_mut(k))
            {
                *slot = p99[i];
            }
        }
    }
    for h in detailed {
        h.p99_series = series
            .remove(&(h.caller.clone(), h.callee.clone()))
            .unwrap_or_else(|| vec![None; buckets]);
    }
    Ok(())
}

//! Retry and fan-out amplification: how much work one user request turned into, per entry point
//! (the service a trace starts at, the root hop), and what of it was repeated work.
//!
//! Per request (trace): Lambda invocations (function segments), downstream calls (spans where
//! the trace enters another service, Lambda segments aside), and the extra work:
//! - SDK retries: the AWS SDK's own attempts inside a call (X-Ray `aws.retries`);
//! - async retries: Lambda running one request again: several Lambda service segments with the
//!   same request id, or several function segments under one service segment;
//! - repeated identical calls: the same caller calling the same callee with the same operation
//!   (sanitized SQL, AWS operation and resource, HTTP method and route) more than once, as in
//!   N+1 queries: each call after the first counts;
//! - redeliveries: one SQS message (a `SendMessage` call) consumed by more than one Lambda
//!   invocation (distinct request ids): each after the first counts.

use std::collections::{BTreeMap, HashMap, HashSet};

use hopscope_schema::spans::{TABLE as SPANS, col as s, kind};
use serde::Serialize;

use crate::coverage::Coverage;
use crate::error::Result;
use crate::hops::{LAMBDA_FUNCTION, LAMBDA_SERVICE};
use crate::session::Session;
use crate::text::sanitize;
use crate::trace_spans::{self, Trace};
pub use crate::window::Window;

/// Traces given as evidence per entry point, most extra work first.
pub const WORST_TRACES: usize = 5;
/// Repeated calls named per entry point, most extra calls first.
pub const TOP_REPEATED: usize = 5;

/// The SQS operation whose message a redelivery delivers again.
const SEND_MESSAGE: &str = "SendMessage";

/// The entry points of a window's requests, most extra work per request first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmplificationReport {
    pub window: Window,
    /// Requests (traces) that started in the window.
    pub requests: i64,
    pub entry_points: Vec<EntryPoint>,
    /// What share of the window's traces the store holds, when collections recorded it.
    pub coverage: Option<Coverage>,
}

/// The requests that entered at one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryPoint {
    /// The service of the traces' root spans.
    pub entry: String,
    pub entry_type: Option<String>,
    pub requests: i64,
    /// Lambda function invocations, retries and redeliveries included.
    pub invocations: i64,
    pub invocations_per_request: f64,
    pub max_invocations: i64,
    /// Downstream calls (hops below the entry point), repeated ones included.
    pub calls: i64,
    pub calls_per_request: f64,
    pub max_calls: i64,
    pub sdk_retries: i64,
    pub async_retries: i64,
    /// Identical calls after the first of each in a trace.
    pub repeated_calls: i64,
    pub redeliveries: i64,
    /// Retries, repeated calls and redeliveries per request.
    pub extra_per_request: f64,
    /// Requests with any extra work.
    pub amplified_requests: i64,
    /// The calls repeated most (extra calls over all traces), at most [`TOP_REPEATED`].
    pub repeated: Vec<RepeatedCall>,
    /// The traces with the most extra work, at most [`WORST_TRACES`].
    pub worst_traces: Vec<AmplifiedTrace>,
}

/// One call made more than once in a trace, over the entry point's traces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepeatedCall {
    pub caller: Option<String>,
    pub callee: String,
    pub operation: String,
    /// Traces that made it more than once.
    pub traces: i64,
    /// Calls after the first in each trace, summed.
    pub extra_calls: i64,
    pub most_in_one_trace: i64,
}

/// One request's work.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmplifiedTrace {
    pub trace_id: String,
    pub start_us: i64,
    pub invocations: i64,
    pub calls: i64,
    pub sdk_retries: i64,
    pub async_retries: i64,
    pub repeated_calls: i64,
    pub redeliveries: i64,
    /// What the trace repeated, most first.
    pub repeated: Vec<Repeat>,
}

/// A call a trace made `calls` times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repeat {
    pub caller: Option<String>,
    pub callee: String,
    pub operation: String,
    pub calls: i64,
}

/// The ranking as a table with a name column `name_width` wide: its header line.
pub fn table_header(name_width: usize) -> String {
    format!(
        "{:>2}  {:<name_width$} {:>8} {:>7} {:>9} {:>6} {:>5} {:>8} {:>7} {:>9}",
        "#",
        "entry point",
        "requests",
        "inv/req",
        "calls/req",
        "SDK rt",
        "async",
        "repeated",
        "redeliv",
        "extra/req"
    )
}

/// Width of a table line besides the name column.
pub const TABLE_WIDTH_BESIDES_NAME: usize = 71;

/// One entry point's line of the table (its name sanitized and cut to `name_width`).
pub fn table_row(rank: usize, e: &EntryPoint, name_width: usize) -> String {
    format!(
        "{:>2}  {:<name_width$} {:>8} {:>7.2} {:>9.2} {:>6} {:>5} {:>8} {:>7} {:>9.2}",
        rank,
        crate::text::fit(&sanitize(&e.entry), name_width),
        e.requests,
        e.invocations_per_request,
        e.calls_per_request,
        e.sdk_retries,
        e.async_retries,
        e.repeated_calls,
        e.redeliveries,
        e.extra_per_request,
    )
}

impl AmplifiedTrace {
    /// Retries, repeated calls and redeliveries.
    pub fn extra(&self) -> i64 {
        self.sdk_retries + self.async_retries + self.repeated_calls + self.redeliveries
    }
}

/// The amplification of the requests that started in `window` (`None`: the last hour of data).
pub async fn load(session: &Session, window: Option<Window>) -> Result<AmplificationReport> {
    let window = crate::window::or_last_hour(session, window).await?;
    let traces_sql = format!(
        "SELECT DISTINCT {tid} FROM {SPANS} WHERE {pid} IS NULL AND {w}",
        tid = s::TRACE_ID,
        pid = s::PARENT_ID,
        w = window.predicate(s::START_TIME),
    );
    // Calls, and the Lambda segments whose request ids and parents tell retries apart.
    let filter = format!(
        "{entry} OR ({k} = '{segment}' AND {st} IN ('{LAMBDA_SERVICE}', '{LAMBDA_FUNCTION}'))",
        entry = crate::entry::enters_service(),
        k = s::KIND,
        segment = kind::SEGMENT,
        st = s::SERVICE_TYPE,
    );
    let traces = trace_spans::load(session, window, &traces_sql, &filter).await?;
    let mut entries: BTreeMap<String, (Option<String>, Vec<AmplifiedTrace>)> = BTreeMap::new();
    for trace in &traces {
        let Some(root) = trace.spans.iter().find(|s| s.parent_id.is_none()) else {
            continue;
        };
        // A trace that began before the window (a retry's root in it) is not its request.
        if root.start_us < window.start_us || root.start_us >= window.end_us {
            continue;
        }
        let slot = entries
            .entry(root.service.clone())
            .or_insert_with(|| (root.service_type.clone(), Vec::new()));
        slot.1.push(amplification(trace, root.start_us));
    }
    let mut entry_points: Vec<EntryPoint> = entries
        .into_iter()
        .map(|(entry, (entry_type, traces))| entry_point(entry, entry_type, traces))
        .collect();
    entry_points.sort_by(|a, b| {
        b.extra_per_request
            .total_cmp(&a.extra_per_request)
            .then(b.calls_per_request.total_cmp(&a.calls_per_request))
            .then_with(|| a.entry.cmp(&b.entry))
    });
    Ok(AmplificationReport {
        window,
        requests: entry_points.iter().map(|e| e.requests).sum(),
        entry_points,
        coverage: Coverage::of(session, Some(window)).await?,
    })
}

/// One trace's work.
fn amplification(trace: &Trace, start_us: i64) -> AmplifiedTrace {
    let spans = &trace.spans;
    let lambda_segment = |i: usize| {
        spans[i].is_lambda_segment(LAMBDA_SERVICE) || spans[i].is_lambda_segment(LAMBDA_FUNCTION)
    };
    let mut out = AmplifiedTrace {
        trace_id: trace.trace_id.clone(),
        start_us,
        invocations: 0,
        calls: 0,
        sdk_retries: 0,
        async_retries: 0,
        repeated_calls: 0,
        redeliveries: 0,
        repeated: Vec::new(),
    };
    let mut same_calls: HashMap<(Option<&str>, &str, &str), i64> = HashMap::new();
    let mut service_segments: HashMap<&str, i64> = HashMap::new();
    let mut function_segments: HashMap<&str, i64> = HashMap::new();
    let mut consumers: HashMap<usize, HashSet<&str>> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        out.sdk_retries += i64::from(span.sdk_retries);
        if span.is_lambda_segment(LAMBDA_FUNCTION) {
            out.invocations += 1;
            if let Some(parent) = &span.parent_id {
                *function_segments.entry(parent).or_default() += 1;
            }
        }
        if span.is_lambda_segment(LAMBDA_SERVICE) {
            if let Some(rid) = &span.request_id {
                *service_segments.entry(rid).or_default() += 1;
            }
            let parent = trace.parents[i];
            if let (Some(p), Some(rid)) = (parent, &span.request_id)
                && spans[p].aws_operation.as_deref() == Some(SEND_MESSAGE)
            {
                consumers.entry(p).or_default().insert(rid);
            }
        }
        if span.entry && span.parent_id.is_some() && !lambda_segment(i) {
            out.calls += 1;
            *same_calls
                .entry((
                    span.hop_caller.as_deref(),
                    span.service.as_str(),
                    span.operation.as_str(),
                ))
                .or_default() += 1;
        }
    }
    let beyond_first = |n: i64| (n - 1).max(0);
    out.async_retries = service_segments
        .values()
        .copied()
        .map(beyond_first)
        .sum::<i64>()
        + function_segments
            .values()
            .copied()
            .map(beyond_first)
            .sum::<i64>();
    out.redeliveries = consumers
        .values()
        .map(|ids| beyond_first(ids.len() as i64))
        .sum();
    out.repeated = same_calls
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|((caller, callee, operation), calls)| Repeat {
            caller: caller.map(str::to_owned),
            callee: callee.to_owned(),
            operation: operation.to_owned(),
            calls,
        })
        .collect();
    out.repeated.sort_by(|a, b| {
        b.calls.cmp(&a.calls).then_with(|| {
            (&a.caller, &a.callee, &a.operation).cmp(&(&b.caller, &b.callee, &b.operation))
        })
    });
    out.repeated_calls = out.repeated.iter().map(|r| r.calls - 1).sum();
    out
}

fn entry_point(
    entry: String,
    entry_type: Option<String>,
    mut traces: Vec<AmplifiedTrace>,
) -> EntryPoint {
    let requests = traces.len() as i64;
    let sum = |f: fn(&AmplifiedTrace) -> i64| traces.iter().map(f).sum::<i64>();
    let max = |f: fn(&AmplifiedTrace) -> i64| traces.iter().map(f).max().unwrap_or(0);
    let per_request = |n: i64| n as f64 / requests.max(1) as f64;
    let (invocations, calls) = (sum(|t| t.invocations), sum(|t| t.calls));
    let (sdk_retries, async_retries) = (sum(|t| t.sdk_retries), sum(|t| t.async_retries));
    let (repeated_calls, redeliveries) = (sum(|t| t.repeated_calls), sum(|t| t.redeliveries));
    let mut repeated: HashMap<(&Option<String>, &str, &str), RepeatedCall> = HashMap::new();
    for r in traces.iter().flat_map(|t| &t.repeated) {
        let acc = repeated
            .entry((&r.caller, &r.callee, &r.operation))
            .or_insert_with(|| RepeatedCall {
                caller: r.caller.clone(),
                callee: r.callee.clone(),
                operation: r.operation.clone(),
                traces: 0,
                extra_calls: 0,
                most_in_one_trace: 0,
            });
        acc.traces += 1;
        acc.extra_calls += r.calls - 1;
        acc.most_in_one_trace = acc.most_in_one_trace.max(r.calls);
    }
    let mut repeated: Vec<RepeatedCall> = repeated.into_values().collect();
    repeated.sort_by(|a, b| {
        b.extra_calls.cmp(&a.extra_calls).then_with(|| {
            (&a.caller, &a.callee, &a.operation).cmp(&(&b.caller, &b.callee, &b.operation))
        })
    });
    repeated.truncate(TOP_REPEATED);
    let amplified_requests = traces.iter().filter(|t| t.extra() > 0).count() as i64;
    let extra = sdk_retries + async_retries + repeated_calls + redeliveries;
    let (max_invocations, max_calls) = (max(|t| t.invocations), max(|t| t.calls));
    traces.sort_by(|a, b| {
        b.extra()
            .cmp(&a.extra())
            .then(b.calls.cmp(&a.calls))
            .then_with(|| a.trace_id.cmp(&b.trace_id))
    });
    traces.retain(|t| t.extra() > 0);
    traces.truncate(WORST_TRACES);
    EntryPoint {
        entry,
        entry_type,
        requests,
        invocations,
        invocations_per_request: per_request(invocations),
        max_invocations,
        calls,
        calls_per_request: per_request(calls),
        max_calls,
        sdk_retries,
        async_retries,
        repeated_calls,
        redeliveries,
        extra_per_request: per_request(extra),
        amplified_requests,
        repeated,
        worst_traces: traces,
    }
}

impl EntryPoint {
    /// One line for a terminal: `300 requests: 1.00 invocations and 2.61 calls per request;
    /// extra: 99 SDK retries, 0 async retries, 51 repeated calls, 0 redeliveries`.
    pub fn summary(&self) -> String {
        format!(
            "{} request{}: {:.2} invocations and {:.2} downstream calls per request (at most {} and {}); extra: {} SDK retries, {} async retries, {} repeated calls, {} redeliveries in {} requests",
            self.requests,
            if self.requests == 1 { "" } else { "s" },
            self.invocations_per_request,
            self.calls_per_request,
            self.max_invocations,
            self.max_calls,
            self.sdk_retries,
            self.async_retries,
            self.repeated_calls,
            self.redeliveries,
            self.amplified_requests,
        )
    }
}

impl RepeatedCall {
    /// `listDragons -> SSM GetParameter: 234 extra calls in 234 traces (at most 2 in one)`.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} extra call{} in {} trace{} (at most {} in one)",
            call_name(self.caller.as_deref(), &self.callee, &self.operation),
            self.extra_calls,
            if self.extra_calls == 1 { "" } else { "s" },
            self.traces,
            if self.traces == 1 { "" } else { "s" },
            self.most_in_one_trace,
        )
    }
}

impl Repeat {
    /// `listDragons -> SSM GetParameter ×2`.
    pub fn summary(&self) -> String {
        format!(
            "{} ×{}",
            call_name(self.caller.as_deref(), &self.callee, &self.operation),
            self.calls
        )
    }
}

/// `caller -> callee operation`, sanitized for a terminal.
fn call_name(caller: Option<&str>, callee: &str, operation: &str) -> String {
    let mut out = format!(
        "{} -> {}",
        sanitize(caller.unwrap_or("client")),
        sanitize(callee)
    );
    if !operation.is_empty() {
        out.push(' ');
        out.push_str(&sanitize(operation));
    }
    out
}

//! Timeout forensics: for every Lambda invocation that hit its timeout and every call that never
//! answered, which downstream call was in flight when the caller gave up, how long it had been
//! running, and whether a retry followed; summed up per hop.
//!
//! A timeout is counted once, where the caller gave up: a call that never answered inside an
//! invocation that timed out is that timeout's evidence (what it waited on), not a timeout of
//! its own, and neither is a call that never answered inside one that never answered. (The hop
//! ranking counts each of them on its own hop.) The call in flight is the deepest one: when the
//! function waited on another function that waited on a database, it is the database call.

use std::collections::{BTreeMap, HashMap};

use hopscope_schema::lambda_invocations::{TABLE as INVOCATIONS, col as inv, status};
use hopscope_schema::spans::{TABLE as SPANS, col as s};
use serde::Serialize;

use crate::columns;
use crate::coverage::Coverage;
use crate::error::Result;
use crate::hops::TIMEOUT_MESSAGE;
use crate::session::Session;
use crate::text::sanitize;
use crate::trace_spans::{self, Trace};
pub use crate::window::Window;

/// Trace ids given as evidence per group of timeouts, longest waits first.
pub const EXAMPLE_TRACES: usize = 3;

/// The timeouts of a window, by hop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeoutReport {
    pub window: Window,
    /// Lambda invocations that timed out and calls that never answered, of spans that started
    /// in the window.
    pub timeouts: i64,
    /// Most timeouts first.
    pub hops: Vec<HopTimeouts>,
    /// REPORT lines with `Status: timeout` of invocations that started in the window, per
    /// function: also of invocations no stored trace holds (not sampled, or not collected).
    pub reported: Vec<ReportedTimeouts>,
    /// What share of the window's traces the store holds, when collections recorded it.
    pub coverage: Option<Coverage>,
}

/// The timeouts of one hop (`caller -> callee`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HopTimeouts {
    /// `None`: the client that called the trace's entry point.
    pub caller: Option<String>,
    pub callee: String,
    pub callee_type: Option<String>,
    pub timeouts: i64,
    /// Of `timeouts`: Lambda invocations that hit their timeout.
    pub lambda_timeouts: i64,
    /// Of `timeouts`: calls that never answered, with no timeout around them.
    pub unanswered: i64,
    /// Of `timeouts`: followed by a retry (the same call of the hop again, later in the trace:
    /// a Lambda retry of the invocation, or the caller calling again).
    pub retried: i64,
    /// What was in flight when the caller gave up, grouped by callee, most timeouts first.
    pub waiting_on: Vec<WaitingOn>,
    /// Every timeout, longest wait first.
    pub events: Vec<TimeoutEvent>,
}

/// Timeouts of a hop that were waiting on the same callee.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingOn {
    /// The service of the call in flight; `None`: no call was (the function's own code ran
    /// until the timeout).
    pub callee: Option<String>,
    pub timeouts: i64,
    /// How long the call had been running when its caller gave up: shortest, median, longest
    /// (over the timeouts where that is known).
    pub in_flight_min_ms: Option<f64>,
    pub in_flight_median_ms: Option<f64>,
    pub in_flight_max_ms: Option<f64>,
    /// Of `timeouts`: followed by a retry.
    pub retried: i64,
    /// The operations in flight (SQL, AWS operation, HTTP method and route), most first.
    pub operations: Vec<OperationCount>,
    /// Up to [`EXAMPLE_TRACES`] traces, longest in flight first.
    pub example_traces: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationCount {
    /// Empty when the span says nothing more than its callee.
    pub operation: String,
    pub timeouts: i64,
}

/// One timeout: where the caller gave up, and what it was waiting on then.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeoutEvent {
    pub trace_id: String,
    /// The span that timed out or never answered.
    pub span_id: String,
    pub kind: TimeoutKind,
    pub start_us: i64,
    /// How long the caller waited before giving up (for a call that never answered, up to the
    /// end of the nearest enclosing span that ended).
    pub waited_ms: Option<f64>,
    /// The deepest call in flight when the caller gave up; `None`: none was.
    pub in_flight: Option<InFlight>,
    pub retried: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutKind {
    /// A Lambda invocation stopped at its configured timeout (`Task timed out`).
    Lambda,
    /// A call that never answered (the span never ended).
    Unanswered,
}

/// A call in flight when its caller gave up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InFlight {
    pub span_id: String,
    pub callee: String,
    pub operation: String,
    /// How long it had been running then.
    pub running_ms: Option<f64>,
}

/// The REPORT lines of one function that say it timed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedTimeouts {
    pub function: String,
    pub timeouts: i64,
}

/// Spans that may start a timeout event, as a SQL predicate.
fn candidate_sql() -> String {
    format!(
        "(({entry} AND {ip}) OR {cm} LIKE '%{TIMEOUT_MESSAGE}%')",
        entry = crate::entry::enters_service(),
        ip = s::IN_PROGRESS,
        cm = s::CAUSE_MESSAGE,
    )
}

/// The timeouts of the spans that started in `window` (`None`: the last hour of data).
pub async fn load(session: &Session, window: Option<Window>) -> Result<TimeoutReport> {
    let window = crate::window::or_last_hour(session, window).await?;
    let traces_sql = format!(
        "SELECT DISTINCT {tid} FROM {SPANS} WHERE {w} AND {c}",
        tid = s::TRACE_ID,
        w = window.predicate(s::START_TIME),
        c = candidate_sql(),
    );
    let traces = trace_spans::load(session, window, &traces_sql, "TRUE").await?;
    let mut hops: BTreeMap<(Option<String>, String), HopTimeouts> = BTreeMap::new();
    for trace in &traces {
        for (e, event) in events(trace) {
            if event.start_us < window.start_us || event.start_us >= window.end_us {
                continue;
            }
            let span = &trace.spans[e];
            let hop = hops
                .entry((span.hop_caller.clone(), span.service.clone()))
                .or_insert_with(|| HopTimeouts {
                    caller: span.hop_caller.clone(),
                    callee: span.service.clone(),
                    callee_type: None,
                    timeouts: 0,
                    lambda_timeouts: 0,
                    unanswered: 0,
                    retried: 0,
                    waiting_on: Vec::new(),
                    events: Vec::new(),
                });
            if hop.callee_type.is_none() {
                hop.callee_type.clone_from(&span.service_type);
            }
            hop.events.push(event);
        }
    }
    let mut hops: Vec<HopTimeouts> = hops.into_values().map(summarize).collect();
    hops.sort_by(|a, b| {
        b.timeouts
            .cmp(&a.timeouts)
            .then_with(|| (&a.caller, &a.callee).cmp(&(&b.caller, &b.callee)))
    });
    Ok(TimeoutReport {
        window,
        timeouts: hops.iter().map(|h| h.timeouts).sum(),
        hops,
        reported: reported(session, window).await?,
        coverage: Coverage::of(session, Some(window)).await?,
    })
}

/// The timeout events of one trace, by span index.
fn events(trace: &Trace) -> Vec<(usize, TimeoutEvent)> {
    let spans = &trace.spans;
    let unanswered = |i: usize| spans[i].entry && spans[i].in_progress;
    let mut out = Vec::new();
    for (e, span) in spans.iter().enumerate() {
        let kind = if span.timed_out {
            // The Lambda service segment and its function segment may both say so: once.
            let again = trace
                .ancestors(e)
                .any(|a| spans[a].timed_out && spans[a].service == span.service);
            if again {
                continue;
            }
            TimeoutKind::Lambda
        } else if unanswered(e) {
            if trace
                .ancestors(e)
                .any(|a| spans[a].timed_out || unanswered(a))
            {
                continue;
            }
            TimeoutKind::Unanswered
        } else {
            continue;
        };
        let gave_up = span.gave_up_us();
        let in_flight = in_flight(trace, e, gave_up).map(|c| {
            let call = &spans[c];
            InFlight {
                span_id: call.id.clone(),
                callee: call.service.clone(),
                operation: call.operation.clone(),
                running_ms: gave_up.map(|g| (g - call.start_us) as f64 / 1_000.0),
            }
        });
        let retried = spans.iter().enumerate().any(|(j, other)| {
            j != e
                && other.start_us > span.start_us
                && other.entry == span.entry
                && other.hop_caller == span.hop_caller
                && other.service == span.service
                && other.service_type == span.service_type
                && other.kind == span.kind
                && other.operation == span.operation
        });
        out.push((
            e,
            TimeoutEvent {
                trace_id: trace.trace_id.clone(),
                span_id: span.id.clone(),
                kind,
                start_us: span.start_us,
                waited_ms: gave_up.map(|g| (g - span.start_us) as f64 / 1_000.0),
                in_flight,
                retried,
            },
        ));
    }
    out
}

/// The deepest call below span `e` (or `e` itself, a call that never answered) still running
/// at `gave_up`, the longest running of them when several were; with no time known, the
/// calls that never ended.
fn in_flight(trace: &Trace, e: usize, gave_up: Option<i64>) -> Option<usize> {
    let spans = &trace.spans;
    let running = |c: usize| {
        let call = &spans[c];
        match gave_up {
            Some(g) => {
                call.start_us <= g && (call.in_progress || call.end_us.is_none_or(|t| t >= g))
            }
            None => call.in_progress,
        }
    };
    let calls: Vec<usize> = (0..spans.len())
        .filter(|&c| c != e && spans[c].entry && running(c) && trace.is_descendant(c, e))
        .collect();
    let deepest = calls
        .iter()
        .copied()
        .filter(|&c| !calls.iter().any(|&d| d != c && trace.is_descendant(d, c)))
        .min_by_key(|&c| (spans[c].start_us, c));
    deepest.or_else(|| (spans[e].entry && spans[e].in_progress).then_some(e))
}

/// A hop's counts and groups, from its events.
fn summarize(mut hop: HopTimeouts) -> HopTimeouts {
    hop.events.sort_by(|a, b| {
        let waited = |e: &TimeoutEvent| e.waited_ms.unwrap_or(f64::NEG_INFINITY);
        waited(b)
            .total_cmp(&waited(a))
            .then_with(|| (&a.trace_id, &a.span_id).cmp(&(&b.trace_id, &b.span_id)))
    });
    hop.timeouts = hop.events.len() as i64;
    hop.lambda_timeouts = hop
        .events
        .iter()
        .filter(|e| e.kind == TimeoutKind::Lambda)
        .count() as i64;
    hop.unanswered = hop.timeouts - hop.lambda_timeouts;
    hop.retried = hop.events.iter().filter(|e| e.retried).count() as i64;
    let mut groups: BTreeMap<Option<&str>, Vec<&TimeoutEvent>> = BTreeMap::new();
    for e in &hop.events {
        groups
            .entry(e.in_flight.as_ref().map(|f| f.callee.as_str()))
            .or_default()
            .push(e);
    }
    let mut waiting_on: Vec<WaitingOn> = groups
        .into_iter()
        .map(|(callee, events)| waiting_on(callee, &events))
        .collect();
    waiting_on.sort_by(|a, b| {
        b.timeouts
            .cmp(&a.timeouts)
            .then_with(|| a.callee.cmp(&b.callee))
    });
    hop.waiting_on = waiting_on;
    hop
}

fn waiting_on(callee: Option<&str>, events: &[&TimeoutEvent]) -> WaitingOn {
    let mut running: Vec<(f64, &str)> = events
        .iter()
        .filter_map(|e| {
            let f = e.in_flight.as_ref()?;
            Some((f.running_ms?, e.trace_id.as_str()))
        })
        .collect();
    running.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let median = (!running.is_empty()).then(|| {
        let n = running.len();
        if n % 2 == 1 {
            running[n / 2].0
        } else {
            (running[n / 2 - 1].0 + running[n / 2].0) / 2.0
        }
    });
    let mut operations: HashMap<&str, i64> = HashMap::new();
    for e in events {
        if let Some(f) = &e.in_flight {
            *operations.entry(f.operation.as_str()).or_default() += 1;
        }
    }
    let mut operations: Vec<OperationCount> = operations
        .into_iter()
        .map(|(operation, timeouts)| OperationCount {
            operation: operation.to_owned(),
            timeouts,
        })
        .collect();
    operations.sort_by(|a, b| {
        b.timeouts
            .cmp(&a.timeouts)
            .then_with(|| a.operation.cmp(&b.operation))
    });
    let mut example_traces: Vec<String> = Vec::new();
    let longest_first = running
        .iter()
        .map(|(_, t)| *t)
        .chain(events.iter().map(|e| e.trace_id.as_str()));
    for t in longest_first {
        if example_traces.len() == EXAMPLE_TRACES {
            break;
        }
        if !example_traces.iter().any(|x| x == t) {
            example_traces.push(t.to_owned());
        }
    }
    WaitingOn {
        callee: callee.map(str::to_owned),
        timeouts: events.len() as i64,
        in_flight_min_ms: running.last().map(|r| r.0),
        in_flight_median_ms: median,
        in_flight_max_ms: running.first().map(|r| r.0),
        retried: events.iter().filter(|e| e.retried).count() as i64,
        operations,
        example_traces,
    }
}

async fn reported(session: &Session, window: Window) -> Result<Vec<ReportedTimeouts>> {
    // A REPORT is written when the invocation ends: placed at its start, as the spans are.
    let started = format!(
        "(CAST({ts} AS BIGINT) - CAST({d} * 1000 AS BIGINT))",
        ts = inv::TIMESTAMP,
        d = inv::DURATION_MS,
    );
    let near = Window {
        start_us: window.start_us,
        end_us: window.end_us + trace_spans::SLACK_US,
    };
    let sql = format!(
        "SELECT {f}, count(*) FROM {INVOCATIONS}
         WHERE {st} = '{timeout}' AND {near}
           AND {started} >= {start} AND {started} < {end}
         GROUP BY {f} ORDER BY count(*) DESC, {f}",
        f = inv::FUNCTION,
        st = inv::STATUS,
        timeout = status::TIMEOUT,
        near = near.predicate(inv::TIMESTAMP),
        start = window.start_us,
        end = window.end_us,
    );
    let mut out = Vec::new();
    for b in session.collect(&sql).await? {
        let (functions, counts) = (columns::strings(&b, 0), columns::ints(&b, 1));
        for (function, timeouts) in functions.into_iter().zip(counts) {
            out.push(ReportedTimeouts {
                function: function.unwrap_or_default(),
                timeouts,
            });
        }
    }
    Ok(out)
}

/// `12.3 s` or `850 ms`.
fn seconds(ms: f64) -> String {
    if ms >= 1_000.0 {
        format!("{:.1} s", ms / 1_000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

impl HopTimeouts {
    /// `caller -> callee`, the trace's client as `client`, for a terminal.
    pub fn name(&self) -> String {
        format!(
            "{} -> {}",
            sanitize(self.caller.as_deref().unwrap_or("client")),
            sanitize(&self.callee)
        )
    }

    /// One line for a terminal: `66 timeouts (66 Lambda), 66 waiting on api.example for > 16 s
    /// (longest 30.0 s); none followed by a retry`.
    pub fn summary(&self) -> String {
        let mut kinds = Vec::new();
        if self.lambda_timeouts > 0 {
            kinds.push(format!("{} Lambda", self.lambda_timeouts));
        }
        if self.unanswered > 0 {
            kinds.push(format!("{} never answered", self.unanswered));
        }
        let waits: Vec<String> = self.waiting_on.iter().map(WaitingOn::summary).collect();
        let retried = match self.retried {
            0 => "none followed by a retry".to_owned(),
            n if n == self.timeouts => "every one followed by a retry".to_owned(),
            n => format!("{n} followed by a retry"),
        };
        format!(
            "{} timeout{} ({}): {}; {retried}",
            self.timeouts,
            if self.timeouts == 1 { "" } else { "s" },
            kinds.join(", "),
            waits.join(", "),
        )
    }
}

impl WaitingOn {
    /// `64 waiting on api.example GET /v2/items for > 29 s (longest 30.0 s)`; the operation
    /// named when one was in flight in every timeout of the group.
    pub fn summary(&self) -> String {
        let Some(callee) = &self.callee else {
            return format!("{} with no call in flight (own code)", self.timeouts);
        };
        let mut what = sanitize(callee);
        if let [only] = &self.operations[..]
            && !only.operation.is_empty()
        {
            what = format!("{what} {}", sanitize(&only.operation));
        }
        let time = match (self.in_flight_min_ms, self.in_flight_max_ms) {
            // The largest whole second below the shortest: every one waited longer.
            (Some(min), Some(max)) if min > 1_000.0 => format!(
                " for > {} s (longest {})",
                (min / 1_000.0).ceil() - 1.0,
                seconds(max)
            ),
            (Some(_), Some(max)) => format!(" (longest {})", seconds(max)),
            _ => String::new(),
        };
        format!("{} waiting on {what}{time}", self.timeouts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_seconds_from_one_second() {
        assert_eq!(seconds(29_999.46), "30.0 s");
        assert_eq!(seconds(850.2), "850 ms");
    }
}

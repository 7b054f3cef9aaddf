//! Why a hop is slow: what its slow and failed calls have in common that its other calls lack.
//!
//! The calls of one hop in a window that took longer than the window's p90, or failed, are the
//! *slow calls*; the hop's calls in the baseline (by default the same length of time just
//! before) are what they are compared with. Every call is described by facts about itself
//! (cold start, function version, memory, sandbox, Region, HTTP route, AWS operation, SQL
//! statement, outcome, user, annotations) and about every call made beneath it, at any depth
//! (which services it called, which of those calls were slower than usual, failed, or never
//! answered). Facts are ranked by how much more often they hold for the slow calls than for
//! the others, as Honeycomb's BubbleUp does, with the counts beside them: a fact seen in 3 of
//! 4 slow calls shows as that, not as 75 %.
//!
//! Facts that hold for exactly the same calls say one thing: they are shown as one line,
//! led by the fact that names a cause (a call beneath before the call's own outcome).

use std::collections::HashMap;

use serde::Serialize;

use crate::error::Result;
use crate::hops::Baseline;
use crate::session::Session;
use crate::window::Window;

mod calls;
mod facts;
mod rank;

pub use facts::Attribute;

/// Slow calls examined at most (the slowest and the failed first).
const MAX_SLOW_CALLS: usize = 2_000;
/// Calls compared with, at most (a fixed sample by span id beyond that).
const MAX_OTHER_CALLS: usize = 4_000;
/// Below this many calls in the baseline, the slow calls are compared with the window's other
/// calls instead.
const MIN_BASELINE_CALLS: usize = 10;

/// Which hop, over which window, compared with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhyQuery {
    /// `None`: the client that called the trace's entry point.
    pub caller: Option<String>,
    pub callee: String,
    /// `None`: the last hour of data in the store.
    pub window: Option<Window>,
    pub baseline: Baseline,
    /// Evidence lines kept, the strongest first.
    pub limit: usize,
}

/// What the slow calls were compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// The hop's calls in the baseline window.
    Baseline,
    /// The window's calls that were neither slow nor failed (the baseline had too few calls).
    RestOfWindow,
}

/// A group of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Calls {
    /// Calls in the group.
    pub calls: usize,
    /// Of `calls`: the ones examined (all, up to a bound; beyond it the slowest and failed of
    /// the slow calls, and a fixed sample of the others).
    pub examined: usize,
}

/// Why one hop was slow in a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhyReport {
    pub caller: Option<String>,
    pub callee: String,
    pub window: Window,
    pub baseline: Option<Window>,
    pub compared_with: Comparison,
    /// The hop's calls in the window.
    pub calls: usize,
    /// The window's p90 of the hop's call durations: slower calls are slow.
    pub p90_ms: Option<f64>,
    /// Calls above `p90_ms` or failed.
    pub slow: Calls,
    /// Of `slow`: the ones that failed.
    pub failed: usize,
    /// What they were compared with.
    pub others: Calls,
    /// Facts ranked by how much more often they hold for the slow calls.
    pub evidence: Vec<Evidence>,
    /// Where the time of a slow call went, against a call compared with, by part of the
    /// callee and by call beneath it: mean critical time per call, most added first.
    pub time: Vec<TimePart>,
}

/// One fact and how often it holds on each side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub attribute: Attribute,
    pub value: String,
    /// Examined slow calls it holds for, and their share.
    pub slow: usize,
    pub slow_share: f64,
    /// Examined calls compared with it holds for, and their share.
    pub others: usize,
    pub others_share: f64,
    /// The calls compared with: a sandbox always with the window's other calls.
    pub compared_with: Comparison,
    /// Other facts that hold for exactly the same calls.
    pub same_calls: Vec<(Attribute, String)>,
    /// Slow calls it holds for, the slowest first: their trace ids.
    pub traces: Vec<String>,
}

impl Evidence {
    /// How much more often the fact holds for the slow calls, in shares (-1..1).
    pub fn lift(&self) -> f64 {
        self.slow_share - self.others_share
    }
}

/// Mean critical time per call of one part, among slow calls and among the others.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimePart {
    /// `init`, `overhead` or `code` of the callee itself, or a call beneath it.
    pub part: String,
    pub slow_ms: f64,
    pub others_ms: f64,
}

/// Trace ids given per evidence line.
const EVIDENCE_TRACES: usize = 3;
/// Parts of the time breakdown kept.
const TIME_PARTS: usize = 8;

impl WhyReport {
    pub async fn load(session: &Session, q: &WhyQuery) -> Result<WhyReport> {
        let window = crate::window::or_last_hour(session, q.window).await?;
        let baseline = q.baseline.of(window);
        let hop = calls::Hop {
            caller: q.caller.as_deref(),
            callee: &q.callee,
        };
        let now = calls::calls(session, hop, window).await?;
        let before = match baseline {
            Some(b) => calls::calls(session, hop, b).await?,
            None => Vec::new(),
        };
        let p90_ms = p90(&now);
        let (slow, rest): (Vec<_>, Vec<_>) = now
            .iter()
            .cloned()
            .partition(|c| c.failed || p90_ms.is_some_and(|p| c.duration_ms > p));
        let compared_with = if before.len() >= MIN_BASELINE_CALLS {
            Comparison::Baseline
        } else {
            Comparison::RestOfWindow
        };
        // Sandboxes live minutes: the baseline's are others by construction, so a sandbox is
        // compared with the window's other calls (which `others` already are without one).
        let (others, rest) = match compared_with {
            Comparison::Baseline => (before, rest),
            Comparison::RestOfWindow => (rest, Vec::new()),
        };
        let failed = slow.iter().filter(|c| c.failed).count();
        let (slow_total, others_total) = (slow.len(), others.len());
        let slow = calls::slowest(slow, MAX_SLOW_CALLS);
        let others = calls::sample(others, MAX_OTHER_CALLS);
        let rest = calls::sample(rest, MAX_OTHER_CALLS);

        let examined = slow.iter().chain(&others).chain(&rest);
        let trees = calls::subtrees(session, examined).await?;
        let groups = facts::Groups {
            slow: slow.len(),
            others: others.len(),
        };
        let described = facts::Described::new(&trees, &q.callee, groups);
        let evidence = rank::rank(&described, q.limit)
            .into_iter()
            .map(|r| Evidence {
                attribute: r.fact.0.clone(),
                value: r.fact.1.clone(),
                slow: r.slow,
                slow_share: share(r.slow, slow.len()),
                others: r.others,
                others_share: share(r.others, r.others_of),
                compared_with: if r.others_of == others.len() {
                    compared_with
                } else {
                    Comparison::RestOfWindow
                },
                same_calls: r.same,
                traces: r
                    .slow_calls
                    .iter()
                    .take(EVIDENCE_TRACES)
                    .map(|&i| slow[i].trace_id.clone())
                    .collect(),
            })
            .collect();
        Ok(WhyReport {
            caller: q.caller.clone(),
            callee: q.callee.clone(),
            window,
            baseline,
            compared_with,
            calls: now.len(),
            p90_ms,
            slow: Calls {
                calls: slow_total,
                examined: slow.len(),
            },
            failed,
            others: Calls {
                calls: others_total,
                examined: others.len(),
            },
            evidence,
            time: time_parts(&described),
        })
    }
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

/// The p90 of the calls' durations (nearest rank), `None` without calls.
fn p90(calls: &[calls::Call]) -> Option<f64> {
    let mut d: Vec<f64> = calls.iter().map(|c| c.duration_ms).collect();
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    let rank = (0.9 * d.len() as f64).ceil() as usize;
    Some(d[rank.clamp(1, d.len()) - 1])
}

/// Mean critical time per call of each part, slow calls against the others, the parts that
/// added the most first.
fn time_parts(described: &facts::Described) -> Vec<TimePart> {
    let facts::Groups { slow, others } = described.groups;
    let mut sums: HashMap<&str, (f64, f64)> = HashMap::new();
    for (call, parts) in described.time.iter().enumerate().take(slow + others) {
        for (part, ms) in parts {
            let e = sums.entry(part.as_str()).or_default();
            if call < slow {
                e.0 += ms;
            } else {
                e.1 += ms;
            }
        }
    }
    let mean = |sum: f64, n: usize| if n == 0 { 0.0 } else { sum / n as f64 };
    let mut parts: Vec<TimePart> = sums
        .into_iter()
        .map(|(part, (s, o))| TimePart {
            part: part.to_owned(),
            slow_ms: mean(s, slow),
            others_ms: mean(o, others),
        })
        .collect();
    parts.sort_by(|a, b| {
        (b.slow_ms - b.others_ms)
            .total_cmp(&(a.slow_ms - a.others_ms))
            .then_with(|| a.part.cmp(&b.part))
    });
    parts.truncate(TIME_PARTS);
    parts
}

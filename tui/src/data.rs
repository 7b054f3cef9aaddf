//! What the dashboard asks of the store and what comes back: requests, responses and the queries
//! behind them. Everything here runs in the worker, never in the render loop.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use hopscope_analyzer::Session;
use hopscope_analyzer::alarms::state::AlarmStore;
use hopscope_analyzer::alarms::{self, AlarmStatus, Rule, Severity, State};
use hopscope_analyzer::amplification::{self, AmplificationReport};
use hopscope_analyzer::changes::{self, ChangesQuery, ChangesReport};
use hopscope_analyzer::hops::{Baseline, Hop, HopQuery, HopReport};
pub use hopscope_analyzer::hops::{HopDetail, Percentile, Window};
use hopscope_analyzer::insights::{self, Scope, field, output};
use hopscope_analyzer::service_map::ServiceMap;
use hopscope_analyzer::text::{TextTable, sanitize};
use hopscope_analyzer::timeouts::{self, TimeoutReport};
use hopscope_analyzer::trace_detail::TraceDetail;
use hopscope_analyzer::why::{WhyQuery, WhyReport};
pub use hopscope_analyzer::window::Anchor;

/// Result rows kept for the SQL screen; the status line says how many there were in all.
pub const MAX_SQL_ROWS: usize = 10_000;
/// Log lines the logs screen shows, newest first.
pub const MAX_LOG_LINES: usize = 1_000;
/// Patterns the logs screen shows, new and grown first.
pub const MAX_PATTERNS: usize = 200;

/// The time range the dashboard shows: a span of time ending at its anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub span_secs: i64,
    pub anchor: Anchor,
}

impl TimeRange {
    /// The presets of the time range picker.
    pub const PRESETS: [i64; 6] = [15 * 60, 3600, 3 * 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600];

    /// `15m`, `1h`, `7d`: the span in its largest whole unit.
    pub fn span_label(&self) -> String {
        duration_label(self.span_secs)
    }
}

/// A duration in seconds in its largest whole unit: `90s`, `15m`, `1h`, `7d`.
pub fn duration_label(secs: i64) -> String {
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A request to the worker; `id` ties the answer to it (answers to superseded requests are
/// dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: u64,
    pub query: Query,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// The overview: ranked hops and the service map of the range.
    Overview {
        range: TimeRange,
        now_us: i64,
        baseline: bool,
    },
    /// One hop over a window, against its baseline.
    Hop {
        hop: Box<Hop>,
        window: Window,
        baseline: Option<Window>,
        /// Histogram buckets: as many as the screen has rows for.
        buckets: usize,
    },
    /// Every alarm rule evaluated at the end of the range, read-only (stored state is read for
    /// the previous states, never written).
    Alarms {
        rules: Arc<Vec<Rule>>,
        range: TimeRange,
        now_us: i64,
    },
    /// Why the hop is slow: its slow calls against the baseline's (or the window's others).
    Why {
        hop: Box<Hop>,
        window: Window,
        baseline: Option<Window>,
    },
    /// What changed in the window: of the first of `functions` that names a Lambda function
    /// the store has lanes of (the hop's callee, else its caller), else of every function;
    /// alarm changes replayed from `rules` when none were recorded.
    Changes {
        functions: Vec<String>,
        window: Window,
        rules: Arc<Vec<Rule>>,
        /// Lane points: as many as the pane has columns for.
        points: usize,
    },
    /// Every timeout of the window and what it waited on.
    Timeouts { window: Window },
    /// How much work one request became, per entry point.
    Amplification { window: Window },
    /// One trace's waterfall, invocations and logs.
    Trace { trace_id: String },
    /// A user's SQL.
    Sql { text: String },
    /// The log lines of the range that match a search, and their patterns (against the
    /// baseline's when `baseline`).
    Logs {
        range: TimeRange,
        now_us: i64,
        search: String,
        baseline: bool,
    },
}

impl Query {
    /// Requests of the same slot replace each other: a newer one cancels the older.
    pub fn slot(&self) -> &'static str {
        match self {
            Query::Overview { .. } => "overview",
            Query::Hop { .. } => "hop",
            Query::Alarms { .. } => "alarms",
            Query::Why { .. } => "why",
            Query::Changes { .. } => "changes",
            Query::Timeouts { .. } => "timeouts",
            Query::Amplification { .. } => "amplification",
            Query::Trace { .. } => "trace",
            Query::Sql { .. } => "sql",
            Query::Logs { .. } => "logs",
        }
    }
}

/// The worker's answer to the request `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: u64,
    pub result: Result<Answer, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Overview(Box<Overview>),
    Hop(Box<HopDetail>),
    Alarms(Vec<AlarmLine>),
    Why(Box<WhyReport>),
    Changes(Box<ChangesReport>),
    Timeouts(Box<TimeoutReport>),
    Amplification(Box<AmplificationReport>),
    /// `None`: the store has no span of that trace.
    Trace(Option<Box<TraceDetail>>),
    Sql(SqlResult),
    Logs(Box<LogsResult>),
}

/// What the logs screen shows (text sanitized).
#[derive(Debug, Clone, PartialEq)]
pub struct LogsResult {
    /// The range's window; `None` when the store holds no spans to anchor it on.
    pub window: Option<Window>,
    /// Matching lines, newest first, at most [`MAX_LOG_LINES`].
    pub lines: Vec<LogRow>,
    /// The lines' patterns, new and grown first with a baseline, else the most common first.
    pub patterns: Vec<PatternRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    /// `HH:MM:SS.mmm` (UTC; the milliseconds left out when they are zero).
    pub time: String,
    pub group: String,
    pub request_id: Option<String>,
    /// The X-Ray trace of the line's invocation: the line's own, or its request's.
    pub trace_id: Option<String>,
    /// The line, tabs as spaces, the trailing newline dropped.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatternRow {
    pub pattern: String,
    pub count: i64,
    /// Lines of the baseline window (with a baseline).
    pub previous: Option<i64>,
    /// `new`, `grown`, `unchanged`, `shrunk` or `gone` (with a baseline).
    pub change: Option<String>,
}

/// The commands a search runs: a Logs Insights query as typed when it starts with a command
/// (`filter level = "ERROR"`, `parse @message ...`), else a search for the text in `@message`.
pub fn search_commands(search: &str) -> Option<String> {
    let search = search.trim();
    if search.is_empty() {
        return None;
    }
    let first = search
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ["filter", "parse", "fields", "display", "dedup", "unnest"].contains(&first.as_str()) {
        return Some(search.to_string());
    }
    let quoted = search.replace('\\', "\\\\").replace('"', "\\\"");
    Some(format!("filter @message like \"{quoted}\""))
}

/// Points of the p99 sparkline of each hop.
pub const SERIES_BUCKETS: usize = 24;
/// Slowest traces kept per hop.
pub const SLOWEST_TRACES: usize = 10;

/// What the overview shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// The window the range resolved to; `None` when the store holds no spans.
    pub window: Option<Window>,
    /// Ranked hops; `None` with no window. Names stay as stored, since the hop screen queries
    /// by them; the screens sanitize them where they draw them.
    pub report: Option<HopReport>,
    pub map: Vec<MapLine>,
}

/// One alarm of the overview's panel (text sanitized).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmLine {
    pub state: State,
    pub severity: Severity,
    pub rule: String,
    /// What the alarm watches: a function, a service, `caller -> callee`, a query's key.
    pub key: String,
    /// CloudWatch's kind of reason: `Threshold Crossed: 3 out of the last 3 datapoints …`.
    pub reason: String,
    /// `false` for building blocks of composite rules, which notify nobody.
    pub actions_enabled: bool,
}

/// The panel's order: ALARM, then INSUFFICIENT_DATA, then OK; within a state, alarms that notify
/// before building blocks, the most severe first, then by rule and key.
pub fn alarm_lines(statuses: Vec<AlarmStatus>) -> Vec<AlarmLine> {
    let rank = |s: State| match s {
        State::Alarm => 0,
        State::InsufficientData => 1,
        State::Ok => 2,
    };
    let mut lines: Vec<AlarmLine> = statuses
        .into_iter()
        .map(|s| AlarmLine {
            state: s.state,
            severity: s.severity,
            rule: sanitize(&s.rule),
            key: sanitize(&s.key),
            reason: sanitize(&s.reason),
            actions_enabled: s.actions_enabled,
        })
        .collect();
    lines.sort_by(|a, b| {
        rank(a.state)
            .cmp(&rank(b.state))
            .then(b.actions_enabled.cmp(&a.actions_enabled))
            .then(b.severity.cmp(&a.severity))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.key.cmp(&b.key))
    });
    lines
}

/// The result of a user's query.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlResult {
    pub table: TextTable,
    pub elapsed_ms: f64,
}

/// How an edge of the map is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Ok,
    /// Client errors (4xx) at 5 % or more, or any throttle or fault.
    Warn,
    /// Faults (5xx) or throttles at 1 % or more of requests.
    Bad,
}

impl Health {
    pub fn of(requests: i64, errors: i64, throttles: i64, faults: i64) -> Health {
        let rate = |n: i64| {
            if requests > 0 {
                n as f64 / requests as f64
            } else {
                0.0
            }
        };
        if rate(faults + throttles) >= 0.01 {
            Health::Bad
        } else if rate(errors) >= 0.05 || faults + throttles > 0 {
            Health::Warn
        } else {
            Health::Ok
        }
    }

    /// The mark shown beside the name, so health reads without colour.
    pub fn mark(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Warn => "!",
            Health::Bad => "!!",
        }
    }
}

/// One line of the service map drawn as a tree: a node, reached from its caller.
#[derive(Debug, Clone, PartialEq)]
pub struct MapLine {
    pub depth: u16,
    /// `None` for a root (an entry point of traces).
    pub caller: Option<String>,
    pub node: String,
    pub node_type: Option<String>,
    pub requests: i64,
    pub errors: i64,
    pub throttles: i64,
    pub faults: i64,
    pub p99_ms: Option<f64>,
    /// `p99_ms` is below CloudWatch's significance bound.
    pub p99_low_sample: bool,
    pub health: Health,
    /// The node was drawn (with its callees) earlier in the tree.
    pub repeated: bool,
}

/// Draws the map as a tree from its roots, callees in name order. A node reached again is
/// listed but not expanded a second time, so shared dependencies and cycles stay finite.
pub fn map_tree(map: &ServiceMap) -> Vec<MapLine> {
    let mut callees: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in map.edges.iter().enumerate() {
        if e.caller != e.callee {
            callees.entry(e.caller.as_str()).or_default().push(i);
        }
    }
    for list in callees.values_mut() {
        list.sort_by(|&a, &b| map.edges[a].callee.cmp(&map.edges[b].callee));
    }
    let called: HashSet<&str> = map
        .edges
        .iter()
        .filter(|e| e.caller != e.callee)
        .map(|e| e.callee.as_str())
        .collect();
    let mut roots: Vec<&hopscope_analyzer::service_map::MapNode> = map
        .nodes
        .iter()
        .filter(|n| n.root || !called.contains(n.name.as_str()))
        .collect();
    roots.sort_by(|a, b| a.name.cmp(&b.name));
    roots.dedup_by(|a, b| a.name == b.name);
    let mut lines = Vec::new();
    let mut expanded: HashSet<String> = HashSet::new();
    for root in roots {
        let repeated = !expanded.insert(root.name.clone());
        lines.push(MapLine {
            depth: 0,
            caller: None,
            node: sanitize(&root.name),
            node_type: root.node_type.as_deref().map(sanitize),
            requests: root.requests,
            errors: 0,
            throttles: 0,
            faults: root.faults,
            p99_ms: None,
            p99_low_sample: false,
            health: Health::of(root.requests, 0, 0, root.faults),
            repeated,
        });
        if !repeated {
            walk(map, &callees, &root.name, 1, &mut expanded, &mut lines);
        }
    }
    lines
}

fn walk(
    map: &ServiceMap,
    callees: &BTreeMap<&str, Vec<usize>>,
    node: &str,
    depth: u16,
    expanded: &mut HashSet<String>,
    lines: &mut Vec<MapLine>,
) {
    for &i in callees.get(node).map(Vec::as_slice).unwrap_or_default() {
        let e = &map.edges[i];
        let repeated = !expanded.insert(e.callee.clone());
        lines.push(MapLine {
            depth,
            caller: Some(sanitize(&e.caller)),
            node: sanitize(&e.callee),
            node_type: e.callee_type.as_deref().map(sanitize),
            requests: e.requests,
            errors: e.errors,
            throttles: e.throttles,
            faults: e.faults,
            p99_ms: e.p99_ms.is_finite().then_some(e.p99_ms),
            p99_low_sample: e.p99_low_sample,
            health: Health::of(e.requests, e.errors, e.throttles, e.faults),
            repeated,
        });
        if !repeated {
            walk(map, callees, &e.callee, depth + 1, expanded, lines);
        }
    }
}

/// Answers one query against the session.
pub async fn answer(session: &Session, query: Query) -> Result<Answer, String> {
    match query {
        Query::Overview {
            range,
            now_us,
            baseline,
        } => load_overview(session, range, now_us, baseline)
            .await
            .map(|o| Answer::Overview(Box::new(o))),
        Query::Hop {
            hop,
            window,
            baseline,
            buckets,
        } => HopDetail::load(session, &hop, window, baseline, buckets)
            .await
            .map(|mut h| {
                for (kind, _) in &mut h.error_types {
                    *kind = sanitize(kind);
                }
                Answer::Hop(Box::new(h))
            })
            .map_err(|e| e.to_string()),
        Query::Alarms {
            rules,
            range,
            now_us,
        } => load_alarms(session, &rules, range, now_us)
            .await
            .map(Answer::Alarms),
        Query::Why {
            hop,
            window,
            baseline,
        } => {
            let q = WhyQuery {
                caller: hop.caller.clone(),
                callee: hop.callee.clone(),
                window: Some(window),
                baseline: baseline.map_or(Baseline::Off, Baseline::Window),
                limit: WHY_EVIDENCE,
            };
            WhyReport::load(session, &q)
                .await
                .map(|r| Answer::Why(Box::new(r)))
                .map_err(|e| e.to_string())
        }
        Query::Changes {
            functions,
            window,
            rules,
            points,
        } => load_changes(session, &functions, window, &rules, points)
            .await
            .map(|r| Answer::Changes(Box::new(r)))
            .map_err(|e| e.to_string()),
        Query::Timeouts { window } => timeouts::load(session, Some(window))
            .await
            .map(|r| Answer::Timeouts(Box::new(r)))
            .map_err(|e| e.to_string()),
        Query::Amplification { window } => amplification::load(session, Some(window))
            .await
            .map(|r| Answer::Amplification(Box::new(r)))
            .map_err(|e| e.to_string()),
        Query::Trace { trace_id } => TraceDetail::load(session, &trace_id)
            .await
            .map(|t| Answer::Trace(t.map(|t| Box::new(t.sanitized()))))
            .map_err(|e| e.to_string()),
        Query::Sql { text } => {
            let started = Instant::now();
            let batches = session.collect(&text).await.map_err(|e| e.to_string())?;
            let table =
                TextTable::from_batches(&batches, MAX_SQL_ROWS).map_err(|e| e.to_string())?;
            Ok(Answer::Sql(SqlResult {
                table,
                elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
            }))
        }
        Query::Logs {
            range,
            now_us,
            search,
            baseline,
        } => load_logs(session, range, now_us, &search, baseline)
            .await
            .map(|l| Answer::Logs(Box::new(l))),
    }
}

/// Evidence lines the why pane keeps.
pub const WHY_EVIDENCE: usize = 12;

/// The changes of the first of `functions` the store has lanes of, else of every function (a
/// hop from an API into a database has no function on either side).
async fn load_changes(
    session: &Session,
    functions: &[String],
    window: Window,
    rules: &[Rule],
    points: usize,
) -> hopscope_analyzer::error::Result<ChangesReport> {
    let function = changes::first_function(session, functions, window).await?;
    let q = ChangesQuery {
        window: Some(window),
        functions: function.into_iter().collect(),
        points,
        rules: rules.to_vec(),
    };
    ChangesReport::load(session, &q).await
}

/// The logs screen's lines and patterns: two Logs Insights queries over the range, after the
/// search's commands.
async fn load_logs(
    session: &Session,
    range: TimeRange,
    now_us: i64,
    search: &str,
    baseline: bool,
) -> Result<LogsResult, String> {
    let window = resolve(session, range, now_us).await?;
    let scope = Scope {
        window,
        log_groups: Vec::new(),
    };
    let then = |rest: &str| match search_commands(search) {
        Some(first) => format!("{first} | {rest}"),
        None => rest.to_string(),
    };
    let lines = run(
        session,
        &then(&format!(
            "fields {}, {}, {}, {}, {} | sort {} desc | limit {MAX_LOG_LINES}",
            field::TIMESTAMP,
            field::LOG,
            field::REQUEST_ID,
            field::XRAY_TRACE_ID,
            field::MESSAGE,
            field::TIMESTAMP
        )),
        &scope,
        MAX_LOG_LINES,
    )
    .await?;
    let cell = |table: &TextTable, row: &[String], name: &str| {
        table
            .columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| row.get(i))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let mut rows: Vec<LogRow> = lines
        .rows
        .iter()
        .map(|r| LogRow {
            // `2026-11-20T10:59:45.438Z` -> `10:59:45.438`.
            time: cell(&lines, r, field::TIMESTAMP)
                .map(|t| t.get(11..).unwrap_or(&t).trim_end_matches('Z').to_string())
                .unwrap_or_default(),
            group: cell(&lines, r, field::LOG).unwrap_or_default(),
            request_id: cell(&lines, r, field::REQUEST_ID),
            trace_id: cell(&lines, r, field::XRAY_TRACE_ID),
            // Sanitized text: a tab or newline of the line is `\t`, `\n` here.
            message: cell(&lines, r, field::MESSAGE)
                .unwrap_or_default()
                .trim_end_matches("\\n")
                .replace("\\t", "  "),
        })
        .collect();
    fill_trace_ids(session, &mut rows).await?;
    let diff = baseline && window.is_some();
    let patterns = run(
        session,
        &then(if diff {
            "pattern @message | diff"
        } else {
            "pattern @message"
        }),
        &scope,
        MAX_PATTERNS,
    )
    .await?;
    let patterns = patterns
        .rows
        .iter()
        .map(|r| PatternRow {
            pattern: cell(&patterns, r, output::PATTERN).unwrap_or_default(),
            count: cell(&patterns, r, output::SAMPLE_COUNT)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
            previous: cell(&patterns, r, output::PREVIOUS_SAMPLE_COUNT)
                .and_then(|c| c.parse().ok()),
            change: cell(&patterns, r, output::CHANGE_TYPE),
        })
        .collect();
    Ok(LogsResult {
        window,
        lines: rows,
        patterns,
    })
}

async fn run(
    session: &Session,
    query: &str,
    scope: &Scope,
    max_rows: usize,
) -> Result<TextTable, String> {
    let out = insights::run(session, query, scope)
        .await
        .map_err(|e| e.to_string())?;
    TextTable::from_batches(&out.batches, max_rows).map_err(|e| e.to_string())
}

/// Gives the lines of an invocation its trace: only REPORT lines carry the XRAY trace id, so
/// the others take their request's from `lambda_invocations`.
async fn fill_trace_ids(session: &Session, rows: &mut [LogRow]) -> Result<(), String> {
    let wanted: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.trace_id.is_none())
        .filter_map(|r| r.request_id.as_deref())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let list = wanted
        .iter()
        .map(|id| format!("'{}'", id.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let batches = session
        .collect(&format!(
            "SELECT request_id, trace_id FROM lambda_invocations WHERE trace_id IS NOT NULL AND request_id IN ({list})"
        ))
        .await
        .map_err(|e| e.to_string())?;
    let table = TextTable::from_batches(&batches, usize::MAX).map_err(|e| e.to_string())?;
    let traces: BTreeMap<&str, &str> = table
        .rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    for row in rows.iter_mut().filter(|r| r.trace_id.is_none()) {
        if let Some(t) = row.request_id.as_deref().and_then(|id| traces.get(id)) {
            row.trace_id = Some((*t).to_string());
        }
    }
    Ok(())
}

async fn load_overview(
    session: &Session,
    range: TimeRange,
    now_us: i64,
    baseline: bool,
) -> Result<Overview, String> {
    let Some(window) = resolve(session, range, now_us).await? else {
        return Ok(Overview {
            window: None,
            report: None,
            map: Vec::new(),
        });
    };
    let query = HopQuery {
        window: Some(window),
        baseline: if baseline {
            Baseline::Preceding
        } else {
            Baseline::Off
        },
        slowest_traces: SLOWEST_TRACES,
        series_buckets: SERIES_BUCKETS,
    };
    let report = HopReport::load(session, &query)
        .await
        .map_err(|e| e.to_string())?;
    let map = ServiceMap::load_in(session, Some(window))
        .await
        .map_err(|e| e.to_string())?;
    Ok(Overview {
        window: Some(window),
        report: Some(report),
        map: map_tree(&map),
    })
}

/// Evaluates the rules as at the end of the range (now, or the newest data of a past incident).
async fn load_alarms(
    session: &Session,
    rules: &[Rule],
    range: TimeRange,
    now_us: i64,
) -> Result<Vec<AlarmLine>, String> {
    let at = resolve(session, range, now_us)
        .await?
        .map_or(now_us, |w| w.end_us);
    // Alarm state is kept beside a local store only: on S3 every rule starts from OK.
    let previous = match session.local_root() {
        Some(root) => {
            let store = AlarmStore::new(root);
            store
                .load()
                .map_err(|e| format!("reading {}: {e}", store.dir().display()))?
        }
        None => hopscope_analyzer::alarms::state::StateFile::default(),
    };
    let statuses = alarms::evaluate_rules(session, rules, at, &previous)
        .await
        .map_err(|e| e.to_string())?;
    Ok(alarm_lines(statuses))
}

/// The window a range covers: ending now, or at the newest span in the store.
async fn resolve(
    session: &Session,
    range: TimeRange,
    now_us: i64,
) -> Result<Option<Window>, String> {
    hopscope_analyzer::window::resolve(session, range.span_secs * 1_000_000, range.anchor, now_us)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use hopscope_analyzer::service_map::{MapEdge, MapNode};

    use super::*;

    fn edge(caller: &str, callee: &str, requests: i64, faults: i64) -> MapEdge {
        MapEdge {
            caller: caller.into(),
            callee: callee.into(),
            callee_type: None,
            account_id: None,
            region: None,
            requests,
            ok: requests - faults,
            errors: 0,
            throttles: 0,
            faults,
            avg_ms: 1.0,
            p50_ms: 1.0,
            p99_ms: 2.0,
            samples: 3,
            censored: 0,
            p50_low_sample: true,
            p99_low_sample: true,
            async_calls: 0,
            dwell_p99_ms: None,
        }
    }

    #[test]
    fn map_tree_walks_from_roots_and_stops_at_repeats() {
        let map = ServiceMap {
            nodes: vec![MapNode {
                name: "api".into(),
                node_type: None,
                account_id: None,
                region: None,
                root: true,
                requests: 100,
                faults: 0,
            }],
            edges: vec![
                edge("api", "fn", 100, 0),
                edge("fn", "fn", 100, 0),
                edge("fn", "db", 100, 5),
                edge("fn", "api", 1, 0),
                edge("db", "fn", 1, 0),
            ],
            coverage: None,
            unsummarized_files: 0,
        };
        let tree = map_tree(&map);
        let lines: Vec<(u16, &str, bool, Health)> = tree
            .iter()
            .map(|l| (l.depth, l.node.as_str(), l.repeated, l.health))
            .collect();
        assert_eq!(
            lines,
            [
                (0, "api", false, Health::Ok),
                (1, "fn", false, Health::Ok),
                (2, "api", true, Health::Ok),
                (2, "db", false, Health::Bad),
                (3, "fn", true, Health::Ok),
            ]
        );
    }

    #[test]
    fn health_thresholds() {
        assert_eq!(Health::of(1000, 10, 0, 0), Health::Ok);
        assert_eq!(Health::of(1000, 60, 0, 0), Health::Warn);
        assert_eq!(Health::of(1000, 0, 1, 0), Health::Warn);
        assert_eq!(Health::of(1000, 0, 5, 5), Health::Bad);
        assert_eq!(Health::of(0, 0, 0, 0), Health::Ok);
    }

    fn status(state: State, rule: &str, key: &str, actions_enabled: bool) -> AlarmStatus {
        AlarmStatus {
            rule: rule.into(),
            key: key.into(),
            state,
            previous: State::InsufficientData,
            reason: "Threshold Crossed: 1 datapoint [9.0] was greater than the threshold (1.0)."
                .into(),
            since: String::new(),
            evaluated: String::new(),
            severity: Severity::Warning,
            actions_enabled,
            latest: None,
        }
    }

    #[test]
    fn alarm_lines_put_alarm_first_and_escape_control_characters() {
        let lines = alarm_lines(vec![
            status(State::Ok, "a", "f", true),
            status(State::InsufficientData, "b", "f", true),
            status(State::Alarm, "c-high", "f", false),
            status(
                State::Alarm,
                "c",
                "f\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J",
                true,
            ),
        ]);
        let order: Vec<(State, &str)> = lines.iter().map(|l| (l.state, l.rule.as_str())).collect();
        assert_eq!(
            order,
            [
                (State::Alarm, "c"),
                (State::Alarm, "c-high"),
                (State::InsufficientData, "b"),
                (State::Ok, "a"),
            ]
        );
        assert_eq!(lines[0].key, r"f\x1b]52;c;ZXZpbA==\x07\x1b[2J");
    }

    #[test]
    fn duration_labels() {
        assert_eq!(duration_label(900), "15m");
        assert_eq!(duration_label(3600), "1h");
        assert_eq!(duration_label(7 * 86_400), "7d");
        assert_eq!(duration_label(90), "90s");
    }
}

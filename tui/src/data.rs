//! What the dashboard asks of the store and what comes back: requests, responses and the queries
//! behind them. Everything here runs in the worker, never in the render loop.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use hopscope_analyzer::Session;
use hopscope_analyzer::service_map::ServiceMap;
use hopscope_analyzer::text::{TextTable, sanitize};

/// Result rows kept for the SQL screen; the status line says how many there were in all.
pub const MAX_SQL_ROWS: usize = 10_000;

/// A half-open time window in microseconds since the epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_us: i64,
    pub end_us: i64,
}

/// Where a time range ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// At the clock's now (`hopscope tui --since 1h`).
    Now,
    /// At the newest span in the store (`hopscope demo`, stores of past incidents).
    LatestData,
}

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
    /// The overview: the service map of the range.
    Overview { range: TimeRange, now_us: i64 },
    /// A user's SQL.
    Sql { text: String },
}

impl Query {
    /// Requests of the same slot replace each other: a newer one cancels the older.
    pub fn slot(&self) -> &'static str {
        match self {
            Query::Overview { .. } => "overview",
            Query::Sql { .. } => "sql",
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
    Sql(SqlResult),
}

/// What the overview shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// The window the range resolved to; `None` when the store holds no spans.
    pub window: Option<Window>,
    pub map: Vec<MapLine>,
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
        Query::Overview { range, now_us } => load_overview(session, range, now_us)
            .await
            .map(|o| Answer::Overview(Box::new(o))),
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
    }
}

async fn load_overview(
    session: &Session,
    range: TimeRange,
    now_us: i64,
) -> Result<Overview, String> {
    let window = resolve(session, range, now_us).await?;
    let map = ServiceMap::load(session).await.map_err(|e| e.to_string())?;
    Ok(Overview {
        window,
        map: map_tree(&map),
    })
}

/// The window a range covers: ending now, or at the newest span in the store.
pub async fn resolve(
    session: &Session,
    range: TimeRange,
    now_us: i64,
) -> Result<Option<Window>, String> {
    let end_us = match range.anchor {
        Anchor::Now => now_us,
        Anchor::LatestData => match latest_span_us(session).await? {
            Some(t) => t + 1,
            None => return Ok(None),
        },
    };
    Ok(Some(Window {
        start_us: end_us - range.span_secs * 1_000_000,
        end_us,
    }))
}

async fn latest_span_us(session: &Session) -> Result<Option<i64>, String> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;
    use hopscope_schema::spans::{TABLE, col};
    let batches = session
        .collect(&format!(
            "SELECT CAST(max({}) AS BIGINT) AS t FROM {TABLE}",
            col::START_TIME
        ))
        .await
        .map_err(|e| e.to_string())?;
    Ok(batches.first().and_then(|b| {
        let a = b.column(0).as_primitive::<Int64Type>();
        (a.len() > 0 && a.is_valid(0)).then(|| a.value(0))
    }))
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
            requests,
            ok: requests - faults,
            errors: 0,
            throttles: 0,
            faults,
            avg_ms: 1.0,
            p50_ms: 1.0,
            p99_ms: 2.0,
        }
    }

    #[test]
    fn map_tree_walks_from_roots_and_stops_at_repeats() {
        let map = ServiceMap {
            nodes: vec![MapNode {
                name: "api".into(),
                node_type: None,
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

    #[test]
    fn duration_labels() {
        assert_eq!(duration_label(900), "15m");
        assert_eq!(duration_label(3600), "1h");
        assert_eq!(duration_label(7 * 86_400), "7d");
        assert_eq!(duration_label(90), "90s");
    }
}

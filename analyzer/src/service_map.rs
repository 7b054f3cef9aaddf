//! The service map as data (what the `service_nodes` and `service_edges` views hold, tallied by
//! hand in one pass) and its renderings: Graphviz DOT and Mermaid.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::error::Result;
use crate::session::Session;
use crate::significance::is_low_sample;
use crate::window::Window;

mod tally;

pub(crate) use tally::{coarsen, summarize};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapNode {
    /// The service's name; `name [region]` (or `[account/region]`) when the map holds several
    /// accounts or Regions, so that a service deployed in two stays two nodes.
    pub name: String,
    pub node_type: Option<String>,
    /// Where its spans were collected (null for imported ones).
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub root: bool,
    pub requests: i64,
    pub faults: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapEdge {
    pub caller: String,
    pub callee: String,
    pub callee_type: Option<String>,
    /// Where the calls were collected (a trace is read in one account and Region).
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub requests: i64,
    pub ok: i64,
    pub errors: i64,
    pub throttles: i64,
    pub faults: i64,
    /// Averages and percentiles count calls that never answered at the time their caller
    /// waited (see `censored`).
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Calls with a duration: what the percentiles are taken over.
    pub samples: i64,
    /// Of `samples`: calls that never answered or timed out; their real duration is longer.
    pub censored: i64,
    /// Below CloudWatch's significance bound (see [`crate::significance`]).
    pub p50_low_sample: bool,
    pub p99_low_sample: bool,
    /// Calls the caller did not wait for (queue consumers, asynchronous executions).
    pub async_calls: i64,
    /// p99 of their queue dwell: from the end of the call that queued them to their start.
    pub dwell_p99_ms: Option<f64>,
}

impl MapEdge {
    /// The p99 in whole ms, `~`-marked when low-sample.
    fn p99_label(&self) -> String {
        let mark = if self.p99_low_sample { "~" } else { "" };
        format!("{mark}{:.0}", self.p99_ms)
    }
}

/// An optional value that sorts `None` last, as SQL's `ORDER BY` does by default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Last<T>(Option<T>);

impl<T: Ord> Ord for Last<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => a.cmp(b),
            (a, b) => b.is_some().cmp(&a.is_some()),
        }
    }
}

impl<T: Ord> PartialOrd for Last<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceMap {
    pub nodes: Vec<MapNode>,
    pub edges: Vec<MapEdge>,
    /// What share of the window's traces the store holds, when collections recorded it.
    pub coverage: Option<crate::coverage::Coverage>,
    /// Data files of spans read whole because they have no per-minute summary (a store written
    /// before rollups, or an import killed between a file and its summary): `hopscope store
    /// rebuild-rollups` adds the summaries.
    #[serde(skip)]
    pub unsummarized_files: usize,
}

/// How node names carry their account and Region: not at all while the map holds one (the usual
/// case), by Region when the Regions differ, by account and Region when the accounts do.
enum Qualifier {
    None,
    Region,
    AccountAndRegion,
}

impl Qualifier {
    fn of(groups: &[tally::Group]) -> Qualifier {
        let origins: std::collections::BTreeSet<(&Option<String>, &Option<String>)> =
            groups.iter().map(|g| (&g.account_id, &g.region)).collect();
        let accounts: std::collections::BTreeSet<_> = origins.iter().map(|o| o.0).collect();
        if origins.len() <= 1 {
            Qualifier::None
        } else if accounts.len() <= 1 {
            Qualifier::Region
        } else {
            Qualifier::AccountAndRegion
        }
    }

    fn of_name(&self, name: &str, account: &Option<String>, region: &Option<String>) -> String {
        let part = |p: &Option<String>| p.clone().unwrap_or_else(|| "imported".into());
        match self {
            Qualifier::None => name.to_string(),
            _ if account.is_none() && region.is_none() => format!("{name} [imported]"),
            Qualifier::Region => format!("{name} [{}]", part(region)),
            Qualifier::AccountAndRegion => {
                format!("{name} [{}/{}]", part(account), part(region))
            }
        }
    }
}

impl ServiceMap {
    /// Reads the map from a session. Edges between two spans of the same named node (a Lambda
    /// service and its function) are kept: X-Ray draws them too.
    pub async fn load(session: &Session) -> Result<ServiceMap> {
        ServiceMap::load_in(session, None).await
    }

    /// The map of the spans that started in `window` (`None`: everything stored).
    pub async fn load_in(session: &Session, window: Option<Window>) -> Result<ServiceMap> {
        let (groups, unsummarized_files) = tally::tally(session, window).await?;
        let name = Qualifier::of(&groups);
        let mut nodes: BTreeMap<(String, Last<String>), MapNode> = BTreeMap::new();
        let mut edges = Vec::new();
        for g in groups {
            let callee = name.of_name(&g.callee, &g.account_id, &g.region);
            let node = nodes
                .entry((callee.clone(), Last(g.callee_type.clone())))
                .or_insert_with(|| MapNode {
                    name: callee.clone(),
                    node_type: g.callee_type.clone(),
                    account_id: g.account_id.clone(),
                    region: g.region.clone(),
                    root: false,
                    requests: 0,
                    faults: 0,
                });
            node.root |= g.roots > 0;
            node.requests += g.requests;
            node.faults += g.faults;
            let Some(caller) = g.caller else {
                continue;
            };
            edges.push(MapEdge {
                caller: name.of_name(&caller, &g.account_id, &g.region),
                callee,
                callee_type: g.callee_type,
                account_id: g.account_id,
                region: g.region,
                requests: g.requests,
                ok: g.ok,
                errors: g.errors,
                throttles: g.throttles,
                faults: g.faults,
                avg_ms: g.avg_ms,
                p50_ms: g.p50_ms,
                p99_ms: g.p99_ms,
                samples: g.samples,
                censored: g.censored,
                p50_low_sample: is_low_sample(g.samples, 0.5),
                p99_low_sample: is_low_sample(g.samples, 0.99),
                async_calls: g.async_calls,
                dwell_p99_ms: g.dwell_p99_ms,
            });
        }
        // As SQL orders them: NULL types last.
        edges.sort_by(|a, b| {
            (&a.caller, &a.callee, Last(a.callee_type.clone())).cmp(&(
                &b.caller,
                &b.callee,
                Last(b.callee_type.clone()),
            ))
        });
        Ok(ServiceMap {
            nodes: nodes.into_values().collect(),
            edges,
            coverage: crate::coverage::Coverage::of(session, window).await?,
            unsummarized_files,
        })
    }

    /// Graphviz DOT: nodes by name, edges labelled with requests and p99, faulty edges red.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph service_map {\n  rankdir=LR;\n  node [shape=box];\n");
        for n in &self.nodes {
            let _ = writeln!(
                out,
                "  {} [label={}];",
                quote(&n.name),
                quote(&format!(
                    "{}\n{}",
                    n.name,
                    n.node_type.as_deref().unwrap_or("")
                ))
            );
        }
        for e in self.edges.iter().filter(|e| e.caller != e.callee) {
            let color = if e.faults > 0 {
                "red"
            } else if e.errors + e.throttles > 0 {
                "orange"
            } else {
                "black"
            };
            let label = format!("{} req, p99 {} ms", e.requests, e.p99_label());
            let _ = writeln!(
                out,
                "  {} -> {} [label={}, color={color}];",
                quote(&e.caller),
                quote(&e.callee),
                quote(&label)
            );
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart, with node ids made safe for Mermaid's grammar.
    pub fn to_mermaid(&self) -> String {
        let mut names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        names.extend(
            self.edges
                .iter()
                .flat_map(|e| [e.caller.as_str(), e.callee.as_str()]),
        );
        names.sort_unstable();
        names.dedup();
        let id = |name: &str| format!("n{}", names.binary_search(&name).unwrap_or(0));
        let mut out = String::from("flowchart LR\n");
        for name in &names {
            let _ = writeln!(out, "  {}[\"{}\"]", id(name), name.replace('"', "#quot;"));
        }
        for e in self.edges.iter().filter(|e| e.caller != e.callee) {
            let _ = writeln!(
                out,
                "  {} -->|\"{} req, p99 {} ms\"| {}",
                id(&e.caller),
                e.requests,
                e.p99_label(),
                id(&e.callee)
            );
        }
        out
    }
}

fn quote(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(caller: &str, callee: &str, faults: i64) -> MapEdge {
        MapEdge {
            caller: caller.into(),
            callee: callee.into(),
            callee_type: None,
            account_id: None,
            region: None,
            requests: 10,
            ok: 10 - faults,
            errors: 0,
            throttles: 0,
            faults,
            avg_ms: 5.0,
            p50_ms: 4.0,
            p99_ms: 9.6,
            samples: 10,
            censored: 0,
            p50_low_sample: true,
            p99_low_sample: true,
            async_calls: 0,
            dwell_p99_ms: None,
        }
    }

    fn map() -> ServiceMap {
        ServiceMap {
            nodes: vec![MapNode {
                name: "api \"v2\"".into(),
                node_type: Some("AWS::ApiGateway::Stage".into()),
                account_id: None,
                region: None,
                root: true,
                requests: 10,
                faults: 0,
            }],
            edges: vec![edge("api \"v2\"", "fn", 1), edge("fn", "fn", 0)],
            coverage: None,
            unsummarized_files: 0,
        }
    }

    #[test]
    fn dot_quotes_names_and_colours_faults() {
        let dot = map().to_dot();
        assert!(
            dot.contains(r#""api \"v2\"" -> "fn" [label="10 req, p99 ~10 ms", color=red];"#),
            "{dot}"
        );
        assert!(
            !dot.contains(r#""fn" -> "fn""#),
            "self edges are not drawn: {dot}"
        );
    }

    #[test]
    fn mermaid_uses_safe_ids() {
        let m = map().to_mermaid();
        assert_eq!(
            m,
            "flowchart LR\n  n0[\"api #quot;v2#quot;\"]\n  n1[\"fn\"]\n  n0 -->|\"10 req, p99 ~10 ms\"| n1\n"
        );
    }
}

//! What is true of one call: facts about the callee's own work and about every call beneath it.

use std::collections::HashMap;
use std::fmt;

use hopscope_schema::spans::kind;
use serde::Serialize;

use super::calls::{Span, Trees};
use crate::hops::TIMEOUT_MESSAGE;

const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";
const LAMBDA_SERVICE: &str = "AWS::Lambda";
/// Lambda's own subsegments of a function segment.
const INIT_SUBSEGMENTS: [&str; 2] = ["Initialization", "Restore"];
const OVERHEAD_SUBSEGMENT: &str = "Overhead";
/// Calls of one kind beneath the hop's calls, compared with, needed before "slower than usual"
/// means anything.
const MIN_USUAL_SAMPLES: usize = 10;

/// What a fact is about. When several facts hold for exactly the same calls, the first in this
/// order leads: the calls beneath first (they name where the time went), the call's own
/// outcome last (it is the symptom being explained).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    /// A call beneath took longer than that call's p90 among the calls compared with.
    SlowCall,
    /// A call beneath never answered.
    UnansweredCall,
    /// A call beneath failed, was throttled or timed out (its outcome).
    FailedCall,
    /// A Lambda function beneath started cold.
    ColdStartBeneath,
    /// The callee (a Lambda function) started cold: `yes` or `no`.
    ColdStart,
    /// The SQL statement of the call (sanitized).
    Sql,
    /// The AWS API operation of the call.
    Operation,
    /// The AWS resource of the call (table, bucket, queue, ...).
    Resource,
    /// `METHOD /first/two` segments of the call's URL, ids as `{id}`.
    Route,
    /// A call made beneath (service and operation, statement or route).
    Calls,
    /// The Lambda function version that ran (from its log stream).
    Version,
    /// The alias the function was invoked through.
    Alias,
    /// The Lambda function's memory size.
    Memory,
    Region,
    Account,
    /// The end user the X-Ray SDK recorded.
    User,
    /// An X-Ray annotation (its key).
    Annotation(String),
    /// The Lambda sandbox (log stream) that ran the call.
    Sandbox,
    /// How the call ended: `ok`, `error`, `throttled`, `fault`, `unanswered`, `timed out`.
    Outcome,
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Attribute::SlowCall => "slow call beneath",
            Attribute::UnansweredCall => "unanswered call beneath",
            Attribute::FailedCall => "failed call beneath",
            Attribute::ColdStartBeneath => "cold start beneath",
            Attribute::ColdStart => "cold start",
            Attribute::Sql => "SQL",
            Attribute::Operation => "operation",
            Attribute::Resource => "resource",
            Attribute::Route => "route",
            Attribute::Calls => "calls",
            Attribute::Version => "version",
            Attribute::Alias => "alias",
            Attribute::Memory => "memory",
            Attribute::Region => "Region",
            Attribute::Account => "account",
            Attribute::User => "user",
            Attribute::Annotation(key) => return write!(f, "annotation {key}"),
            Attribute::Sandbox => "sandbox",
            Attribute::Outcome => "outcome",
        };
        f.write_str(name)
    }
}

/// A fact: an attribute and its value.
pub(super) type Fact = (Attribute, String);

/// How the examined calls are ordered: `slow` slow calls, then `others` compared with, then
/// (when the others are the baseline's) the window's calls that were not slow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Groups {
    pub slow: usize,
    pub others: usize,
}

/// Every examined call described, in the order of [`Groups`].
#[derive(Debug, Default)]
pub(super) struct Described {
    pub groups: Groups,
    /// Per call, its facts (each once).
    pub facts: Vec<Vec<Fact>>,
    /// Per call, its critical time by part: `init`, `overhead`, `code`, or a call beneath.
    pub time: Vec<Vec<(String, f64)>>,
}

impl Described {
    /// Describes each call of `trees` (in the order of `groups`) made to `callee`.
    pub fn new(trees: &Trees, callee: &str, groups: Groups) -> Described {
        let parts: Vec<Vec<Part>> = trees
            .calls
            .iter()
            .map(|call| call.map(|root| parts(trees, root)).unwrap_or_default())
            .collect();
        let others = groups.slow.min(parts.len())..(groups.slow + groups.others).min(parts.len());
        let usual = usual_p90(&parts[others]);
        let mut out = Described {
            groups,
            ..Described::default()
        };
        for call in &parts {
            let mut facts = Vec::new();
            let mut time = Vec::new();
            if let Some(own) = call.first() {
                own_facts(trees, own, &mut facts);
                own_time(trees, own, callee, &mut time);
            }
            for (key, beneath) in by_key(call) {
                facts.push((Attribute::Calls, key.clone()));
                let ms: f64 = beneath.iter().map(|p| p.critical_ms).sum();
                if usual.get(&key).is_some_and(|&p90| ms > p90) {
                    facts.push((Attribute::SlowCall, key.clone()));
                }
                for p in &beneath {
                    match p.outcome.kind {
                        OutcomeKind::Ok => {}
                        OutcomeKind::Unanswered => {
                            facts.push((Attribute::UnansweredCall, key.clone()));
                        }
                        _ => facts.push((Attribute::FailedCall, format!("{key}: {}", p.outcome))),
                    }
                    if p.cold_start == Some(true) {
                        facts.push((Attribute::ColdStartBeneath, p.service.clone()));
                    }
                }
                time.push((key, ms));
            }
            facts.sort();
            facts.dedup();
            out.facts.push(facts);
            out.time.push(time);
        }
        out
    }
}

/// The work of one service within a call: the span that entered it and its spans beneath,
/// up to the spans that enter another service.
#[derive(Debug)]
struct Part {
    service: String,
    /// The service and what was asked of it: the key calls of one kind share.
    key: String,
    entry: usize,
    spans: Vec<usize>,
    critical_ms: f64,
    outcome: Outcome,
    /// `Some` for a Lambda function: whether it started cold.
    cold_start: Option<bool>,
}

/// The call's own part first, then each call beneath it at any depth.
fn parts(trees: &Trees, root: usize) -> Vec<Part> {
    let mut owner: HashMap<usize, usize> = HashMap::new();
    let mut parts: Vec<Part> = Vec::new();
    for i in trees.beneath(root) {
        let span = &trees.spans[i];
        let parent = trees.parent[i].filter(|p| owner.contains_key(p));
        let part = match parent {
            Some(p) if trees.spans[p].service == span.service => owner[&p],
            _ => {
                parts.push(Part {
                    service: span.service.to_string(),
                    key: key_of(span),
                    entry: i,
                    spans: Vec::new(),
                    critical_ms: 0.0,
                    outcome: Outcome::default(),
                    cold_start: None,
                });
                parts.len() - 1
            }
        };
        owner.insert(i, part);
        let p = &mut parts[part];
        p.spans.push(i);
        p.critical_ms += span.critical_ms;
        p.outcome = p.outcome.clone().worst(Outcome::of(span, trees));
        if span.service_type.as_deref() == Some(LAMBDA_FUNCTION) {
            let cold =
                span.kind == kind::SUBSEGMENT && INIT_SUBSEGMENTS.contains(&span.name.as_str());
            p.cold_start = Some(p.cold_start.unwrap_or(false) || cold);
        }
    }
    parts
}

/// Calls beneath, grouped by key: the call's own part left out.
fn by_key(call: &[Part]) -> Vec<(String, Vec<&Part>)> {
    let mut groups: Vec<(String, Vec<&Part>)> = Vec::new();
    for p in call.iter().skip(1) {
        match groups.iter_mut().find(|(k, _)| *k == p.key) {
            Some((_, g)) => g.push(p),
            None => groups.push((p.key.clone(), vec![p])),
        }
    }
    groups
}

/// Per key of the calls beneath, the p90 of its critical time per call among `calls` (the
/// calls compared with), where it was seen often enough to have a usual.
fn usual_p90(calls: &[Vec<Part>]) -> HashMap<String, f64> {
    let mut per_key: HashMap<String, Vec<f64>> = HashMap::new();
    for call in calls {
        for (key, parts) in by_key(call) {
            per_key
                .entry(key)
                .or_default()
                .push(parts.iter().map(|p| p.critical_ms).sum());
        }
    }
    per_key
        .into_iter()
        .filter(|(_, v)| v.len() >= MIN_USUAL_SAMPLES)
        .map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            let rank = (0.9 * v.len() as f64).ceil() as usize;
            (k, v[rank.clamp(1, v.len()) - 1])
        })
        .collect()
}

/// The facts of the callee's own work in the call.
fn own_facts(trees: &Trees, own: &Part, facts: &mut Vec<Fact>) {
    let entry = &trees.spans[own.entry];
    facts.push((Attribute::Outcome, own.outcome.to_string()));
    if let Some(cold) = own.cold_start {
        facts.push((
            Attribute::ColdStart,
            if cold { "yes" } else { "no" }.to_owned(),
        ));
    }
    let spans = || own.spans.iter().map(|&i| &trees.spans[i]);
    let first = |f: fn(&Span) -> Option<&String>| spans().find_map(f).cloned();
    if let Some(sql) = first(|s| s.sql.as_ref()) {
        facts.push((Attribute::Sql, sql));
    }
    if let Some(op) = &entry.aws_operation {
        facts.push((Attribute::Operation, op.clone()));
    }
    if let Some(resource) = &entry.aws_resource {
        facts.push((Attribute::Resource, resource.clone()));
    }
    if let Some(route) = spans().find_map(route_of) {
        facts.push((Attribute::Route, route));
    }
    if let Some(user) = first(|s| s.user.as_ref()) {
        facts.push((Attribute::User, user));
    }
    if let Some(region) = &entry.region {
        facts.push((Attribute::Region, region.clone()));
    }
    if let Some(account) = &entry.account_id {
        facts.push((Attribute::Account, account.clone()));
    }
    if let Some(alias) = spans().find_map(|s| alias_of(s.resource_arn.as_deref()?)) {
        facts.push((Attribute::Alias, alias));
    }
    if let Some(inv) = spans().find_map(|s| trees.invocations.get(s.request_id.as_ref()?)) {
        if let Some(v) = &inv.version {
            facts.push((Attribute::Version, v.clone()));
        }
        if let Some(m) = inv.memory_mb {
            facts.push((Attribute::Memory, format!("{m} MB")));
        }
        if let Some(stream) = &inv.log_stream {
            facts.push((Attribute::Sandbox, stream.clone()));
        }
    }
    let mut keys: Vec<&String> = Vec::new();
    for s in spans() {
        for (k, v) in &s.annotations {
            if !keys.contains(&k) {
                keys.push(k);
                facts.push((Attribute::Annotation(k.clone()), v.clone()));
            }
        }
    }
}

/// The callee's own critical time split: Lambda init, the Lambda service and runtime
/// overhead, and the rest (its code).
fn own_time(trees: &Trees, own: &Part, callee: &str, time: &mut Vec<(String, f64)>) {
    let (mut init, mut overhead, mut code) = (0.0, 0.0, 0.0);
    for &i in &own.spans {
        let s = &trees.spans[i];
        let function = s.service_type.as_deref() == Some(LAMBDA_FUNCTION);
        let sub = s.kind == kind::SUBSEGMENT;
        if function && sub && INIT_SUBSEGMENTS.contains(&s.name.as_str()) {
            init += s.critical_ms;
        } else if s.service_type.as_deref() == Some(LAMBDA_SERVICE)
            || (function && sub && s.name == OVERHEAD_SUBSEGMENT)
        {
            overhead += s.critical_ms;
        } else {
            code += s.critical_ms;
        }
    }
    for (part, ms) in [("init", init), ("overhead", overhead), ("code", code)] {
        if ms > 0.0 {
            time.push((format!("{callee} {part}"), ms));
        }
    }
}

/// A call's key: its service and the statement, operation or route asked of it.
fn key_of(span: &Span) -> String {
    let what = span
        .sql
        .clone()
        .or_else(|| span.aws_operation.clone())
        .or_else(|| route_of(span));
    match what {
        Some(w) => format!("{} {w}", span.service),
        None => span.service.to_string(),
    }
}

/// `GET /v2/country` for `GET https://api.worldbank.org/v2/country/all/indicator/X?page=2`:
/// the method and the first two segments of the call's route (ids as `{id}`, the rule of
/// [`crate::operation::route`]), where calls of one kind of resource meet.
pub(super) fn route_of(span: &Span) -> Option<String> {
    let route = crate::operation::route(span.http_url.as_deref()?);
    let segments: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).take(2).collect();
    let path = format!("/{}", segments.join("/"));
    Some(match &span.http_method {
        Some(m) => format!("{m} {path}"),
        None => path,
    })
}

/// The alias in a qualified Lambda ARN (`...:function:name:alias`), not a version number or
/// `$LATEST`.
fn alias_of(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        [_, _, "lambda", _, _, "function", _, q]
            if *q != "$LATEST" && !q.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some((*q).to_owned())
        }
        _ => None,
    }
}

/// How a part of a call ended, worst of its spans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
enum OutcomeKind {
    #[default]
    Ok,
    Error,
    Throttled,
    Fault,
    Unanswered,
    TimedOut,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Outcome {
    kind: OutcomeKind,
    status: Option<i64>,
    error_type: Option<String>,
}

impl Outcome {
    fn of(span: &Span, trees: &Trees) -> Outcome {
        let timed_out = span
            .cause_message
            .as_deref()
            .is_some_and(|m| m.contains(TIMEOUT_MESSAGE))
            || span
                .request_id
                .as_ref()
                .and_then(|r| trees.invocations.get(r))
                .is_some_and(|inv| inv.timed_out);
        let kind = if timed_out {
            OutcomeKind::TimedOut
        } else if span.in_progress {
            OutcomeKind::Unanswered
        } else if span.fault {
            OutcomeKind::Fault
        } else if span.throttle {
            OutcomeKind::Throttled
        } else if span.error {
            OutcomeKind::Error
        } else {
            OutcomeKind::Ok
        };
        if kind == OutcomeKind::Ok {
            return Outcome::default();
        }
        Outcome {
            kind,
            status: span.http_status.filter(|&s| s >= 400),
            error_type: span.cause_type.clone(),
        }
    }

    /// The worse of the two; at the same kind, the one that says more.
    fn worst(self, other: Outcome) -> Outcome {
        let says = |o: &Outcome| (o.kind, o.error_type.is_some(), o.status.is_some());
        if says(&other) > says(&self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            OutcomeKind::Ok => "ok",
            OutcomeKind::Error => "error",
            OutcomeKind::Throttled => "throttled",
            OutcomeKind::Fault => "fault",
            OutcomeKind::Unanswered => "unanswered",
            OutcomeKind::TimedOut => "timed out",
        };
        f.write_str(kind)?;
        if matches!(
            self.kind,
            OutcomeKind::Ok | OutcomeKind::Unanswered | OutcomeKind::TimedOut
        ) {
            return Ok(());
        }
        if let Some(s) = self.status {
            write!(f, " {s}")?;
        }
        if let Some(t) = &self.error_type {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(method: &str, url: &str) -> Span {
        Span {
            http_method: Some(method.to_owned()),
            http_url: Some(url.to_owned()),
            ..Span::default()
        }
    }

    #[test]
    fn routes_keep_two_segments_and_hide_ids() {
        let cases = [
            (
                "https://api.worldbank.org/v2/country/all/indicator/NY.GDP?page=2",
                "GET /v2/country",
            ),
            ("https://x.example/users/42/orders", "GET /users/{id}"),
            ("https://x.example/", "GET /"),
            ("/prod/dragons?limit=5", "GET /prod/dragons"),
            ("https://x.example/a1b2c3d4-0000/x", "GET /{id}/x"),
        ];
        for (url, route) in cases {
            assert_eq!(route_of(&http("GET", url)).as_deref(), Some(route), "{url}");
        }
    }

    #[test]
    fn an_alias_is_a_qualifier_that_is_no_version() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:orders";
        assert_eq!(alias_of(&format!("{arn}:live")).as_deref(), Some("live"));
        assert_eq!(alias_of(&format!("{arn}:7")), None);
        assert_eq!(alias_of(&format!("{arn}:$LATEST")), None);
        assert_eq!(alias_of(arn), None);
    }

    #[test]
    fn the_worst_outcome_wins_and_says_what_failed() {
        let trees = Trees::default();
        let throttled = Span {
            throttle: true,
            error: true,
            http_status: Some(400),
            cause_type: Some("ProvisionedThroughputExceededException".to_owned()),
            ..Span::default()
        };
        let ok = Outcome::of(&Span::default(), &trees);
        let worst = ok.clone().worst(Outcome::of(&throttled, &trees));
        assert_eq!(
            worst.to_string(),
            "throttled 400 ProvisionedThroughputExceededException"
        );
        let hung = Span {
            in_progress: true,
            ..Span::default()
        };
        assert_eq!(
            worst.worst(Outcome::of(&hung, &trees)).to_string(),
            "unanswered"
        );
        assert_eq!(ok.to_string(), "ok");
    }
}

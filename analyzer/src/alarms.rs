//! Alarms: rule files ([`parse`], the built-in [`starter`] pack) evaluated over the store with
//! CloudWatch's semantics ([`eval`], pure), state and history kept in the store ([`state`]), and
//! the [`evaluator`] that saves each evaluation and tells [`Notifier`]s of it.
//!
//! A rule whose target is a glob keeps one alarm per match (its *key*: the function, the
//! service, `caller -> callee`, or a query's `key` column). A composite rule has one alarm per key
//! of the rules it refers to, each combining those rules' alarms of the same key (a rule with a
//! single alarm counts for every key).

pub mod composite;
pub mod eval;
pub mod evaluator;
pub mod parse;
pub mod rolled;
pub mod rule;
pub mod series;
pub mod starter;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use crate::Session;
use crate::error::Result;
pub use eval::{Datapoint, Evaluation, State};
pub use evaluator::{Evaluated, Evaluator, Notifier, NotifyError, NotifyFuture};
pub use parse::{Problem, load};
use rule::{MetricRule, Target, glob_match};
pub use rule::{Rule, RuleKind, Severity};
use series::Series;
pub use starter::starter_pack;
use state::StateFile;

/// One alarm's state after an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmStatus {
    pub rule: String,
    pub key: String,
    pub state: State,
    pub previous: State,
    pub reason: String,
    /// When it entered `state` (RFC 3339): the evaluation time on a change.
    pub since: String,
    /// The evaluation time (RFC 3339).
    pub evaluated: String,
    pub severity: Severity,
    pub actions_enabled: bool,
    /// The newest datapoint evaluated (none for a composite, or when no data arrived).
    pub latest: Option<LatestDatapoint>,
}

/// The newest datapoint of an alarm's series, with the samples its value was computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatestDatapoint {
    /// Start of its period, epoch microseconds.
    pub time: i64,
    pub value: f64,
    pub samples: u64,
    /// A percentile below CloudWatch's significance bound ([`crate::significance`]).
    pub low_sample: bool,
}

/// A change of state: what notifications and the history carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub rule: String,
    pub key: String,
    pub from: State,
    pub to: State,
    /// The evaluation time (RFC 3339).
    pub at: String,
    pub reason: String,
    pub severity: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub description: Option<String>,
    pub actions_enabled: bool,
}

/// Composite rules after the rules they refer to; `Err(name)` names a rule of a cycle.
pub fn evaluation_order(rules: &[Rule]) -> std::result::Result<Vec<usize>, String> {
    let index: BTreeMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    let mut order = Vec::new();
    let mut mark = vec![0u8; rules.len()]; // 0 new, 1 in progress, 2 done
    fn visit(
        i: usize,
        rules: &[Rule],
        index: &BTreeMap<&str, usize>,
        mark: &mut [u8],
        order: &mut Vec<usize>,
    ) -> std::result::Result<(), String> {
        match mark[i] {
            2 => return Ok(()),
            1 => return Err(rules[i].name.clone()),
            _ => {}
        }
        mark[i] = 1;
        if let RuleKind::Composite(e) = &rules[i].kind {
            for n in e.names() {
                if let Some(&j) = index.get(n) {
                    visit(j, rules, index, mark, order)?;
                }
            }
        }
        mark[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..rules.len() {
        visit(i, rules, &index, &mut mark, &mut order)?;
    }
    Ok(order)
}

/// The exclusive end of the newest complete period at `at` (epoch µs).
pub fn period_end(at: i64, period_secs: i64) -> i64 {
    let p = period_secs * 1_000_000;
    at.div_euclid(p) * p
}

/// The longest time a rule looks back: what a collection before an evaluation must cover.
pub fn lookback(rules: &[Rule]) -> chrono::TimeDelta {
    let secs = rules
        .iter()
        .filter_map(|r| match &r.kind {
            RuleKind::Metric(m) => Some(
                m.condition.period_secs
                    * i64::from(eval::evaluation_range(m.condition.evaluation_periods)),
            ),
            RuleKind::Composite(_) => None,
        })
        .max()
        .unwrap_or(900);
    chrono::TimeDelta::seconds(secs)
}

pub fn rfc3339(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Whether a series key belongs to a rule's target.
fn matches(target: &Target, key: &str) -> bool {
    match target {
        Target::Function { name } | Target::Service { name, .. } => glob_match(name, key),
        Target::Edge { caller, callee } => key
            .split_once(" -> ")
            .is_some_and(|(a, b)| glob_match(caller, a) && glob_match(callee, b)),
        Target::Query { .. } => true,
    }
}

/// The key of a target that names exactly one thing (no glob), alarmed even with no data.
fn fixed_key(target: &Target) -> Option<String> {
    let plain = |s: &str| !s.contains(['*', '?']);
    match target {
        Target::Function { name } | Target::Service { name, .. } if plain(name) => {
            Some(name.clone())
        }
        Target::Edge { caller, callee } if plain(caller) && plain(callee) => {
            Some(format!("{caller} -> {callee}"))
        }
        _ => None,
    }
}

/// Series queries shared by the rules of one evaluation.
#[derive(Default)]
struct SeriesCache {
    /// By the query's SQL, or the rollup query's description.
    by_query: BTreeMap<String, Series>,
    has_key: BTreeMap<String, bool>,
}

impl SeriesCache {
    async fn get(
        &mut self,
        session: &Session,
        rule: &MetricRule,
        name: &str,
        start: i64,
        end: i64,
    ) -> Result<&Series> {
        if let Some(rolled) = rolled::Rolled::of(rule) {
            let query = format!("{rolled:?} over {start}..{end}");
            if !self.by_query.contains_key(&query) {
                let series = match rolled.fetch(session, start, end).await? {
                    Some(series) => series,
                    // Summaries older than the statistic's columns: the rule's SQL, which every
                    // rule of this description shares.
                    None => {
                        let sql = series::series_sql(rule, name, start, end, false);
                        series::fetch(session, &sql).await?
                    }
                };
                self.by_query.insert(query.clone(), series);
            }
            return Ok(&self.by_query[&query]);
        }
        let has_key = match &rule.target {
            Target::Query { sql } => self.query_has_key(session, sql).await?,
            _ => false,
        };
        let sql = series::series_sql(rule, name, start, end, has_key);
        if !self.by_query.contains_key(&sql) {
            let series = series::fetch(session, &sql).await?;
            self.by_query.insert(sql.clone(), series);
        }
        Ok(&self.by_query[&sql])
    }

    async fn query_has_key(&mut self, session: &Session, sql: &str) -> Result<bool> {
        if let Some(&k) = self.has_key.get(sql) {
            return Ok(k);
        }
        let k = series::query_has_key(session, sql).await?;
        self.has_key.insert(sql.to_string(), k);
        Ok(k)
    }

    /// The key of a rule's only alarm, when its target names one thing (no glob) or is a query
    /// with no `key` column: that alarm exists even when no data arrived, as missing data (a
    /// dead-man's switch must not be silent).
    async fn single_key(
        &mut self,
        session: &Session,
        rule: &MetricRule,
        name: &str,
    ) -> Result<Option<String>> {
        Ok(match &rule.target {
            Target::Query { sql } => {
                (!self.query_has_key(session, sql).await?).then(|| name.to_string())
            }
            target => fixed_key(target),
        })
    }
}

/// Evaluates every rule at `at` (epoch µs) against the previous states; returns every alarm's
/// status, in rule order then key order.
pub async fn evaluate_rules(
    session: &Session,
    rules: &[Rule],
    at: i64,
    previous: &StateFile,
) -> Result<Vec<AlarmStatus>> {
    let order = evaluation_order(rules).unwrap_or_else(|_| (0..rules.len()).collect());
    let mut cache = SeriesCache::default();
    let single = single_alarm_rules(rules);
    let mut by_rule: BTreeMap<&str, Vec<AlarmStatus>> = BTreeMap::new();
    let evaluated = rfc3339(at);
    for i in order {
        let rule = &rules[i];
        let prev = |key: &str| {
            previous
                .state(&rule.name, key)
                .map_or(State::InsufficientData, |s| s.state)
        };
        let status = |key: String, e: Evaluation, prev: State, latest| AlarmStatus {
            since: if e.state == prev {
                previous
                    .state(&rule.name, &key)
                    .map_or_else(|| evaluated.clone(), |s| s.since.clone())
            } else {
                evaluated.clone()
            },
            rule: rule.name.clone(),
            key,
            state: e.state,
            previous: prev,
            reason: e.reason,
            evaluated: evaluated.clone(),
            severity: rule.severity,
            actions_enabled: rule.actions_enabled,
            latest,
        };
        let mut out = Vec::new();
        match &rule.kind {
            RuleKind::Metric(m) => {
                let c = &m.condition;
                let end = period_end(at, c.period_secs);
                let start = end
                    - i64::from(eval::evaluation_range(c.evaluation_periods))
                        * c.period_secs
                        * 1_000_000;
                let only_key = cache.single_key(session, m, &rule.name).await?;
                let series = cache.get(session, m, &rule.name, start, end).await?;
                let mut keys: BTreeSet<String> = series
                    .keys()
                    .filter(|k| matches(&m.target, k))
                    .cloned()
                    .collect();
                keys.extend(previous.keys(&rule.name).map(str::to_string));
                if keys.is_empty() {
                    keys.extend(only_key);
                }
                for key in keys {
                    let points = series.get(&key).map_or(&[][..], Vec::as_slice);
                    let p = prev(&key);
                    let e = eval::evaluate(c, points, end, p);
                    let latest = points
                        .iter()
                        .filter(|d| d.time >= start && d.time < end && d.value.is_finite())
                        .max_by_key(|d| d.time)
                        .map(|d| LatestDatapoint {
                            time: d.time,
                            value: d.value,
                            samples: d.samples,
                            low_sample: c.min_samples().is_some_and(|b| b.is_low(d.samples)),
                        });
                    out.push(status(key, e, p, latest));
                }
            }
            RuleKind::Composite(expr) => {
                let refs: Vec<&str> = expr.names();
                let mut keys: BTreeSet<String> = refs
                    .iter()
                    .flat_map(|n| by_rule.get(n).into_iter().flatten().map(|s| s.key.clone()))
                    .collect();
                keys.extend(previous.keys(&rule.name).map(str::to_string));
                // An expression keyed by nothing (`TRUE`, `FALSE`, rules with no alarm) is one
                // alarm, named after the rule.
                if keys.is_empty() {
                    keys.insert(rule.name.clone());
                }
                for key in keys {
                    let lookup = |n: &str| ref_state(&by_rule, &single, n, &key);
                    let alarm = expr.eval(&lookup);
                    let state = if alarm { State::Alarm } else { State::Ok };
                    let states: Vec<String> = refs
                        .iter()
                        .collect::<BTreeSet<_>>()
                        .iter()
                        .map(|n| format!("{n} is {}", lookup(n)))
                        .collect();
                    let value = if alarm { "TRUE" } else { "FALSE" };
                    let reason = if states.is_empty() {
                        format!("Alarm rule {expr} is {value}.")
                    } else {
                        format!("Alarm rule {expr} is {value}: {}.", states.join(", "))
                    };
                    let p = prev(&key);
                    out.push(status(key, Evaluation { state, reason }, p, None));
                }
            }
        }
        by_rule.insert(&rule.name, out);
    }
    Ok(rules
        .iter()
        .flat_map(|r| by_rule.remove(r.name.as_str()).unwrap_or_default())
        .collect())
}

/// Rules whose target names one thing: their single alarm counts for every key of a composite.
fn single_alarm_rules(rules: &[Rule]) -> BTreeSet<&str> {
    rules
        .iter()
        .filter(|r| matches!(&r.kind, RuleKind::Metric(m) if fixed_key(&m.target).is_some()))
        .map(|r| r.name.as_str())
        .collect()
}

/// A referenced rule's state for `key`: its alarm of that key, else (a single-alarm rule) its
/// only alarm, else INSUFFICIENT_DATA.
fn ref_state(
    by_rule: &BTreeMap<&str, Vec<AlarmStatus>>,
    single: &BTreeSet<&str>,
    name: &str,
    key: &str,
) -> State {
    let Some(alarms) = by_rule.get(name) else {
        return State::InsufficientData;
    };
    alarms
        .iter()
        .find(|s| s.key == key)
        .or(if single.contains(name) {
            alarms.first()
        } else {
            None
        })
        .map_or(State::InsufficientData, |s| s.state)
}

/// The changes of state among `statuses`.
pub fn transitions(rules: &[Rule], statuses: &[AlarmStatus]) -> Vec<Transition> {
    statuses
        .iter()
        .filter(|s| s.state != s.previous)
        .map(|s| {
            let rule = rules.iter().find(|r| r.name == s.rule);
            Transition {
                rule: s.rule.clone(),
                key: s.key.clone(),
                from: s.previous,
                to: s.state,
                at: s.evaluated.clone(),
                reason: s.reason.clone(),
                severity: s.severity.as_str().to_string(),
                labels: rule.map(|r| r.labels.clone()).unwrap_or_default(),
                description: rule.and_then(|r| r.description.clone()),
                actions_enabled: s.actions_enabled,
            }
        })
        .collect()
}

/// One alarm's changes in a backtest: (time, state, reason), oldest first.
type Timeline = Vec<(i64, State, String)>;

/// Replays the rules over [since, until) (epoch µs), evaluating each metric rule at the end of
/// every one of its periods from a fresh INSUFFICIENT_DATA: every change of state, in time order.
pub async fn backtest(
    session: &Session,
    rules: &[Rule],
    since: i64,
    until: i64,
) -> Result<Vec<Transition>> {
    let order = evaluation_order(rules).unwrap_or_else(|_| (0..rules.len()).collect());
    let mut cache = SeriesCache::default();
    let single = single_alarm_rules(rules);
    // rule -> key -> [(time, state)] starting with INSUFFICIENT_DATA at `since`.
    let mut timelines: BTreeMap<&str, BTreeMap<String, Timeline>> = BTreeMap::new();
    for i in order {
        let rule = &rules[i];
        let mut lines: BTreeMap<String, Vec<(i64, State, String)>> = BTreeMap::new();
        match &rule.kind {
            RuleKind::Metric(m) => {
                let c = &m.condition;
                let p = c.period_secs * 1_000_000;
                let first = period_end(since, c.period_secs) + p;
                let start = first - i64::from(eval::evaluation_range(c.evaluation_periods)) * p;
                let end = period_end(until, c.period_secs);
                let only_key = cache.single_key(session, m, &rule.name).await?;
                let series = cache.get(session, m, &rule.name, start, end).await?;
                let mut keys: Vec<String> = series
                    .keys()
                    .filter(|k| matches(&m.target, k))
                    .cloned()
                    .collect();
                if keys.is_empty() {
                    keys.extend(only_key);
                }
                for key in keys {
                    let points = series.get(&key).map_or(&[][..], Vec::as_slice);
                    let mut state = State::InsufficientData;
                    let mut line = vec![(since, state, String::new())];
                    let range = i64::from(eval::evaluation_range(c.evaluation_periods)) * p;
                    let mut t = first;
                    while t <= end {
                        // Points are sorted: hand the evaluator only its range.
                        let lo = points.partition_point(|d| d.time < t - range);
                        let hi = points.partition_point(|d| d.time < t);
                        let e = eval::evaluate(c, &points[lo..hi], t, state);
                        if e.state != state {
                            state = e.state;
                            line.push((t, state, e.reason));
                        }
                        t += p;
                    }
                    lines.insert(key, line);
                }
            }
            RuleKind::Composite(expr) => {
                let refs = expr.names();
                let mut keys: BTreeSet<String> = refs
                    .iter()
                    .flat_map(|n| timelines.get(n).into_iter().flat_map(|m| m.keys().cloned()))
                    .collect();
                if keys.is_empty() {
                    keys.insert(rule.name.clone());
                }
                for key in keys {
                    let line_of = |n: &str| {
                        let m = timelines.get(n)?;
                        m.get(&key).or(if single.contains(n) {
                            m.values().next()
                        } else {
                            None
                        })
                    };
                    let state_at = |n: &str, t: i64| {
                        line_of(n)
                            .and_then(|l| l.iter().rev().find(|(at, _, _)| *at <= t))
                            .map_or(State::InsufficientData, |(_, s, _)| *s)
                    };
                    let mut times: Vec<i64> = refs
                        .iter()
                        .filter_map(|n| line_of(n))
                        .flat_map(|l| l.iter().map(|(t, _, _)| *t))
                        .collect();
                    // With no referenced timeline (`TRUE`), evaluated once, at the start.
                    times.push(since);
                    times.sort_unstable();
                    times.dedup();
                    let mut state = State::InsufficientData;
                    let mut line = vec![(since, state, String::new())];
                    for t in times {
                        let alarm = expr.eval(&|n| state_at(n, t));
                        let s = if alarm { State::Alarm } else { State::Ok };
                        if s != state {
                            state = s;
                            line.push((
                                t,
                                s,
                                format!(
                                    "Alarm rule {expr} is {}.",
                                    if alarm { "TRUE" } else { "FALSE" }
                                ),
                            ));
                        }
                    }
                    lines.insert(key, line);
                }
            }
        }
        timelines.insert(&rule.name, lines);
    }
    let mut out = Vec::new();
    for rule in rules {
        for (key, line) in timelines.get(rule.name.as_str()).into_iter().flatten() {
            for w in line.windows(2) {
                out.push(Transition {
                    rule: rule.name.clone(),
                    key: key.clone(),
                    from: w[0].1,
                    to: w[1].1,
                    at: rfc3339(w[1].0),
                    reason: w[1].2.clone(),
                    severity: rule.severity.as_str().to_string(),
                    labels: rule.labels.clone(),
                    description: rule.description.clone(),
                    actions_enabled: rule.actions_enabled,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then(a.rule.cmp(&b.rule))
            .then(a.key.cmp(&b.key))
    });
    Ok(out)
}

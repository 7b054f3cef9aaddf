//! Series of service, edge and function rules read from the per-minute rollups for whole
//! minutes, and from the rows they summarize only for the partial minutes at the window's edges
//! and data files without a summary (see [`crate::rollups::Plan`]): service and edge rules from
//! the service map's (`service_edges_1m`) and the spans, function rules from
//! `lambda_invocations_1m` and the invocations.
//!
//! The rollups hold per minute what these statistics need (calls, errors, faults, throttles, the
//! sum, count, least, greatest and histogram of durations; for functions also timeouts, cold
//! starts and memory share), and their rows are the ones the SQL's targets take (spans entering
//! a node, invocations naming their function), so the datapoints equal the SQL's: counts,
//! minima and maxima exactly, percentiles from the same histograms, sums and averages within
//! float noise (added in another order). Periods that are not whole minutes, and the statistics
//! a minute's summary cannot give (trimmed means, a function's timeout used ratio), take the SQL
//! of [`super::series`]; so do a span rule's error rate, min and max over summaries written
//! before `service_edges_1m` kept them (see [`Rolled::fetch`]).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::DataFusionError;
use hopscope_schema::service_edges_1m::{self as rollup, col as r};
use hopscope_schema::spans::{TABLE as SPANS, col as s, enters_node};

use super::eval::Datapoint;
use super::rule::{MetricRule, Source, Statistic, Target};
use super::series::Series;
use crate::error::Result;
use crate::hdr::{self, Decoder, Recorded};
use crate::interned::{Interner, NONE, flags, known};
use crate::partials::Groups;
use crate::rollups::flagged::{Flagged, FlaggedColumns};
use crate::rollups::{Plan, functions, slots_at};
use crate::session::Session;
use crate::window::Window;

const MINUTE_SECS: i64 = 60;

/// A rule the rollup answers: its target's shape, statistic and period.
#[derive(Debug, Clone, PartialEq)]
pub struct Rolled {
    /// `caller -> callee` keys (an edge rule) rather than the callee's name (a service rule).
    edges: bool,
    /// A service rule's type filter.
    service_type: Option<String>,
    /// A function rule: it counts the function's invocations, not spans.
    invocations: bool,
    statistic: Statistic,
    period_us: i64,
}

impl Rolled {
    /// How the rollup answers `rule`, if it can.
    pub fn of(rule: &MetricRule) -> Option<Rolled> {
        let period = rule.condition.period_secs;
        if period <= 0 || period % MINUTE_SECS != 0 {
            return None;
        }
        let (edges, service_type, invocations) = match &rule.target {
            Target::Service { service_type, .. } => (false, service_type.clone(), false),
            Target::Edge { .. } => (true, None, false),
            Target::Function { .. } if rule.source == Source::Logs => (false, None, true),
            Target::Function { .. } | Target::Query { .. } => return None,
        };
        let statistic = rule.statistic;
        let rolled = if invocations {
            matches!(
                statistic,
                Statistic::Count
                    | Statistic::Sum
                    | Statistic::Avg
                    | Statistic::Min
                    | Statistic::Max
                    | Statistic::Percentile(_)
                    | Statistic::ErrorRate
                    | Statistic::TimeoutCount
                    | Statistic::ColdStartRatio
                    | Statistic::MemoryUsedRatio
            )
        } else {
            matches!(
                statistic,
                Statistic::Count
                    | Statistic::Sum
                    | Statistic::Avg
                    | Statistic::Min
                    | Statistic::Max
                    | Statistic::Percentile(_)
                    | Statistic::ErrorRate
                    | Statistic::FaultRate
                    | Statistic::ThrottleCount
            )
        };
        if !rolled {
            return None;
        }
        Some(Rolled {
            edges,
            service_type,
            invocations,
            statistic,
            period_us: period * 1_000_000,
        })
    }

    /// The datapoints of every key over `[start, end)` (epoch µs), as the SQL would give them;
    /// `None` when a summary it read predates a column the statistic needs (then the SQL must
    /// answer).
    pub async fn fetch(&self, session: &Session, start: i64, end: i64) -> Result<Option<Series>> {
        let window = Window {
            start_us: start,
            end_us: end,
        };
        let mut series = Series::new();
        let mut add = |key: String, time: i64, value: Option<(f64, u64)>| {
            if let Some((value, samples)) = value
                && value.is_finite()
            {
                series.entry(key).or_default().push(Datapoint {
                    time,
                    value,
                    samples,
                });
            }
        };
        if self.invocations {
            for ((key, time), mut acc) in functions::tally(session, window, self.period_us).await? {
                add(key, time, self.function_value(&mut acc)?);
            }
        } else {
            let tally = self.span_tally(session, window).await?;
            if self.reads_flagged() && tally.values().any(|acc| acc.flagged == Flagged::Unknown) {
                return Ok(None);
            }
            for ((key, time), mut acc) in tally {
                add(key, time, self.value(&mut acc)?);
            }
        }
        for points in series.values_mut() {
            points.sort_by_key(|p| p.time);
        }
        Ok(Some(series))
    }

    /// Whether the statistic needs the summaries' `flagged_errors`, `min_ms` and `max_ms`.
    fn reads_flagged(&self) -> bool {
        matches!(
            self.statistic,
            Statistic::ErrorRate | Statistic::Min | Statistic::Max
        )
    }

    /// The summary columns [`Partial::add_summaries`] reads for this rule: the flagged ones only
    /// when the statistic needs them.
    fn summary_columns(&self) -> &'static [&'static str] {
        if self.reads_flagged() {
            &SUMMARY_COLUMNS
        } else {
            &SUMMARY_COLUMNS[..FLAGGED_AT]
        }
    }

    /// The spans of `window` by key and period.
    async fn span_tally(
        &self,
        session: &Session,
        window: Window,
    ) -> Result<HashMap<(String, i64), Acc>> {
        let plan = Plan::by_period(session, rollup::TABLE, window, self.period_us)?;
        let (shape, shape_rows) = (Arc::new(self.clone()), Arc::new(self.clone()));
        let parts = plan
            .read(
                session,
                (SPANS, &COLUMNS),
                self.summary_columns(),
                Partial::default,
                move |p: &mut Partial, b: &RecordBatch, slots: Option<&[(usize, Window)]>| {
                    p.add_rows(&shape_rows, b, slots)
                },
                move |p: &mut Partial, b: &RecordBatch, slots: Option<&[(usize, Window)]>| {
                    p.add_summaries(&shape, b, slots)
                },
            )
            .await?;
        let mut total: HashMap<(String, i64), Acc> = HashMap::new();
        for part in parts {
            for (key, acc) in part.into_named() {
                total.entry(key).or_default().merge(acc)?;
            }
        }
        Ok(total)
    }

    /// A function's period's value and sample count, as the statistic's SQL computes them.
    fn function_value(&self, acc: &mut functions::Acc) -> Result<Option<(f64, u64)>> {
        let (n, timed) = (acc.invocations as u64, acc.timed as u64);
        let share = |part: i64| part as f64 / acc.invocations as f64;
        Ok(match self.statistic {
            Statistic::Count => Some((acc.invocations as f64, n)),
            Statistic::Sum => (timed > 0).then_some((acc.total_ms, timed)),
            Statistic::Avg => (timed > 0).then(|| (acc.total_ms / acc.timed as f64, timed)),
            Statistic::Min => acc.min_ms.map(|v| (v, timed)),
            Statistic::Max => acc.max_ms.map(|v| (v, timed)),
            Statistic::Percentile(p) => {
                hdr::quantile_ms(acc.durations.histogram()?, p / 100.0).map(|v| (v, timed))
            }
            Statistic::ErrorRate => Some((share(acc.errors), n)),
            Statistic::TimeoutCount => Some((acc.timeouts as f64, n)),
            Statistic::ColdStartRatio => Some((share(acc.cold_starts), n)),
            Statistic::MemoryUsedRatio => {
                acc.max_memory_ratio.map(|v| (v, acc.memory_samples as u64))
            }
            _ => None,
        })
    }

    /// A period's value and sample count, as the statistic's SQL computes them (`None`: NULL).
    fn value(&self, acc: &mut Acc) -> Result<Option<(f64, u64)>> {
        let (calls, timed) = (acc.requests as u64, acc.timed as u64);
        let (errors, min_ms, max_ms) = acc.flagged.columns();
        Ok(match self.statistic {
            Statistic::Count => Some((acc.requests as f64, calls)),
            Statistic::Sum => (timed > 0).then_some((acc.total_ms, timed)),
            Statistic::Avg => (timed > 0).then(|| (acc.total_ms / acc.timed as f64, timed)),
            Statistic::Min => min_ms.map(|v| (v, timed)),
            Statistic::Max => max_ms.map(|v| (v, timed)),
            Statistic::Percentile(p) => {
                hdr::quantile_ms(acc.durations.histogram()?, p / 100.0).map(|v| (v, timed))
            }
            Statistic::ErrorRate => errors.map(|e| (e as f64 / acc.requests as f64, calls)),
            Statistic::FaultRate => Some((acc.faults as f64 / acc.requests as f64, calls)),
            Statistic::ThrottleCount => Some((acc.throttles as f64, calls)),
            _ => None,
        })
    }

    /// Whether a call into `callee_type` from `caller` counts, and the period it falls in.
    fn takes(&self, caller: u32, callee_type: Option<&str>) -> bool {
        (!self.edges || caller != NONE)
            && self
                .service_type
                .as_deref()
                .is_none_or(|want| callee_type == Some(want))
    }

    fn period_of(&self, t: i64) -> i64 {
        t.div_euclid(self.period_us) * self.period_us
    }
}

/// What [`Partial::add_rows`] reads, in this order.
const COLUMNS: [&str; 9] = [
    s::START_TIME,
    s::PARENT_SERVICE,
    s::PARENT_SERVICE_TYPE,
    s::SERVICE,
    s::SERVICE_TYPE,
    s::THROTTLE,
    s::FAULT,
    s::DURATION_MS,
    s::ERROR,
];

/// What [`Partial::add_summaries`] reads, in this order: up to [`FLAGGED_AT`] for every rule,
/// the rest for the statistics that need them (see [`Rolled::summary_columns`]).
const SUMMARY_COLUMNS: [&str; 13] = [
    r::MINUTE,
    r::CALLER,
    r::CALLEE,
    r::CALLEE_TYPE,
    r::REQUESTS,
    r::THROTTLES,
    r::FAULTS,
    r::TOTAL_MS,
    r::TIMED,
    r::DURATIONS,
    r::FLAGGED_ERRORS,
    r::MIN_MS,
    r::MAX_MS,
];
const FLAGGED_AT: usize = 10;

/// One key's running aggregates in one period.
#[derive(Debug, Default)]
struct Acc {
    requests: i64,
    throttles: i64,
    faults: i64,
    total_ms: f64,
    timed: i64,
    durations: Recorded,
    /// Of summaries, read only when the statistic needs it ([`Rolled::reads_flagged`]).
    flagged: Flagged,
}

impl Acc {
    fn merge(&mut self, other: Acc) -> Result<()> {
        self.requests += other.requests;
        self.throttles += other.throttles;
        self.faults += other.faults;
        self.total_ms += other.total_ms;
        self.timed += other.timed;
        self.flagged.merge(other.flagged);
        Ok(self.durations.merge(other.durations)?)
    }
}

/// One partition's groups, by caller id + 1 (0 for none, or for a service rule's keys) and
/// callee id, and period.
#[derive(Default)]
struct Partial {
    names: Interner,
    groups: Groups<(u64, i64), Acc>,
}

fn pack(caller: Option<u32>, callee: u32) -> u64 {
    (caller.map_or(0, |c| u64::from(c) + 1) << 32) | u64::from(callee)
}

impl Partial {
    fn add_rows(
        &mut self,
        rule: &Rolled,
        b: &RecordBatch,
        slots: Option<&[(usize, Window)]>,
    ) -> Result<()> {
        let c = |i: usize| b.column(i);
        let start = cast(c(0), &DataType::Timestamp(TimeUnit::Microsecond, None))
            .map_err(DataFusionError::from)?;
        let start = start.as_primitive::<TimestampMicrosecondType>();
        let (caller, caller_type, callee, callee_type) = (
            self.names.column(c(1))?,
            self.names.column(c(2))?,
            self.names.column(c(3))?,
            self.names.column(c(4))?,
        );
        let (throttle, fault) = (flags(c(5)), flags(c(6)));
        let duration = cast(c(7), &DataType::Float64).map_err(DataFusionError::from)?;
        let duration = duration.as_primitive::<Float64Type>();
        let error = flags(c(8));
        for row in 0..b.num_rows() {
            let t = start.value(row);
            if callee[row] == NONE || slots_at(slots, t).next().is_none() {
                continue;
            }
            let parent = known(caller[row]).map(|p| (p, known(caller_type[row])));
            let type_name = known(callee_type[row]).map(|id| &**self.names.name(id));
            if !enters_node(parent, (callee[row], known(callee_type[row])))
                || !rule.takes(caller[row], type_name)
            {
                continue;
            }
            let caller = known(caller[row]).filter(|_| rule.edges);
            let acc = self
                .groups
                .get((pack(caller, callee[row]), rule.period_of(t)));
            acc.requests += 1;
            acc.throttles += i64::from(throttle(row));
            acc.faults += i64::from(fault(row));
            let ms = duration.is_valid(row).then(|| duration.value(row));
            acc.flagged.add_span(error(row), ms);
            if let Some(ms) = ms {
                acc.total_ms += ms;
                acc.timed += 1;
                if let Some(us) = hdr::micros(ms) {
                    acc.durations.record(us)?;
                }
            }
        }
        Ok(())
    }

    fn add_summaries(
        &mut self,
        rule: &Rolled,
        b: &RecordBatch,
        slots: Option<&[(usize, Window)]>,
    ) -> Result<()> {
        let c = |i: usize| b.column(i);
        let minute = cast(c(0), &DataType::Timestamp(TimeUnit::Microsecond, None))
            .map_err(DataFusionError::from)?;
        let minute = minute.as_primitive::<TimestampMicrosecondType>();
        let (caller, callee, callee_type) = (
            self.names.column(c(1))?,
            self.names.column(c(2))?,
            self.names.column(c(3))?,
        );
        let count = |i: usize| c(i).as_primitive::<Int64Type>();
        let (requests, throttles, faults, timed) = (count(4), count(5), count(6), count(8));
        let total_ms = c(7).as_primitive::<Float64Type>();
        let durations = c(9).as_binary::<i32>();
        let flagged = rule
            .reads_flagged()
            .then(|| FlaggedColumns::new([c(10), c(11), c(12)]));
        let mut decoder = Decoder::default();
        for row in 0..b.num_rows() {
            let t = minute.value(row);
            if callee[row] == NONE || slots_at(slots, t).next().is_none() {
                continue;
            }
            let type_name = known(callee_type[row]).map(|id| &**self.names.name(id));
            if !rule.takes(caller[row], type_name) {
                continue;
            }
            let caller = known(caller[row]).filter(|_| rule.edges);
            let acc = self
                .groups
                .get((pack(caller, callee[row]), rule.period_of(t)));
            acc.requests += requests.value(row);
            acc.throttles += throttles.value(row);
            acc.faults += faults.value(row);
            acc.total_ms += total_ms.value(row);
            acc.timed += timed.value(row);
            decoder.add_to(durations.value(row), &mut acc.durations)?;
            if let Some(flagged) = &flagged {
                acc.flagged.merge(flagged.at(row));
            }
        }
        Ok(())
    }

    /// The groups by key (as the SQL names it: `callee` or `caller -> callee`) and period.
    fn into_named(self) -> Vec<((String, i64), Acc)> {
        let names = &self.names;
        self.groups
            .into_vec()
            .into_iter()
            .map(|((ids, period), acc)| {
                let callee = names.name((ids & u64::from(u32::MAX)) as u32);
                let key = match ids >> 32 {
                    0 => callee.to_string(),
                    caller => format!("{} -> {callee}", names.name((caller - 1) as u32)),
                };
                ((key, period), acc)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarms::rule::{Comparison, Condition, LowSample, MissingData, Source};

    fn rule(target: Target, statistic: Statistic, period_secs: i64) -> MetricRule {
        MetricRule {
            target,
            statistic,
            source: Source::Logs,
            condition: Condition {
                comparison: Comparison::GreaterThan,
                threshold: 1.0,
                period_secs,
                evaluation_periods: 1,
                datapoints_to_alarm: 1,
                treat_missing_data: MissingData::Missing,
                low_sample: LowSample::Evaluate,
                percentile: None,
            },
        }
    }

    #[test]
    fn only_whole_minute_periods_of_what_a_summary_holds_are_rolled() {
        let service = || Target::Service {
            name: "api".into(),
            service_type: None,
        };
        assert!(Rolled::of(&rule(service(), Statistic::Percentile(99.0), 300)).is_some());
        assert!(Rolled::of(&rule(service(), Statistic::Count, 90)).is_none());
        assert!(Rolled::of(&rule(service(), Statistic::Max, 60)).is_some());
        assert!(Rolled::of(&rule(service(), Statistic::ErrorRate, 60)).is_some());
        let edge = || Target::Edge {
            caller: "api".into(),
            callee: "db".into(),
        };
        assert!(Rolled::of(&rule(edge(), Statistic::Min, 120)).is_some());
        assert!(Rolled::of(&rule(edge(), Statistic::ErrorRate, 90)).is_none());
        assert!(Rolled::of(&rule(service(), Statistic::TrimmedMean(90.0), 60)).is_none());
        let function = || Target::Function { name: "f".into() };
        assert!(Rolled::of(&rule(function(), Statistic::Max, 60)).is_some());
        assert!(Rolled::of(&rule(function(), Statistic::ErrorRate, 300)).is_some());
        assert!(Rolled::of(&rule(function(), Statistic::TrimmedMean(90.0), 60)).is_none());
        assert!(Rolled::of(&rule(function(), Statistic::TimeoutUsedRatio, 60)).is_none());
        let mut from_metrics = rule(function(), Statistic::Count, 60);
        from_metrics.source = Source::Metrics;
        assert!(Rolled::of(&from_metrics).is_none());
    }
}

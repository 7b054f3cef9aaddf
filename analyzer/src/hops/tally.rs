//! The hops of one or more windows in one scan of `spans`, aggregated by hand.
//!
//! The `hops` view says the same in SQL (and a test holds the two together), but a general
//! `GROUP BY` with fifteen aggregates, each a `CASE` over string columns, spends most of its time
//! evaluating expressions row by row. Here the grouping and flag columns are read as dictionary
//! keys, each distinct name is compared once per batch, and one loop updates every aggregate of
//! a row. Each partition of the scan is tallied on its own task (all cores), then merged.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType};
use datafusion::common::DataFusionError;
use hopscope_schema::spans::{TABLE as SPANS, col as s, enters_service, kind};

use super::{
    HopRow, HopStats, INIT_SUBSEGMENTS_LIST, LAMBDA_FUNCTION, LAMBDA_SERVICE, OVERHEAD_SUBSEGMENT,
    Period, SlowTrace, TIMEOUT_MESSAGE,
};
use crate::error::Result;
use crate::hdr;
use crate::interned::{Interner, NONE, flags, known, text};
use crate::partials::{Groups, per_partition};
use crate::session::Session;
use crate::significance;
use crate::top_n::Top;
use crate::window::{self, Window};

/// What [`Partial::add_batch`] reads, in this order.
const COLUMNS: [&str; 17] = [
    s::START_TIME,
    s::HOP_CALLER,
    s::SERVICE,
    s::SERVICE_TYPE,
    s::PARENT_SERVICE,
    s::ROOT,
    s::KIND,
    s::NAME,
    s::DURATION_MS,
    s::CRITICAL_MS,
    s::HOP_TRACE_CRITICAL_MS,
    s::TRACE_ID,
    s::ERROR,
    s::THROTTLE,
    s::FAULT,
    s::IN_PROGRESS,
    s::CAUSE_MESSAGE,
];

/// Per row of a `cause_message` column: whether it says a Lambda function timed out.
pub(crate) fn timed_out(cause_message: &ArrayRef) -> Result<Vec<bool>> {
    let cause = text(cause_message)?;
    let mut timed_out = vec![false; cause_message.len()];
    // Mostly null: tested only where present.
    if let Some(nulls) = cause_message.logical_nulls() {
        for row in nulls.valid_indices() {
            timed_out[row] = cause.get(row).is_some_and(|m| m.contains(TIMEOUT_MESSAGE));
        }
    } else {
        for (row, t) in timed_out.iter_mut().enumerate() {
            *t = cause.get(row).is_some_and(|m| m.contains(TIMEOUT_MESSAGE));
        }
    }
    Ok(timed_out)
}

/// The hops of each window (`windows[0]` first), with `slowest` traces of evidence per hop.
pub(super) async fn tally(
    session: &Session,
    windows: &[Window],
    slowest: usize,
) -> Result<Vec<Period>> {
    // Only prunes: each row is tested against the windows in `add_batch`.
    let filter = window::in_any(windows, s::START_TIME);
    let streams = session.scan_pruned(SPANS, &COLUMNS, filter).await?;
    let owned = windows.to_vec();
    let parts = per_partition(
        streams,
        || Partial::new(slowest),
        move |part: &mut Partial, batch| part.add_batch(batch, &owned),
    )
    .await?;
    let mut total = Named {
        slowest,
        groups: HashMap::new(),
    };
    for part in parts {
        total.merge(part.into_named())?;
    }
    total.finish(windows.len())
}

/// One hop's running aggregates in one window.
#[derive(Debug, Default)]
struct Acc {
    callee_type: Option<String>,
    /// Interned id of `callee_type` while tallying a partition.
    callee_type_id: Option<u32>,
    requests: i64,
    traces: i64,
    roots: i64,
    errors: i64,
    throttles: i64,
    faults: i64,
    timeouts: i64,
    censored: i64,
    cold_starts: i64,
    invocations: i64,
    critical_ms: f64,
    init_ms: f64,
    overhead_ms: f64,
    /// Durations of the hop's calls, in µs.
    durations: hdr::Recorded,
    slowest: Top,
}

/// Group key: window index, caller (None at a trace's root), callee.
type Key = (usize, Option<Arc<str>>, Arc<str>);

/// One partition's groups, keyed by interned ids while tallying.
struct Partial {
    slowest: usize,
    names: Interner,
    /// By (window, caller id + 1 or 0, callee id), packed by [`pack`].
    groups: Groups<u64, Acc>,
    /// Ids of the names the flags compare with.
    lambda_function: u32,
    lambda_service: u32,
    segment: u32,
    subsegment: u32,
}

fn pack(window: usize, caller: u32, callee: u32) -> u64 {
    let caller = if caller == NONE {
        0
    } else {
        u64::from(caller) + 1
    };
    ((window as u64) << 60) | (caller << 30) | u64::from(callee)
}

impl Partial {
    fn new(slowest: usize) -> Self {
        let mut p = Partial {
            slowest,
            names: Interner::default(),
            groups: Groups::default(),
            lambda_function: 0,
            lambda_service: 0,
            segment: 0,
            subsegment: 0,
        };
        p.lambda_function = p.names.intern(LAMBDA_FUNCTION);
        p.lambda_service = p.names.intern(LAMBDA_SERVICE);
        p.segment = p.names.intern(kind::SEGMENT);
        p.subsegment = p.names.intern(kind::SUBSEGMENT);
        p
    }

    fn add_batch(&mut self, b: &RecordBatch, windows: &[Window]) -> Result<()> {
        let c = |i: usize| b.column(i);
        let start = cast(c(0), &DataType::Timestamp(TimeUnit::Microsecond, None))
            .map_err(DataFusionError::from)?;
        let start = start.as_primitive::<TimestampMicrosecondType>();
        let (caller, callee, callee_type, parent) = (
            self.names.column(c(1))?,
            self.names.column(c(2))?,
            self.names.column(c(3))?,
            self.names.column(c(4))?,
        );
        let flag = |i: usize| flags(c(i));
        let root = flag(5);
        let span_kind = self.names.column(c(6))?;
        let name = text(c(7))?;
        let floats = |i: usize| -> Result<ArrayRef> {
            Ok(cast(c(i), &DataType::Float64).map_err(DataFusionError::from)?)
        };
        let (duration, critical, hop_trace) = (floats(8)?, floats(9)?, floats(10)?);
        let (duration, critical, hop_trace) = (
            duration.as_primitive::<Float64Type>(),
            critical.as_primitive::<Float64Type>(),
            hop_trace.as_primitive::<Float64Type>(),
        );
        let trace_id = text(c(11))?;
        let (error, throttle, fault, in_progress) = (flag(12), flag(13), flag(14), flag(15));
        let timed_out = timed_out(c(16))?;
        let (lambda_function, lambda_service) = (self.lambda_function, self.lambda_service);
        let (segment, subsegment) = (self.segment, self.subsegment);
        let slowest = self.slowest;

        for row in 0..b.num_rows() {
            let t = start.value(row);
            let callee_id = callee[row];
            if callee_id == NONE {
                continue;
            }
            let svt = callee_type[row];
            let entry = enters_service(known(parent[row]), callee_id);
            let function = svt == lambda_function;
            let init = function
                && span_kind[row] == subsegment
                && name
                    .get(row)
                    .is_some_and(|n| INIT_SUBSEGMENTS_LIST.contains(&n));
            let overhead =
                svt == lambda_service || (function && name.get(row) == Some(OVERHEAD_SUBSEGMENT));
            let invocation = function && span_kind[row] == segment;
            let crit = critical.is_valid(row).then(|| critical.value(row));
            for (w, window) in windows.iter().enumerate() {
                if t < window.start_us || t >= window.end_us {
                    continue;
                }
                let names = &self.names;
                let acc = self.groups.get(pack(w, caller[row], callee_id));
                if svt != NONE
                    && acc.callee_type_id != Some(svt)
                    && acc
                        .callee_type
                        .as_deref()
                        .is_none_or(|cur| **names.name(svt) > *cur)
                {
                    acc.callee_type_id = Some(svt);
                    acc.callee_type = Some(names.name(svt).to_string());
                }
                if entry {
                    acc.requests += 1;
                    acc.errors += i64::from(error(row) && !throttle(row));
                    acc.throttles += i64::from(throttle(row));
                    acc.faults += i64::from(fault(row));
                    if duration.is_valid(row)
                        && let Some(us) = hdr::micros(duration.value(row))
                    {
                        acc.durations.record(us)?;
                        acc.censored += i64::from(in_progress(row) || timed_out[row]);
                    }
                }
                acc.timeouts += i64::from((entry && in_progress(row)) || timed_out[row]);
                acc.roots += i64::from(root(row));
                if let Some(crit) = crit {
                    acc.critical_ms += crit;
                    if init {
                        acc.init_ms += crit;
                    }
                    if overhead {
                        acc.overhead_ms += crit;
                    }
                }
                acc.cold_starts += i64::from(init);
                acc.invocations += i64::from(invocation);
                if hop_trace.is_valid(row) {
                    acc.traces += 1;
                    if let Some(id) = trace_id.get(row) {
                        acc.slowest.offer(slowest, hop_trace.value(row), id);
                    }
                }
            }
        }
        Ok(())
    }

    /// The groups keyed by name, for merging partitions that interned differently.
    fn into_named(self) -> Named {
        let name = |id: u64| self.names.name(id as u32).clone();
        let groups = self
            .groups
            .into_vec()
            .into_iter()
            .map(|(key, acc)| {
                let window = (key >> 60) as usize;
                let caller = (key >> 30) & ((1 << 30) - 1);
                let caller = (caller > 0).then(|| name(caller - 1));
                ((window, caller, name(key & ((1 << 30) - 1))), acc)
            })
            .collect();
        Named {
            slowest: self.slowest,
            groups,
        }
    }
}

/// Groups of all partitions, keyed by name.
struct Named {
    slowest: usize,
    groups: HashMap<Key, Acc>,
}

impl Named {
    fn merge(&mut self, other: Named) -> Result<()> {
        for (key, theirs) in other.groups {
            let mine = self.groups.entry(key).or_default();
            if theirs.callee_type > mine.callee_type {
                mine.callee_type = theirs.callee_type;
            }
            mine.requests += theirs.requests;
            mine.traces += theirs.traces;
            mine.roots += theirs.roots;
            mine.errors += theirs.errors;
            mine.throttles += theirs.throttles;
            mine.faults += theirs.faults;
            mine.timeouts += theirs.timeouts;
            mine.censored += theirs.censored;
            mine.cold_starts += theirs.cold_starts;
            mine.invocations += theirs.invocations;
            mine.critical_ms += theirs.critical_ms;
            mine.init_ms += theirs.init_ms;
            mine.overhead_ms += theirs.overhead_ms;
            mine.durations.merge(theirs.durations)?;
            for (v, id) in theirs.slowest.entries() {
                mine.slowest.offer(self.slowest, *v, id);
            }
        }
        Ok(())
    }

    /// The hops of each window, with shares, downstream time and percentiles.
    fn finish(self, windows: usize) -> Result<Vec<Period>> {
        let mut periods: Vec<Period> = (0..windows).map(|_| Period::default()).collect();
        let mut total_critical = vec![0.0; windows];
        let mut called: HashMap<(usize, Arc<str>), f64> = HashMap::new();
        for ((w, caller, _), acc) in &self.groups {
            periods[*w].traces += acc.roots;
            total_critical[*w] += acc.critical_ms;
            if let Some(caller) = caller {
                *called.entry((*w, caller.clone())).or_default() += acc.critical_ms;
            }
        }
        for ((w, caller, callee), mut acc) in self.groups {
            let histogram = acc.durations.histogram()?;
            let q = |p: f64| hdr::quantile_ms(histogram, p);
            let samples = i64::try_from(histogram.len()).unwrap_or(i64::MAX);
            let low = |p: f64| significance::is_low_sample(samples, p);
            let traces = periods[w].traces;
            let stats = HopStats {
                requests: acc.requests,
                traces: acc.traces,
                critical_ms: acc.critical_ms,
                critical_ms_per_trace: if traces > 0 {
                    acc.critical_ms / traces as f64
                } else {
                    0.0
                },
                share: if total_critical[w] == 0.0 {
                    0.0
                } else {
                    acc.critical_ms / total_critical[w]
                },
                init_ms: acc.init_ms,
                handler_ms: acc.critical_ms - acc.init_ms - acc.overhead_ms,
                overhead_ms: acc.overhead_ms,
                downstream_ms: called.get(&(w, callee.clone())).copied().unwrap_or(0.0),
                p50_ms: q(0.5),
                p90_ms: q(0.9),
                p99_ms: q(0.99),
                samples,
                censored: acc.censored,
                p50_low_sample: low(0.5),
                p90_low_sample: low(0.9),
                p99_low_sample: low(0.99),
                errors: acc.errors,
                throttles: acc.throttles,
                faults: acc.faults,
                timeouts: acc.timeouts,
                cold_starts: acc.cold_starts,
                invocations: acc.invocations,
                cold_start_ratio: (acc.invocations > 0)
                    .then(|| acc.cold_starts as f64 / acc.invocations as f64),
            };
            let slowest_traces = acc
                .slowest
                .entries()
                .iter()
                .map(|(ms, id)| SlowTrace {
                    trace_id: id.clone(),
                    critical_ms: *ms,
                })
                .collect();
            periods[w].hops.push(HopRow {
                caller: caller.map(|c| c.to_string()),
                callee: callee.to_string(),
                callee_type: acc.callee_type,
                stats,
                slowest_traces,
            });
        }
        Ok(periods)
    }
}

//! The hops of one or more windows, aggregated by hand: from the per-minute summaries written
//! at ingest (`hops_1m`) for the whole minutes of the windows, and from the spans for the partial
//! minutes at their edges and for data files that have no summary.
//!
//! The `hops` view says the same in SQL (and a test holds the two together), but a general
//! `GROUP BY` with fifteen aggregates, each a `CASE` over string columns, spends most of its time
//! evaluating expressions row by row. Here the grouping and flag columns are read as dictionary
//! keys, each distinct name is compared once per batch, and one loop updates every aggregate of
//! a row. Each partition of a scan is tallied on its own task (all cores), then merged. A
//! summary is this same tally per minute, so merging summaries gives what tallying their spans
//! would.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::DataFusionError;
use hdrhistogram::serialization::V2Serializer;
use hopscope_schema::hops_1m::{
    self as rollup, Hop1mBatchBuilder, Hop1mRow, SLOWEST_KEPT, col as r,
};
use hopscope_schema::spans::{self, TABLE as SPANS, col as s, enters_service, kind};

use super::{
    HopRow, HopStats, INIT_SUBSEGMENTS_LIST, LAMBDA_FUNCTION, LAMBDA_SERVICE, OVERHEAD_SUBSEGMENT,
    Period, SlowTrace, TIMEOUT_MESSAGE,
};
use crate::error::Result;
use crate::hdr::{self, Decoder};
use crate::interned::{Interner, NONE, flags, known, text};
use crate::partials::Groups;
use crate::rollups::{Plan, bucket, columns_of, columns_or_nulls, slots_at};
use crate::session::Session;
use crate::significance;
use crate::top_n::Top;
use crate::window::Window;

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

/// What [`Partial::add_summaries`] reads, in this order.
const SUMMARY_COLUMNS: [&str; 19] = [
    r::MINUTE,
    r::CALLER,
    r::CALLEE,
    r::CALLEE_TYPE,
    r::ROOTS,
    r::REQUESTS,
    r::TRACES,
    r::ERRORS,
    r::THROTTLES,
    r::FAULTS,
    r::TIMEOUTS,
    r::CENSORED,
    r::COLD_STARTS,
    r::INVOCATIONS,
    r::CRITICAL_MS,
    r::INIT_MS,
    r::OVERHEAD_MS,
    r::DURATIONS,
    r::SLOWEST,
];

const MINUTE: i64 = 60_000_000;

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

/// The hops of each window (`windows[0]` first), with `slowest` traces of evidence per hop, and
/// how many data files were read whole for lack of a summary.
pub(super) async fn tally(
    session: &Session,
    windows: &[Window],
    slowest: usize,
) -> Result<(Vec<Period>, usize)> {
    // The summaries keep SLOWEST_KEPT traces a minute: more evidence needs every span.
    let plan = Plan::new(
        session,
        rollup::TABLE,
        Some(windows),
        slowest <= SLOWEST_KEPT,
    )?;
    let parts = plan
        .read(
            session,
            (SPANS, &COLUMNS),
            &SUMMARY_COLUMNS,
            move || Partial::new(slowest),
            Partial::add_batch,
            Partial::add_summaries,
        )
        .await?;
    let mut total = Named {
        slowest,
        groups: HashMap::new(),
    };
    for part in parts {
        total.merge(part.into_named())?;
    }
    Ok((total.finish(windows.len())?, plan.unsummarized_files()))
}

/// The `hops_1m` rows of `rows` (a data file's spans, in its own schema: a column added since
/// reads as nulls, as in a scan): one per minute and hop.
pub(crate) fn summarize(rows: &RecordBatch) -> Result<RecordBatch> {
    let mut part = Partial::new(SLOWEST_KEPT);
    part.grain = MINUTE;
    part.add_batch(&columns_or_nulls(rows, &spans::schema(), &COLUMNS)?, None)?;
    rows_of(part)
}

/// One hour's `hops_1m` rows from its minutes' (`minutes`): one per hop and `grain` (µs: the
/// hour, or each minute).
pub(crate) fn coarsen(minutes: &[RecordBatch], grain: i64) -> Result<RecordBatch> {
    let mut part = Partial::new(SLOWEST_KEPT);
    part.grain = grain;
    for rows in minutes {
        part.add_summaries(&columns_of(rows, &SUMMARY_COLUMNS)?, None)?;
    }
    rows_of(part)
}

/// The rows of a summary tallied by `grain`, in `hops_1m`'s schema.
fn rows_of(part: Partial) -> Result<RecordBatch> {
    let mut out = Hop1mBatchBuilder::default();
    let mut serializer = V2Serializer::new();
    let mut durations = Vec::new();
    for ((_, caller, callee), minute, acc) in part.into_minutes() {
        durations.clear();
        acc.durations.write_v2(&mut serializer, &mut durations)?;
        out.append(&Hop1mRow {
            minute,
            caller: caller.as_deref(),
            callee: &callee,
            callee_type: acc.callee_type.as_deref(),
            roots: acc.roots,
            requests: acc.requests,
            traces: acc.traces,
            errors: acc.errors,
            throttles: acc.throttles,
            faults: acc.faults,
            timeouts: acc.timeouts,
            censored: acc.censored,
            cold_starts: acc.cold_starts,
            invocations: acc.invocations,
            critical_ms: acc.critical_ms,
            init_ms: acc.init_ms,
            overhead_ms: acc.overhead_ms,
            durations: &durations,
            slowest: acc.slowest.entries(),
        });
    }
    Ok(out.finish())
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

impl Acc {
    /// Adds another part's aggregates of the same group, keeping `slowest` traces.
    fn merge(&mut self, theirs: Acc, slowest: usize) -> Result<()> {
        if theirs.callee_type > self.callee_type {
            self.callee_type = theirs.callee_type;
        }
        self.requests += theirs.requests;
        self.traces += theirs.traces;
        self.roots += theirs.roots;
        self.errors += theirs.errors;
        self.throttles += theirs.throttles;
        self.faults += theirs.faults;
        self.timeouts += theirs.timeouts;
        self.censored += theirs.censored;
        self.cold_starts += theirs.cold_starts;
        self.invocations += theirs.invocations;
        self.critical_ms += theirs.critical_ms;
        self.init_ms += theirs.init_ms;
        self.overhead_ms += theirs.overhead_ms;
        self.durations.merge(theirs.durations)?;
        for (v, id) in theirs.slowest.entries() {
            self.slowest.offer(slowest, *v, id);
        }
        Ok(())
    }

    /// Takes callee type `id` if it is greater than the one held (as `max()` would).
    fn note_type(&mut self, names: &Interner, id: u32) {
        if id != NONE
            && self.callee_type_id != Some(id)
            && self
                .callee_type
                .as_deref()
                .is_none_or(|cur| **names.name(id) > *cur)
        {
            self.callee_type_id = Some(id);
            self.callee_type = Some(names.name(id).to_string());
        }
    }
}

/// Group key: window index, caller (None at a trace's root), callee.
type Key = (usize, Option<Arc<str>>, Arc<str>);

/// One partition's groups, keyed by interned ids while tallying.
struct Partial {
    slowest: usize,
    names: Interner,
    /// By caller id + 1 or 0 and callee id (packed by [`pack`]), window index, and the start
    /// of the row's `grain` of time.
    groups: Groups<(u64, u32, i64), Acc>,
    /// The time each group spans (µs): a minute or an hour for a summary, 0 for none (one group
    /// per hop and window).
    grain: i64,
    /// Ids of the names the flags compare with.
    lambda_function: u32,
    lambda_service: u32,
    segment: u32,
    subsegment: u32,
}

fn pack(caller: u32, callee: u32) -> u64 {
    let caller = if caller == NONE {
        0
    } else {
        u64::from(caller) + 1
    };
    (caller << 32) | u64::from(callee)
}

impl Partial {
    fn new(slowest: usize) -> Self {
        let mut p = Partial {
            slowest,
            names: Interner::default(),
            groups: Groups::default(),
            grain: 0,
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

    /// Tallies the rows of `b` (in [`COLUMNS`] order) into each window of `slots` they start in.
    fn add_batch(&mut self, b: &RecordBatch, slots: Option<&[(usize, Window)]>) -> Result<()> {
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
            let minute = bucket(t, self.grain);
            for w in slots_at(slots, t) {
                let acc = self
                    .groups
                    .get((pack(caller[row], callee_id), w as u32, minute));
                acc.note_type(&self.names, svt);
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

    /// Merges summary rows of `b` (in [`SUMMARY_COLUMNS`] order) into each window of `slots`
    /// their minute is in.
    fn add_summaries(&mut self, b: &RecordBatch, slots: Option<&[(usize, Window)]>) -> Result<()> {
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
        let ms = |i: usize| c(i).as_primitive::<Float64Type>();
        let (critical, init, overhead) = (ms(14), ms(15), ms(16));
        let durations = c(17).as_binary::<i32>();
        let slowest = c(18).as_list::<i32>();
        let entries = slowest.values().as_struct();
        let (ids, values) = (text(entries.column(0))?, entries.column(1));
        let values = values.as_primitive::<Float64Type>();
        let offsets = slowest.value_offsets();
        let mut decoder = Decoder::default();
        let n = self.slowest;
        for row in 0..b.num_rows() {
            if callee[row] == NONE {
                continue;
            }
            let bucket = bucket(minute.value(row), self.grain);
            for w in slots_at(slots, minute.value(row)) {
                let acc = self
                    .groups
                    .get((pack(caller[row], callee[row]), w as u32, bucket));
                acc.note_type(&self.names, callee_type[row]);
                acc.roots += count(4).value(row);
                acc.requests += count(5).value(row);
                acc.traces += count(6).value(row);
                acc.errors += count(7).value(row);
                acc.throttles += count(8).value(row);
                acc.faults += count(9).value(row);
                acc.timeouts += count(10).value(row);
                acc.censored += count(11).value(row);
                acc.cold_starts += count(12).value(row);
                acc.invocations += count(13).value(row);
                acc.critical_ms += critical.value(row);
                acc.init_ms += init.value(row);
                acc.overhead_ms += overhead.value(row);
                decoder.add_to(durations.value(row), &mut acc.durations)?;
                for e in offsets[row] as usize..offsets[row + 1] as usize {
                    if let Some(id) = ids.get(e) {
                        acc.slowest.offer(n, values.value(e), id);
                    }
                }
            }
        }
        Ok(())
    }

    /// The groups keyed by name and minute, for merging partitions that interned differently.
    fn into_minutes(self) -> Vec<(Key, i64, Acc)> {
        let name = |id: u64| self.names.name(id as u32).clone();
        self.groups
            .into_vec()
            .into_iter()
            .map(|((key, window, minute), acc)| {
                let caller = key >> 32;
                let caller = (caller > 0).then(|| name(caller - 1));
                let callee = name(key & u64::from(u32::MAX));
                ((window as usize, caller, callee), minute, acc)
            })
            .collect()
    }

    /// The groups keyed by name (not by minute).
    fn into_named(self) -> Named {
        let slowest = self.slowest;
        let mut groups: HashMap<Key, Acc> = HashMap::new();
        for (key, _, acc) in self.into_minutes() {
            groups.insert(key, acc);
        }
        Named { slowest, groups }
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
            self.groups
                .entry(key)
                .or_default()
                .merge(theirs, self.slowest)?;
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

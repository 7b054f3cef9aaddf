//! The service map's groups, aggregated by hand: from the per-minute summaries written at ingest
//! (`service_edges_1m`) for the whole minutes of the window, and from the spans themselves for
//! the partial minutes at its edges and for data files that have no summary.
//!
//! The `service_nodes` / `service_edges` views say the same in SQL (and a test holds the map to
//! them), but a general `GROUP BY` on four dictionary columns spends most of its time encoding
//! group keys row by row. Here the names are interned per dictionary value, rows are grouped on
//! packed integer ids, and each partition of a scan is tallied on its own task. The summaries
//! are the same tally per minute, so a summary merged is what tallying its spans would give.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::DataFusionError;
use hdrhistogram::serialization::V2Serializer;
use hopscope_schema::service_edges_1m::{
    self as rollup, ServiceEdge1mBatchBuilder, ServiceEdge1mRow, col as r,
};
use hopscope_schema::spans::{self, TABLE as SPANS, col as s, enters_node};

use crate::error::Result;
use crate::hdr::{self, Decoder, Recorded};
use crate::interned::{Interner, NONE, flags, known, pack_origin};
use crate::partials::Groups;
use crate::rollups::flagged::{Flagged, FlaggedColumns};
use crate::rollups::{Plan, bucket, columns_or_nulls, slots_at};
use crate::session::Session;
use crate::window::Window;

/// What [`Partial::add_batch`] reads, in this order.
const COLUMNS: [&str; 15] = [
    s::START_TIME,
    s::PARENT_SERVICE,
    s::PARENT_SERVICE_TYPE,
    s::SERVICE,
    s::SERVICE_TYPE,
    s::ROOT,
    s::ERROR,
    s::THROTTLE,
    s::FAULT,
    s::DURATION_MS,
    s::DWELL_MS,
    s::IN_PROGRESS,
    s::CAUSE_MESSAGE,
    s::ACCOUNT_ID,
    s::REGION,
];

/// What [`Partial::add_summaries`] reads, in this order: all of them to write a summary, up to
/// [`FLAGGED_AT`] for the map.
const SUMMARY_COLUMNS: [&str; 22] = [
    r::MINUTE,
    r::CALLER,
    r::CALLER_TYPE,
    r::CALLEE,
    r::CALLEE_TYPE,
    r::ACCOUNT_ID,
    r::REGION,
    r::ROOTS,
    r::REQUESTS,
    r::OK,
    r::ERRORS,
    r::THROTTLES,
    r::FAULTS,
    r::TOTAL_MS,
    r::TIMED,
    r::CENSORED,
    r::DURATIONS,
    r::ASYNC_CALLS,
    r::DWELL,
    r::FLAGGED_ERRORS,
    r::MIN_MS,
    r::MAX_MS,
];
/// The map shows none of the columns from here on, and each would be one more column chunk to
/// open in every summary file it reads.
const FLAGGED_AT: usize = 19;

const MINUTE: i64 = 60_000_000;

/// One caller -> callee pair over the spans that enter a node; `caller` is `None` for spans
/// entering it from outside the trace. The numbers mean what `service_map_select`'s do.
#[derive(Debug)]
pub(super) struct Group {
    pub caller: Option<String>,
    pub callee: String,
    pub callee_type: Option<String>,
    /// Where the spans were collected (null when imported).
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub roots: i64,
    pub requests: i64,
    pub ok: i64,
    pub errors: i64,
    pub throttles: i64,
    pub faults: i64,
    /// NaN when no call has a duration (as the SQL's NULL reads).
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Calls with a duration, and of them the censored ones (see `HopStats::censored`).
    pub samples: i64,
    pub censored: i64,
    pub async_calls: i64,
    pub dwell_p99_ms: Option<f64>,
}

/// The groups of the spans in `window` (all of them for `None`), and how many data files were
/// read whole for lack of a summary.
pub(super) async fn tally(
    session: &Session,
    window: Option<Window>,
) -> Result<(Vec<Group>, usize)> {
    let windows = window.map(|w| [w]);
    let plan = Plan::new(
        session,
        rollup::TABLE,
        windows.as_ref().map(|w| &w[..]),
        true,
    )?;
    let parts = plan
        .read(
            session,
            (SPANS, &COLUMNS),
            &SUMMARY_COLUMNS[..FLAGGED_AT],
            Partial::default,
            Partial::add_batch,
            Partial::add_summaries,
        )
        .await?;
    Ok((merge(parts)?, plan.unsummarized_files()))
}

/// The groups of all `parts`, merged by name.
fn merge(parts: Vec<Partial>) -> Result<Vec<Group>> {
    let mut total: HashMap<Key, Acc> = HashMap::new();
    for part in parts {
        for (key, _, theirs) in part.into_named() {
            total.entry(key).or_default().merge(theirs)?;
        }
    }
    total
        .into_iter()
        .map(|((caller, _, callee, callee_type, account, region), acc)| {
            acc.finish(caller, callee, callee_type, account, region)
        })
        .collect()
}

/// The `service_edges_1m` rows of `rows` (a data file's spans, in its own schema: a column added
/// since reads as nulls, as in a scan): one per minute and group.
pub(crate) fn summarize(rows: &RecordBatch) -> Result<RecordBatch> {
    let mut part = Partial {
        grain: MINUTE,
        tallies_flagged: true,
        ..Partial::default()
    };
    part.add_batch(&columns_or_nulls(rows, &spans::schema(), &COLUMNS)?, None)?;
    rows_of(part)
}

/// One hour's `service_edges_1m` rows from its minutes' (`minutes`, each in its file's schema):
/// one per group and `grain` (µs: the hour, or each minute).
pub(crate) fn coarsen(minutes: &[RecordBatch], grain: i64) -> Result<RecordBatch> {
    let mut part = Partial {
        grain,
        tallies_flagged: true,
        ..Partial::default()
    };
    let schema = rollup::schema();
    for rows in minutes {
        part.add_summaries(&columns_or_nulls(rows, &schema, &SUMMARY_COLUMNS)?, None)?;
    }
    rows_of(part)
}

/// The rows of a summary tallied by `grain`, in `service_edges_1m`'s schema.
fn rows_of(part: Partial) -> Result<RecordBatch> {
    let mut out = ServiceEdge1mBatchBuilder::default();
    let mut serializer = V2Serializer::new();
    let (mut durations, mut dwell) = (Vec::new(), Vec::new());
    for ((caller, caller_type, callee, callee_type, account, region), minute, acc) in
        part.into_named()
    {
        durations.clear();
        dwell.clear();
        acc.durations.write_v2(&mut serializer, &mut durations)?;
        acc.dwell.write_v2(&mut serializer, &mut dwell)?;
        let (flagged_errors, min_ms, max_ms) = acc.flagged.columns();
        out.append(&ServiceEdge1mRow {
            minute,
            caller: caller.as_deref(),
            caller_type: caller_type.as_deref(),
            callee: callee.as_deref(),
            callee_type: callee_type.as_deref(),
            account_id: account.as_deref(),
            region: region.as_deref(),
            roots: acc.roots,
            requests: acc.requests,
            ok: acc.ok,
            errors: acc.errors,
            throttles: acc.throttles,
            faults: acc.faults,
            total_ms: acc.total_ms,
            timed: acc.timed,
            censored: acc.censored,
            durations: &durations,
            async_calls: acc.async_calls,
            dwell: &dwell,
            flagged_errors,
            min_ms,
            max_ms,
        });
    }
    Ok(out.finish())
}

/// Group key by name: caller, caller type, callee, callee type, account, Region.
type Key = (
    Option<Arc<str>>,
    Option<Arc<str>>,
    Option<Arc<str>>,
    Option<Arc<str>>,
    Option<Arc<str>>,
    Option<Arc<str>>,
);

/// One group's running aggregates.
#[derive(Debug, Default)]
struct Acc {
    roots: i64,
    requests: i64,
    ok: i64,
    errors: i64,
    throttles: i64,
    faults: i64,
    total_ms: f64,
    timed: i64,
    censored: i64,
    /// Durations of the calls, in µs.
    durations: Recorded,
    async_calls: i64,
    /// Queue dwell of the asynchronous calls, in µs.
    dwell: Recorded,
    /// Known zeros unless the partial [`Partial::tallies_flagged`].
    flagged: Flagged,
}

impl Acc {
    fn merge(&mut self, other: Acc) -> Result<()> {
        self.roots += other.roots;
        self.requests += other.requests;
        self.ok += other.ok;
        self.errors += other.errors;
        self.throttles += other.throttles;
        self.faults += other.faults;
        self.total_ms += other.total_ms;
        self.timed += other.timed;
        self.censored += other.censored;
        self.durations.merge(other.durations)?;
        self.async_calls += other.async_calls;
        self.flagged.merge(other.flagged);
        Ok(self.dwell.merge(other.dwell)?)
    }

    fn finish(
        mut self,
        caller: Option<Arc<str>>,
        callee: Option<Arc<str>>,
        callee_type: Option<Arc<str>>,
        account_id: Option<Arc<str>>,
        region: Option<Arc<str>>,
    ) -> Result<Group> {
        let durations = self.durations.histogram()?;
        let q = |p: f64| hdr::quantile_ms(durations, p).unwrap_or(f64::NAN);
        let (p50_ms, p99_ms) = (q(0.5), q(0.99));
        Ok(Group {
            caller: caller.map(|c| c.to_string()),
            callee: callee.map(|c| c.to_string()).unwrap_or_default(),
            callee_type: callee_type.map(|t| t.to_string()),
            account_id: account_id.map(|a| a.to_string()),
            region: region.map(|r| r.to_string()),
            roots: self.roots,
            requests: self.requests,
            ok: self.ok,
            errors: self.errors,
            throttles: self.throttles,
            faults: self.faults,
            avg_ms: if self.timed > 0 {
                self.total_ms / self.timed as f64
            } else {
                f64::NAN
            },
            p50_ms,
            p99_ms,
            samples: self.timed,
            censored: self.censored,
            async_calls: self.async_calls,
            dwell_p99_ms: hdr::quantile_ms(self.dwell.histogram()?, 0.99),
        })
    }
}

/// One partition's groups, keyed by interned ids while tallying.
#[derive(Default)]
struct Partial {
    names: Interner,
    /// By the four name ids (each + 1, 0 for null), packed by [`pack`], the account and Region
    /// ids packed the same way, and the start of the row's `grain` of time.
    groups: Groups<(u128, u64, i64), Acc>,
    /// The time each group spans (µs): a minute or an hour for a summary, 0 for none.
    grain: i64,
    /// Whether it tallies `flagged_errors`, `min_ms` and `max_ms`: a summary holds them, the
    /// map shows none and leaves them unread.
    tallies_flagged: bool,
}

fn pack(ids: [u32; 4]) -> u128 {
    ids.iter().fold(0u128, |key, &id| {
        let id = if id == NONE { 0 } else { u128::from(id) + 1 };
        (key << 32) | id
    })
}

impl Partial {
    /// Tallies the rows of `b` (in [`COLUMNS`] order) that start in one of `slots` (one window
    /// here).
    fn add_batch(&mut self, b: &RecordBatch, slots: Option<&[(usize, Window)]>) -> Result<()> {
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
        let (root, error, throttle, fault) = (flags(c(5)), flags(c(6)), flags(c(7)), flags(c(8)));
        let floats = |i: usize| cast(c(i), &DataType::Float64).map_err(DataFusionError::from);
        let (duration, dwell) = (floats(9)?, floats(10)?);
        let (duration, dwell) = (
            duration.as_primitive::<Float64Type>(),
            dwell.as_primitive::<Float64Type>(),
        );
        let in_progress = flags(c(11));
        let timed_out = crate::hops::timed_out(c(12))?;
        let (account, region) = (self.names.column(c(13))?, self.names.column(c(14))?);
        for row in 0..b.num_rows() {
            let t = start.value(row);
            if slots_at(slots, t).next().is_none() {
                continue;
            }
            let minute = bucket(t, self.grain);
            let ids = [caller[row], caller_type[row], callee[row], callee_type[row]];
            // Spans entering a node, as `service_map_select` counts them.
            let parent = known(ids[0]).map(|p| (p, known(ids[1])));
            if !enters_node(parent, (ids[2], known(ids[3]))) {
                continue;
            }
            let acc = self
                .groups
                .get((pack(ids), pack_origin(account[row], region[row]), minute));
            acc.roots += i64::from(root(row));
            acc.requests += 1;
            acc.ok += i64::from(!error(row) && !fault(row));
            acc.errors += i64::from(error(row) && !throttle(row));
            acc.throttles += i64::from(throttle(row));
            acc.faults += i64::from(fault(row));
            let ms = duration.is_valid(row).then(|| duration.value(row));
            if self.tallies_flagged {
                acc.flagged.add_span(error(row), ms);
            }
            if let Some(ms) = ms {
                acc.total_ms += ms;
                acc.timed += 1;
                acc.censored += i64::from(in_progress(row) || timed_out[row]);
                if let Some(us) = hdr::micros(ms) {
                    acc.durations.record(us)?;
                }
            }
            if dwell.is_valid(row) {
                acc.async_calls += 1;
                if let Some(us) = hdr::micros(dwell.value(row)) {
                    acc.dwell.record(us)?;
                }
            }
        }
        Ok(())
    }

    /// Merges summary rows of `b` (in [`SUMMARY_COLUMNS`] order) whose minute is in `slots`.
    fn add_summaries(&mut self, b: &RecordBatch, slots: Option<&[(usize, Window)]>) -> Result<()> {
        let c = |i: usize| b.column(i);
        let minute = cast(c(0), &DataType::Timestamp(TimeUnit::Microsecond, None))
            .map_err(DataFusionError::from)?;
        let minute = minute.as_primitive::<TimestampMicrosecondType>();
        let (caller, caller_type, callee, callee_type, account, region) = (
            self.names.column(c(1))?,
            self.names.column(c(2))?,
            self.names.column(c(3))?,
            self.names.column(c(4))?,
            self.names.column(c(5))?,
            self.names.column(c(6))?,
        );
        let count = |i: usize| c(i).as_primitive::<Int64Type>();
        let (roots, requests, ok, errors, throttles, faults) = (
            count(7),
            count(8),
            count(9),
            count(10),
            count(11),
            count(12),
        );
        let total_ms = c(13).as_primitive::<Float64Type>();
        let (timed, censored, async_calls) = (count(14), count(15), count(17));
        let (durations, dwell) = (c(16).as_binary::<i32>(), c(18).as_binary::<i32>());
        let flagged = self
            .tallies_flagged
            .then(|| FlaggedColumns::new([c(19), c(20), c(21)]));
        let mut decoder = Decoder::default();
        for row in 0..b.num_rows() {
            if slots_at(slots, minute.value(row)).next().is_none() {
                continue;
            }
            let ids = [caller[row], caller_type[row], callee[row], callee_type[row]];
            let acc = self.groups.get((
                pack(ids),
                pack_origin(account[row], region[row]),
                bucket(minute.value(row), self.grain),
            ));
            acc.roots += roots.value(row);
            acc.requests += requests.value(row);
            acc.ok += ok.value(row);
            acc.errors += errors.value(row);
            acc.throttles += throttles.value(row);
            acc.faults += faults.value(row);
            acc.total_ms += total_ms.value(row);
            acc.timed += timed.value(row);
            acc.censored += censored.value(row);
            decoder.add_to(durations.value(row), &mut acc.durations)?;
            acc.async_calls += async_calls.value(row);
            decoder.add_to(dwell.value(row), &mut acc.dwell)?;
            if let Some(flagged) = &flagged {
                acc.flagged.merge(flagged.at(row));
            }
        }
        Ok(())
    }

    /// The groups keyed by name and minute, for merging partitions that interned differently.
    fn into_named(self) -> Vec<(Key, i64, Acc)> {
        let names = &self.names;
        let name = |id: u128| {
            let id = (id & u128::from(u32::MAX)) as u32;
            (id > 0).then(|| names.name(id - 1).clone())
        };
        self.groups
            .into_vec()
            .into_iter()
            .map(|((key, origin, minute), acc)| {
                let origin = u128::from(origin);
                let named = (
                    name(key >> 96),
                    name(key >> 64),
                    name(key >> 32),
                    name(key),
                    name(origin >> 32),
                    name(origin),
                );
                (named, minute, acc)
            })
            .collect()
    }
}

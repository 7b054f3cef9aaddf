//! Lambda invocations tallied by function: the `lambda_invocations_1m` rollup written at ingest,
//! and the fold a function rule's series reads it (and the invocations of partial minutes) with.
//!
//! A group counts what the function alarms' SQL computes from `lambda_invocations`: invocations,
//! errors (status `error` or `timeout`), timeouts, cold starts (an init duration), and of the
//! durations their count, sum, least, greatest and HdrHistogram, and the greatest share of its
//! memory an invocation used. Each is a sum, a minimum or a maximum, so minutes merge into hours
//! and periods exactly (sums of floats up to their order of addition).

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::DataFusionError;
use hdrhistogram::serialization::V2Serializer;
use hopscope_schema::lambda_invocations::{self, TABLE as INVOCATIONS, col as li, status};
use hopscope_schema::lambda_invocations_1m::{
    self as rollup, LambdaInvocation1mBatchBuilder, LambdaInvocation1mRow, col as r,
};

use super::{Plan, bucket, columns_of, columns_or_nulls, either, slots_at};
use crate::error::Result;
use crate::hdr::{self, Decoder, Recorded};
use crate::interned::{Interner, NONE, pack_origin};
use crate::partials::Groups;
use crate::session::Session;
use crate::window::Window;

const MINUTE: i64 = 60_000_000;

/// What [`Partial::add_rows`] reads, in this order.
const COLUMNS: [&str; 9] = [
    li::TIMESTAMP,
    li::FUNCTION,
    li::STATUS,
    li::DURATION_MS,
    li::INIT_MS,
    li::MAX_MEMORY_MB,
    li::MEMORY_MB,
    li::ACCOUNT_ID,
    li::REGION,
];

/// What [`Partial::add_summaries`] reads, in this order.
const SUMMARY_COLUMNS: [&str; 15] = [
    r::MINUTE,
    r::FUNCTION,
    r::INVOCATIONS,
    r::ERRORS,
    r::TIMEOUTS,
    r::COLD_STARTS,
    r::TIMED,
    r::TOTAL_MS,
    r::MIN_MS,
    r::MAX_MS,
    r::DURATIONS,
    r::MEMORY_SAMPLES,
    r::MAX_MEMORY_RATIO,
    r::ACCOUNT_ID,
    r::REGION,
];

/// One function's running aggregates in one period.
#[derive(Debug, Default)]
pub(crate) struct Acc {
    pub invocations: i64,
    pub errors: i64,
    pub timeouts: i64,
    pub cold_starts: i64,
    pub timed: i64,
    pub total_ms: f64,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Durations, in µs.
    pub durations: Recorded,
    pub memory_samples: i64,
    pub max_memory_ratio: Option<f64>,
}

impl Acc {
    pub(crate) fn merge(&mut self, other: Acc) -> Result<()> {
        self.invocations += other.invocations;
        self.errors += other.errors;
        self.timeouts += other.timeouts;
        self.cold_starts += other.cold_starts;
        self.timed += other.timed;
        self.total_ms += other.total_ms;
        self.min_ms = either(self.min_ms, other.min_ms, f64::min);
        self.max_ms = either(self.max_ms, other.max_ms, f64::max);
        self.memory_samples += other.memory_samples;
        self.max_memory_ratio = either(self.max_memory_ratio, other.max_memory_ratio, f64::max);
        Ok(self.durations.merge(other.durations)?)
    }
}

/// The `lambda_invocations_1m` rows of `rows` (a data file's invocations, in its own schema: a
/// column added since reads as nulls, as in a scan): one per minute and function.
pub(crate) fn summarize(rows: &RecordBatch) -> Result<RecordBatch> {
    let mut part = Partial::new(MINUTE);
    part.add_rows(
        &columns_or_nulls(rows, &lambda_invocations::schema(), &COLUMNS)?,
        None,
    )?;
    rows_of(part)
}

/// One hour's `lambda_invocations_1m` rows from its minutes' (`minutes`): one per function and
/// `grain` (µs: the hour, or each minute).
pub(crate) fn coarsen(minutes: &[RecordBatch], grain: i64) -> Result<RecordBatch> {
    let mut part = Partial::new(grain);
    for rows in minutes {
        part.add_summaries(&columns_of(rows, &SUMMARY_COLUMNS)?, None)?;
    }
    rows_of(part)
}

/// The invocations of `window` by function and by `period` (µs, from the epoch): from the
/// summaries for whole minutes, from the invocations for the rest.
pub(crate) async fn tally(
    session: &Session,
    window: Window,
    period: i64,
) -> Result<Vec<((String, i64), Acc)>> {
    let plan = Plan::by_period(session, rollup::TABLE, window, period)?;
    let parts = plan
        .read(
            session,
            (INVOCATIONS, &COLUMNS),
            &SUMMARY_COLUMNS,
            move || Partial::new(period),
            Partial::add_rows,
            Partial::add_summaries,
        )
        .await?;
    let mut total: HashMap<(String, i64), Acc> = HashMap::new();
    for part in parts {
        for ((function, _, _), period, acc) in part.into_named() {
            total.entry((function, period)).or_default().merge(acc)?;
        }
    }
    Ok(total.into_iter().collect())
}

/// The rows of a summary tallied by minute or hour, in `lambda_invocations_1m`'s schema.
fn rows_of(part: Partial) -> Result<RecordBatch> {
    let mut out = LambdaInvocation1mBatchBuilder::default();
    let mut serializer = V2Serializer::new();
    let mut durations = Vec::new();
    for ((function, account, region), minute, acc) in part.into_named() {
        durations.clear();
        acc.durations.write_v2(&mut serializer, &mut durations)?;
        out.append(&LambdaInvocation1mRow {
            minute,
            function: Some(&function),
            account_id: account.as_deref(),
            region: region.as_deref(),
            invocations: acc.invocations,
            errors: acc.errors,
            timeouts: acc.timeouts,
            cold_starts: acc.cold_starts,
            timed: acc.timed,
            total_ms: acc.total_ms,
            min_ms: acc.min_ms,
            max_ms: acc.max_ms,
            durations: &durations,
            memory_samples: acc.memory_samples,
            max_memory_ratio: acc.max_memory_ratio,
        });
    }
    Ok(out.finish())
}

/// A function, its account and its Region.
type Named = (String, Option<String>, Option<String>);

/// One partition's groups: by function id, account and Region ids (packed by
/// [`pack_origin`]), and the start of the row's `grain`.
struct Partial {
    names: Interner,
    groups: Groups<(u32, u64, i64), Acc>,
    /// The time each group spans (µs): a minute or an hour for a summary, a rule's period.
    grain: i64,
    error: u32,
    timeout: u32,
}

impl Partial {
    fn new(grain: i64) -> Partial {
        let mut names = Interner::default();
        let (error, timeout) = (names.intern(status::ERROR), names.intern(status::TIMEOUT));
        Partial {
            names,
            groups: Groups::default(),
            grain,
            error,
            timeout,
        }
    }

    /// Tallies the invocations of `b` (in [`COLUMNS`] order) that end in one of `slots` (one
    /// window here).
    fn add_rows(&mut self, b: &RecordBatch, slots: Option<&[(usize, Window)]>) -> Result<()> {
        let c = |i: usize| b.column(i);
        let time = cast(c(0), &DataType::Timestamp(TimeUnit::Microsecond, None))
            .map_err(DataFusionError::from)?;
        let time = time.as_primitive::<TimestampMicrosecondType>();
        let (function, status) = (self.names.column(c(1))?, self.names.column(c(2))?);
        let floats = |i: usize| cast(c(i), &DataType::Float64).map_err(DataFusionError::from);
        let (duration, init, used, size) = (floats(3)?, floats(4)?, floats(5)?, floats(6)?);
        let (duration, init, used, size) = (
            duration.as_primitive::<Float64Type>(),
            init.as_primitive::<Float64Type>(),
            used.as_primitive::<Float64Type>(),
            size.as_primitive::<Float64Type>(),
        );
        let (account, region) = (self.names.column(c(7))?, self.names.column(c(8))?);
        for row in 0..b.num_rows() {
            let t = time.value(row);
            if function[row] == NONE || slots_at(slots, t).next().is_none() {
                continue;
            }
            let key = (
                function[row],
                pack_origin(account[row], region[row]),
                bucket(t, self.grain),
            );
            let acc = self.groups.get(key);
            acc.invocations += 1;
            acc.errors += i64::from(status[row] == self.error || status[row] == self.timeout);
            acc.timeouts += i64::from(status[row] == self.timeout);
            acc.cold_starts += i64::from(init.is_valid(row));
            if duration.is_valid(row) {
                let ms = duration.value(row);
                acc.timed += 1;
                acc.total_ms += ms;
                acc.min_ms = either(acc.min_ms, Some(ms), f64::min);
                acc.max_ms = either(acc.max_ms, Some(ms), f64::max);
                if let Some(us) = hdr::micros(ms) {
                    acc.durations.record(us)?;
                }
            }
            if used.is_valid(row) && size.is_valid(row) {
                acc.memory_samples += 1;
                let ratio = used.value(row) / size.value(row);
                acc.max_memory_ratio = either(acc.max_memory_ratio, Some(ratio), f64::max);
            }
        }
        Ok(())
    }

    /// Merges summary rows of `b` (in [`SUMMARY_COLUMNS`] order) whose minute is in one of
    /// `slots`.
    fn add_summaries(&mut self, b: &RecordBatch, slots: Option<&[(usize, Window)]>) -> Result<()> {
        let c = |i: usize| b.column(i);
        let minute = cast(c(0), &DataType::Timestamp(TimeUnit::Microsecond, None))
            .map_err(DataFusionError::from)?;
        let minute = minute.as_primitive::<TimestampMicrosecondType>();
        let function = self.names.column(c(1))?;
        let count = |i: usize| c(i).as_primitive::<Int64Type>();
        let ms = |i: usize| c(i).as_primitive::<Float64Type>();
        let value = |a: &datafusion::arrow::array::Float64Array, row: usize| {
            a.is_valid(row).then(|| a.value(row))
        };
        let (min_ms, max_ms, max_ratio) = (ms(8), ms(9), ms(12));
        let durations = c(10).as_binary::<i32>();
        let (account, region) = (self.names.column(c(13))?, self.names.column(c(14))?);
        let mut decoder = Decoder::default();
        for row in 0..b.num_rows() {
            let t = minute.value(row);
            if function[row] == NONE || slots_at(slots, t).next().is_none() {
                continue;
            }
            let key = (
                function[row],
                pack_origin(account[row], region[row]),
                bucket(t, self.grain),
            );
            let acc = self.groups.get(key);
            acc.invocations += count(2).value(row);
            acc.errors += count(3).value(row);
            acc.timeouts += count(4).value(row);
            acc.cold_starts += count(5).value(row);
            acc.timed += count(6).value(row);
            acc.total_ms += ms(7).value(row);
            acc.min_ms = either(acc.min_ms, value(min_ms, row), f64::min);
            acc.max_ms = either(acc.max_ms, value(max_ms, row), f64::max);
            decoder.add_to(durations.value(row), &mut acc.durations)?;
            acc.memory_samples += count(11).value(row);
            acc.max_memory_ratio = either(acc.max_memory_ratio, value(max_ratio, row), f64::max);
        }
        Ok(())
    }

    /// The groups by function, account and Region names, and grain.
    fn into_named(self) -> Vec<(Named, i64, Acc)> {
        let names = &self.names;
        let name = |id: u64| (id > 0).then(|| names.name((id - 1) as u32).to_string());
        self.groups
            .into_vec()
            .into_iter()
            .map(|((function, origin, start), acc)| {
                let function = names.name(function).to_string();
                let (account, region) = (name(origin >> 32), name(origin & u64::from(u32::MAX)));
                ((function, account, region), start, acc)
            })
            .collect()
    }
}

//! `hdr_histogram` and `hdr_merge`: one aggregate that differs only in what an input row is.
//!
//! A group starts as a plain list of microsecond values and becomes a histogram once it holds
//! [`PROMOTE_AT`] of them. A histogram costs at least 16 KiB (2048 counters at three significant
//! digits), so a GROUP BY with a million small groups would need 16 GB if every group began
//! as one; as a list, a group costs 8 bytes a value.
//!
//! The partial state between aggregation phases is two columns, `raw` (the list, packed
//! little-endian u64) or `histogram` (V2), whichever the group holds: DataFusion may skip the
//! partial phase for high-cardinality groupings and turn every input row into a state, and a
//! single value then travels as 8 bytes instead of a histogram that would cost a 16 KiB
//! allocation to build and another to read back.

use std::mem::size_of;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, BooleanArray, new_null_array,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{ScalarValue, exec_datafusion_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion_functions_aggregate_common::aggregate::groups_accumulator::accumulate::accumulate;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2Serializer;

use super::v2::Dense;
use super::{Decoder, HDR_HISTOGRAM, HDR_MERGE, histogram_arg, micros, new_histogram};

/// Values a group keeps as a list before it becomes a histogram: 2 KiB, an eighth of the
/// smallest histogram, and a state small enough to ship.
pub(super) const PROMOTE_AT: usize = 256;

/// What one input row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Input {
    /// A duration in milliseconds (`hdr_histogram`).
    Durations,
    /// A serialized histogram (`hdr_merge`).
    Histograms,
}

/// The `hdr_histogram(duration_ms)` and `hdr_merge(h)` aggregates.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HdrAggregateUdaf {
    input: Input,
    signature: Signature,
}

impl HdrAggregateUdaf {
    /// `hdr_histogram(duration_ms)`.
    pub fn histogram() -> Self {
        Self::new(Input::Durations)
    }

    /// `hdr_merge(h)`.
    pub fn merge() -> Self {
        Self::new(Input::Histograms)
    }

    fn new(input: Input) -> Self {
        Self {
            input,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for HdrAggregateUdaf {
    fn name(&self) -> &str {
        match self.input {
            Input::Durations => HDR_HISTOGRAM,
            Input::Histograms => HDR_MERGE,
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [t] = arg_types else {
            return plan_err!("{} takes one argument", self.name());
        };
        let t = match self.input {
            Input::Durations if t.is_numeric() || t.is_null() => DataType::Float64,
            Input::Durations => {
                return plan_err!(
                    "{HDR_HISTOGRAM} expects a duration in milliseconds (a number), got {t}"
                );
            }
            Input::Histograms => histogram_arg(HDR_MERGE, t)?,
        };
        Ok(vec![t])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        let mut out = BinaryBuilder::new();
        Recorded::default().write_result(&mut V2Serializer::new(), &mut out)?;
        ScalarValue::try_from_array(&out.finish(), 0)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "raw"),
                DataType::Binary,
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "histogram"),
                DataType::Binary,
                true,
            )),
        ])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(HdrAccumulator {
            groups: HdrGroupsAccumulator::new(self.input),
            zeros: Vec::new(),
        }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(HdrGroupsAccumulator::new(self.input)))
    }
}

/// One group's values: a list while small, a histogram once large, or counts by slot once
/// stored histograms are merged into it (see [`Recorded::counts`]).
#[derive(Debug)]
pub(crate) enum Recorded {
    Values(Vec<u64>),
    Histogram(Box<Histogram<u64>>),
    Counts(Box<Dense>),
}

impl Default for Recorded {
    fn default() -> Self {
        Recorded::Values(Vec::new())
    }
}

impl Recorded {
    pub(crate) fn record(&mut self, us: u64) -> Result<()> {
        match self {
            Recorded::Values(values) => {
                values.push(us);
                if values.len() >= PROMOTE_AT {
                    self.histogram()?;
                }
                Ok(())
            }
            Recorded::Histogram(h) => record(h, us),
            Recorded::Counts(dense) => {
                if us > super::MAX_MICROS {
                    return Err(exec_datafusion_err!(
                        "recording {us} µs: beyond the largest value"
                    ));
                }
                dense.record(us);
                Ok(())
            }
        }
    }

    /// The group as counts by slot, converting it first: what stored histograms merge into
    /// with an addition per slot (a tally that merges thousands of per-minute summaries spent
    /// most of its time recording their counts one by one into a histogram).
    pub(crate) fn counts(&mut self) -> Result<&mut Dense> {
        match self {
            Recorded::Values(values) => {
                let mut dense = Dense::default();
                values.iter().for_each(|&us| dense.record(us));
                *self = Recorded::Counts(Box::new(dense));
            }
            Recorded::Histogram(h) => {
                let mut dense = Dense::default();
                for v in h.iter_recorded() {
                    dense.record_n(
                        h.lowest_equivalent(v.value_iterated_to()),
                        v.count_at_value(),
                    );
                }
                *self = Recorded::Counts(Box::new(dense));
            }
            Recorded::Counts(_) => {}
        }
        match self {
            Recorded::Counts(dense) => Ok(dense),
            _ => unreachable!("converted above"),
        }
    }

    /// Records values packed as little-endian u64 (a `raw` state).
    fn record_raw(&mut self, raw: &[u8]) -> Result<()> {
        for chunk in raw.chunks_exact(8) {
            self.record(u64::from_le_bytes(chunk.try_into().expect("8 bytes")))?;
        }
        Ok(())
    }

    fn add(&mut self, other: &Histogram<u64>) -> Result<()> {
        self.histogram()?
            .add(other)
            .map_err(|e| exec_datafusion_err!("merging histograms: {e:?}"))
    }

    /// Adds another group's values.
    pub(crate) fn merge(&mut self, other: Recorded) -> Result<()> {
        match other {
            Recorded::Values(values) => values.into_iter().try_for_each(|us| self.record(us)),
            Recorded::Histogram(h) => self.add(&h),
            Recorded::Counts(other) => {
                self.counts()?.merge(&other);
                Ok(())
            }
        }
    }

    /// The group as a histogram, converting the list first.
    pub(crate) fn histogram(&mut self) -> Result<&mut Histogram<u64>> {
        if !matches!(self, Recorded::Histogram(_)) {
            *self = Recorded::Histogram(Box::new(self.to_histogram()?));
        }
        match self {
            Recorded::Histogram(h) => Ok(h),
            _ => unreachable!("converted above"),
        }
    }

    /// Heap bytes held, for [`GroupsAccumulator::size`].
    fn heap_size(&self) -> usize {
        match self {
            Recorded::Values(values) => values.capacity() * size_of::<u64>(),
            Recorded::Histogram(h) => {
                size_of::<Histogram<u64>>() + h.distinct_values() * size_of::<u64>()
            }
            Recorded::Counts(dense) => size_of::<Dense>() + dense.heap_size(),
        }
    }

    fn write_state(
        &self,
        serializer: &mut V2Serializer,
        raw: &mut BinaryBuilder,
        histogram: &mut BinaryBuilder,
    ) -> Result<()> {
        match self {
            Recorded::Values(values) => {
                let packed: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                raw.append_value(packed);
                histogram.append_null();
            }
            Recorded::Histogram(h) => {
                raw.append_null();
                super::serialize_into(serializer, h, histogram)?;
                histogram.append_value([]);
            }
            Recorded::Counts(_) => {
                raw.append_null();
                self.write_v2(serializer, histogram)?;
                histogram.append_value([]);
            }
        }
        Ok(())
    }

    fn write_result(&self, serializer: &mut V2Serializer, out: &mut BinaryBuilder) -> Result<()> {
        self.write_v2(serializer, out)?;
        out.append_value([]);
        Ok(())
    }

    /// Appends the group's histogram in plain V2 form to `out`'s current value (the caller
    /// finishes the value). A list or counts are written as they are; only a histogram, or
    /// what [`super::v2::write_counts`] leaves to one, goes through `serializer`.
    pub(crate) fn write_v2(
        &self,
        serializer: &mut V2Serializer,
        out: &mut impl std::io::Write,
    ) -> Result<()> {
        let written = match self {
            Recorded::Values(values) => super::v2::write_values(values, out),
            Recorded::Counts(dense) => super::v2::write_counts(dense.slots(), out),
            Recorded::Histogram(h) => return super::serialize_into(serializer, h, out),
        };
        match written {
            Ok(true) => Ok(()),
            Ok(false) => super::serialize_into(serializer, &self.to_histogram()?, out),
            Err(e) => Err(exec_datafusion_err!("writing a histogram: {e}")),
        }
    }

    /// The group's values as a histogram, leaving the group as it is.
    fn to_histogram(&self) -> Result<Histogram<u64>> {
        match self {
            Recorded::Values(values) => {
                let mut h = new_histogram();
                for &us in values {
                    record(&mut h, us)?;
                }
                Ok(h)
            }
            Recorded::Histogram(h) => Ok((**h).clone()),
            Recorded::Counts(dense) => histogram_of(dense),
        }
    }
}

/// The histogram of dense counts.
fn histogram_of(dense: &Dense) -> Result<Histogram<u64>> {
    let mut h = new_histogram();
    for (value, count) in dense.values() {
        h.record_n(value, count)
            .map_err(|e| exec_datafusion_err!("recording {value} µs: {e:?}"))?;
    }
    Ok(h)
}

fn record(h: &mut Histogram<u64>, us: u64) -> Result<()> {
    h.record(us)
        .map_err(|e| exec_datafusion_err!("recording {us} µs: {e:?}"))
}

/// Every group's [`Recorded`] values, by group index.
pub(super) struct HdrGroupsAccumulator {
    input: Input,
    groups: Vec<Recorded>,
    /// The sum of the groups' [`Recorded::heap_size`], kept as they change: `size` is called
    /// once a batch and must not walk every group.
    heap: usize,
    serializer: V2Serializer,
    decoder: Decoder,
}

impl HdrGroupsAccumulator {
    pub(super) fn new(input: Input) -> Self {
        Self {
            input,
            groups: Vec::new(),
            heap: 0,
            serializer: V2Serializer::new(),
            decoder: Decoder::default(),
        }
    }

    /// Applies `f` to group `g`, keeping `heap` current.
    fn change(&mut self, g: usize, f: impl FnOnce(&mut Recorded) -> Result<()>) -> Result<()> {
        let group = &mut self.groups[g];
        let before = group.heap_size();
        let result = f(group);
        self.heap = self.heap + group.heap_size() - before;
        result
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<Recorded> {
        let taken = emit_to.take_needed(&mut self.groups);
        self.heap -= taken.iter().map(Recorded::heap_size).sum::<usize>();
        taken
    }
}

impl GroupsAccumulator for HdrGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Recorded::default);
        match self.input {
            Input::Durations => {
                let durations = values[0].as_primitive::<Float64Type>();
                let mut first_error = None;
                accumulate(group_indices, durations, opt_filter, |g, ms| {
                    if let Some(us) = micros(ms)
                        && let Err(e) = self.change(g, |r| r.record(us))
                    {
                        first_error.get_or_insert(e);
                    }
                });
                first_error.map_or(Ok(()), Err)
            }
            Input::Histograms => {
                let histograms = values[0].as_binary::<i32>();
                for (row, &g) in group_indices.iter().enumerate() {
                    let selected = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
                    if selected && histograms.is_valid(row) {
                        let h = self.decoder.decode(histograms.value(row))?;
                        self.change(g, |r| r.add(&h))?;
                    }
                }
                Ok(())
            }
        }
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Recorded::default);
        let raw = values[0].as_binary::<i32>();
        let histograms = values[1].as_binary::<i32>();
        for (row, &g) in group_indices.iter().enumerate() {
            if raw.is_valid(row) {
                self.change(g, |r| r.record_raw(raw.value(row)))?;
            }
            if histograms.is_valid(row) {
                let h = self.decoder.decode(histograms.value(row))?;
                self.change(g, |r| r.add(&h))?;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = self.take(emit_to);
        let mut out = BinaryBuilder::with_capacity(groups.len(), 0);
        for group in &groups {
            group.write_result(&mut self.serializer, &mut out)?;
        }
        Ok(Arc::new(out.finish()))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = self.take(emit_to);
        let mut raw = BinaryBuilder::with_capacity(groups.len(), 0);
        let mut histograms = BinaryBuilder::with_capacity(groups.len(), 0);
        for group in &groups {
            group.write_state(&mut self.serializer, &mut raw, &mut histograms)?;
        }
        Ok(vec![Arc::new(raw.finish()), Arc::new(histograms.finish())])
    }

    /// Each row as its own group's state, without building a histogram per row.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let rows = values[0].len();
        let selected = |row: usize| opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
        match self.input {
            Input::Durations => {
                let durations = values[0].as_primitive::<Float64Type>();
                let mut raw = BinaryBuilder::with_capacity(rows, rows * size_of::<u64>());
                for row in 0..rows {
                    let us = (selected(row) && durations.is_valid(row))
                        .then(|| micros(durations.value(row)))
                        .flatten();
                    match us {
                        Some(us) => raw.append_value(us.to_le_bytes()),
                        None => raw.append_null(),
                    }
                }
                Ok(vec![
                    Arc::new(raw.finish()),
                    new_null_array(&DataType::Binary, rows),
                ])
            }
            Input::Histograms => {
                let histograms = values[0].as_binary::<i32>();
                let kept: BinaryArray = (0..rows)
                    .map(|row| {
                        (selected(row) && histograms.is_valid(row)).then(|| histograms.value(row))
                    })
                    .collect();
                Ok(vec![
                    new_null_array(&DataType::Binary, rows),
                    Arc::new(kept),
                ])
            }
        }
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.groups.capacity() * size_of::<Recorded>() + self.heap
    }
}

/// The single-group accumulator (no GROUP BY, window frames): one group of the groups
/// accumulator, so both share one implementation.
struct HdrAccumulator {
    groups: HdrGroupsAccumulator,
    /// Group indices (all 0) for a batch, kept to avoid an allocation per batch.
    zeros: Vec<usize>,
}

impl HdrAccumulator {
    fn indices(&mut self, rows: usize) -> Vec<usize> {
        let mut zeros = std::mem::take(&mut self.zeros);
        zeros.resize(rows, 0);
        zeros
    }

    fn group(&self) -> &Recorded {
        static EMPTY: Recorded = Recorded::Values(Vec::new());
        self.groups.groups.first().unwrap_or(&EMPTY)
    }
}

impl std::fmt::Debug for HdrAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HdrAccumulator")
            .field("input", &self.groups.input)
            .field("group", self.group())
            .finish()
    }
}

impl Accumulator for HdrAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let indices = self.indices(values[0].len());
        let result = self.groups.update_batch(values, &indices, None, 1);
        self.zeros = indices;
        result
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let indices = self.indices(states[0].len());
        let result = self.groups.merge_batch(states, &indices, 1);
        self.zeros = indices;
        result
    }

    // Window frames evaluate the same accumulator again and again: these read the group
    // without taking it.
    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut out = BinaryBuilder::new();
        let mut serializer = V2Serializer::new();
        self.group().write_result(&mut serializer, &mut out)?;
        ScalarValue::try_from_array(&out.finish(), 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (mut raw, mut histogram) = (BinaryBuilder::new(), BinaryBuilder::new());
        let mut serializer = V2Serializer::new();
        self.group()
            .write_state(&mut serializer, &mut raw, &mut histogram)?;
        Ok(vec![
            ScalarValue::try_from_array(&raw.finish(), 0)?,
            ScalarValue::try_from_array(&histogram.finish(), 0)?,
        ])
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.groups.size() + self.zeros.capacity() * size_of::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_becomes_a_histogram_at_the_threshold() {
        let mut r = Recorded::default();
        for us in 0..PROMOTE_AT as u64 - 1 {
            r.record(us).unwrap();
        }
        assert!(matches!(r, Recorded::Values(_)));
        r.record(7).unwrap();
        let Recorded::Histogram(h) = &r else {
            panic!("not promoted: {r:?}")
        };
        assert_eq!(h.len(), PROMOTE_AT as u64);
        assert_eq!(h.count_at(7), 2);
    }
}

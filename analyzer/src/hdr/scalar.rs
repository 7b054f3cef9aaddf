//! `hdr_quantile`, `hdr_count` and `hdr_buckets`: reading a serialized histogram.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, ListArray, StructArray, UInt64Array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use hdrhistogram::Histogram;

use super::{Decoder, HDR_BUCKETS, HDR_COUNT, HDR_QUANTILE, histogram_arg};

/// The most buckets `hdr_buckets` draws: more than any plot needs, few enough that a typo
/// cannot ask for a billion rows.
const MAX_BUCKETS: i64 = 1000;

/// `hdr_quantile(h, q)`: the duration in milliseconds at quantile `q`.
///
/// HdrHistogram's definition: the highest value equivalent (within the histogram's precision)
/// to the smallest recorded value with at least `ceil(q * count)` values at or below it (for
/// `q = 0`, the lowest value equivalent to the minimum). So it never under-reports, and exceeds
/// the exact sorted-array value by less than 10^-3 of it. NULL for an empty histogram.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HdrQuantileUdf {
    signature: Signature,
}

/// `hdr_count(h)`: how many values the histogram holds.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HdrCountUdf {
    signature: Signature,
}

/// `hdr_buckets(h, n)`: `n` buckets for plotting, log-scaled from the histogram's minimum to
/// its maximum, as a list of `{lower_ms, upper_ms, count}` (lower bound inclusive, upper
/// exclusive). Every bucket is listed, empty ones too, and the counts add up to `hdr_count`.
/// Each of the histogram's own buckets (width below 10^-3 of its value) falls whole in the plot
/// bucket holding its lower bound. Zeros fall in the first bucket. An empty histogram has none.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HdrBucketsUdf {
    signature: Signature,
}

macro_rules! user_defined_new {
    ($($t:ident),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                Self { signature: Signature::user_defined(Volatility::Immutable) }
            }
        }
    )*};
}
user_defined_new!(HdrQuantileUdf, HdrCountUdf, HdrBucketsUdf);

impl ScalarUDFImpl for HdrQuantileUdf {
    fn name(&self) -> &str {
        HDR_QUANTILE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [h, q] = arg_types else {
            return plan_err!("{HDR_QUANTILE} takes a histogram and a quantile in [0, 1]");
        };
        if !(q.is_numeric() || q.is_null()) {
            return plan_err!("{HDR_QUANTILE} expects a quantile in [0, 1], got {q}");
        }
        Ok(vec![histogram_arg(HDR_QUANTILE, h)?, DataType::Float64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (histograms, quantiles) = (
            arrays[0].as_binary::<i32>(),
            arrays[1].as_primitive::<Float64Type>(),
        );
        let mut decoder = Decoder::default();
        let mut out = Vec::with_capacity(histograms.len());
        for row in 0..histograms.len() {
            if histograms.is_null(row) || quantiles.is_null(row) {
                out.push(None);
                continue;
            }
            let q = quantiles.value(row);
            if !(0.0..=1.0).contains(&q) {
                return exec_err!("{HDR_QUANTILE}: quantile {q} is outside [0, 1]");
            }
            let h = decoder.decode(histograms.value(row))?;
            out.push(quantile_ms(&h, q));
        }
        output(&args.args, Arc::new(Float64Array::from(out)))
    }
}

/// The value at quantile `q` (in [0, 1]) in milliseconds; `None` for an empty histogram.
pub(crate) fn quantile_ms(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0)
}

impl ScalarUDFImpl for HdrCountUdf {
    fn name(&self) -> &str {
        HDR_COUNT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [h] = arg_types else {
            return plan_err!("{HDR_COUNT} takes one histogram");
        };
        Ok(vec![histogram_arg(HDR_COUNT, h)?])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let histograms = arrays[0].as_binary::<i32>();
        let mut decoder = Decoder::default();
        let counts = histograms
            .iter()
            .map(|h| h.map(|h| decoder.decode(h).map(|h| h.len())).transpose())
            .collect::<Result<UInt64Array>>()?;
        output(&args.args, Arc::new(counts))
    }
}

impl ScalarUDFImpl for HdrBucketsUdf {
    fn name(&self) -> &str {
        HDR_BUCKETS
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [h, n] = arg_types else {
            return plan_err!("{HDR_BUCKETS} takes a histogram and a number of buckets");
        };
        if !(n.is_integer() || n.is_null()) {
            return plan_err!("{HDR_BUCKETS} expects a whole number of buckets, got {n}");
        }
        Ok(vec![histogram_arg(HDR_BUCKETS, h)?, DataType::Int64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(bucket_item()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (histograms, ns) = (
            arrays[0].as_binary::<i32>(),
            arrays[1].as_primitive::<Int64Type>(),
        );
        let mut decoder = Decoder::default();
        let (mut lower, mut upper, mut count) = (Vec::new(), Vec::new(), Vec::new());
        let mut offsets = vec![0i32];
        let mut valid = Vec::with_capacity(histograms.len());
        for row in 0..histograms.len() {
            let is_valid = histograms.is_valid(row) && ns.is_valid(row);
            if is_valid {
                let n = ns.value(row);
                if !(1..=MAX_BUCKETS).contains(&n) {
                    return exec_err!("{HDR_BUCKETS}: {n} buckets; ask for 1 to {MAX_BUCKETS}");
                }
                let h = decoder.decode(histograms.value(row))?;
                for b in log_buckets(&h, n as usize) {
                    lower.push(b.lower_us / 1000.0);
                    upper.push(b.upper_us / 1000.0);
                    count.push(b.count);
                }
            }
            valid.push(is_valid);
            offsets.push(i32::try_from(lower.len()).expect("at most 1000 buckets a row"));
        }
        let DataType::Struct(fields) = bucket_item().data_type().clone() else {
            unreachable!("bucket_item is a struct")
        };
        let buckets = StructArray::try_new(
            fields,
            vec![
                Arc::new(Float64Array::from(lower)),
                Arc::new(Float64Array::from(upper)),
                Arc::new(UInt64Array::from(count)),
            ],
            None,
        )?;
        let list = ListArray::try_new(
            bucket_item(),
            OffsetBuffer::new(offsets.into()),
            Arc::new(buckets),
            Some(NullBuffer::from(valid)),
        )?;
        output(&args.args, Arc::new(list))
    }
}

/// The list item of `hdr_buckets`.
fn bucket_item() -> FieldRef {
    let fields = Fields::from(vec![
        Field::new("lower_ms", DataType::Float64, false),
        Field::new("upper_ms", DataType::Float64, false),
        Field::new("count", DataType::UInt64, false),
    ]);
    Arc::new(Field::new_list_field(DataType::Struct(fields), false))
}

/// One plot bucket, in microseconds.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bucket {
    pub(super) lower_us: f64,
    pub(super) upper_us: f64,
    pub(super) count: u64,
}

/// `n` buckets with log-spaced edges from the lowest recorded value to just past the highest.
pub(super) fn log_buckets(h: &Histogram<u64>, n: usize) -> Vec<Bucket> {
    if h.is_empty() {
        return Vec::new();
    }
    let low = h.lowest_equivalent(h.min()) as f64;
    let high = h.next_non_equivalent(h.max()) as f64;
    // Log spacing needs a positive start; zeros join the first bucket.
    let base = low.max(1.0);
    let ratio = high / base;
    let edges: Vec<f64> = (0..=n)
        .map(|i| match i {
            0 => low,
            i if i == n => high,
            i => base * ratio.powf(i as f64 / n as f64),
        })
        .collect();
    let mut buckets: Vec<Bucket> = edges
        .windows(2)
        .map(|w| Bucket {
            lower_us: w[0],
            upper_us: w[1],
            count: 0,
        })
        .collect();
    let inner = &edges[1..n];
    for v in h.iter_recorded() {
        let lowest = h.lowest_equivalent(v.value_iterated_to()) as f64;
        buckets[inner.partition_point(|&e| e <= lowest)].count += v.count_at_value();
    }
    buckets
}

/// Scalar in, scalar out: constant folding calls functions on scalars and expects one back.
fn output(args: &[ColumnarValue], array: ArrayRef) -> Result<ColumnarValue> {
    if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdr::new_histogram;

    fn histogram(values_us: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for &v in values_us {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn quantiles_follow_the_rank_definition() {
        // 1..=100 µs: below 2048 µs every value is its own bucket, so results are exact.
        let h = histogram(&(1..=100).collect::<Vec<_>>());
        assert_eq!(quantile_ms(&h, 0.0), Some(0.001));
        assert_eq!(quantile_ms(&h, 0.5), Some(0.050));
        assert_eq!(quantile_ms(&h, 0.501), Some(0.051));
        assert_eq!(quantile_ms(&h, 0.99), Some(0.099));
        assert_eq!(quantile_ms(&h, 1.0), Some(0.100));
        assert_eq!(quantile_ms(&new_histogram(), 0.5), None);
    }

    #[test]
    fn buckets_cover_every_value_once() {
        let values: Vec<u64> = [0, 0, 5, 90, 1_000, 1_001, 250_000, 3_000_000_000].into();
        let h = histogram(&values);
        let buckets = log_buckets(&h, 10);
        assert_eq!(buckets.len(), 10);
        assert_eq!(buckets[0].lower_us, 0.0);
        assert_eq!(
            buckets[9].upper_us,
            h.next_non_equivalent(3_000_000_000) as f64
        );
        assert!(buckets.windows(2).all(|w| w[0].upper_us == w[1].lower_us));
        assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 8);
        for &v in &values {
            let v = h.lowest_equivalent(v) as f64;
            let b = buckets
                .iter()
                .find(|b| b.lower_us <= v && v < b.upper_us)
                .unwrap();
            assert!(b.count > 0, "{v} µs is in an empty bucket {b:?}");
        }
        // Log scale: each bucket's upper edge is the same multiple of its lower edge.
        let r = buckets[2].upper_us / buckets[2].lower_us;
        assert!((buckets[7].upper_us / buckets[7].lower_us - r).abs() < 1e-9);
    }

    #[test]
    fn one_value_makes_one_full_bucket() {
        let buckets = log_buckets(&histogram(&[42_000]), 3);
        assert_eq!(
            buckets.iter().map(|b| b.count).collect::<Vec<_>>(),
            [1, 0, 0]
        );
        assert!(log_buckets(&new_histogram(), 3).is_empty());
    }
}

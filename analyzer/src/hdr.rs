//! HdrHistogram in SQL: latency distributions that aggregate and merge, never sort.
//!
//! - `hdr_histogram(duration_ms)` aggregates durations (milliseconds) into a histogram.
//! - `hdr_merge(h)` aggregates histograms into one (roll per-minute histograms up to hours).
//! - `hdr_quantile(h, q)`, `hdr_count(h)` and `hdr_buckets(h, n)` read one.
//!
//! A histogram is a `Binary` value in HdrHistogram's V2 format (uncompressed, for speed), so it
//! can be stored, shipped and read by any HdrHistogram implementation; the readers also accept
//! the deflate-compressed V2 form other implementations write.
//!
//! Values are recorded in whole microseconds (`round(ms * 1000)`) with three significant digits:
//! any value is known within a relative error below 10^-3. The histogram resizes itself to fit
//! what it records, so large outliers are counted at their value, not dropped or clamped, up to
//! [`MAX_MICROS`] (about 146,000 years), which absorbs `+inf`. Negative durations (clock skew
//! between hosts) are counted as 0. NULL and NaN are not values and are ignored. The histogram
//! of no values is the empty histogram, not NULL: `hdr_count` of it is 0.

mod aggregate;
#[cfg(test)]
mod properties;
mod scalar;
mod v2;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

pub use aggregate::HdrAggregateUdaf;
pub(crate) use aggregate::Recorded;
pub(crate) use scalar::quantile_ms;
pub use scalar::{HdrBucketsUdf, HdrCountUdf, HdrQuantileUdf};

/// `hdr_histogram(duration_ms) -> Binary`: the histogram of the durations.
pub const HDR_HISTOGRAM: &str = "hdr_histogram";
/// `hdr_merge(h) -> Binary`: the histogram of all values of the histograms.
pub const HDR_MERGE: &str = "hdr_merge";
/// `hdr_quantile(h, q) -> Float64`: the duration (ms) at quantile `q` in [0, 1]; NULL if empty.
pub const HDR_QUANTILE: &str = "hdr_quantile";
/// `hdr_count(h) -> UInt64`: how many values the histogram holds.
pub const HDR_COUNT: &str = "hdr_count";
/// `hdr_buckets(h, n) -> List<Struct{lower_ms, upper_ms, count}>`: `n` log-scaled buckets.
pub const HDR_BUCKETS: &str = "hdr_buckets";

/// Three significant digits: relative error below 10^-3 at any value.
const SIGFIG: u8 = 3;

/// The largest value (µs) an auto-resizing histogram can track.
pub const MAX_MICROS: u64 = i64::MAX as u64 / 2;

/// A duration in milliseconds as recorded: whole microseconds, negatives as 0, NaN as no value.
pub(crate) fn micros(ms: f64) -> Option<u64> {
    if ms.is_nan() {
        return None;
    }
    // `as` saturates: negatives and -inf become 0, +inf becomes u64::MAX.
    Some(((ms * 1000.0).round() as u64).min(MAX_MICROS))
}

/// An empty histogram that grows to fit the values it records.
fn new_histogram() -> Histogram<u64> {
    Histogram::new(SIGFIG).expect("3 significant digits is a valid configuration")
}

/// Appends `h` in V2 form to `out`'s current value (the caller finishes the value).
pub(crate) fn serialize_into(
    serializer: &mut V2Serializer,
    h: &Histogram<u64>,
    out: &mut impl std::io::Write,
) -> Result<()> {
    match serializer.serialize(h, out) {
        Ok(_) => Ok(()),
        Err(e) => exec_err!("serializing a histogram: {e:?}"),
    }
}

/// Reads V2 histograms (plain or deflate-compressed), reusing its buffers across calls.
#[derive(Default)]
pub(crate) struct Decoder {
    deserializer: Deserializer,
    /// A payload's (slot, count) pairs, read whole before any is added.
    counts: Vec<(u64, u64)>,
}

impl Decoder {
    /// Adds the values of V2 histogram `bytes` to `into`: the stored counts are added slot by
    /// slot to its counts when they have this crate's layout (no histogram is decoded), or to
    /// its short list of values while they fit in one.
    pub(crate) fn add_to(&mut self, bytes: &[u8], into: &mut Recorded) -> Result<()> {
        if let Recorded::Values(values) = into
            && v2::add_values(bytes, &mut self.counts, values, aggregate::PROMOTE_AT)
        {
            return Ok(());
        }
        if !v2::add_counts(bytes, &mut self.counts, into.counts()?) {
            let other = self.decode(bytes)?;
            return into.merge(Recorded::Histogram(Box::new(other)));
        }
        Ok(())
    }

    pub(crate) fn decode(&mut self, bytes: &[u8]) -> Result<Histogram<u64>> {
        // The deserializer allocates the payload length the header claims before reading it:
        // refuse a length the value cannot hold rather than let a corrupt value allocate GBs.
        let claimed = bytes
            .get(4..8)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize);
        if claimed.is_none_or(|len| len > bytes.len() - 8) {
            return exec_err!(
                "not an HdrHistogram V2 histogram ({} bytes with a truncated or impossible header)",
                bytes.len()
            );
        }
        match self.deserializer.deserialize(&mut &bytes[..]) {
            Ok(h) => Ok(h),
            Err(e) => exec_err!("not an HdrHistogram V2 histogram: {e:?}"),
        }
    }
}

/// Coerces a histogram argument: any binary type is read as `Binary`.
fn histogram_arg(function: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_)
        | DataType::Null => Ok(DataType::Binary),
        other => plan_err!(
            "{function} expects a histogram (Binary, from {HDR_HISTOGRAM} or {HDR_MERGE}), got {other}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_recorded_in_whole_microseconds() {
        assert_eq!(micros(1.2344), Some(1234));
        assert_eq!(micros(1.2345), Some(1235));
        assert_eq!(micros(0.0), Some(0));
        assert_eq!(micros(-3.0), Some(0));
        assert_eq!(micros(f64::NEG_INFINITY), Some(0));
        assert_eq!(micros(f64::INFINITY), Some(MAX_MICROS));
        assert_eq!(micros(1e300), Some(MAX_MICROS));
        assert_eq!(micros(f64::NAN), None);
    }

    #[test]
    fn the_largest_value_is_recordable_and_round_trips() {
        let mut h = new_histogram();
        h.record(MAX_MICROS).unwrap();
        h.record(0).unwrap();
        let mut bytes = Vec::new();
        serialize_into(&mut V2Serializer::new(), &h, &mut bytes).unwrap();
        let back = Decoder::default().decode(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert!(back.equivalent(back.max(), MAX_MICROS));
    }

    #[test]
    fn garbage_is_an_error_not_an_allocation() {
        let mut d = Decoder::default();
        assert!(d.decode(b"").is_err());
        assert!(d.decode(b"abc").is_err());
        // A plain V2 cookie claiming a 4 GB payload.
        assert!(
            d.decode(&[0x1c, 0x84, 0x93, 0x13, 0xff, 0xff, 0xff, 0xff, 0, 0])
                .is_err()
        );
    }
}

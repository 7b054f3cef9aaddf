//! The counts of a V2-encoded histogram, read straight from its payload.
//!
//! Merging a stored histogram into a running one needs only its non-zero counts. Decoding it
//! first allocates a whole counts array (a hundred kilobytes for durations up to seconds) per
//! value; a report that merges thousands of per-minute summaries spent most of its time there.
//! Only the layout this crate writes is read here (plain V2, 3 significant digits, lowest
//! value 1, as [`super::new_histogram`] makes); anything else goes through the decoder.

/// The plain V2 cookie (`0x1c849303 | 0x10`), as HdrHistogram writes it.
const V2_COOKIE: u32 = 0x1c84_9313;
const HEADER: usize = 40;
/// The layout of [`super::new_histogram`]: 2048 sub-buckets (1024 per half), unit 1.
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 10;
const SUB_BUCKET_HALF: u64 = 1 << SUB_BUCKET_HALF_MAGNITUDE;

/// Adds the counts of `bytes` to `dense` (counts by slot index, grown as needed), reading them
/// into `scratch` first so that a malformed value adds nothing; `false` when `bytes` is not of
/// this crate's layout or is malformed, which the decoder then reports.
pub(super) fn add_counts(bytes: &[u8], scratch: &mut Vec<(u64, u64)>, dense: &mut Dense) -> bool {
    scratch.clear();
    let valid = read_counts(bytes, scratch).is_some()
        && scratch
            .last()
            .is_none_or(|&(index, _)| value_at(index).is_some());
    if valid {
        for &(index, count) in scratch.iter() {
            dense.add(index as usize, count);
        }
    }
    valid
}

/// Adds the counts of `bytes` to `values` as values (each its slot's lowest value, which lies
/// in the same slot, so a histogram of `values` counts it where `bytes` did) while `values` then
/// holds fewer than `limit`: a small group merging small stored histograms keeps a short list
/// rather than grow a counts array of every slot up to its largest value (tens of KiB per
/// group for durations of 100 ms). `false`, adding nothing, when they would not fit or `bytes`
/// is not of this crate's layout; [`add_counts`] then takes them.
pub(super) fn add_values(
    bytes: &[u8],
    scratch: &mut Vec<(u64, u64)>,
    values: &mut Vec<u64>,
    limit: usize,
) -> bool {
    scratch.clear();
    if read_counts(bytes, scratch).is_none() {
        return false;
    }
    let total = scratch
        .iter()
        .try_fold(values.len() as u64, |n, &(_, count)| n.checked_add(count));
    if total.is_none_or(|n| n >= limit as u64) {
        return false;
    }
    let start = values.len();
    for &(index, count) in scratch.iter() {
        let Some(value) = value_at(index) else {
            values.truncate(start);
            return false;
        };
        values.extend(std::iter::repeat_n(value, count as usize));
    }
    true
}

/// A histogram as its counts by slot index, in the layout this crate writes: merging a stored
/// histogram is then an addition per non-zero slot.
#[derive(Debug, Default, Clone)]
pub(crate) struct Dense {
    counts: Vec<u64>,
}

impl Dense {
    fn add(&mut self, index: usize, count: u64) {
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] += count;
    }

    /// Counts value `us` once.
    pub(super) fn record(&mut self, us: u64) {
        self.record_n(us, 1);
    }

    /// Counts value `us` `n` times.
    pub(super) fn record_n(&mut self, us: u64, n: u64) {
        self.add(index_of(us), n);
    }

    /// Adds every count of `other`.
    pub(super) fn merge(&mut self, other: &Dense) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
    }

    /// The (slot index, count) of every non-zero slot.
    pub(super) fn slots(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        (0u64..)
            .zip(self.counts.iter().copied())
            .filter(|&(_, c)| c > 0)
    }

    /// The (lowest value, count) of every non-zero slot.
    pub(super) fn values(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, &c)| {
                let value = value_at(i as u64).expect("only indexes of values are counted");
                (value, c)
            })
    }

    pub(super) fn heap_size(&self) -> usize {
        self.counts.capacity() * size_of::<u64>()
    }
}

/// Writes, in plain V2 form, the histogram of [`super::new_histogram`]'s layout holding
/// `values` (µs): see [`write_counts`].
pub(super) fn write_values(values: &[u64], out: &mut impl std::io::Write) -> std::io::Result<bool> {
    let mut slots: Vec<u64> = values.iter().map(|&us| index_of(us) as u64).collect();
    slots.sort_unstable();
    let counts = slots
        .chunk_by(|a, b| a == b)
        .map(|run| (run[0], run.len() as u64));
    write_counts(counts, out)
}

/// Writes, in plain V2 form, the histogram of [`super::new_histogram`]'s layout whose counts
/// are `counts` ((slot index, count), ascending by index): byte for byte what HdrHistogram's
/// serializer writes for it, without making the histogram, which allocates and zeroes at least
/// 2048 counters and then walks them all (a minute's summary holds a few calls per group, and
/// that was most of summarizing). `false`, with nothing written, for a count past `i64::MAX`
/// or a slot past the range of [`super::MAX_MICROS`]: the caller goes through a histogram.
pub(super) fn write_counts(
    counts: impl IntoIterator<Item = (u64, u64)>,
    out: &mut impl std::io::Write,
) -> std::io::Result<bool> {
    // Each count up to the highest value's slot, a run of zeros as its negated length.
    let mut payload = Vec::new();
    let mut next = 0u64;
    for (index, count) in counts.into_iter().filter(|&(_, count)| count > 0) {
        let Ok(count) = i64::try_from(count) else {
            return Ok(false);
        };
        match index - next {
            0 => {}
            1 => put_varint(&mut payload, 0),
            zeros => put_varint(&mut payload, -(zeros as i64)),
        }
        put_varint(&mut payload, count);
        next = index + 1;
    }
    if next == 0 {
        // Empty: HdrHistogram writes the slot of value 0, with no count.
        put_varint(&mut payload, 0);
    }
    let Some(high) = highest_trackable(next.saturating_sub(1)) else {
        return Ok(false);
    };
    let mut header = [0u8; HEADER];
    header[0..4].copy_from_slice(&V2_COOKIE.to_be_bytes());
    header[4..8].copy_from_slice(&(payload.len() as u32).to_be_bytes());
    // 8..12: the normalizing index offset, 0.
    header[12..16].copy_from_slice(&u32::from(super::SIGFIG).to_be_bytes());
    header[16..24].copy_from_slice(&1u64.to_be_bytes()); // lowest discernible value
    header[24..32].copy_from_slice(&high.to_be_bytes());
    header[32..40].copy_from_slice(&1.0f64.to_be_bytes()); // integer to double ratio
    out.write_all(&header)?;
    out.write_all(&payload)?;
    Ok(true)
}

/// The highest trackable value HdrHistogram reports for an auto-resizing histogram whose
/// highest count is in slot `last`: 2 until a value outgrows the first 2048 slots, then the top
/// of the last bucket it grew to cover. `None` past the buckets of [`super::MAX_MICROS`].
fn highest_trackable(last: u64) -> Option<u64> {
    let bucket = (last >> SUB_BUCKET_HALF_MAGNITUDE).saturating_sub(1);
    match bucket {
        0 => Some(2),
        1..=51 => Some(((2 * SUB_BUCKET_HALF) << bucket) - 1),
        _ => None,
    }
}

/// Appends `n` zig-zag encoded in HdrHistogram's LEB128 variant (see [`varint`]).
fn put_varint(out: &mut Vec<u8>, n: i64) {
    let mut v = ((n << 1) ^ (n >> 63)) as u64;
    for _ in 0..8 {
        if v < 0x80 {
            out.push(v as u8);
            return;
        }
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The counts slot of value `us`: HdrHistogram's index for 2048 sub-buckets and unit 1.
fn index_of(us: u64) -> usize {
    // The bucket: how far the value's top bit lies above the first bucket's 11 bits.
    let bucket = 53 - (us | (2 * SUB_BUCKET_HALF - 1)).leading_zeros();
    let sub = us >> bucket;
    (((u64::from(bucket) + 1) << SUB_BUCKET_HALF_MAGNITUDE) + sub - SUB_BUCKET_HALF) as usize
}

/// The (slot index, count) of every non-zero count, in index order.
fn read_counts(bytes: &[u8], out: &mut Vec<(u64, u64)>) -> Option<()> {
    let u32_at = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    let plain = u32_at(0)? == V2_COOKIE
        && u32_at(8)? == 0 // normalizing index offset
        && u32_at(12)? == u32::from(super::SIGFIG)
        && u64_at(16)? == 1 // lowest discernible value
        && f64::from_bits(u64_at(32)?) == 1.0; // integer to double ratio
    if !plain {
        return None;
    }
    let len = usize::try_from(u32_at(4)?).ok()?;
    let mut payload = bytes.get(HEADER..HEADER.checked_add(len)?)?;
    let mut index: u64 = 0;
    while !payload.is_empty() {
        let (n, used) = varint(payload)?;
        payload = &payload[used..];
        let count = zig_zag(n);
        if count < 0 {
            index = index.checked_add(count.unsigned_abs())?;
        } else {
            if count > 0 {
                out.push((index, count as u64));
            }
            index += 1;
        }
    }
    Some(())
}

/// HdrHistogram's LEB128 variant: up to 9 bytes, the ninth with all 8 bits.
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..9 {
        let b = *bytes.get(i)?;
        if i == 8 {
            return Some((value | (u64::from(b) << 56), 9));
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn zig_zag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// The lowest value of counts slot `index`.
fn value_at(index: u64) -> Option<u64> {
    let bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE).checked_sub(1);
    let sub = (index & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    match bucket {
        // The lower half of bucket 0.
        None => Some(index),
        Some(bucket) => {
            let shift = u32::try_from(bucket).ok()?;
            // The top sub-bucket has 12 bits: past 52 the value leaves u64.
            (shift <= 52).then(|| sub << shift)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdr::{Decoder, new_histogram, serialize_into};
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};
    use proptest::prelude::*;

    fn encoded(values: &[u64]) -> Vec<u8> {
        let mut h = new_histogram();
        for &v in values {
            h.record(v).unwrap();
        }
        let mut bytes = Vec::new();
        serialize_into(&mut V2Serializer::new(), &h, &mut bytes).unwrap();
        bytes
    }

    proptest! {
        /// A value's slot is the one HdrHistogram counts it in, and the dense counts of
        /// recorded and merged values hold what the histogram holds.
        #[test]
        fn dense_counts_are_the_histograms(
            values in prop::collection::vec(
                prop_oneof![0u64..5_000, 0u64..100_000_000, Just(crate::hdr::MAX_MICROS)],
                0..300,
            ),
            split in 0usize..300,
        ) {
            let (recorded, stored) = values.split_at(split.min(values.len()));
            let mut dense = Dense::default();
            for &v in recorded {
                dense.record(v);
            }
            let mut scratch = Vec::new();
            prop_assert!(add_counts(&encoded(stored), &mut scratch, &mut dense));
            let want = Decoder::default().decode(&encoded(&values)).unwrap();
            let want: Vec<(u64, u64)> = want
                .iter_recorded()
                .map(|v| (want.lowest_equivalent(v.value_iterated_to()), v.count_at_value()))
                .collect();
            prop_assert_eq!(dense.values().collect::<Vec<_>>(), want);
        }
    }

    proptest! {
        /// Stored values merged into a short list are written back as the same histogram, and
        /// a list they would not fit in is left as it was.
        #[test]
        fn values_merged_as_a_list_write_the_histogram_of_all_of_them(
            values in prop::collection::vec(
                prop_oneof![0u64..5_000, 0u64..100_000_000, Just(crate::hdr::MAX_MICROS)],
                0..300,
            ),
            split in 0usize..300,
        ) {
            let (listed, stored) = values.split_at(split.min(values.len()));
            let mut list = listed.to_vec();
            let fits = add_values(&encoded(stored), &mut Vec::new(), &mut list, 256);
            prop_assert_eq!(fits, values.len() < 256);
            if fits {
                let mut bytes = Vec::new();
                prop_assert!(write_values(&list, &mut bytes).unwrap());
                prop_assert_eq!(bytes, encoded(&values));
            } else {
                prop_assert_eq!(list, listed.to_vec());
            }
        }
    }

    proptest! {
        /// Written without a histogram, a histogram's bytes are exactly HdrHistogram's.
        #[test]
        fn counts_are_written_as_hdr_histogram_writes_them(
            values in prop::collection::vec(
                prop_oneof![
                    0u64..3,
                    0u64..5_000,
                    0u64..100_000_000,
                    Just(2047u64),
                    Just(2048u64),
                    Just(crate::hdr::MAX_MICROS),
                ],
                0..300,
            ),
        ) {
            let want = encoded(&values);
            let mut from_values = Vec::new();
            prop_assert!(write_values(&values, &mut from_values).unwrap());
            prop_assert_eq!(&from_values, &want);
            let mut dense = Dense::default();
            values.iter().for_each(|&v| dense.record(v));
            let mut from_counts = Vec::new();
            prop_assert!(write_counts(dense.slots(), &mut from_counts).unwrap());
            prop_assert_eq!(&from_counts, &want);
        }
    }

    #[test]
    fn a_count_hdr_histogram_cannot_write_is_left_to_it() {
        let mut out = Vec::new();
        assert!(!write_counts([(5, u64::MAX)], &mut out).unwrap());
        assert!(!write_counts([(60 << SUB_BUCKET_HALF_MAGNITUDE, 1)], &mut out).unwrap());
        assert!(out.is_empty(), "nothing written");
    }

    #[test]
    fn other_layouts_and_garbage_are_left_to_the_decoder() {
        let mut deflated = Vec::new();
        let mut h = new_histogram();
        h.record(42).unwrap();
        V2DeflateSerializer::new()
            .serialize(&h, &mut deflated)
            .unwrap();
        let mut five_digits = Vec::new();
        let h5 = hdrhistogram::Histogram::<u64>::new(5).unwrap();
        V2Serializer::new()
            .serialize(&h5, &mut five_digits)
            .unwrap();
        let mut truncated = encoded(&[7, 9_000_000]);
        truncated.truncate(truncated.len() - 1);
        let mut dense = Dense::default();
        dense.record(5);
        for refused in [&deflated, &five_digits, &truncated, &Vec::new()] {
            assert!(!add_counts(refused, &mut Vec::new(), &mut dense));
        }
        assert_eq!(
            dense.values().collect::<Vec<_>>(),
            [(5, 1)],
            "a refused value adds nothing"
        );
    }
}

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

/// Appends the (value, count) of every non-zero count of `bytes` to `out`, values as the lowest
/// of their bucket; `false` (and `out` as it was) when `bytes` is not of that layout or is
/// malformed, which the decoder then reports.
pub(super) fn counts(bytes: &[u8], out: &mut Vec<(u64, u64)>) -> bool {
    let start = out.len();
    let read = read_counts(bytes, out).is_some();
    if !read {
        out.truncate(start);
    }
    read
}

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
                out.push((value_at(index)?, count as u64));
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
        /// The counts read from the payload are the decoded histogram's, slot for slot.
        #[test]
        fn counts_are_the_decoded_histograms(
            values in prop::collection::vec(
                prop_oneof![0u64..5_000, 0u64..100_000_000, Just(crate::hdr::MAX_MICROS)],
                0..300,
            )
        ) {
            let bytes = encoded(&values);
            let mut read = Vec::new();
            prop_assert!(counts(&bytes, &mut read));
            let decoded = Decoder::default().decode(&bytes).unwrap();
            let want: Vec<(u64, u64)> = decoded
                .iter_recorded()
                .map(|v| (decoded.lowest_equivalent(v.value_iterated_to()), v.count_at_value()))
                .collect();
            prop_assert_eq!(read, want);
        }
    }

    #[test]
    fn other_layouts_and_garbage_are_left_to_the_decoder() {
        let mut out = vec![(1, 1)];
        let mut deflated = Vec::new();
        let mut h = new_histogram();
        h.record(42).unwrap();
        V2DeflateSerializer::new()
            .serialize(&h, &mut deflated)
            .unwrap();
        assert!(!counts(&deflated, &mut out));
        let mut five_digits = Vec::new();
        let h5 = hdrhistogram::Histogram::<u64>::new(5).unwrap();
        V2Serializer::new()
            .serialize(&h5, &mut five_digits)
            .unwrap();
        assert!(!counts(&five_digits, &mut out));
        let mut truncated = encoded(&[7, 9_000_000]);
        truncated.truncate(truncated.len() - 1);
        assert!(!counts(&truncated, &mut out));
        assert!(!counts(b"", &mut out));
        assert_eq!(out, [(1, 1)], "a refused value leaves nothing behind");
    }
}

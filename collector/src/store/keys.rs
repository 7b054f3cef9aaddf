//! The natural-key hashes of one hour partition, for dropping rows the store already holds.

/// Sorted 128-bit key hashes: 16 bytes a row. A hash set of the same keys takes two to three
/// times that (control bytes, load factor, and the old table while it grows), and the keys of
/// every partition being written stay in memory for the whole import.
#[derive(Debug, Default)]
pub(super) struct KeySet {
    sorted: Vec<u128>,
}

impl KeySet {
    pub(super) fn from_hashes(mut hashes: Vec<u128>) -> KeySet {
        hashes.sort_unstable();
        hashes.dedup();
        hashes.shrink_to_fit();
        KeySet { sorted: hashes }
    }

    /// Of `rows` (indices into `hashes`, ascending), the ones whose key is neither in the set
    /// nor on an earlier row, in order; their keys join the set.
    pub(super) fn insert_new(&mut self, rows: &[u32], hashes: &[u128]) -> Vec<u32> {
        let mut batch: Vec<(u128, u32)> = rows.iter().map(|&r| (hashes[r as usize], r)).collect();
        // By key, then row: the first row of each key leads its run.
        batch.sort_unstable();
        let mut fresh_keys: Vec<u128> = Vec::new();
        let mut fresh_rows: Vec<u32> = Vec::new();
        // The batch's keys ascend, so each search starts where the last ended and gallops:
        // a re-import of a large partition stays in cache instead of binary-searching it all.
        let mut from = 0;
        for (i, &(key, row)) in batch.iter().enumerate() {
            if i > 0 && batch[i - 1].0 == key {
                continue;
            }
            from = self.first_not_below(key, from);
            if self.sorted.get(from) != Some(&key) {
                fresh_keys.push(key);
                fresh_rows.push(row);
            }
        }
        self.merge(&fresh_keys);
        fresh_rows.sort_unstable();
        fresh_rows
    }

    /// The index of the first key at or above `key`, given that every key before `from` is below it.
    fn first_not_below(&self, key: u128, from: usize) -> usize {
        let n = self.sorted.len();
        let (mut lo, mut hi, mut step) = (from, from, 1);
        while hi < n && self.sorted[hi] < key {
            lo = hi + 1;
            hi = lo + step;
            step *= 2;
        }
        let end = (hi + 1).min(n);
        lo + self.sorted[lo..end].partition_point(|&k| k < key)
    }

    /// Merges sorted keys that are not in the set, in place from the back.
    fn merge(&mut self, keys: &[u128]) {
        if keys.is_empty() {
            return;
        }
        let old = self.sorted.len();
        self.sorted.reserve_exact(keys.len());
        self.sorted.resize(old + keys.len(), 0);
        let (mut i, mut j, mut out) = (old, keys.len(), old + keys.len());
        while j > 0 {
            out -= 1;
            if i > 0 && self.sorted[i - 1] > keys[j - 1] {
                self.sorted[out] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[out] = keys[j - 1];
                j -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The same rows survive as with a hash set fed row by row, and the set ends sorted.
        #[test]
        fn keeps_what_a_hash_set_keeps(
            stored in proptest::collection::vec(0u128..64, 0..40),
            batches in proptest::collection::vec(proptest::collection::vec(0u128..64, 0..40), 1..5),
        ) {
            let mut set = KeySet::from_hashes(stored.clone());
            let mut reference: HashSet<u128> = stored.into_iter().collect();
            for hashes in batches {
                let rows: Vec<u32> = (0..hashes.len() as u32).collect();
                let expected: Vec<u32> =
                    rows.iter().copied().filter(|&r| reference.insert(hashes[r as usize])).collect();
                prop_assert_eq!(set.insert_new(&rows, &hashes), expected);
                prop_assert!(set.sorted.windows(2).all(|w| w[0] < w[1]));
                prop_assert_eq!(set.sorted.len(), reference.len());
            }
        }
    }

    #[test]
    fn a_subset_of_rows_is_checked_alone() {
        let mut set = KeySet::from_hashes(vec![5]);
        // Rows 0 and 2 only: row 1's key (5) is stored, but row 1 is not asked about.
        assert_eq!(set.insert_new(&[0, 2], &[7, 5, 7]), vec![0]);
        assert_eq!(set.sorted, vec![5, 7]);
    }
}

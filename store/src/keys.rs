//! The key index: for every data file, a sorted file of its rows' natural-key hashes, so a batch
//! is checked against what its hour partition holds without keeping any of it in memory.
//!
//! ```text
//! STORE/_keys/<table>/hour=YYYY-MM-DDTHH/part-<n>.keys   next to   STORE/<table>/hour=.../part-<n>.parquet
//! ```
//! The data files are the truth: an index file is read only for a data file that exists, and is
//! written after it, so a data file without one (a run killed between the two writes, a store
//! written before the index, or a deleted `_keys`) gets it rebuilt from its key columns. Index files live outside the table directories, so DuckDB, Athena and
//! DataFusion see only Parquet where they read.
//!
//! Memory is the batch's keys plus one index file at a time (16 bytes a row of one data file),
//! whatever the store holds. Each check reads the partition's index files (locally from the page
//! cache once warm; on S3 from the process's cache, see `remote`).

use hopscope_schema::store_layout::DATA_EXTENSION;

use crate::error::Result;
use crate::objects::Location;

/// The index directory under a store root.
pub(super) const DIR: &str = "_keys";

/// First bytes of an index file; the digit is the hash scheme, so a new one rebuilds old files.
/// 2: `metric_points` keys hold the account and Region.
const MAGIC: &[u8; 8] = b"HSKEYS2\n";
const ENTRY: usize = size_of::<u128>();
pub(super) const EXTENSION: &str = ".keys";

/// The index file of `data_file`, kept at the same place under `_keys` (both relative to the
/// store's root).
pub(super) fn index_path(data_file: &str) -> String {
    let stem = data_file.strip_suffix(DATA_EXTENSION).unwrap_or(data_file);
    format!("{DIR}/{stem}{EXTENSION}")
}

/// The keys of one batch's rows in one partition, narrowed to those no index file holds.
#[derive(Debug)]
pub(super) struct BatchKeys {
    /// (hash, row), ascending; one entry per distinct hash, the first row that has it.
    entries: Vec<(u128, u32)>,
}

impl BatchKeys {
    /// `rows` are indices into `hashes`.
    pub(super) fn new(rows: &[u32], hashes: &[u128]) -> BatchKeys {
        let mut entries: Vec<(u128, u32)> = rows.iter().map(|&r| (hashes[r as usize], r)).collect();
        // By hash, then row: the first row of each key leads its run and is the one kept.
        entries.sort_unstable();
        entries.dedup_by_key(|e| e.0);
        BatchKeys { entries }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops the keys `index` holds: an index file's bytes after its magic. Nothing is dropped
    /// unless every key read is sound.
    fn drop_known(&mut self, index: &[u8]) -> std::result::Result<(), Fault> {
        if !index.len().is_multiple_of(ENTRY) {
            return Err(Fault::Corrupt("its length is not a whole number of keys"));
        }
        let entries = &self.entries;
        // Positions in `entries` of the keys found, ascending.
        let mut found: Vec<usize> = Vec::new();
        let mut i = 0;
        let mut last: Option<u128> = None;
        for bytes in index.chunks_exact(ENTRY) {
            if i == entries.len() {
                break;
            }
            let known = u128::from_le_bytes(bytes.try_into().expect("16-byte chunk"));
            if last.is_some_and(|l| l >= known) {
                return Err(Fault::Corrupt("its keys are not in ascending order"));
            }
            last = Some(known);
            while i < entries.len() && entries[i].0 < known {
                i += 1;
            }
            if i < entries.len() && entries[i].0 == known {
                found.push(i);
                i += 1;
            }
        }
        let mut found = found.into_iter().peekable();
        let mut position = 0;
        self.entries.retain(|_| {
            let known = found.next_if_eq(&position).is_some();
            position += 1;
            !known
        });
        Ok(())
    }

    /// The rows left, ascending, and their hashes, ascending (for the new data file's index).
    pub(super) fn fresh(&self) -> (Vec<u32>, Vec<u128>) {
        let hashes = self.entries.iter().map(|e| e.0).collect();
        let mut rows: Vec<u32> = self.entries.iter().map(|e| e.1).collect();
        rows.sort_unstable();
        (rows, hashes)
    }
}

/// Drops from `batch` the keys of data file `data_file` (relative to the store's root), read
/// from its index file. A missing or unreadable index is rebuilt from the data file by
/// `rebuild` (its rows' key hashes, in any order).
pub(super) fn drop_known(
    batch: &mut BatchKeys,
    location: &Location,
    data_file: &str,
    rebuild: impl FnOnce() -> Result<Vec<u128>>,
) -> Result<()> {
    let path = index_path(data_file);
    // An index of another hash scheme (another magic) is rebuilt in this one.
    let index = location.read(&path)?;
    if let Some(keys) = index
        .as_ref()
        .and_then(|i| i.strip_prefix(MAGIC.as_slice()))
    {
        match batch.drop_known(keys) {
            Ok(()) => return Ok(()),
            // Written whole, so only a damaged disk or a hand edit gets here: the data file
            // still says which keys it holds.
            Err(Fault::Corrupt(why)) => {
                tracing::warn!(index = %location.describe(&path).display(), "Key index {why}; rebuilding it from its data file.");
            }
        }
    }
    let mut hashes = rebuild()?;
    hashes.sort_unstable();
    hashes.dedup();
    write_index(location, &path, &hashes)?;
    batch
        .drop_known(&bytes_of(&hashes))
        .map_err(|_| unreachable!("keys just sorted, read from memory"))
}

/// Why an index file could not be read through.
#[derive(Debug)]
enum Fault {
    Corrupt(&'static str),
}

/// Writes the index `path` (relative to the store's root); `sorted` ascending, distinct.
pub(super) fn write_index(location: &Location, path: &str, sorted: &[u128]) -> Result<()> {
    let mut body = MAGIC.to_vec();
    body.extend_from_slice(&bytes_of(sorted));
    location.put(path, body)
}

fn bytes_of(keys: &[u128]) -> Vec<u8> {
    keys.iter().flat_map(|k| k.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn index_bytes(keys: &[u128]) -> Vec<u8> {
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        bytes_of(&sorted)
    }

    proptest! {
        /// The same rows survive as with a hash set of the stored keys fed row by row, and the
        /// fresh hashes come out sorted.
        #[test]
        fn keeps_what_a_hash_set_keeps(
            stored in proptest::collection::vec(proptest::collection::vec(0u128..64, 0..40), 0..4),
            hashes in proptest::collection::vec(0u128..64, 0..60),
        ) {
            let mut reference: HashSet<u128> = stored.iter().flatten().copied().collect();
            let rows: Vec<u32> = (0..hashes.len() as u32).collect();
            let expected: Vec<u32> =
                rows.iter().copied().filter(|&r| reference.insert(hashes[r as usize])).collect();
            let mut batch = BatchKeys::new(&rows, &hashes);
            for keys in &stored {
                batch.drop_known(&index_bytes(keys)).unwrap();
            }
            let (fresh, fresh_hashes) = batch.fresh();
            prop_assert_eq!(&fresh, &expected);
            prop_assert!(fresh_hashes.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(fresh_hashes.len(), fresh.len());
        }
    }

    #[test]
    fn a_subset_of_rows_is_checked_alone() {
        // Rows 0 and 2 only: row 1's key (5) is stored, but row 1 is not asked about.
        let mut batch = BatchKeys::new(&[0, 2], &[7, 5, 7]);
        batch.drop_known(&index_bytes(&[5])).unwrap();
        assert_eq!(batch.fresh(), (vec![0], vec![7]));
    }

    #[test]
    fn keys_out_of_order_are_reported_as_corrupt() {
        // 3 is in the batch and read first: a corrupt index drops nothing.
        let mut batch = BatchKeys::new(&[0, 1], &[3, 9]);
        let bytes = [bytes_of(&[3]), bytes_of(&[1])].concat();
        let fault = batch.drop_known(&bytes).unwrap_err();
        assert!(
            matches!(fault, Fault::Corrupt(why) if why.contains("ascending")),
            "{fault:?}"
        );
        assert_eq!(batch.fresh(), (vec![0, 1], vec![3, 9]));
    }

    #[test]
    fn a_partial_key_is_reported_as_corrupt() {
        let mut batch = BatchKeys::new(&[0], &[9]);
        let fault = batch.drop_known(&[0u8; 5]).unwrap_err();
        assert!(
            matches!(fault, Fault::Corrupt(why) if why.contains("whole number")),
            "{fault:?}"
        );
    }

    #[test]
    fn an_index_sits_under_keys_at_its_data_files_place() {
        assert_eq!(
            index_path("spans/hour=2026-11-22T10/part-ab.parquet"),
            "_keys/spans/hour=2026-11-22T10/part-ab.keys"
        );
    }
}

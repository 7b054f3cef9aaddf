//! The hopscope store on disk, shared by the collector (which writes data into it) and the
//! analyzer (which keeps its alarm state in it): Parquet files partitioned by table and hour of
//! event time (see [`hopscope_schema::store_layout`]), their key indexes, the marker, checkpoints
//! and alarm state.
//!
//! Every file is written through [`atomic::write`], so a killed run leaves only whole files
//! behind, and temporaries that [`remove_leftovers`] clears. Rows are deduplicated on their
//! table's natural key against what the hour partition already holds, so importing or collecting
//! the same data again adds nothing, and a rerun after a crash completes what was missing. What a
//! partition holds is read from its key index on disk (see [`keys`]), so memory follows the batch
//! size, not the store.

pub mod atomic;
mod error;
mod keys;
mod leftovers;
mod parquet_files;
mod sink;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use hopscope_schema::store_layout::{
    HOUR_PARTITION, MARKER_FILE, MarkerError, check_marker, marker_json,
};
use hopscope_schema::{SCHEMA_VERSION, StoredTable, stored_table};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use twox_hash::XxHash3_128;

pub use error::{Error, Result};
use keys::BatchKeys;
pub use leftovers::remove_leftovers;
pub use parquet_files::data_files;
use parquet_files::write_parquet;
pub use sink::{BatchSink, with_writer_thread};

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Checks, writing nothing, that `root` holds a store this build reads: what readers (the
/// analyzer's session) and writers both check.
pub fn check_existing(root: &Path) -> Result<()> {
    check_marker(root).map_err(|e| match e {
        MarkerError::Missing => Error::NoStore { path: root.into() },
        MarkerError::Newer { found } => Error::NewerStore {
            path: root.into(),
            found,
            supported: SCHEMA_VERSION,
        },
        MarkerError::Unreadable(reason) => Error::BadStore {
            path: root.into(),
            reason,
        },
    })
}

/// A store directory, checked for its schema version.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens the store at `root`, creating it (and its marker) if the directory is new or empty.
    pub fn open_or_create(root: &Path) -> Result<Store> {
        let marker = root.join(MARKER_FILE);
        if !marker.exists() {
            let empty = std::fs::read_dir(root).map_or(true, |mut d| d.next().is_none());
            if !empty {
                return Err(Error::BadStore {
                    path: root.into(),
                    reason: format!(
                        "not a hopscope store (no {MARKER_FILE}) and not empty; choose a new or empty directory with --store"
                    ),
                });
            }
            atomic::create_dir(root)?;
            atomic::write_bytes(&marker, marker_json().as_bytes())?;
        }
        check_existing(root)?;
        Ok(Store { root: root.into() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A writer that deduplicates against this store.
    pub fn writer(&self) -> StoreWriter {
        StoreWriter {
            root: self.root.clone(),
            stats: BTreeMap::new(),
        }
    }
}

/// Rows written and duplicates dropped, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStats {
    pub rows: usize,
    pub duplicates: usize,
    pub files: usize,
}

/// Writes batches into hour partitions, dropping rows whose key the partition already holds.
pub struct StoreWriter {
    root: PathBuf,
    stats: BTreeMap<&'static str, TableStats>,
}

impl StoreWriter {
    pub fn stats(&self) -> &BTreeMap<&'static str, TableStats> {
        &self.stats
    }

    fn partition_dir(&self, table: &str, hour: i64) -> PathBuf {
        let start =
            chrono::DateTime::from_timestamp_micros(hour * MICROS_PER_HOUR).unwrap_or_default();
        self.root
            .join(table)
            .join(format!("{HOUR_PARTITION}{}", start.format("%Y-%m-%dT%H")))
    }

    /// Of `rows`, those whose key neither the partition nor an earlier row holds, ascending,
    /// with their key hashes, ascending.
    fn fresh_rows(
        &self,
        table: &StoredTable,
        dir: &Path,
        rows: &[u32],
        hashes: &[u128],
    ) -> Result<(Vec<u32>, Vec<u128>)> {
        let mut batch = BatchKeys::new(rows, hashes);
        for file in data_files(dir)? {
            if batch.is_empty() {
                break;
            }
            keys::drop_known(&mut batch, &self.root, &file, || file_keys(&file, table))?;
        }
        Ok(batch.into_fresh())
    }
}

impl BatchSink for StoreWriter {
    fn write(&mut self, table: &'static str, batch: RecordBatch) -> Result<()> {
        let t = stored_table(table).unwrap_or_else(|| panic!("{table} is not a stored table"));
        let hashes = key_hashes(&batch, t.key)?;
        let hours = hours_of(&batch, t.time)?;
        let mut by_hour: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for (row, hour) in hours.iter().enumerate() {
            by_hour.entry(*hour).or_default().push(row as u32);
        }
        for (hour, rows) in by_hour {
            let dir = self.partition_dir(table, hour);
            let (fresh, fresh_hashes) = self.fresh_rows(&t, &dir, &rows, &hashes)?;
            let stats = self.stats.entry(table).or_default();
            stats.duplicates += rows.len() - fresh.len();
            if fresh.is_empty() {
                continue;
            }
            // Usually every row is new and the hour's rows are contiguous: slice, don't copy.
            let (first, last) = (fresh[0] as usize, fresh[fresh.len() - 1] as usize);
            let part = if last - first + 1 == fresh.len() {
                batch.slice(first, fresh.len())
            } else {
                take_record_batch(&batch, &UInt32Array::from(fresh))?
            };
            write_parquet(&self.root, &dir, &part, &t, &fresh_hashes)?;
            let stats = self.stats.entry(table).or_default();
            stats.rows += part.num_rows();
            stats.files += 1;
        }
        Ok(())
    }
}

/// Hour number (hours since the epoch) of each row's event time.
fn hours_of(batch: &RecordBatch, time_col: &str) -> Result<Vec<i64>> {
    let col = batch
        .column_by_name(time_col)
        .expect("time column is in the table schema");
    debug_assert_eq!(
        col.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    let ts = col.as_primitive::<TimestampMicrosecondType>();
    Ok(ts
        .values()
        .iter()
        .map(|t| t.div_euclid(MICROS_PER_HOUR))
        .collect())
}

/// A 128-bit hash of each row's key columns.
fn key_hashes(batch: &RecordBatch, key: &[&str]) -> Result<Vec<u128>> {
    // Times hash as their epoch number: formatting a zoned timestamp needs chrono-tz in arrow,
    // which only some builds of this crate have.
    let cols: Vec<ArrayRef> = key
        .iter()
        .map(|k| match batch.column_by_name(k) {
            // A file written before a nullable key column existed holds nulls in it.
            None => Ok(arrow::array::new_null_array(
                &DataType::Utf8,
                batch.num_rows(),
            )),
            Some(col) => match col.data_type() {
                DataType::Timestamp(_, Some(_)) => arrow::compute::cast(col, &DataType::Int64),
                _ => Ok(col.clone()),
            },
        })
        .collect::<Result<_, _>>()?;
    let options = FormatOptions::default().with_null("\u{0}null");
    let formatters: Vec<ArrayFormatter<'_>> = cols
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<_, _>>()?;
    let mut hashes = Vec::with_capacity(batch.num_rows());
    let mut buf = String::new();
    for row in 0..batch.num_rows() {
        buf.clear();
        for (c, f) in cols.iter().zip(&formatters) {
            // Strings hash as they are; other types through their display form.
            match c.as_string_opt::<i32>() {
                Some(s) if s.is_valid(row) => buf.push_str(s.value(row)),
                _ => {
                    use std::fmt::Write;
                    let _ = write!(buf, "{}", f.value(row));
                }
            }
            buf.push('\u{1f}');
        }
        hashes.push(XxHash3_128::oneshot(buf.as_bytes()));
    }
    Ok(hashes)
}

/// Key hashes of the rows of one data file.
fn file_keys(path: &Path, table: &StoredTable) -> Result<Vec<u128>> {
    let file = File::open(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    let parquet_err = |source| Error::Parquet {
        path: path.into(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), table.key.iter().copied());
    let mut keys = Vec::new();
    for batch in builder.with_projection(mask).build().map_err(parquet_err)? {
        keys.extend(key_hashes(&batch?, table.key)?);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use hopscope_schema::spans::{SpanBatchBuilder, SpanRow, TABLE};

    use super::*;

    /// One span per hour over `hours` hours.
    fn spans_over(hours: usize) -> RecordBatch {
        let mut b = SpanBatchBuilder::default();
        let ids: Vec<String> = (0..hours).map(|h| format!("{h:016x}")).collect();
        for (h, id) in ids.iter().enumerate() {
            let start = 1_732_000_000_000_000 + h as i64 * MICROS_PER_HOUR;
            b.append(&SpanRow {
                trace_id: "1-a-b",
                id,
                segment_id: id,
                kind: "segment",
                name: "n",
                service: "n",
                start_time: start,
                ..Default::default()
            });
        }
        b.finish()
    }

    /// Index files under `root/_keys`, by path.
    fn index_files(root: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = walkdir(&root.join(keys::DIR))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(keys::EXTENSION))
            .collect();
        found.sort();
        found
    }

    fn walkdir(dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .flat_map(|e| {
                let p = e.path();
                if p.is_dir() { walkdir(&p) } else { vec![p] }
            })
            .collect()
    }

    /// Writes `batch` with a new writer (as a new run would) and returns its span stats.
    fn write_once(store: &Store, batch: RecordBatch) -> TableStats {
        let mut w = store.writer();
        w.write(TABLE, batch).unwrap();
        w.stats()[TABLE]
    }

    #[test]
    fn a_new_writer_drops_what_the_store_holds() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        let batch = spans_over(3);
        let twice = arrow::compute::concat_batches(&batch.schema(), [&batch, &batch]).unwrap();
        let first = write_once(&store, twice);
        assert_eq!((first.rows, first.duplicates, first.files), (3, 3, 3));
        assert_eq!(index_files(dir.path()).len(), 3);
        let again = write_once(&store, batch);
        assert_eq!((again.rows, again.duplicates, again.files), (0, 3, 0));
    }

    #[test]
    fn a_deleted_key_index_is_rebuilt_from_the_data_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        write_once(&store, spans_over(2));
        std::fs::remove_dir_all(dir.path().join(keys::DIR)).unwrap();
        let again = write_once(&store, spans_over(2));
        assert_eq!((again.rows, again.duplicates), (0, 2));
        assert_eq!(index_files(dir.path()).len(), 2);
    }

    #[test]
    fn a_damaged_key_index_is_rebuilt_from_its_data_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        write_once(&store, spans_over(2));
        let index = &index_files(dir.path())[0];
        let mut bytes = std::fs::read(index).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(index, &bytes).unwrap();
        let again = write_once(&store, spans_over(2));
        assert_eq!((again.rows, again.duplicates), (0, 2));
        assert_eq!(std::fs::read(index).unwrap().len(), bytes.len() + 3);
    }

    #[test]
    fn an_index_whose_data_file_never_landed_is_ignored() {
        // A run killed between the index's rename and the data file's: the row is not stored,
        // so the next run must write it.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        write_once(&store, spans_over(2));
        let index = &index_files(dir.path())[0];
        let data = walkdir(&dir.path().join(TABLE))
            .into_iter()
            .find(|p| keys::index_path(dir.path(), p) == *index)
            .unwrap();
        std::fs::remove_file(data).unwrap();
        let again = write_once(&store, spans_over(2));
        assert_eq!((again.rows, again.duplicates), (1, 1));
    }

    /// Starts rewriting `path` and stops as a killed run would: the temporary stays behind.
    fn interrupted_write(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let interrupted = std::panic::catch_unwind(|| {
            atomic::write(path, |file| {
                std::io::Write::write_all(file, b"half").unwrap();
                panic!("killed mid-write");
            })
        });
        assert!(interrupted.is_err());
    }

    #[test]
    fn a_leftover_of_every_kind_of_write_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        write_once(&store, spans_over(1));
        let stored = walkdir(dir.path());
        // The marker, a data file and its key index, as written above.
        assert_eq!(stored.len(), 3, "{stored:?}");
        let mut targets = stored.clone();
        // Files other crates write through `atomic::write`: a checkpoint (collector), the alarm
        // state and a history file (analyzer).
        for other in [
            "_checkpoints/logs%3A%2Faws%2Flambda%2Forders.json",
            "_alarms/state.json",
            "_alarms/history/part-00000000000000000001.parquet",
        ] {
            targets.push(dir.path().join(other));
        }
        for target in &targets {
            interrupted_write(target);
        }
        let data_file = stored
            .iter()
            .find(|p| p.starts_with(dir.path().join(TABLE)));
        let partition = data_file.unwrap().parent().unwrap();
        assert_eq!(
            data_files(partition).unwrap().len(),
            1,
            "leftovers are no data"
        );
        assert_eq!(remove_leftovers(&store).unwrap(), targets.len());
        let mut left = walkdir(dir.path());
        left.sort();
        let mut expected = stored;
        expected.sort();
        assert_eq!(left, expected);
    }

    /// What a reader is told of a directory that is no store: its path and how to make one.
    #[test]
    fn a_missing_store_names_its_path_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_existing(dir.path()).unwrap_err();
        assert!(matches!(err, Error::NoStore { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&dir.path().display().to_string()) && text.contains("import PATH"),
            "{text}"
        );
        Store::open_or_create(dir.path()).unwrap();
        check_existing(dir.path()).unwrap();
    }

    #[test]
    fn unique_text_is_stored_without_a_dictionary() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        let mut w = store.writer();
        w.write(TABLE, spans_over(1)).unwrap();
        let part = std::fs::read_dir(dir.path().join(TABLE))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let file = File::open(&data_files(&part).unwrap()[0]).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let row_group = reader.metadata().row_group(0);
        let has_dictionary = |name: &str| {
            let column = row_group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .unwrap();
            column.dictionary_page_offset().is_some()
        };
        assert!(!has_dictionary("id"));
        assert!(has_dictionary("trace_id"));
        assert!(has_dictionary("service"));
    }
}

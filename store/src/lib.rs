//! The hopscope store, in a local directory or on S3, shared by the collector (which writes data
//! into it) and the analyzer (which keeps its alarm state in it): Parquet files partitioned by
//! table and hour of event time (see [`hopscope_schema::store_layout`]), their key indexes, the
//! marker, checkpoints and alarm state.
//!
//! Every file appears whole (see [`objects`]): locally through [`atomic::write`], so a killed run
//! leaves only whole files behind and temporaries that [`remove_leftovers`] clears; on S3 because
//! a PUT is visible only once complete. Rows are deduplicated on their table's natural key
//! against what the hour partition already holds, so importing or collecting the same data again
//! adds nothing, and a rerun after a crash completes what was missing. What a partition holds is
//! read from its key index (see [`keys`]), so memory follows the batch size, not the store.

pub mod atomic;
mod error;
mod keys;
mod leftovers;
mod objects;
mod parquet_files;
mod remote;
mod rollups;
mod sink;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use hopscope_schema::store_layout::{
    DATA_EXTENSION, HOUR_PARTITION, MARKER_FILE, MarkerError, check_marker, marker_json,
};
use hopscope_schema::{SCHEMA_VERSION, StoredTable, stored_table};
use parquet::arrow::ProjectionMask;
use twox_hash::XxHash3_128;

pub use error::{Error, Result};
pub use hopscope_schema::S3Location;
use keys::BatchKeys;
pub use leftovers::remove_leftovers;
pub use objects::Location;
pub use parquet_files::data_files;
use parquet_files::{data_file_names, encode};
pub use remote::{Remote, RequestCounts};
pub use rollups::{
    Covered, Grain, Pairing, Rebuilt, Summarizer, Summarizers, data_files_in, pair, rebuild,
};
use rollups::{Encoded, create_all, joined};
pub use sink::{BatchSink, with_writer_thread};

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Checks, writing nothing, that `root` holds a store this build reads: what readers (the
/// analyzer's session) and writers both check.
pub fn check_existing(root: &Path) -> Result<()> {
    check_existing_at(&Location::Local(root.into()))
}

/// [`check_existing`] at any location.
pub fn check_existing_at(location: &Location) -> Result<()> {
    let path = || PathBuf::from(location.display());
    let marker = location
        .read(MARKER_FILE)?
        .ok_or_else(|| Error::NoStore { path: path() })?;
    check_marker(&marker).map_err(|e| match e {
        MarkerError::Newer { found } => Error::NewerStore {
            path: path(),
            found,
            supported: SCHEMA_VERSION,
        },
        MarkerError::Unreadable(reason) => Error::BadStore {
            path: path(),
            reason,
        },
    })
}

/// A store, checked for its schema version.
#[derive(Debug, Clone)]
pub struct Store {
    location: Location,
    summarizers: Summarizers,
}

impl Store {
    /// Opens the store at directory `root`, creating it (and its marker) if it is new or empty.
    pub fn open_or_create(root: &Path) -> Result<Store> {
        Store::open_or_create_at(Location::Local(root.into()))
    }

    /// Opens the store at `location`, creating it (and its marker) if nothing is there yet.
    pub fn open_or_create_at(location: Location) -> Result<Store> {
        if location.read(MARKER_FILE)?.is_none() {
            // Not empty but marked by now: another writer created the store in between (the
            // marker is the first thing a new store gets).
            if !location.is_empty()? && location.read(MARKER_FILE)?.is_none() {
                return Err(Error::BadStore {
                    path: location.display().into(),
                    reason: format!(
                        "not a hopscope store (no {MARKER_FILE}) and not empty; choose a new or empty location with --store"
                    ),
                });
            }
            // Another writer creating the same store at once writes the same marker.
            location.create(MARKER_FILE, marker_json().into_bytes())?;
        }
        check_existing_at(&location)?;
        Ok(Store {
            location,
            summarizers: Summarizers::default(),
        })
    }

    /// The store whose writers also write these rollups (see [`Summarizer`]).
    pub fn with_summarizers(self, summarizers: Summarizers) -> Store {
        Store {
            summarizers,
            ..self
        }
    }

    /// Writes the rollups missing from the store (of data files written before rollups, or by a
    /// run killed between a data file and its summary).
    pub fn rebuild_rollups(&self) -> Result<Vec<Rebuilt>> {
        rebuild(
            &self.location,
            &self.summarizers,
            chrono::Utc::now().timestamp_micros(),
        )
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// A writer that deduplicates against this store.
    pub fn writer(&self) -> StoreWriter {
        StoreWriter {
            location: self.location.clone(),
            summarizers: self.summarizers.clone(),
            stats: BTreeMap::new(),
            partitions: HashMap::new(),
            touched: BTreeSet::new(),
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
///
/// Two writers of one store (two imports, a collect beside an `alarms watch --collect`) never
/// store a row twice: a partition's data files are numbered `part-0000000001.parquet`, 2, 3, …
/// and each is created only if absent (a hard link locally, `If-None-Match: *` on S3). A writer
/// checks its rows against parts 1..n and creates part n+1; if another writer created n+1 first,
/// the create fails, and it checks its rows against the parts it missed and tries the next
/// number. Parts are only ever added, each after the one before it, so a writer that creates
/// n+1 has seen every part before it. No lease, no clock: a killed writer holds nothing up.
pub struct StoreWriter {
    location: Location,
    summarizers: Summarizers,
    stats: BTreeMap<&'static str, TableStats>,
    /// The data files of the partitions written so far, by directory: parts are never removed,
    /// so what was listed (and written) stays true, and a create that fails says what is new.
    partitions: HashMap<String, Partition>,
    /// Hour partitions (table, hour) of summarized tables this writer added data files to and
    /// has not yet covered with hour summaries (see [`rollups`]).
    touched: BTreeSet<(&'static str, i64)>,
}

/// The data files of a partition this writer knows of.
#[derive(Debug, Default)]
struct Partition {
    files: Vec<String>,
    /// The number of the next part.
    next: u64,
}

impl StoreWriter {
    pub fn stats(&self) -> &BTreeMap<&'static str, TableStats> {
        &self.stats
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// `table/hour=YYYY-MM-DDTHH`, relative to the store's root.
    fn partition_dir(table: &str, hour: i64) -> String {
        let start =
            chrono::DateTime::from_timestamp_micros(hour * MICROS_PER_HOUR).unwrap_or_default();
        format!("{table}/{HOUR_PARTITION}{}", start.format("%Y-%m-%dT%H"))
    }

    /// Drops from `batch` the keys of the data files of `dir` other than `checked` (those it was
    /// checked against already), listing the partition when asked to or when first seen. The
    /// partition's files, all of them now checked.
    fn check(
        &mut self,
        table: &StoredTable,
        dir: &str,
        batch: &mut BatchKeys,
        relist: bool,
        checked: &[String],
    ) -> Result<Vec<String>> {
        if relist || !self.partitions.contains_key(dir) {
            let files = data_file_names(self.location.list(dir)?);
            let next = files
                .iter()
                .filter_map(|f| part_number(f))
                .max()
                .unwrap_or(0)
                + 1;
            let known = self.partitions.entry(dir.to_string()).or_default();
            known.next = next.max(known.next);
            known.files = files;
        }
        let files = self.partitions[dir].files.clone();
        for file in files.iter().filter(|f| !checked.contains(f)) {
            if batch.is_empty() {
                break;
            }
            let path = format!("{dir}/{file}");
            keys::drop_known(batch, &self.location, &path, || {
                file_keys(&self.location, &path, table)
            })?;
        }
        Ok(files)
    }
}

impl StoreWriter {
    /// Encodes `rows` and creates them as data file `name` of partition `dir` of `table`, unless
    /// another writer took the name (`None`). Its summaries are tallied and encoded meanwhile, on
    /// a thread of their own: their CPU beside the file's encoding, write and sync.
    fn create_data_file(
        &self,
        table: &StoredTable,
        dir: &str,
        name: &str,
        rows: &RecordBatch,
    ) -> Result<Option<Vec<Encoded>>> {
        let path = format!("{dir}/{name}");
        let create = || {
            let bytes = encode(rows, table, &self.location.describe(&path))?;
            self.location.create(&path, bytes)
        };
        if !self.summarizers.has(table.name) {
            return Ok(create()?.then(Vec::new));
        }
        let (created, summaries) = std::thread::scope(|scope| {
            let summaries = scope.spawn(|| self.summaries(table.name, dir, name, rows));
            (create(), joined(summaries))
        });
        Ok(if created? { Some(summaries?) } else { None })
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
            // Even when every row is a duplicate: the rerun of a killed import then covers the
            // hours the killed run wrote and never got to cover.
            if self.summarizers.has(table) {
                self.touched.insert((table, hour));
            }
            let dir = Self::partition_dir(table, hour);
            let mut keys = BatchKeys::new(&rows, &hashes);
            let mut checked = self.check(&t, &dir, &mut keys, false, &[])?;
            let mut written = 0;
            while !keys.is_empty() {
                let (fresh, fresh_hashes) = keys.fresh();
                // Usually every row is new and the hour's rows are contiguous: slice, don't copy.
                let (first, last) = (fresh[0] as usize, fresh[fresh.len() - 1] as usize);
                let part = if last - first + 1 == fresh.len() {
                    batch.slice(first, fresh.len())
                } else {
                    take_record_batch(&batch, &UInt32Array::from(fresh))?
                };
                let known = &self.partitions[&dir];
                let name = part_name(known.next);
                let path = format!("{dir}/{name}");
                if let Some(summaries) = self.create_data_file(&t, &dir, &name, &part)? {
                    // Only now that the data file exists: an index or summary never names a
                    // data file that is not there. Side by side, so their syncs overlap.
                    std::thread::scope(|scope| {
                        let index = scope.spawn(|| {
                            keys::write_index(
                                &self.location,
                                &keys::index_path(&path),
                                &fresh_hashes,
                            )
                        });
                        create_all(&self.location, summaries)?;
                        joined(index)
                    })?;
                    let known = self.partitions.get_mut(&dir).expect("listed above");
                    known.files.push(name);
                    known.next += 1;
                    written = part.num_rows();
                    let stats = self.stats.entry(table).or_default();
                    stats.files += 1;
                    break;
                }
                // Another writer took this number: check against what it (and any other) wrote.
                checked = self.check(&t, &dir, &mut keys, true, &checked)?;
            }
            let stats = self.stats.entry(table).or_default();
            stats.rows += written;
            stats.duplicates += rows.len() - written;
        }
        Ok(())
    }

    /// Every data file is written when `write` returns; what a sync adds is the hour summaries
    /// of the hours written to that have ended.
    fn sync(&mut self) -> Result<()> {
        self.cover_ended_hours(chrono::Utc::now().timestamp_micros())?;
        Ok(())
    }
}

/// The name of a partition's data file number `n`.
fn part_name(n: u64) -> String {
    format!("part-{n:010}{DATA_EXTENSION}")
}

/// The number of a data file named by [`part_name`] (files of stores written before parts were
/// numbered have none, and never clash with a numbered one).
fn part_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("part-")?.strip_suffix(DATA_EXTENSION)?;
    (digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
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

/// Key hashes of the rows of data file `path` (relative to the store's root).
fn file_keys(location: &Location, path: &str, table: &StoredTable) -> Result<Vec<u128>> {
    let (builder, parquet_err) = parquet_files::reader(location, path)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), table.key.iter().copied());
    let mut keys = Vec::new();
    for batch in builder.with_projection(mask).build().map_err(parquet_err)? {
        keys.extend(key_hashes(&batch?, table.key)?);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hopscope_schema::spans::{SpanBatchBuilder, SpanRow, TABLE};

    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

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
    fn an_index_whose_data_file_is_gone_is_ignored() {
        // A data file deleted by hand, its index left: the row is not stored, so the next run
        // must write it, and its part number is free again.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        write_once(&store, spans_over(2));
        let index = &index_files(dir.path())[0];
        let data = walkdir(&dir.path().join(TABLE))
            .into_iter()
            .find(|p| {
                let relative = p.strip_prefix(dir.path()).unwrap().to_str().unwrap();
                dir.path().join(keys::index_path(relative)) == *index
            })
            .unwrap();
        std::fs::remove_file(data).unwrap();
        let again = write_once(&store, spans_over(2));
        assert_eq!((again.rows, again.duplicates), (1, 1));
    }

    /// Rows stored in `table` across all its data files.
    fn stored_rows(root: &Path) -> usize {
        walkdir(&root.join(TABLE))
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(DATA_EXTENSION))
            .map(|p| {
                let file = std::fs::File::open(p).unwrap();
                let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
                reader.metadata().file_metadata().num_rows() as usize
            })
            .sum()
    }

    #[test]
    fn a_writer_whose_listing_is_stale_finds_what_another_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        let (mut a, mut b) = (store.writer(), store.writer());
        // Both know the hour's partition as holding one span (b wrote it).
        b.write(TABLE, spans_over(1)).unwrap();
        a.write(TABLE, spans_over(1)).unwrap();
        assert_eq!(a.stats()[TABLE].duplicates, 1);
        // a adds a second span of that hour as part 2; b still believes part 2 is free.
        let mut second = spans_over(1);
        let ids = arrow::array::StringArray::from(vec!["ffffffffffffffff"]);
        let id_col = second.schema().index_of("id").unwrap();
        let mut columns = second.columns().to_vec();
        columns[id_col] = Arc::new(ids);
        second = RecordBatch::try_new(second.schema(), columns).unwrap();
        a.write(TABLE, second.clone()).unwrap();
        b.write(TABLE, second).unwrap();
        assert_eq!(b.stats()[TABLE].rows, 1, "only b's first span");
        assert_eq!(b.stats()[TABLE].duplicates, 1);
        assert_eq!(stored_rows(dir.path()), 2);
        let partition = walkdir(&dir.path().join(TABLE));
        let mut names: Vec<_> = partition
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["part-0000000001.parquet", "part-0000000002.parquet"]
        );
    }

    #[test]
    fn a_part_named_before_parts_were_numbered_still_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        write_once(&store, spans_over(1));
        let numbered = walkdir(&dir.path().join(TABLE)).pop().unwrap();
        let legacy = numbered.with_file_name("part-9f3c0d1e2b4a45c6a7b8c9d0e1f2a3b4.parquet");
        std::fs::rename(&numbered, &legacy).unwrap();
        std::fs::remove_dir_all(dir.path().join(keys::DIR)).unwrap();
        let again = write_once(&store, spans_over(2));
        assert_eq!((again.rows, again.duplicates), (1, 1));
        // Its hour got nothing new: the legacy part held the row.
        assert_eq!(data_files(legacy.parent().unwrap()).unwrap(), vec![legacy]);
    }

    #[test]
    fn writers_racing_on_the_same_rows_store_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let written: usize = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        // Each opens (and so may create) the new store itself, as a process would.
                        let store = Store::open_or_create(dir.path()).unwrap();
                        let mut w = store.writer();
                        for hours in [2, 4, 6] {
                            w.write(TABLE, spans_over(hours)).unwrap();
                        }
                        w.stats()[TABLE].rows
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).sum()
        });
        assert_eq!(written, 6);
        assert_eq!(stored_rows(dir.path()), 6);
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
        let file = std::fs::File::open(&data_files(&part).unwrap()[0]).unwrap();
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

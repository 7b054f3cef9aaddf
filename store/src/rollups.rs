//! Rollups: per-minute summaries of a table, one file per data file of it.
//!
//! A rollup file has the partition and name of the data file it summarizes
//! (`service_edges_1m/hour=H/part-N.parquet` for `spans/hour=H/part-N.parquet`) and is created
//! right after it, by the writer that created the data file. Each stored row is in exactly one
//! data file, so a reader that takes a data file's summary where it exists, and the data file
//! itself where it does not (a run killed between the two files, a store written before
//! rollups), counts every row once: no lock, no second bookkeeping. [`rebuild`] fills in the
//! summaries that are missing.
//!
//! A week read minute by minute is 60 times the rows of its hours, so each ended hour also gets
//! a summary of its own (`_hours/<rollup>/hour=H/cover-<n>-<hash>.parquet`), merged from the
//! minute summaries of its data files. Its name says which data files it covers (how many, and a
//! hash of their names): a reader takes it only while those are still exactly the hour's data
//! files, so a file added to the hour later (late spans, a second import) makes it stale, never
//! wrong, and the next sync covers the hour again. Stale covers are left in place: deleting
//! one could pull it from under a reader that listed it.
//!
//! A window that holds part of an ended hour (the last hour asked at 10:17) needs that hour
//! minute by minute, and an hour of a busy store has dozens of data files: opening each one's
//! summary cost more than reading its rows. So each ended hour also gets its minute summaries
//! merged into one file (`_minutes/<rollup>/hour=H/cover-<n>-<hash>.parquet`, named and taken
//! like the hour's cover), still one row per group and minute. An hour of one data file needs
//! none: that file's minute summary is read.
//!
//! What a summary holds is the analyzer's business: it installs a [`Summarizer`] per rollup
//! table (the store only knows which files pair up).

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use hopscope_schema::store_layout::{DATA_EXTENSION, HOUR_PARTITION};
use hopscope_schema::{StoredTable, stored_table};
use twox_hash::XxHash3_128;

use crate::error::{Error, Result};
use crate::objects::Location;
use crate::parquet_files::{data_file_names, encode};
use crate::{MICROS_PER_HOUR, StoreWriter};

/// Summarizes rows of a rollup's source table (a data file's) into rows of the rollup.
pub trait Summarizer: Send + Sync {
    /// The rollup table written (a stored table whose `source` names the table summarized).
    fn table(&self) -> &'static str;

    /// The summary of `rows`, in the rollup table's schema.
    fn summarize(&self, rows: &RecordBatch) -> std::result::Result<RecordBatch, String>;

    /// The summary of one hour from the summaries of its minutes (`minutes`, in the rollup
    /// table's schema): the same schema, one row per group and `grain` (an hour: its time
    /// column the hour's start; or a minute: the minutes merged, whatever data file a row came
    /// from).
    fn coarsen(
        &self,
        minutes: &[RecordBatch],
        grain: Grain,
    ) -> std::result::Result<RecordBatch, String>;
}

/// What a cover of an hour groups its rows by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Minute,
    Hour,
}

impl Grain {
    /// Its length, in µs.
    pub const fn micros(self) -> i64 {
        match self {
            Grain::Minute => MICROS_PER_HOUR / 60,
            Grain::Hour => MICROS_PER_HOUR,
        }
    }

    /// The store's directory of this grain's covers.
    const fn root(self) -> &'static str {
        match self {
            Grain::Minute => "_minutes",
            Grain::Hour => "_hours",
        }
    }
}

/// The summarizers a store's writers run.
#[derive(Clone, Default)]
pub struct Summarizers(Vec<Arc<dyn Summarizer>>);

impl fmt::Debug for Summarizers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|s| s.table()))
            .finish()
    }
}

impl Summarizers {
    pub fn new(all: Vec<Arc<dyn Summarizer>>) -> Summarizers {
        Summarizers(all)
    }

    /// Whether any rollup summarizes `source`.
    pub(crate) fn has(&self, source: &str) -> bool {
        self.of(source).next().is_some()
    }

    /// Those of `source`'s rollups, with their tables.
    fn of(&self, source: &str) -> impl Iterator<Item = (&Arc<dyn Summarizer>, StoredTable)> {
        self.0.iter().filter_map(move |s| {
            let table = stored_table(s.table())
                .unwrap_or_else(|| panic!("{} is not a stored table", s.table()));
            (table.source == Some(source)).then_some((s, table))
        })
    }
}

/// Writes the summaries of data file `name` of `source`'s partition `hour`, whose rows are
/// `rows`. A summary that exists already (a rebuild got there first) is kept.
pub(crate) fn write_summaries(
    location: &Location,
    summarizers: &Summarizers,
    source: &str,
    hour: &str,
    name: &str,
    rows: &RecordBatch,
) -> Result<usize> {
    create_all(
        location,
        summaries(location, summarizers, source, hour, name, rows)?,
    )
}

/// The summaries of data file `name` of `source`'s partition `hour` (whose rows are `rows`),
/// encoded: each file's path and bytes, to be created by [`create_all`].
pub(crate) fn summaries(
    location: &Location,
    summarizers: &Summarizers,
    source: &str,
    hour: &str,
    name: &str,
    rows: &RecordBatch,
) -> Result<Vec<Encoded>> {
    summarizers
        .of(source)
        .map(|(summarizer, table)| {
            let path = format!("{}/{hour}/{name}", table.name);
            encode_summary(location, &table, path, summarizer.summarize(rows))
        })
        .collect()
}

/// A summary file ready to be created: its path (relative to the store's root) and bytes.
pub(crate) type Encoded = (String, Vec<u8>);

/// Encodes what a summarizer made of its rows as summary file `path` of rollup `table`.
fn encode_summary(
    location: &Location,
    table: &StoredTable,
    path: String,
    summary: std::result::Result<RecordBatch, String>,
) -> Result<Encoded> {
    let summary = summary.map_err(|reason| Error::Summary {
        path: location.describe(&path),
        reason,
    })?;
    let bytes = encode(&summary, table, &location.describe(&path))?;
    Ok((path, bytes))
}

/// Creates each of `files` unless it exists; how many were created. The files are written side
/// by side: each create waits on its own sync (or PUT), so the waits overlap instead of adding up.
pub(crate) fn create_all(location: &Location, files: Vec<Encoded>) -> Result<usize> {
    let create = |(path, bytes): Encoded| location.create(&path, bytes).map(usize::from);
    if files.len() < 2 {
        return files.into_iter().map(create).sum();
    }
    std::thread::scope(|scope| {
        let creates: Vec<_> = files
            .into_iter()
            .map(|file| scope.spawn(move || create(file)))
            .collect();
        creates.into_iter().map(joined).sum()
    })
}

/// The result of a scoped thread; its panic, if it panicked, goes on in the caller.
pub(crate) fn joined<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Which data files of a rollup's source have their summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pairing {
    /// Hours read from their hour summary: the hour (since the epoch) and the summary's path.
    /// Their data files are in neither list below.
    pub hours: Vec<(i64, String)>,
    /// Summary files (paths relative to the store's root) of the data files that have one, and
    /// an hour's minutes merged where they cover exactly its data files (in place of theirs).
    pub summaries: Vec<String>,
    /// Data files of the source that have none: their rows must be read as they are.
    pub unsummarized: Vec<String>,
}

/// The pairing of `rollup`'s files with its source's data files, over the hour partitions in
/// `hours` (hours since the epoch; all of them for `None`). An hour for which `whole` says yes
/// is read from its hour summary when one covers exactly its data files; any other, from its
/// merged minutes when they do.
pub fn pair(
    location: &Location,
    rollup: &StoredTable,
    hours: Option<RangeInclusive<i64>>,
    whole: impl Fn(i64) -> bool,
) -> Result<Pairing> {
    let source = rollup
        .source
        .unwrap_or_else(|| panic!("{} is not a rollup", rollup.name));
    let mut pairing = Pairing::default();
    for (hour, dir, data) in partitions(location, source, hours)? {
        let cover = cover_name(&data);
        let covered = |grain| -> Result<Option<String>> {
            let (path, exists) = cover_at(location, grain, rollup.name, &dir, &cover)?;
            Ok(exists.then_some(path))
        };
        if whole(hour)
            && let Some(path) = covered(Grain::Hour)?
        {
            pairing.hours.push((hour, path));
            continue;
        }
        // The hour minute by minute: from one file where its minutes are merged.
        if let Some(path) = covered(Grain::Minute)? {
            pairing.summaries.push(path);
            continue;
        }
        let summaries = data_file_names(location.list(&format!("{}/{dir}", rollup.name))?);
        for name in data {
            if summaries.binary_search(&name).is_ok() {
                pairing
                    .summaries
                    .push(format!("{}/{dir}/{name}", rollup.name));
            } else {
                pairing.unsummarized.push(format!("{source}/{dir}/{name}"));
            }
        }
    }
    Ok(pairing)
}

/// The data files of stored table `table` in the hour partitions in `hours` (paths relative to
/// the store's root): what a read of a few hours opens, rather than every file of the table.
pub fn data_files_in(
    location: &Location,
    table: &str,
    hours: RangeInclusive<i64>,
) -> Result<Vec<String>> {
    Ok(partitions(location, table, Some(hours))?
        .into_iter()
        .flat_map(|(_, dir, names)| names.into_iter().map(move |n| format!("{table}/{dir}/{n}")))
        .collect())
}

/// The hour partitions of `table` in `hours` (all for `None`) that hold data files: each one's
/// hour, directory name and data files' names.
fn partitions(
    location: &Location,
    table: &str,
    hours: Option<RangeInclusive<i64>>,
) -> Result<Vec<(i64, String, Vec<String>)>> {
    let mut out = Vec::new();
    for dir in location.dirs(table)? {
        let Some(hour) = partition_hour(&dir) else {
            continue;
        };
        if hours.as_ref().is_some_and(|h| !h.contains(&hour)) {
            continue;
        }
        let data = data_file_names(location.list(&format!("{table}/{dir}"))?);
        if !data.is_empty() {
            out.push((hour, dir, data));
        }
    }
    Ok(out)
}

/// The path of cover `cover` of `grain` for `rollup`'s partition `dir` (`hour=…`), and whether
/// it exists.
fn cover_at(
    location: &Location,
    grain: Grain,
    rollup: &str,
    dir: &str,
    cover: &str,
) -> Result<(String, bool)> {
    let covers = format!("{}/{rollup}/{dir}", grain.root());
    let exists = location
        .list(&covers)?
        .binary_search_by(|n| n.as_str().cmp(cover))
        .is_ok();
    Ok((format!("{covers}/{cover}"), exists))
}

/// The name of the hour summary that covers data files `names` (sorted): their number and a
/// hash of their names.
fn cover_name(names: &[String]) -> String {
    let hash = XxHash3_128::oneshot(names.join("\n").as_bytes());
    format!("cover-{:010}-{hash:032x}{DATA_EXTENSION}", names.len())
}

/// Covers written of an hour, by grain.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Covered {
    /// Hour summaries.
    pub hours: usize,
    /// Hours' minute summaries merged into one file.
    pub minutes: usize,
}

impl std::ops::AddAssign for Covered {
    fn add_assign(&mut self, other: Covered) {
        self.hours += other.hours;
        self.minutes += other.minutes;
    }
}

/// Writes, for each of `source`'s rollups, the covers of hour partition `dir` (`hour=…`), of
/// each grain, from the minute summaries of its data files `data` (their names, sorted): those
/// that do not cover them already, unless a data file has no summary yet (its spans are then
/// read as they are, and the hour minute by minute). Counts the covers found missing.
pub(crate) fn cover_hour(
    location: &Location,
    summarizers: &Summarizers,
    source: &str,
    dir: &str,
    data: &[String],
) -> Result<Covered> {
    let mut covered = Covered::default();
    if data.is_empty() {
        return Ok(covered);
    }
    let cover = cover_name(data);
    let mut covers = Vec::new();
    for (summarizer, table) in summarizers.of(source) {
        let mut missing = Vec::new();
        for &grain in grains(data) {
            let (path, exists) = cover_at(location, grain, table.name, dir, &cover)?;
            if !exists {
                missing.push((grain, path));
            }
        }
        if missing.is_empty() {
            continue;
        }
        let minutes = data_file_names(location.list(&format!("{}/{dir}", table.name))?);
        if data.iter().any(|d| minutes.binary_search(d).is_err()) {
            continue;
        }
        let rows = data
            .iter()
            .map(|d| read_rows(location, &format!("{}/{dir}/{d}", table.name)))
            .collect::<Result<Vec<_>>>()?;
        for (grain, path) in missing {
            let summary = summarizer.coarsen(&rows, grain);
            covers.push(encode_summary(location, &table, path, summary)?);
            match grain {
                Grain::Hour => covered.hours += 1,
                Grain::Minute => covered.minutes += 1,
            }
        }
    }
    create_all(location, covers)?;
    Ok(covered)
}

/// The grains an hour of data files `data` is covered in: an hour of one data file has no
/// merged minutes, for its file's minute summary already is them (a reader takes that).
fn grains(data: &[String]) -> &'static [Grain] {
    if data.len() == 1 {
        &[Grain::Hour]
    } else {
        &[Grain::Hour, Grain::Minute]
    }
}

/// Whether hour `hour` (since the epoch) has ended at `now_us`: only then is it covered, so a
/// collect syncing every few minutes does not leave a stale cover of the current hour each time.
pub(crate) fn hour_ended(hour: i64, now_us: i64) -> bool {
    (hour + 1) * MICROS_PER_HOUR <= now_us
}

/// Hours since the epoch of partition directory `hour=YYYY-MM-DDTHH`.
fn partition_hour(dir: &str) -> Option<i64> {
    let text = dir.strip_prefix(HOUR_PARTITION)?;
    let start = chrono::NaiveDateTime::parse_from_str(&format!("{text}:00"), "%Y-%m-%dT%H:%M")
        .ok()?
        .and_utc();
    Some(start.timestamp_micros().div_euclid(MICROS_PER_HOUR))
}

/// Summaries written by [`rebuild`], per rollup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub table: &'static str,
    /// Summaries of data files (by minute).
    pub minutes: usize,
    /// Summaries of ended hours.
    pub hours: usize,
    /// Ended hours whose minute summaries were merged into one file.
    pub merged_hours: usize,
}

/// Writes the summary of every data file that has none, for each of `summarizers`, then the
/// summary of every ended hour (at `now_us`) that has none covering its data files.
pub fn rebuild(
    location: &Location,
    summarizers: &Summarizers,
    now_us: i64,
) -> Result<Vec<Rebuilt>> {
    let mut rebuilt = Vec::new();
    for summarizer in &summarizers.0 {
        let table = stored_table(summarizer.table())
            .unwrap_or_else(|| panic!("{} is not a stored table", summarizer.table()));
        let source = table
            .source
            .unwrap_or_else(|| panic!("{} is not a rollup", table.name));
        let one = Summarizers(vec![summarizer.clone()]);
        let mut written = 0;
        for path in pair(location, &table, None, |_| false)?.unsummarized {
            let rows = read_rows(location, &path)?;
            let (dir, name) = path.rsplit_once('/').expect("table/hour/name");
            let hour = dir.rsplit_once('/').expect("table/hour").1;
            written += write_summaries(location, &one, source, hour, name, &rows)?;
        }
        let mut covered = Covered::default();
        for (hour, dir, data) in partitions(location, source, None)? {
            if hour_ended(hour, now_us) {
                covered += cover_hour(location, &one, source, &dir, &data)?;
            }
        }
        rebuilt.push(Rebuilt {
            table: table.name,
            minutes: written,
            hours: covered.hours,
            merged_hours: covered.minutes,
        });
    }
    Ok(rebuilt)
}

/// Every row of data file `path`, as one batch in the file's schema.
fn read_rows(location: &Location, path: &str) -> Result<RecordBatch> {
    let (builder, parquet_err) = crate::parquet_files::reader(location, path)?;
    let schema = builder.schema().clone();
    let batches = builder
        .build()
        .map_err(parquet_err)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(concat_batches(&schema, &batches)?)
}

impl StoreWriter {
    /// The summaries of data file `name` of partition `dir`, encoded (none if `source` has no
    /// rollup).
    pub(crate) fn summaries(
        &self,
        source: &str,
        dir: &str,
        name: &str,
        rows: &RecordBatch,
    ) -> Result<Vec<Encoded>> {
        let hour = dir.rsplit_once('/').map_or(dir, |(_, hour)| hour);
        summaries(&self.location, &self.summarizers, source, hour, name, rows)
    }

    /// Covers each ended hour this writer added data files to (see the module's doc); an hour
    /// still running stays to be covered by a later sync.
    pub(crate) fn cover_ended_hours(&mut self, now_us: i64) -> Result<Covered> {
        let ended: Vec<(&'static str, i64)> = self
            .touched
            .iter()
            .copied()
            .filter(|(_, hour)| hour_ended(*hour, now_us))
            .collect();
        let mut written = Covered::default();
        // A few hours at a time, side by side: each waits mostly on its reads and syncs.
        for hours in ended.chunks(HOURS_AT_ONCE) {
            let writer = &*self;
            std::thread::scope(|scope| {
                let covers: Vec<_> = hours
                    .iter()
                    .map(|&(source, hour)| scope.spawn(move || writer.cover(source, hour)))
                    .collect();
                for covered in covers {
                    written += joined(covered)?;
                }
                Ok::<_, Error>(())
            })?;
            for hour in hours {
                self.touched.remove(hour);
            }
        }
        Ok(written)
    }

    /// Covers hour `hour` of `source` as its data files are now (see [`cover_hour`]).
    fn cover(&self, source: &str, hour: i64) -> Result<Covered> {
        let dir = Self::partition_dir(source, hour);
        let data = data_file_names(self.location.list(&dir)?);
        let dir = dir.rsplit_once('/').map_or(dir.as_str(), |(_, d)| d);
        cover_hour(&self.location, &self.summarizers, source, dir, &data)
    }
}

/// How many hours a sync covers at once.
const HOURS_AT_ONCE: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cover_is_named_by_exactly_the_files_it_covers() {
        let names = |n: u64| -> Vec<String> {
            (1..=n)
                .map(|i| format!("part-{i:010}{DATA_EXTENSION}"))
                .collect()
        };
        let two = cover_name(&names(2));
        assert_eq!(two, cover_name(&names(2)), "the same files, the same name");
        assert!(two.starts_with("cover-0000000002-"), "{two}");
        assert!(two.ends_with(DATA_EXTENSION), "{two}");
        assert_ne!(two, cover_name(&names(3)), "a file added makes it stale");
        let other = vec![names(1)[0].clone(), "part-legacy.parquet".to_string()];
        assert_ne!(two, cover_name(&other), "as many files, other names");
        assert!(hour_ended(0, MICROS_PER_HOUR));
        assert!(!hour_ended(0, MICROS_PER_HOUR - 1));
    }

    #[test]
    fn partition_directories_name_their_hour() {
        assert_eq!(partition_hour("hour=1970-01-01T01"), Some(1));
        assert_eq!(
            partition_hour("hour=2026-11-20T09"),
            Some(
                chrono::DateTime::parse_from_rfc3339("2026-11-20T09:00:00Z")
                    .unwrap()
                    .timestamp()
                    / 3600
            )
        );
        assert_eq!(partition_hour("hour=garbage"), None);
        assert_eq!(partition_hour("_keys"), None);
    }
}

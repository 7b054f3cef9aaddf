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
//! What a summary holds is the analyzer's business: it installs a [`Summarizer`] per rollup
//! table (the store only knows which files pair up).

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use hopscope_schema::store_layout::HOUR_PARTITION;
use hopscope_schema::{StoredTable, stored_table};

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
    let mut written = 0;
    for (summarizer, table) in summarizers.of(source) {
        let path = format!("{}/{hour}/{name}", table.name);
        let summary = summarizer
            .summarize(rows)
            .map_err(|reason| Error::Summary {
                path: location.describe(&path),
                reason,
            })?;
        let bytes = encode(&summary, &table, &location.describe(&path))?;
        written += usize::from(location.create(&path, bytes)?);
    }
    Ok(written)
}

/// Which data files of a rollup's source have their summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pairing {
    /// Summary files (paths relative to the store's root) of the data files that have one.
    pub summaries: Vec<String>,
    /// Data files of the source that have none: their rows must be read as they are.
    pub unsummarized: Vec<String>,
}

/// The pairing of `rollup`'s files with its source's data files, over the hour partitions in
/// `hours` (hours since the epoch; all of them for `None`).
pub fn pair(
    location: &Location,
    rollup: &StoredTable,
    hours: Option<RangeInclusive<i64>>,
) -> Result<Pairing> {
    let source = rollup
        .source
        .unwrap_or_else(|| panic!("{} is not a rollup", rollup.name));
    let mut pairing = Pairing::default();
    for (dir, data) in partitions(location, source, hours)? {
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
        .flat_map(|(dir, names)| names.into_iter().map(move |n| format!("{table}/{dir}/{n}")))
        .collect())
}

/// The hour partitions of `table` in `hours` (all for `None`) that hold data files: each
/// directory's name and its data files' names.
fn partitions(
    location: &Location,
    table: &str,
    hours: Option<RangeInclusive<i64>>,
) -> Result<Vec<(String, Vec<String>)>> {
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
            out.push((dir, data));
        }
    }
    Ok(out)
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
pub type Rebuilt = Vec<(&'static str, usize)>;

/// Writes the summary of every data file that has none, for each of `summarizers`.
pub fn rebuild(location: &Location, summarizers: &Summarizers) -> Result<Rebuilt> {
    let mut rebuilt = Vec::new();
    for summarizer in &summarizers.0 {
        let table = stored_table(summarizer.table())
            .unwrap_or_else(|| panic!("{} is not a stored table", summarizer.table()));
        let source = table
            .source
            .unwrap_or_else(|| panic!("{} is not a rollup", table.name));
        let mut written = 0;
        for path in pair(location, &table, None)?.unsummarized {
            let rows = read_rows(location, &path)?;
            let (dir, name) = path.rsplit_once('/').expect("table/hour/name");
            let hour = dir.rsplit_once('/').expect("table/hour").1;
            let one = Summarizers(vec![summarizer.clone()]);
            written += write_summaries(location, &one, source, hour, name, &rows)?;
        }
        rebuilt.push((table.name, written));
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
    /// Writes the summaries of the data file just created.
    pub(crate) fn summarize(
        &self,
        source: &str,
        dir: &str,
        name: &str,
        rows: &RecordBatch,
    ) -> Result<usize> {
        let hour = dir.rsplit_once('/').map_or(dir, |(_, hour)| hour);
        write_summaries(&self.location, &self.summarizers, source, hour, name, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! How a tally reads its windows: whole hours from their hour summaries where one covers the
//! hour's data files, the other whole minutes from a rollup's minute summaries, and from the
//! spans only the partial minutes at the windows' edges and the data files that have no summary.
//!
//! A tally gives two folds: one of source rows, one of summary rows (a minute's or an hour's,
//! in the same schema). Both are told which of the tally's windows each row counts in
//! ([`Slots`]), so a tally of several windows (a report and its baseline) is still one pass over
//! each source.

use std::collections::BTreeSet;

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::{Expr, lit};
use hopscope_store::Pairing;

use crate::error::Result;
use crate::partials::per_partition;
use crate::session::Session;
use crate::window::{self, Window};

const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;

/// Which rows a fold takes, and into which of the tally's windows (an index into its list):
/// `None` takes every row, into window 0.
pub(crate) type Slots = Option<Placed>;

/// Windows, each with the index of the tally's window it is part of.
pub(crate) type Placed = Vec<(usize, Window)>;

/// The windows of `slots` that hold instant `t`.
pub(crate) fn slots_at(slots: Option<&[(usize, Window)]>, t: i64) -> impl Iterator<Item = usize> {
    let all = slots.is_none().then_some(0);
    let some = slots
        .unwrap_or_default()
        .iter()
        .filter(move |(_, w)| t >= w.start_us && t < w.end_us)
        .map(|(i, _)| *i);
    all.into_iter().chain(some)
}

/// Where each part of a tally's windows is read from.
#[derive(Debug)]
pub(crate) struct Plan {
    rollup: &'static str,
    /// Read from the data files: the partial minutes at the windows' edges, windows without a
    /// whole minute, and everything when the store holds no summary.
    raw: Slots,
    /// The data files the raw slots can be in: those of the hours they touch (`None`: every
    /// file of the table). A store of weeks then opens an hour's files for an edge minute,
    /// not the footer of every file it holds.
    raw_files: Option<Vec<String>>,
    /// The whole minutes outside whole hours that have an hour summary: read from the minute
    /// summaries, and from the data files without one.
    summarized: Slots,
    /// The whole hours read from their hour summaries (the pairing's `hours`).
    hours: Slots,
    pairing: Pairing,
}

impl Plan {
    /// The plan for `windows` (everything for `None`) over `rollup`, for a tally of one group
    /// per window; `use_rollup: false` reads every span (for a question the summaries cannot
    /// answer).
    pub(crate) fn new(
        session: &Session,
        rollup: &'static str,
        windows: Option<&[Window]>,
        use_rollup: bool,
    ) -> Result<Plan> {
        Self::planned(session, rollup, windows, use_rollup, true)
    }

    /// The plan for `window` over `rollup`, for a tally by periods of `period_us` (whole
    /// minutes, from the epoch): whole hours come from their hour summaries only when the
    /// periods are whole hours too, for an hour summary cannot be split into shorter periods.
    pub(crate) fn by_period(
        session: &Session,
        rollup: &'static str,
        window: Window,
        period_us: i64,
    ) -> Result<Plan> {
        let hours = period_us % HOUR == 0;
        Self::planned(session, rollup, Some(&[window]), true, hours)
    }

    /// `new`, reading whole hours from their hour summaries only if `hours`.
    fn planned(
        session: &Session,
        rollup: &'static str,
        windows: Option<&[Window]>,
        use_rollup: bool,
        hours: bool,
    ) -> Result<Plan> {
        let table = hopscope_schema::stored_table(rollup).expect("a stored table");
        let source = table.source.expect("a rollup has a source");
        let files_of = |slots: &Slots| -> Result<Option<Vec<String>>> {
            let Some(slots) = slots else {
                return Ok(None);
            };
            let mut files = Vec::new();
            for (first, last) in hour_ranges(slots.iter().map(|(_, w)| w)) {
                files.extend(hopscope_store::data_files_in(
                    session.location(),
                    source,
                    first..=last,
                )?);
            }
            Ok(Some(files))
        };
        let all_raw = |pairing| -> Result<Plan> {
            let raw = windows.map(|ws| ws.iter().copied().enumerate().collect());
            Ok(Plan {
                rollup,
                raw_files: files_of(&raw)?,
                raw,
                summarized: Some(Vec::new()),
                hours: Some(Vec::new()),
                pairing,
            })
        };
        if !use_rollup {
            return all_raw(Pairing::default());
        }
        let (raw, inner) = match windows {
            // Everything: every hour is whole.
            None => (Vec::new(), vec![(0, Window::EVERYTHING)]),
            Some(windows) => {
                let (mut raw, mut inner) = (Vec::new(), Vec::new());
                for (i, w) in windows.iter().enumerate() {
                    match w.whole_minutes() {
                        Some((whole, edges)) => {
                            inner.push((i, whole));
                            raw.extend(edges.into_iter().map(|e| (i, e)));
                        }
                        None => raw.push((i, *w)),
                    }
                }
                (raw, inner)
            }
        };
        let whole = |hour| hours && is_whole_hour(&inner, hour);
        let mut pairing = Pairing::default();
        for (first, last) in hour_ranges(inner.iter().map(|(_, w)| w)) {
            let p = hopscope_store::pair(session.location(), &table, Some(first..=last), whole)?;
            pairing.hours.extend(p.hours);
            pairing.summaries.extend(p.summaries);
            pairing.unsummarized.extend(p.unsummarized);
        }
        if pairing.summaries.is_empty() && pairing.hours.is_empty() {
            // A store written before rollups: one plain scan.
            return all_raw(pairing);
        }
        let covered: Vec<i64> = pairing.hours.iter().map(|(h, _)| *h).collect();
        let (hours, minutes) = split_by_hours(&inner, &covered);
        let raw = Some(raw);
        Ok(Plan {
            rollup,
            raw_files: files_of(&raw)?,
            raw,
            summarized: Some(minutes),
            hours: Some(hours),
            pairing,
        })
    }

    /// Data files read whole for lack of a summary.
    pub(crate) fn unsummarized_files(&self) -> usize {
        self.pairing.unsummarized.len()
    }

    /// Folds of every partition of every scan the plan needs: `add_rows` folds rows of
    /// `source` (its `columns`), `add_summaries` rows of the rollup (its `summary_columns`).
    pub(crate) async fn read<P: Send + 'static>(
        &self,
        session: &Session,
        (source, columns): (&str, &[&str]),
        summary_columns: &[&str],
        start: impl Fn() -> P,
        add_rows: impl Fn(&mut P, &RecordBatch, Option<&[(usize, Window)]>) -> Result<()>
        + Clone
        + Send
        + Sync
        + 'static,
        add_summaries: impl Fn(&mut P, &RecordBatch, Option<&[(usize, Window)]>) -> Result<()>
        + Clone
        + Send
        + Sync
        + 'static,
    ) -> Result<Vec<P>> {
        let time = |table: &str| {
            hopscope_schema::stored_table(table)
                .expect("a stored table")
                .time
        };
        let (source_time, minute) = (time(source), time(self.rollup));
        let mut parts = Vec::new();
        if !is_empty(&self.raw) {
            let raw_filter = filter(&self.raw, source_time);
            let streams = match &self.raw_files {
                None => session.scan_pruned(source, columns, raw_filter).await?,
                Some(files) => {
                    session
                        .scan_files_pruned(source, files, columns, raw_filter)
                        .await?
                }
            };
            parts.extend(fold(streams, &start, &self.raw, add_rows.clone()).await?);
        }
        if is_empty(&self.summarized) && is_empty(&self.hours) {
            return Ok(parts);
        }
        let streams = session
            .scan_files_pruned(
                source,
                &self.pairing.unsummarized,
                columns,
                filter(&self.summarized, source_time),
            )
            .await?;
        parts.extend(fold(streams, &start, &self.summarized, add_rows).await?);
        let minutes = filter(&self.summarized, minute);
        let streams = session
            .scan_files_pruned(
                self.rollup,
                &self.pairing.summaries,
                summary_columns,
                minutes,
            )
            .await?;
        parts.extend(fold(streams, &start, &self.summarized, add_summaries.clone()).await?);
        let covers: Vec<String> = self.pairing.hours.iter().map(|(_, p)| p.clone()).collect();
        let streams = session
            .scan_files_pruned(
                self.rollup,
                &covers,
                summary_columns,
                filter(&self.hours, minute),
            )
            .await?;
        parts.extend(fold(streams, &start, &self.hours, add_summaries).await?);
        Ok(parts)
    }
}

/// Whether `slots` takes no row at all.
fn is_empty(slots: &Slots) -> bool {
    slots.as_ref().is_some_and(Vec::is_empty)
}

/// A pruning filter: `column` in one of the slots' windows (every row for `None`). Rows are
/// tested again as they are folded.
fn filter(slots: &Slots, column: &str) -> Expr {
    slots.as_ref().map_or(lit(true), |slots| {
        let windows: Vec<Window> = slots.iter().map(|(_, w)| *w).collect();
        window::in_any(&windows, column)
    })
}

async fn fold<P: Send + 'static>(
    streams: Vec<datafusion::execution::SendableRecordBatchStream>,
    start: &impl Fn() -> P,
    slots: &Slots,
    add: impl Fn(&mut P, &RecordBatch, Option<&[(usize, Window)]>) -> Result<()>
    + Clone
    + Send
    + Sync
    + 'static,
) -> Result<Vec<P>> {
    let slots = slots.clone();
    per_partition(streams, start, move |part: &mut P, batch| {
        add(part, batch, slots.as_deref())
    })
    .await
}

/// Whether hour `hour` (since the epoch) can be read from its hour summary: one of the windows'
/// whole-minute parts (`inner`) holds all of it, and none holds only part of it (that part
/// would have to come from the hour's minutes, which a covered hour's pairing leaves out).
fn is_whole_hour(inner: &[(usize, Window)], hour: i64) -> bool {
    let h = Window {
        start_us: hour * HOUR,
        end_us: (hour + 1) * HOUR,
    };
    let holds = |w: &Window| w.start_us <= h.start_us && h.end_us <= w.end_us;
    inner.iter().any(|(_, w)| holds(w)) && inner.iter().all(|(_, w)| holds(w) || !w.overlaps(&h))
}

/// Each window's whole-minute part (`inner`) split into the runs of hours read from their hour
/// summaries (`covered`, ascending) and the rest, read minute by minute.
fn split_by_hours(inner: &[(usize, Window)], covered: &[i64]) -> (Placed, Placed) {
    let (mut hours, mut minutes) = (Vec::new(), Vec::new());
    for &(i, w) in inner {
        let mut at = w.start_us;
        let mut runs = covered
            .iter()
            .map(|h| (h * HOUR, (h + 1) * HOUR))
            .filter(|(start, end)| w.start_us <= *start && *end <= w.end_us)
            .peekable();
        while let Some((start, mut end)) = runs.next() {
            while let Some(&(next, next_end)) = runs.peek() {
                if next != end {
                    break;
                }
                end = next_end;
                runs.next();
            }
            if at < start {
                minutes.push((
                    i,
                    Window {
                        start_us: at,
                        end_us: start,
                    },
                ));
            }
            hours.push((
                i,
                Window {
                    start_us: start,
                    end_us: end,
                },
            ));
            at = end;
        }
        if at < w.end_us {
            minutes.push((
                i,
                Window {
                    start_us: at,
                    end_us: w.end_us,
                },
            ));
        }
    }
    (hours, minutes)
}

/// The hour partitions `windows` touch, as disjoint ranges (first, last): a report, its
/// baseline and its series buckets are one range, paired with one listing.
fn hour_ranges<'a>(windows: impl Iterator<Item = &'a Window>) -> Vec<(i64, i64)> {
    let touched: BTreeSet<(i64, i64)> = windows
        .map(|w| (w.start_us.div_euclid(HOUR), (w.end_us - 1).div_euclid(HOUR)))
        .collect();
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for (first, last) in touched {
        match ranges.last_mut() {
            Some((_, end)) if first <= *end + 1 => *end = (*end).max(last),
            _ => ranges.push((first, last)),
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use hopscope_store::Store;

    use super::*;
    use crate::rollups::summarizers;

    #[test]
    fn a_row_counts_in_every_window_that_holds_it() {
        let w = |start_us, end_us| Window { start_us, end_us };
        let slots = [(0, w(0, 10)), (1, w(5, 20)), (0, w(30, 40))];
        let at = |t| slots_at(Some(&slots), t).collect::<Vec<_>>();
        assert_eq!(at(7), [0, 1]);
        assert_eq!(at(10), [1]);
        assert_eq!(at(35), [0]);
        assert!(at(20).is_empty());
        assert_eq!(slots_at(None, i64::MIN).collect::<Vec<_>>(), [0]);
    }

    #[tokio::test]
    async fn edge_minutes_are_read_from_the_files_of_their_hours_only() {
        let store = hopscope_test_support::sample_store();
        let session = Session::open(store).await.unwrap();
        // 2026-11-20T09:05:10Z .. 09:07:20Z: two edges in hour 09 around two whole minutes.
        let start_us = 1_795_165_510_000_000;
        let window = Window {
            start_us,
            end_us: start_us + 130_000_000,
        };
        let plan = Plan::new(&session, "hops_1m", Some(&[window]), true).unwrap();
        let files = plan.raw_files.as_deref().unwrap();
        let hour_09 = hopscope_store::data_files(&store.join("spans/hour=2026-11-20T09")).unwrap();
        assert_eq!(files.len(), hour_09.len());
        assert!(
            files
                .iter()
                .all(|f| f.starts_with("spans/hour=2026-11-20T09/")),
            "{files:?}"
        );
        let everything = Plan::new(&session, "hops_1m", None, true).unwrap();
        assert!(everything.raw_files.is_none());
    }

    /// Paths of the store at `root` under `dir`, recursively, sorted.
    fn files(root: &std::path::Path, dir: &str) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn whole_hours_are_read_from_a_cover_of_exactly_their_data_files() {
        let samples = hopscope_test_support::samples_dir();
        let store =
            hopscope_test_support::import_store_with(&[samples.join("users")], summarizers());
        // 2026-11-20T09:00Z .. 11:00Z, the scenarios' two hours, from 5 s before to 5 s after.
        let nine = 1_795_165_200_000_000;
        let window = Window {
            start_us: nine - 5_000_000,
            end_us: nine + 2 * HOUR + 5_000_000,
        };
        let session = Session::open(store.path()).await.unwrap();
        let plan = Plan::new(&session, "hops_1m", Some(&[window]), true).unwrap();
        let covered: Vec<i64> = plan.pairing.hours.iter().map(|(h, _)| *h).collect();
        assert_eq!(covered, [nine / HOUR, nine / HOUR + 1]);
        assert!(plan.pairing.summaries.is_empty() && plan.pairing.unsummarized.is_empty());
        // An alarm's periods: hour-long ones take the covers, shorter ones the minutes.
        let by_hours = Plan::by_period(&session, "hops_1m", window, 2 * HOUR).unwrap();
        assert_eq!(by_hours.pairing, plan.pairing);
        // Hours read minute by minute take one file per hour: here, where each hour holds one
        // data file, its minute summary (no merged minutes are written for it).
        let by_minutes = |prefix: &str| {
            let by_5m = Plan::by_period(&session, "hops_1m", window, 5 * 60_000_000).unwrap();
            let cut = Window {
                start_us: nine + MINUTE,
                end_us: nine + 2 * HOUR - MINUTE,
            };
            let cut = Plan::new(&session, "hops_1m", Some(&[cut]), true).unwrap();
            for pairing in [by_5m.pairing, cut.pairing] {
                assert!(pairing.hours.is_empty(), "{pairing:?}");
                assert!(pairing.unsummarized.is_empty(), "{pairing:?}");
                assert_eq!(pairing.summaries.len(), 2, "{pairing:?}");
                assert!(
                    pairing.summaries.iter().all(|p| p.starts_with(prefix)),
                    "{prefix}: {pairing:?}"
                );
            }
        };
        by_minutes("hops_1m/hour=2026-11-20T");
        assert!(files(store.path(), "_minutes").is_empty());
        assert_eq!(
            plan.hours,
            Some(vec![(
                0,
                Window {
                    start_us: nine,
                    end_us: nine + 2 * HOUR
                }
            )])
        );
        assert_eq!(
            plan.summarized,
            Some(vec![]),
            "no whole minute outside the hours"
        );

        // Another scenario's spans in the same hours: new data files, so the covers written
        // first are stale. Without the covers of the second import (as if killed before its
        // sync), the hours are read minute by minute.
        let first = [
            files(store.path(), "_hours"),
            files(store.path(), "_minutes"),
        ]
        .concat();
        let mut writer = Store::open_or_create(store.path())
            .unwrap()
            .with_summarizers(summarizers())
            .writer();
        let inputs = hopscope_collector::import::list_files(&[samples.join("dietician")]).unwrap();
        let options = hopscope_collector::import::ImportOptions::default();
        hopscope_collector::import::import_files(&inputs, &options, &mut writer, |_| {}).unwrap();
        for cover in [
            files(store.path(), "_hours"),
            files(store.path(), "_minutes"),
        ]
        .concat()
        {
            if !first.contains(&cover) {
                std::fs::remove_file(cover).unwrap();
            }
        }
        let plan = Plan::new(&session, "hops_1m", Some(&[window]), true).unwrap();
        assert!(plan.pairing.hours.is_empty(), "{:?}", plan.pairing.hours);
        assert!(!plan.pairing.summaries.is_empty());
        assert!(
            plan.pairing
                .summaries
                .iter()
                .all(|p| p.starts_with("hops_1m/")),
            "each data file's summary: {:?}",
            plan.pairing.summaries
        );
        assert_eq!(plan.hours, Some(vec![]));

        // A sync covers them again, beside the stale covers.
        let rebuilt = Store::open_or_create(store.path())
            .unwrap()
            .with_summarizers(summarizers())
            .rebuild_rollups()
            .unwrap();
        assert!(
            rebuilt
                .iter()
                .all(|r| r.minutes == 0 && r.hours == 2 && r.merged_hours == 2),
            "{rebuilt:?}"
        );
        let plan = Plan::new(&session, "hops_1m", Some(&[window]), true).unwrap();
        assert_eq!(plan.pairing.hours.len(), 2);
        assert_eq!(files(store.path(), "_hours").len(), 2 * first.len());
        // Each hour now holds two data files: read minute by minute, from their merged minutes.
        by_minutes("_minutes/hops_1m/hour=2026-11-20T");
        // One merged file per hour summary of each rollup.
        assert_eq!(files(store.path(), "_minutes").len(), first.len());
    }

    #[test]
    fn an_hour_is_whole_when_a_window_holds_it_and_none_cuts_it() {
        let w = |start_us, end_us| (0, Window { start_us, end_us });
        assert!(is_whole_hour(&[w(0, 2 * HOUR)], 1));
        assert!(is_whole_hour(&[w(HOUR, 2 * HOUR)], 1));
        assert!(!is_whole_hour(&[w(HOUR + MINUTE, 3 * HOUR)], 1));
        // A baseline ending inside the hour needs its minutes.
        assert!(!is_whole_hour(&[w(0, 3 * HOUR), w(0, HOUR + MINUTE)], 1));
        assert!(is_whole_hour(&[w(0, 3 * HOUR), w(0, HOUR)], 1));
        assert!(is_whole_hour(
            &[w(Window::EVERYTHING.start_us, Window::EVERYTHING.end_us)],
            -3
        ));
    }

    #[test]
    fn covered_hours_split_a_window_into_hour_runs_and_minutes() {
        let w = |start_us, end_us| Window { start_us, end_us };
        let inner = [(0, w(MINUTE, 5 * HOUR)), (1, w(2 * HOUR, 3 * HOUR))];
        // Hours 1, 2 and 4 covered (0 and 3 not).
        let (hours, minutes) = split_by_hours(&inner, &[1, 2, 4]);
        assert_eq!(
            hours,
            [
                (0, w(HOUR, 3 * HOUR)),
                (0, w(4 * HOUR, 5 * HOUR)),
                (1, w(2 * HOUR, 3 * HOUR))
            ]
        );
        assert_eq!(minutes, [(0, w(MINUTE, HOUR)), (0, w(3 * HOUR, 4 * HOUR))]);
        let (hours, minutes) = split_by_hours(&inner, &[]);
        assert!(hours.is_empty());
        assert_eq!(minutes, inner);
    }

    #[test]
    fn windows_are_paired_over_disjoint_hour_ranges() {
        let w = |start_h: i64, end_h: i64| Window {
            start_us: start_h * HOUR + 5,
            end_us: end_h * HOUR,
        };
        // A window, its baseline, buckets inside, and one far away.
        let windows = [w(10, 12), w(8, 10), w(10, 11), w(11, 12), w(20, 21)];
        assert_eq!(hour_ranges(windows.iter()), [(8, 11), (20, 20)]);
        assert!(hour_ranges([].iter()).is_empty());
    }
}

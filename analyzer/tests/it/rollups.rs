//! The service map read from per-minute rollups (`service_edges_1m`, written at ingest) equals
//! the map tallied from the spans themselves: on every sample scenario, over random windows,
//! whatever order and overlap the data was imported in, and with summaries missing.

use std::path::{Path, PathBuf};

use hopscope_analyzer::Session;
use hopscope_analyzer::rollups::summarizers;
use hopscope_analyzer::service_map::{MapEdge, ServiceMap};
use hopscope_analyzer::window::Window;
use hopscope_collector::import::{ImportOptions, import_files, list_files};
use hopscope_store::Store;
use hopscope_test_support::{import_store, import_store_with, samples_dir};
use proptest::prelude::*;

use crate::sample_store;

const MINUTE: i64 = 60_000_000;

/// `a` and `b` hold the same nodes and edges; averages may differ in the last bits (sums added
/// in another order).
fn assert_agree(a: &ServiceMap, b: &ServiceMap, context: &str) {
    assert_eq!(a.nodes, b.nodes, "{context}");
    assert_eq!(a.edges.len(), b.edges.len(), "{context}");
    for (x, y) in a.edges.iter().zip(&b.edges) {
        let close = (x.avg_ms.is_nan() && y.avg_ms.is_nan())
            || (x.avg_ms - y.avg_ms).abs() <= 1e-9 * x.avg_ms.abs().max(y.avg_ms.abs());
        assert!(close, "{context}: {x:?} != {y:?}");
        let same_avg = |e: &MapEdge| MapEdge {
            avg_ms: 0.0,
            ..e.clone()
        };
        assert_eq!(same_avg(x), same_avg(y), "{context}");
    }
    assert_eq!(a.coverage, b.coverage, "{context}");
}

async fn map_of(session: &Session, window: Option<Window>) -> ServiceMap {
    ServiceMap::load_in(session, window).await.unwrap()
}

/// The first and last `start_time` of the spans, in epoch µs.
async fn span_range(session: &Session) -> (i64, i64) {
    let batches = session
        .collect(
            "SELECT CAST(min(start_time) AS BIGINT) AS lo, CAST(max(start_time) AS BIGINT) AS hi \
             FROM spans",
        )
        .await
        .unwrap();
    let column = |i: usize| {
        batches[0]
            .column(i)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .unwrap()
            .value(0)
    };
    (column(0), column(1))
}

/// Windows over `[lo, hi]`: every span, whole minutes exactly, less than a minute, one edge
/// only, and `count` more from a fixed seed with arbitrary microsecond ends.
fn windows(lo: i64, hi: i64, count: usize) -> Vec<Window> {
    let w = |start_us, end_us| Window { start_us, end_us };
    let first_minute = lo.div_euclid(MINUTE) * MINUTE;
    let mut out = vec![
        w(lo, hi + 1),
        w(first_minute, first_minute + 10 * MINUTE),
        w(lo + 1, lo + MINUTE / 2),
        w(first_minute + 7, first_minute + 5 * MINUTE),
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |bound: i64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound.max(1) as u64) as i64
    };
    for _ in 0..count {
        let start = lo - MINUTE + next(hi - lo + 2 * MINUTE);
        let len = 1 + next(hi - start + MINUTE);
        out.push(w(start, start + len));
    }
    out
}

/// The maps of `rolled` (a store with rollups) and of `raw` (the same spans, without) agree on
/// everything and on `windows`; `rolled` read no data file whole.
async fn assert_same_maps(rolled: &Path, raw: &Path, windows: &[Window]) {
    let (rolled, raw) = (
        Session::open(rolled).await.unwrap(),
        Session::open(raw).await.unwrap(),
    );
    for window in std::iter::once(None).chain(windows.iter().copied().map(Some)) {
        let from_rollups = map_of(&rolled, window).await;
        assert_eq!(from_rollups.unsummarized_files, 0, "{window:?}");
        assert_agree(
            &from_rollups,
            &map_of(&raw, window).await,
            &format!("{window:?}"),
        );
    }
}

#[tokio::test]
async fn the_map_from_rollups_is_the_map_from_spans_on_every_scenario_and_window() {
    for name in hopscope_scenarios::SCENARIOS {
        let input = [samples_dir().join(name)];
        let (rolled, raw) = (
            import_store_with(&input, summarizers()),
            import_store(&input),
        );
        let session = Session::open(raw.path()).await.unwrap();
        let (lo, hi) = span_range(&session).await;
        // The raw store has no summary: every data file of the window's hours is read whole.
        let whole = map_of(&session, None).await;
        assert!(whole.unsummarized_files > 0, "{name}");
        assert!(!whole.edges.is_empty(), "{name}");
        assert_same_maps(rolled.path(), raw.path(), &windows(lo, hi, 12)).await;
    }
}

/// Span data files of the store at `root` and their summaries, as paths under it.
fn files_under(root: &Path, table: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for hour in std::fs::read_dir(root.join(table)).unwrap().flatten() {
        for file in std::fs::read_dir(hour.path()).unwrap().flatten() {
            if file.path().extension().is_some_and(|e| e == "parquet") {
                out.push(file.path());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn data_files_without_a_summary_are_read_whole_until_rebuilt() {
    let rolled = import_store_with(&[samples_dir()], summarizers());
    let summaries = files_under(rolled.path(), "service_edges_1m");
    assert_eq!(
        summaries.len(),
        files_under(rolled.path(), "spans").len(),
        "one summary per data file"
    );
    // As if the import had been killed between each of these data files and its summary.
    let lost: Vec<_> = summaries.iter().step_by(2).collect();
    for file in &lost {
        std::fs::remove_file(file).unwrap();
    }
    let session = Session::open(rolled.path()).await.unwrap();
    let (lo, hi) = span_range(&session).await;
    let raw = Session::open(sample_store()).await.unwrap();
    let windows = windows(lo, hi, 6);
    for window in std::iter::once(None).chain(windows.iter().copied().map(Some)) {
        let map = map_of(&session, window).await;
        if window.is_none() {
            assert_eq!(map.unsummarized_files, lost.len());
        }
        assert_agree(&map, &map_of(&raw, window).await, &format!("{window:?}"));
    }

    let store = Store::open_or_create(rolled.path())
        .unwrap()
        .with_summarizers(summarizers());
    assert_eq!(
        store.rebuild_rollups().unwrap(),
        [("service_edges_1m", lost.len())]
    );
    assert_eq!(
        store.rebuild_rollups().unwrap(),
        [("service_edges_1m", 0)],
        "nothing left to rebuild"
    );
    assert_same_maps(rolled.path(), sample_store(), &windows).await;
}

/// Every trace file of the samples.
fn trace_files() -> Vec<PathBuf> {
    list_files(&[samples_dir()])
        .unwrap()
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/traces/"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Imports of the trace files in any order, split into runs at any points, with any of them
    /// imported again: each span is summarized once.
    #[test]
    fn any_order_and_overlap_of_imports_summarizes_each_span_once(
        order in Just(trace_files()).prop_shuffle(),
        cuts in prop::collection::vec(any::<bool>(), trace_files().len()),
        again in prop::collection::vec(any::<bool>(), trace_files().len()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path())
            .unwrap()
            .with_summarizers(summarizers());
        let mut runs: Vec<Vec<PathBuf>> = vec![Vec::new()];
        for (i, file) in order.iter().enumerate() {
            runs.last_mut().unwrap().push(file.clone());
            if again[i] {
                runs.last_mut().unwrap().push(order[(i * 7) % order.len()].clone());
            }
            if cuts[i] {
                runs.push(Vec::new());
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            // A writer per run, as separate `hopscope import` processes have.
            let mut writer = store.writer();
            import_files(run, &ImportOptions::default(), &mut writer, |_| {}).unwrap();
        }
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let session = Session::open(dir.path()).await.unwrap();
            let (lo, hi) = span_range(&session).await;
            assert_same_maps(dir.path(), sample_store(), &windows(lo, hi, 3)).await;
        });
    }
}

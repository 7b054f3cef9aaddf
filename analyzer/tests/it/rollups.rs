//! The service map, the hop ranking and the alarm series of service, edge and function rules
//! read from per-minute rollups (`service_edges_1m`, `hops_1m` and `lambda_invocations_1m`,
//! written at ingest) equal the same answers computed from the spans and invocations themselves: on every sample scenario, over random windows and
//! baselines, whatever order and overlap the data was imported in, and with summaries missing
//! or written before the columns a statistic needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::file::properties::WriterProperties;
use hopscope_analyzer::Session;
use hopscope_analyzer::alarms::eval::evaluation_range;
use hopscope_analyzer::alarms::rolled::Rolled;
use hopscope_analyzer::alarms::rule::{
    Comparison, Condition, LowSample, MetricRule, MissingData, Rule, RuleKind, Severity, Source,
    Statistic, Target,
};
use hopscope_analyzer::alarms::series::{Series, fetch, series_sql};
use hopscope_analyzer::alarms::state::StateFile;
use hopscope_analyzer::alarms::{AlarmStatus, evaluate_rules, period_end};
use hopscope_analyzer::hops::{Baseline, HopQuery, HopReport};
use hopscope_analyzer::rollups::summarizers;
use hopscope_analyzer::service_map::{MapEdge, ServiceMap};
use hopscope_analyzer::window::Window;
use hopscope_collector::import::{ImportOptions, import_files, list_files};
use hopscope_schema::lambda_invocations::col as li;
use hopscope_schema::service_edges_1m::col as edges;
use hopscope_schema::spans::col as s;
use hopscope_schema::store_layout::VERSION_METADATA_KEY;
use hopscope_store::{Rebuilt, Store};
use hopscope_test_support::{import_store, import_store_with, samples_dir};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::constructed::{self, Doc, START};
use crate::sample_store;

const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;

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

/// `a` and `b` say the same as JSON: counts and percentiles equal, sums of milliseconds within
/// float noise (added in another order), hops compared by name (ranks between hops whose
/// values differ only in that noise may swap).
fn assert_same_json(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-6 + 1e-9 * x.abs().max(y.abs()),
                "{at}: {x} != {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            let by_hop = |v: &Vec<Value>| {
                let mut v = v.clone();
                v.sort_by_key(|h| (h["caller"].to_string(), h["callee"].to_string()));
                v
            };
            let (x, y) = if at.ends_with(".hops") {
                (by_hop(x), by_hop(y))
            } else {
                (x.clone(), y.clone())
            };
            for (i, (x, y)) in x.iter().zip(&y).enumerate() {
                assert_same_json(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{at}"
            );
            for (k, v) in x {
                assert_same_json(v, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

async fn hops_of(session: &Session, q: &HopQuery) -> HopReport {
    HopReport::load(session, q).await.unwrap()
}

/// Hop queries over `windows`: each with the preceding window as baseline, with none, and with
/// one that overlaps it; the last hour of data; evidence lists of 3 and of the most kept.
fn hop_queries(windows: &[Window]) -> Vec<HopQuery> {
    let q = |window, baseline, slowest_traces| HopQuery {
        window,
        baseline,
        slowest_traces,
        series_buckets: 0,
    };
    let mut out = vec![q(None, Baseline::Preceding, 3)];
    for (i, w) in windows.iter().enumerate() {
        let shifted = Window {
            start_us: w.start_us + w.len_us() / 3,
            end_us: w.end_us + w.len_us() / 3,
        };
        let baseline = match i % 3 {
            0 => Baseline::Preceding,
            1 => Baseline::Off,
            _ => Baseline::Window(shifted),
        };
        let slowest = if i % 2 == 0 {
            3
        } else {
            hopscope_schema::hops_1m::SLOWEST_KEPT
        };
        out.push(q(Some(*w), baseline, slowest));
    }
    out
}

/// The hop reports of `rolled` and of `raw` agree on `queries`; `rolled` read no data file whole.
async fn assert_same_hops(rolled: &Session, raw: &Session, queries: &[HopQuery]) {
    for q in queries {
        let from_rollups = hops_of(rolled, q).await;
        assert_eq!(from_rollups.unsummarized_files, 0, "{q:?}");
        let from_spans = hops_of(raw, q).await;
        assert_same_json(
            &serde_json::to_value(&from_rollups).unwrap(),
            &serde_json::to_value(&from_spans).unwrap(),
            &format!("{q:?}"),
        );
    }
}

/// A service or edge rule of `statistic` per `period_secs`.
fn alarm_rule(target: Target, statistic: Statistic, period_secs: i64) -> MetricRule {
    MetricRule {
        target,
        statistic,
        source: Source::Logs,
        condition: Condition {
            comparison: Comparison::GreaterThan,
            threshold: 0.0,
            period_secs,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            treat_missing_data: MissingData::Missing,
            low_sample: LowSample::Evaluate,
            percentile: None,
        },
    }
}

/// Same keys, periods and sample counts; values equal within float noise.
fn assert_same_series(a: &Series, b: &Series, at: &str) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{at}"
    );
    for (key, points) in a {
        let theirs = &b[key];
        assert_eq!(points.len(), theirs.len(), "{at} {key}");
        for (x, y) in points.iter().zip(theirs) {
            assert_eq!((x.time, x.samples), (y.time, y.samples), "{at} {key}");
            assert!(
                (x.value - y.value).abs() <= 1e-9 + 1e-9 * x.value.abs().max(y.value.abs()),
                "{at} {key}: {x:?} != {y:?}"
            );
        }
    }
}

/// Alarm series of service, edge and function rules read from the rollups equal what their SQL
/// gives over the spans and invocations, on `windows`.
async fn assert_same_alarm_series(session: &Session, windows: &[Window]) {
    let of_spans = [
        Statistic::Count,
        Statistic::Sum,
        Statistic::Avg,
        Statistic::Min,
        Statistic::Max,
        Statistic::Percentile(50.0),
        Statistic::Percentile(99.0),
        Statistic::ErrorRate,
        Statistic::FaultRate,
        Statistic::ThrottleCount,
    ];
    let of_invocations = [
        Statistic::Count,
        Statistic::Sum,
        Statistic::Avg,
        Statistic::Min,
        Statistic::Max,
        Statistic::Percentile(50.0),
        Statistic::Percentile(99.0),
        Statistic::ErrorRate,
        Statistic::TimeoutCount,
        Statistic::ColdStartRatio,
        Statistic::MemoryUsedRatio,
    ];
    let targets = [
        (
            Target::Service {
                name: "*".into(),
                service_type: None,
            },
            &of_spans[..],
        ),
        (
            Target::Service {
                name: "*".into(),
                service_type: Some("AWS::Lambda::Function".into()),
            },
            &of_spans,
        ),
        (
            Target::Edge {
                caller: "*".into(),
                callee: "*".into(),
            },
            &of_spans,
        ),
        (Target::Function { name: "*".into() }, &of_invocations),
    ];
    let mut points = 0;
    let mut function_points = 0;
    for (target, statistics) in &targets {
        for &statistic in *statistics {
            let mut seen_by_statistic = 0;
            // Longer periods bin minutes the same way: a sum, a histogram and the columns
            // added last suffice there. Periods shorter than an hour never read an hour
            // summary, hour-long ones do.
            let periods: &[i64] = match statistic {
                Statistic::Count
                | Statistic::Percentile(_)
                | Statistic::Max
                | Statistic::ErrorRate => &[60, 300, 3600],
                _ => &[60],
            };
            for &period in periods {
                let rule = alarm_rule(target.clone(), statistic, period);
                let rolled = Rolled::of(&rule).expect("the rollup answers it");
                for w in windows {
                    let at = format!("{target:?} {statistic:?} per {period} s over {w:?}");
                    let from_rollups = rolled
                        .fetch(session, w.start_us, w.end_us)
                        .await
                        .unwrap()
                        .expect("summaries of this build answer every rolled statistic");
                    let sql = series_sql(&rule, "rule", w.start_us, w.end_us, false);
                    let from_spans = fetch(session, &sql).await.unwrap();
                    assert_same_series(&from_rollups, &from_spans, &at);
                    let seen = from_spans.values().map(Vec::len).sum::<usize>();
                    points += seen;
                    seen_by_statistic += seen;
                    if matches!(target, Target::Function { .. }) {
                        function_points += seen;
                    }
                }
            }
            let of_flagged_spans = matches!(
                statistic,
                Statistic::ErrorRate | Statistic::Min | Statistic::Max
            ) && !matches!(target, Target::Function { .. });
            assert!(
                !of_flagged_spans || seen_by_statistic > 0,
                "{target:?} {statistic:?} saw data"
            );
        }
    }
    assert!(points > 0, "the rules saw data");
    assert!(function_points > 0, "the function rules saw invocations");
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
    let first_hour = lo.div_euclid(HOUR) * HOUR;
    let mut out = vec![
        w(lo, hi + 1),
        w(first_minute, first_minute + 10 * MINUTE),
        w(lo + 1, lo + MINUTE / 2),
        w(first_minute + 7, first_minute + 5 * MINUTE),
        // Whole hours, read from their hour summaries: one exactly, and two between edges.
        w(first_hour, first_hour + HOUR),
        w(first_hour - 7, first_hour + 2 * HOUR + 90_000_001),
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

/// The maps and hop reports of `rolled` (a store with rollups) and of `raw` (the same spans,
/// without) agree on everything and on `windows`; `rolled` read no data file whole.
async fn assert_same_reports(rolled: &Path, raw: &Path, windows: &[Window]) {
    let (rolled, raw) = (
        Session::open(rolled).await.unwrap(),
        Session::open(raw).await.unwrap(),
    );
    assert_same_hops(&rolled, &raw, &hop_queries(windows)).await;
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
async fn reports_from_rollups_are_reports_from_spans_on_every_scenario_and_window() {
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
        let hops = hops_of(
            &session,
            &HopQuery {
                window: Some(Window {
                    start_us: lo,
                    end_us: hi + 1,
                }),
                ..HopQuery::default()
            },
        )
        .await;
        assert!(hops.unsummarized_files > 0, "{name}");
        assert!(!hops.hops.is_empty(), "{name}");
        assert_rolled_reads_raw(rolled.path(), raw.path(), 12).await;
    }
}

/// The alarm series of `rolled` (a store with rollups) equal their SQL on the fixed windows over
/// its spans, and its reports equal those of `raw` (the same spans, without) on those and
/// `random` more windows.
async fn assert_rolled_reads_raw(rolled: &Path, raw: &Path, random: usize) {
    let session = Session::open(rolled).await.unwrap();
    let (lo, hi) = span_range(&session).await;
    // The fixed windows: every span, minutes, less than a minute, and whole hours.
    let mut alarm_windows = windows(lo, hi, 0);
    alarm_windows.truncate(6);
    assert_same_alarm_series(&session, &alarm_windows).await;
    assert_same_reports(rolled, raw, &windows(lo, hi, random)).await;
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
async fn hours_of_several_data_files_are_read_from_their_merged_minutes() {
    // Two scenarios in the same two hours, imported one after the other: two data files an
    // hour, so each ended hour gets its minutes merged.
    let inputs = [samples_dir().join("users"), samples_dir().join("dietician")];
    let rolled = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(rolled.path())
        .unwrap()
        .with_summarizers(summarizers());
    for input in &inputs {
        let mut writer = store.writer();
        let files = list_files(std::slice::from_ref(input)).unwrap();
        import_files(&files, &ImportOptions::default(), &mut writer, |_| {}).unwrap();
    }
    let hours = std::fs::read_dir(rolled.path().join("spans"))
        .unwrap()
        .count();
    for rollup in ["service_edges_1m", "hops_1m"] {
        let merged = files_under(rolled.path(), &format!("_minutes/{rollup}"));
        assert_eq!(merged.len(), hours, "{rollup}: {merged:?}");
    }
    let raw = import_store(&inputs);
    assert_rolled_reads_raw(rolled.path(), raw.path(), 12).await;
}

#[tokio::test]
async fn data_files_without_a_summary_are_read_whole_until_rebuilt() {
    let rolled = import_store_with(&[samples_dir()], summarizers());
    let (edges, hops) = (
        files_under(rolled.path(), "service_edges_1m"),
        files_under(rolled.path(), "hops_1m"),
    );
    let data_files = files_under(rolled.path(), "spans").len();
    assert_eq!(edges.len(), data_files, "one summary per data file");
    assert_eq!(hops.len(), data_files, "one summary per data file");
    // As if the import had been killed between each of these data files and its summaries
    // (or between its two summaries).
    let lost: Vec<_> = edges.iter().step_by(2).collect();
    let lost_hops: Vec<_> = hops.iter().skip(1).step_by(3).collect();
    for file in lost.iter().chain(&lost_hops) {
        std::fs::remove_file(file).unwrap();
    }
    // Each hour holds one data file, so no merged minutes stand in for the lost summaries.
    assert!(!rolled.path().join("_minutes").exists());
    let session = Session::open(rolled.path()).await.unwrap();
    let (lo, hi) = span_range(&session).await;
    let raw = Session::open(sample_store()).await.unwrap();
    let windows = windows(lo, hi, 6);
    let everything = HopQuery {
        window: Some(Window {
            start_us: lo,
            end_us: hi + 1,
        }),
        ..HopQuery::default()
    };
    assert_eq!(
        hops_of(&session, &everything).await.unsummarized_files,
        lost_hops.len()
    );
    for q in hop_queries(&windows) {
        assert_same_json(
            &serde_json::to_value(hops_of(&session, &q).await).unwrap(),
            &serde_json::to_value(hops_of(&raw, &q).await).unwrap(),
            &format!("{q:?}"),
        );
    }
    for window in std::iter::once(None).chain(windows.iter().copied().map(Some)) {
        let map = map_of(&session, window).await;
        if window.is_none() {
            // Both hours ended, and their hour summaries, written before the loss, cover them.
            assert_eq!(map.unsummarized_files, 0);
        }
        if window == Some(everything.window.unwrap()) {
            // No whole hour: read minute by minute.
            assert_eq!(map.unsummarized_files, lost.len());
        }
        assert_agree(&map, &map_of(&raw, window).await, &format!("{window:?}"));
    }

    let store = Store::open_or_create(rolled.path())
        .unwrap()
        .with_summarizers(summarizers());
    let rebuilt = |table, minutes| Rebuilt {
        table,
        minutes,
        hours: 0,
        merged_hours: 0,
    };
    assert_eq!(
        store.rebuild_rollups().unwrap(),
        [
            rebuilt("service_edges_1m", lost.len()),
            rebuilt("hops_1m", lost_hops.len()),
            rebuilt("lambda_invocations_1m", 0),
        ]
    );
    assert_eq!(
        store.rebuild_rollups().unwrap(),
        [
            rebuilt("service_edges_1m", 0),
            rebuilt("hops_1m", 0),
            rebuilt("lambda_invocations_1m", 0)
        ],
        "nothing left to rebuild"
    );
    assert_same_reports(rolled.path(), sample_store(), &windows).await;
}

#[tokio::test]
async fn data_files_written_before_a_column_are_summarized_with_it_null() {
    // Stores as written before `spans.root` and the origin columns existed: the same data
    // twice, one to read whole, the other summarized by a rebuild.
    let old = || {
        let store = import_store(&[samples_dir()]);
        for file in files_under(store.path(), "spans") {
            strip_columns(&file, &[s::ROOT, s::ACCOUNT_ID, s::REGION]);
        }
        for file in files_under(store.path(), "lambda_invocations") {
            strip_columns(&file, &[li::ACCOUNT_ID, li::REGION]);
        }
        store
    };
    let (rolled, raw) = (old(), old());
    let store = Store::open_or_create(rolled.path())
        .unwrap()
        .with_summarizers(summarizers());
    let rebuilt = store.rebuild_rollups().expect("old data files summarize");
    let files = |table| files_under(rolled.path(), table).len();
    let minutes: Vec<_> = rebuilt.iter().map(|r| (r.table, r.minutes)).collect();
    assert_eq!(
        minutes,
        [
            ("service_edges_1m", files("spans")),
            ("hops_1m", files("spans")),
            ("lambda_invocations_1m", files("lambda_invocations")),
        ]
    );
    assert_rolled_reads_raw(rolled.path(), raw.path(), 6).await;
}

/// Rewrites Parquet file `path` without `columns`, as a writer from before they existed did.
fn strip_columns(path: &Path, columns: &[&str]) {
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let version = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .find(|kv| kv.key == VERSION_METADATA_KEY)
        .cloned();
    let schema = reader.schema().clone();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !columns.contains(&schema.field(i).name().as_str()))
        .collect();
    assert!(
        keep.len() < schema.fields().len(),
        "{path:?} has {columns:?}"
    );
    let batches: Vec<_> = reader
        .build()
        .unwrap()
        .map(|b| b.unwrap().project(&keep).unwrap())
        .collect();
    let properties = WriterProperties::builder()
        .set_key_value_metadata(version.map(|v| vec![v]))
        .build();
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        Arc::new(schema.project(&keep).unwrap()),
        Some(properties),
    )
    .unwrap();
    for batch in &batches {
        writer.write(batch).unwrap();
    }
    writer.close().unwrap();
}

/// An alarm rule named `name`.
fn named(name: String, rule: MetricRule) -> Rule {
    Rule {
        name,
        description: None,
        severity: Severity::Warning,
        labels: BTreeMap::default(),
        actions_enabled: true,
        kind: RuleKind::Metric(rule),
        file: PathBuf::new(),
        line: 0,
    }
}

#[tokio::test]
async fn summaries_without_error_flags_and_extremes_leave_those_rules_to_the_sql() {
    let rolled = import_store_with(&[samples_dir()], summarizers());
    // Every other minute summary as written before `flagged_errors`, `min_ms` and `max_ms`, and
    // the hour summaries made again from those minutes, old and new (each hour holds one data
    // file, so it has no merged minutes).
    let added = [edges::FLAGGED_ERRORS, edges::MIN_MS, edges::MAX_MS];
    for file in files_under(rolled.path(), "service_edges_1m")
        .iter()
        .step_by(2)
    {
        strip_columns(file, &added);
    }
    std::fs::remove_dir_all(rolled.path().join("_hours/service_edges_1m")).unwrap();
    assert!(!rolled.path().join("_minutes").exists());
    let store = Store::open_or_create(rolled.path())
        .unwrap()
        .with_summarizers(summarizers());
    let rebuilt = store.rebuild_rollups().unwrap();
    assert_eq!(
        rebuilt[0],
        Rebuilt {
            table: "service_edges_1m",
            minutes: 0,
            hours: 2,
            merged_hours: 0,
        }
    );
    // An hour's group made of old minutes does not know them: null, never zero.
    let session = Session::open(rolled.path()).await.unwrap();
    let covers = files_under(rolled.path(), "_hours/service_edges_1m");
    let (mut unknown, mut known) = (0, 0);
    for cover in &covers {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(cover).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let column = |name| batch.column_by_name(name).unwrap().clone();
            let (errors, min, max) = (
                column(edges::FLAGGED_ERRORS),
                column(edges::MIN_MS),
                column(edges::MAX_MS),
            );
            for row in 0..batch.num_rows() {
                if errors.is_null(row) {
                    unknown += 1;
                    assert!(min.is_null(row) && max.is_null(row), "{cover:?} row {row}");
                } else {
                    known += 1;
                }
            }
        }
    }
    assert!(unknown > 0 && known > 0, "{unknown} unknown, {known} known");

    // Rules looking back 3 hours from the hour after the last span, so that their evaluation
    // reads every summary: per 5 minutes (from minute summaries) and per hour (from hours').
    let (lo, hi) = span_range(&session).await;
    let at = (hi.div_euclid(HOUR) + 1) * HOUR;
    let targets = [
        Target::Service {
            name: "*".into(),
            service_type: None,
        },
        Target::Edge {
            caller: "*".into(),
            callee: "*".into(),
        },
    ];
    let mut rules = Vec::new();
    for target in &targets {
        for (period, evaluation_periods) in [(300, 34), (3600, 1)] {
            let rule = |statistic| {
                let mut rule = alarm_rule(target.clone(), statistic, period);
                rule.condition.evaluation_periods = evaluation_periods;
                rule
            };
            let end = period_end(at, period);
            let start = end - i64::from(evaluation_range(evaluation_periods)) * period * 1_000_000;
            assert!(start <= lo, "the range holds every span");
            let count = Rolled::of(&rule(Statistic::Count)).unwrap();
            let read = count.fetch(&session, start, end).await.unwrap();
            assert!(read.is_some(), "a count needs no new column");
            for statistic in [Statistic::ErrorRate, Statistic::Min, Statistic::Max] {
                let rolled = Rolled::of(&rule(statistic)).unwrap();
                let read = rolled.fetch(&session, start, end).await.unwrap();
                assert!(read.is_none(), "{target:?} {statistic:?} per {period} s");
                rules.push(named(
                    format!("{target:?} {statistic:?} per {period} s"),
                    rule(statistic),
                ));
            }
        }
    }
    // Evaluated, they take the SQL: their alarms are those of a store without summaries, whose
    // series come from the spans (equal to the SQL's, as the test above holds).
    let evaluate = |session: Session| {
        let rules = rules.clone();
        async move {
            evaluate_rules(&session, &rules, at, &StateFile::default())
                .await
                .unwrap()
        }
    };
    let from_old = evaluate(session).await;
    let from_spans = evaluate(Session::open(sample_store()).await.unwrap()).await;
    assert_eq!(from_old, from_spans);
    for rule in &rules {
        let with_data = |s: &AlarmStatus| s.rule == rule.name && s.latest.is_some();
        assert!(from_old.iter().any(with_data), "{} saw data", rule.name);
    }
}

#[tokio::test]
async fn an_error_rate_counts_the_error_flag_whatever_the_throttle_flag() {
    // One function's calls to a table in one minute, flagged: throttled only, throttled and
    // erring, erring only, neither. The samples have no throttle without the error flag.
    let trace = "1-6a1e9a00-0000000000000000000000e1";
    let t = START + 1.0;
    let flags = [(false, true), (true, true), (true, false), (false, false)];
    let calls = flags
        .iter()
        .enumerate()
        .map(|(i, &(error, throttle))| {
            let at = t + 0.1 * (i as f64 + 1.0);
            let table = json!({"table_name": "users"});
            Doc::aws_call(
                &format!("get-{i}"),
                "DynamoDB",
                "GetItem",
                table,
                at,
                at + 0.05,
            )
            .flagged(error, throttle)
        })
        .collect();
    let docs = [
        Doc::lambda_service(trace, "svc", None, "api", "req-1", t, t + 1.0),
        Doc::function(trace, "fn", "svc", "api", t + 0.01, t + 0.99).with(calls),
    ];
    let (_dir, session) = constructed::store_with(&docs, summarizers()).await;
    let window = constructed::window();
    let edges = Target::Edge {
        caller: "*".into(),
        callee: "*".into(),
    };
    let rule = alarm_rule(edges, Statistic::ErrorRate, 60);
    let from_rollups = Rolled::of(&rule)
        .unwrap()
        .fetch(&session, window.start_us, window.end_us)
        .await
        .unwrap()
        .expect("summaries of this build hold the error flags");
    let sql = series_sql(&rule, "rule", window.start_us, window.end_us, false);
    let from_spans = fetch(&session, &sql).await.unwrap();
    assert_same_series(&from_rollups, &from_spans, "error rates");
    let rates: Vec<f64> = from_spans.values().flatten().map(|p| p.value).collect();
    assert!(
        rates.contains(&0.5),
        "2 of the 4 calls carry the flag: {from_spans:?}"
    );
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
            assert_same_reports(dir.path(), sample_store(), &windows(lo, hi, 3)).await;
        });
    }
}

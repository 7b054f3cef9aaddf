//! Alarm evaluation at scale: 1,000 rules over 24 hours of one-minute data for 200 functions.
//! Run with `cargo bench --bench alarms`; see benches/README.md for the numbers.
//!
//! The store is built once in setup (not timed): per function and minute, one invocation in
//! `lambda_invocations` and AWS/Lambda Invocations, Errors and Throttles points in
//! `metric_points` (288,000 + 864,000 rows). The 1,000 rules are five per function, each naming
//! its function: p99 duration, error rate (metrics), throttles (metrics), timeouts and
//! cold-start ratio, on one- and five-minute periods.
//!
//! - `check_1000_rules`: what `hopscope alarms check` does: open the store, evaluate every rule
//!   once at the end of the day.
//! - `backtest_1000_rules_24h`: what `hopscope alarms backtest --since 24h` does: every rule at
//!   the end of every one of its periods over the day.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hopscope_analyzer::Session;
use hopscope_analyzer::alarms::parse::parse_file;
use hopscope_analyzer::alarms::state::StateFile;
use hopscope_analyzer::alarms::{self, Rule};
use hopscope_schema::lambda_invocations::{
    self as li, LambdaInvocationBatchBuilder, LambdaInvocationRow, status,
};
use hopscope_schema::metric_points::{self as mp, MetricPointBatchBuilder, MetricPointRow};
use hopscope_store::{BatchSink, Store};

const FUNCTIONS: usize = 200;
const MINUTES: i64 = 24 * 60;
/// 2026-11-20T00:00:00Z
const DAY: i64 = 1_795_132_800_000_000;
const MINUTE: i64 = 60_000_000;

fn build_store(dir: &std::path::Path) {
    let store = Store::open_or_create(dir).expect("store");
    let mut writer = store.writer();
    // One batch per table, as one collection writes it: 24 hour files per table.
    let mut inv = LambdaInvocationBatchBuilder::default();
    let mut met = MetricPointBatchBuilder::default();
    for f in 0..FUNCTIONS {
        let name = format!("fn-{f:03}");
        for m in 0..MINUTES {
            let at = DAY + m * MINUTE;
            // A little variety: a slow hour, sporadic timeouts and cold starts.
            let slow = (m / 60) as usize % 24 == f % 24;
            let timeout = (m as usize + f).is_multiple_of(97);
            inv.append(&LambdaInvocationRow {
                function: Some(name.clone()),
                request_id: format!("{f:03}-{m:05}"),
                timestamp: at + 1_000_000,
                duration_ms: Some(if timeout {
                    3000.0
                } else if slow {
                    1800.0 + (m % 7) as f64 * 10.0
                } else {
                    80.0 + (m % 13) as f64
                }),
                memory_mb: Some(512),
                max_memory_mb: Some(120 + (m % 50) as i32),
                init_ms: (m as usize + f).is_multiple_of(31).then_some(400.0),
                status: if timeout {
                    status::TIMEOUT
                } else {
                    status::SUCCESS
                },
                ..Default::default()
            });
            for (metric, value) in [
                ("Invocations", 1.0),
                ("Errors", if timeout { 1.0 } else { 0.0 }),
                ("Throttles", 0.0),
            ] {
                met.append(&MetricPointRow {
                    namespace: Some("AWS/Lambda"),
                    metric,
                    dimensions: vec![("FunctionName", &name)],
                    statistic: Some("Sum"),
                    timestamp: at,
                    value,
                    unit: Some("Count"),
                    label: None,
                });
            }
        }
    }
    writer.write(li::TABLE, inv.finish()).expect("write");
    writer.write(mp::TABLE, met.finish()).expect("write");
}

fn rules() -> Vec<Rule> {
    let mut text = String::new();
    for f in 0..FUNCTIONS {
        let name = format!("fn-{f:03}");
        for (rule, stat, threshold, period, n, m) in [
            ("p99", "p99", 1000.0, "5m", 3, 3),
            ("errors", "error_rate", 0.05, "1m", 5, 5),
            ("throttles", "throttle_count", 0.0, "5m", 3, 2),
            ("timeouts", "timeout_count", 0.0, "1m", 1, 1),
            ("cold", "cold_start_ratio", 0.2, "5m", 5, 3),
        ] {
            text.push_str(&format!(
                "[[rule]]\nname = \"{name}-{rule}\"\nfunction = \"{name}\"\nstatistic = \"{stat}\"\ncomparison = \">\"\nthreshold = {threshold}\nperiod = \"{period}\"\nevaluation_periods = {n}\ndatapoints_to_alarm = {m}\ntreat_missing_data = \"not_breaching\"\n\n"
            ));
        }
    }
    let (rules, problems) = parse_file(std::path::Path::new("bench.toml"), &text);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(rules.len(), 1000);
    rules
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    build_store(dir.path());
    let rules = rules();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let end = DAY + MINUTES * MINUTE;
    let mut group = c.benchmark_group("alarms");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("check_1000_rules", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let session = Session::open(dir.path()).await.expect("session");
                let statuses = alarms::evaluate_rules(&session, &rules, end, &StateFile::default())
                    .await
                    .expect("evaluate");
                assert_eq!(statuses.len(), 1000);
                black_box(statuses)
            })
        });
    });
    group.bench_function("backtest_1000_rules_24h", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let session = Session::open(dir.path()).await.expect("session");
                black_box(
                    alarms::backtest(&session, &rules, DAY, end)
                        .await
                        .expect("backtest"),
                )
            })
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

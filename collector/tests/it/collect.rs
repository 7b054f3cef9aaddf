//! `collect` against the AWS test peer (moto behind tests/aws_peer/peer.py, started by
//! scripts/test): seed it through the real SDK with a sample scenario, collect, and compare the
//! store with an import of the same files, row for row. Each test works in its own Region, so
//! tests running in parallel never see each other's data or faults.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use chrono::{DateTime, TimeDelta, Utc};
use hopscope_collector::aws::{AwsOptions, Clients};
use hopscope_collector::collect::{self, Api, Caller, CollectOptions, NoProgress, RetryPolicy};
use hopscope_collector::import::{ImportOptions, import_files, list_files};
use hopscope_store::{Store, data_files};
use hopscope_test_support::aws_peer;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use crate::samples_dir;

const FUNCTION: &str = "users-api-create-user";

pub(crate) async fn clients(region: &str) -> Clients {
    Clients::connect(&AwsOptions {
        region: Some(region.into()),
        endpoint_url: Some(aws_peer::endpoint()),
        credentials: Some(aws_sdk_xray::config::Credentials::new(
            "testing", "testing", None, None, "test",
        )),
        ..Default::default()
    })
    .await
}

pub(crate) struct Seeded {
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
}

/// Seeds the `users` scenario's traces and logs, and one Invocations point per minute of it.
pub(crate) async fn seed(c: &Clients) -> Seeded {
    seed_logging_to(c, None).await
}

/// [`seed`], with the function's logs in `custom_group` when given: a group of its own name, its
/// streams named as Lambda names them there (`YYYY/MM/DD/<function>[<version>]<id>`).
pub(crate) async fn seed_logging_to(c: &Clients, custom_group: Option<&str>) -> Seeded {
    seed_scenario(c, "users", custom_group).await
}

/// [`seed_logging_to`] with another sample scenario's traces and logs.
pub(crate) async fn seed_scenario(
    c: &Clients,
    scenario: &str,
    custom_group: Option<&str>,
) -> Seeded {
    let dir = samples_dir().join(scenario);
    let mut documents = Vec::new();
    for path in list_files(&[dir.join("traces")]).unwrap() {
        let answer: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for trace in answer["Traces"].as_array().unwrap() {
            for segment in trace["Segments"].as_array().unwrap() {
                documents.push(segment["Document"].as_str().unwrap().to_string());
            }
        }
    }
    let starts: Vec<f64> = documents
        .iter()
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["start_time"]
                .as_f64()
                .unwrap()
        })
        .collect();
    // The samples have a fixed day, and CloudWatch Logs keeps only events of the last 14 days
    // (aws/spans too, which segments go to in the Transaction Search world): the peer's clock is
    // set to an hour after the last trace starts.
    let latest = starts.iter().copied().fold(f64::MIN, f64::max);
    aws_peer::control(
        "POST",
        "/_peer/clock",
        &serde_json::json!({ "now": latest + 3600.0 }).to_string(),
    );
    for chunk in documents.chunks(50) {
        c.xray
            .put_trace_segments()
            .set_trace_segment_documents(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
    }
    let mut functions = std::collections::BTreeSet::new();
    let mut times = starts
        .iter()
        .map(|s| (*s * 1000.0) as i64)
        .collect::<Vec<_>>();
    for path in list_files(&[dir.join("logs")]).unwrap() {
        let payload: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let (group, stream) = (
            payload["logGroup"].as_str().unwrap(),
            payload["logStream"].as_str().unwrap(),
        );
        if let Some(function) = group.strip_prefix("/aws/lambda/") {
            functions.insert(function.to_string());
        }
        let custom_stream;
        let (group, stream) = match custom_group {
            None => (group, stream),
            Some(custom) => {
                let function = group.strip_prefix("/aws/lambda/").unwrap();
                let (date, rest) = stream.split_at(stream.find('[').unwrap());
                custom_stream = format!("{date}{function}{rest}");
                (custom, custom_stream.as_str())
            }
        };
        let _ = c.logs.create_log_group().log_group_name(group).send().await;
        c.logs
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await
            .unwrap();
        let mut events: Vec<InputLogEvent> = payload["logEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let t = e["timestamp"].as_i64().unwrap();
                times.push(t);
                InputLogEvent::builder()
                    .timestamp(t)
                    .message(e["message"].as_str().unwrap())
                    .build()
                    .unwrap()
            })
            .collect();
        events.sort_by_key(|e| e.timestamp);
        for chunk in events.chunks(1000) {
            let put = c
                .logs
                .put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
            assert!(
                put.rejected_log_events_info().is_none(),
                "{group} {stream}: {:?}",
                put.rejected_log_events_info()
            );
        }
    }
    // One Invocations point a minute for the scenario's first function.
    let function = functions
        .iter()
        .next()
        .expect("the scenario has Lambda logs")
        .clone();
    let first = DateTime::from_timestamp_millis(*times.iter().min().unwrap()).unwrap();
    let last = DateTime::from_timestamp_millis(*times.iter().max().unwrap()).unwrap();
    let minute = |t: DateTime<Utc>| DateTime::from_timestamp(t.timestamp() / 60 * 60, 0).unwrap();
    let mut at = minute(first);
    while at <= last {
        c.cloudwatch
            .put_metric_data()
            .namespace("AWS/Lambda")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("Invocations")
                    .dimensions(
                        Dimension::builder()
                            .name("FunctionName")
                            .value(&function)
                            .build(),
                    )
                    .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                        at.timestamp(),
                    ))
                    .values(3.0)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        at += TimeDelta::minutes(10);
    }
    Seeded {
        start: minute(first) - TimeDelta::minutes(1),
        end: last + TimeDelta::minutes(10),
    }
}

/// Every row of `table` as text, sorted, without the `skip` columns nor the account and Region a
/// collection sets (imports leave them null): [`origins`] checks those.
pub(crate) fn store_rows(store: &Path, table: &str, skip: &[&str]) -> Vec<String> {
    let skip: Vec<&str> = skip.iter().copied().chain(ORIGIN).collect();
    table_rows(store, table, &skip)
}

const ORIGIN: [&str; 2] = ["account_id", "region"];

/// The distinct (account, Region) of `table`'s rows.
pub(crate) fn origins(store: &Path, table: &str) -> std::collections::BTreeSet<String> {
    let schema = hopscope_schema::stored_table(table).unwrap().schema;
    let others: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|n| !ORIGIN.contains(n))
        .collect();
    table_rows(store, table, &others).into_iter().collect()
}

pub(crate) fn table_rows(store: &Path, table: &str, skip: &[&str]) -> Vec<String> {
    let mut rows = Vec::new();
    let mut dirs = vec![store.join(table)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                dirs.push(entry.path());
            }
        }
        for file in data_files(&dir).unwrap() {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            for batch in reader {
                rows.extend(render(&batch.unwrap(), skip));
            }
        }
    }
    rows.sort();
    rows
}

fn render(batch: &RecordBatch, skip: &[&str]) -> Vec<String> {
    let options = FormatOptions::default();
    // Zoned times print as epoch numbers: this crate's arrow has no chrono-tz.
    let arrays: Vec<(String, arrow::array::ArrayRef)> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(f, _)| !skip.contains(&f.name().as_str()))
        .map(|(f, c)| {
            let c = match c.data_type() {
                arrow::datatypes::DataType::Timestamp(_, Some(_)) => {
                    arrow::compute::cast(c, &arrow::datatypes::DataType::Int64).unwrap()
                }
                _ => c.clone(),
            };
            (f.name().clone(), c)
        })
        .collect();
    let columns: Vec<(&String, ArrayFormatter<'_>)> = arrays
        .iter()
        .map(|(name, c)| (name, ArrayFormatter::try_new(c.as_ref(), &options).unwrap()))
        .collect();
    (0..batch.num_rows())
        .map(|r| {
            columns
                .iter()
                .map(|(name, f)| format!("{name}={}", f.value(r)))
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

/// The store that importing the scenario's trace and log files gives.
pub(crate) fn imported(dir: &Path) -> std::path::PathBuf {
    imported_scenario(dir, "users")
}

/// A store of `scenario`'s trace and log files, imported.
pub(crate) fn imported_scenario(dir: &Path, scenario: &str) -> std::path::PathBuf {
    let root = dir.join(format!("imported-{scenario}"));
    let store = Store::open_or_create(&root).unwrap();
    let scenario = samples_dir().join(scenario);
    let files = list_files(&[scenario.join("traces"), scenario.join("logs")]).unwrap();
    import_files(
        &files,
        &ImportOptions::default(),
        &mut store.writer(),
        |_| {},
    )
    .unwrap();
    root
}

pub(crate) fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        initial_backoff: std::time::Duration::from_millis(5),
        max_backoff: std::time::Duration::from_millis(50),
        jitter: true,
    }
}

/// Event ids and ingestion times are the emulator's own; the rest must match the import.
pub(crate) const LOG_SKIP: &[&str] = &["event_id", "ingestion_time"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_matches_the_seeded_scenario_row_for_row() {
    let region = "us-west-2";
    let c = clients(region).await;
    let seeded = seed(&c).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("collected");
    let store = Store::open_or_create(&root).unwrap();
    let caller = Arc::new(Caller::new(fast_retries(), &[]));
    let mut opts = CollectOptions::new(seeded.start, seeded.end);
    opts.xray_filter = Some("service(\"users-api/prod\")".into());
    let mut writer = store.writer();
    let summary = collect::collect(&c, &caller, &store, &mut writer, &opts, &NoProgress)
        .await
        .unwrap();
    assert_eq!(summary.rejected, 0, "{:?}", summary.rejections);
    assert_eq!(summary.notes, Vec::<String>::new());

    let expected = imported(dir.path());
    assert_eq!(
        store_rows(&root, "spans", &[]),
        store_rows(&expected, "spans", &[])
    );
    assert_eq!(
        store_rows(&root, "log_events", LOG_SKIP),
        store_rows(&expected, "log_events", LOG_SKIP)
    );
    assert_eq!(
        store_rows(&root, "lambda_invocations", &[]),
        store_rows(&expected, "lambda_invocations", &[])
    );
    for table in ["spans", "log_events", "lambda_invocations", "metric_points"] {
        assert_eq!(
            origins(&root, table),
            ["account_id=123456789012 | region=us-west-2".to_string()].into(),
            "{table}"
        );
    }
    let points = store_rows(&root, "metric_points", &[]);
    let invocations: Vec<&String> = points
        .iter()
        .filter(|p| p.contains("metric=Invocations"))
        .collect();
    assert!(!invocations.is_empty(), "{points:?}");
    assert!(
        invocations.iter().all(|p| p.contains("value=3.0")),
        "{invocations:?}"
    );
    assert_eq!(
        aws_peer::control("GET", &format!("/_peer/filters?region={region}"), ""),
        serde_json::json!(["service(\"users-api/prod\")"])
    );
    assert!(
        summary.functions.contains(&FUNCTION.to_string()),
        "{:?}",
        summary.functions
    );

    // A rerun finds every source checkpointed; with checkpoints removed, it adds no row twice.
    let rerun = collect::collect(&c, &caller, &store, &mut store.writer(), &opts, &NoProgress)
        .await
        .unwrap();
    assert_eq!(rerun.up_to_date.len(), 3, "{:?}", rerun.up_to_date);
    std::fs::remove_dir_all(root.join(collect::checkpoint::DIR)).unwrap();
    let mut again = store.writer();
    collect::collect(&c, &caller, &store, &mut again, &opts, &NoProgress)
        .await
        .unwrap();
    assert!(
        again.stats().values().all(|s| s.rows == 0),
        "{:?}",
        again.stats()
    );
    assert!(again.stats().values().any(|s| s.duplicates > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttles_server_errors_pages_and_partial_answers_lose_nothing() {
    let region = "eu-west-1";
    let c = clients(region).await;
    let seeded = seed(&c).await;
    for fault in [
        serde_json::json!({"operation": "GetTraceSummaries", "page_size": 7, "throttle": 2}),
        serde_json::json!({"operation": "BatchGetTraces", "partial": 4, "server_error": 3, "page_size": 2}),
        serde_json::json!({"operation": "FilterLogEvents", "throttle": 3}),
        serde_json::json!({"operation": "GetMetricData", "server_error": 2}),
    ] {
        let mut fault = fault;
        fault["region"] = region.into();
        aws_peer::control("POST", "/_peer/faults", &fault.to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("collected");
    let store = Store::open_or_create(&root).unwrap();
    let caller = Arc::new(Caller::new(fast_retries(), &[]));
    let opts = CollectOptions::new(seeded.start, seeded.end);
    let summary = collect::collect(&c, &caller, &store, &mut store.writer(), &opts, &NoProgress)
        .await
        .unwrap();
    assert_eq!(summary.notes, Vec::<String>::new());
    let expected = imported(dir.path());
    assert_eq!(
        store_rows(&root, "spans", &[]),
        store_rows(&expected, "spans", &[])
    );
    assert_eq!(
        store_rows(&root, "log_events", LOG_SKIP),
        store_rows(&expected, "log_events", LOG_SKIP)
    );
    let stats: BTreeMap<Api, _> = summary.apis;
    assert_eq!(stats[&Api::GetTraceSummaries].throttles, 2);
    assert_eq!(stats[&Api::FilterLogEvents].throttles, 3);
    assert_eq!(stats[&Api::BatchGetTraces].retries, 3);
    assert_eq!(stats[&Api::GetMetricData].retries, 2);
    // The peer saw exactly the calls the summary counts.
    let calls = aws_peer::control("GET", &format!("/_peer/calls?region={region}"), "");
    for api in [
        Api::GetTraceSummaries,
        Api::BatchGetTraces,
        Api::FilterLogEvents,
        Api::GetMetricData,
    ] {
        assert_eq!(
            calls[api.name()].as_u64(),
            Some(stats[&api].calls),
            "{}",
            api.name()
        );
    }
}

/// Set in the environment of a child test process that collects until it is killed.
const CHILD_ENV: &str = "HOPSCOPE_TEST_COLLECT_CHILD";

/// The child half of the kill test: collects `region`'s seeded window into the store named by
/// [`CHILD_ENV`] with tiny batches, so that files and checkpoints land all along the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child of a_killed_collection_loses_nothing_and_a_rerun_completes_it"]
async fn collect_until_killed() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let c = clients(spec["region"].as_str().unwrap()).await;
    let time = |k: &str| {
        DateTime::parse_from_rfc3339(spec[k].as_str().unwrap())
            .unwrap()
            .to_utc()
    };
    let store = Store::open_or_create(Path::new(spec["store"].as_str().unwrap())).unwrap();
    let caller = Arc::new(Caller::new(fast_retries(), &[]));
    let mut opts = CollectOptions::new(time("start"), time("end"));
    opts.batch_rows = 40;
    opts.concurrency = 1;
    collect::collect(&c, &caller, &store, &mut store.writer(), &opts, &NoProgress)
        .await
        .unwrap();
}

/// Starts the child collection and SIGKILLs it once `ready` holds for the store; returns
/// whether it was still running when killed.
fn kill_child_when(spec: &Value, store: &Path, ready: impl Fn(&Path) -> bool) -> bool {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "collect::collect_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, spec.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !ready(store) && std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, no cleanup runs.
    child.wait().unwrap();
    running
}

/// Data files written so far (temp files excluded, as every reader excludes them).
fn files_of(store: &Path, table: &str) -> usize {
    let mut n = 0;
    let mut dirs = vec![store.join(table)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                dirs.push(entry.path());
            }
        }
        n += data_files(&dir).map_or(0, |f| f.len());
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_collection_loses_nothing_and_a_rerun_completes_it() {
    let region = "ap-southeast-2";
    let c = clients(region).await;
    let seeded = seed(&c).await;
    // Small pages: many calls, so the run is long enough to be killed in the middle of it.
    for op in ["GetTraceSummaries", "BatchGetTraces"] {
        let fault = serde_json::json!({"region": region, "operation": op, "page_size": 5});
        aws_peer::control("POST", "/_peer/faults", &fault.to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("collected");
    let spec = serde_json::json!({
        "region": region,
        "store": root,
        "start": seeded.start.to_rfc3339(),
        "end": seeded.end.to_rfc3339(),
    });
    let expected = imported(dir.path());
    let all_spans = store_rows(&expected, "spans", &[]);

    // Killed while writing span files, after the logs (which go first: their REPORT lines name
    // traces) were collected and checkpointed ...
    let running = kill_child_when(&spec, &root, |s| files_of(s, "spans") >= 2);
    assert!(
        running,
        "the first child finished before it could be killed"
    );
    let partial = store_rows(&root, "spans", &[]);
    assert!(!partial.is_empty() && partial.len() < all_spans.len());
    assert!(partial.iter().all(|r| all_spans.binary_search(r).is_ok()));
    assert!(std::fs::read_dir(root.join(collect::checkpoint::DIR)).is_ok_and(|d| d.count() > 0));

    // ... then again further on: the rerun reads X-Ray's window again, and the store keeps only
    // the spans it did not hold.
    let files = files_of(&root, "spans");
    let running = kill_child_when(&spec, &root, |s| files_of(s, "spans") >= files + 2);
    assert!(
        running,
        "the second child finished before it could be killed"
    );
    let partial = store_rows(&root, "spans", &[]);
    assert!(partial.len() < all_spans.len());
    assert!(partial.iter().all(|r| all_spans.binary_search(r).is_ok()));

    // The store is readable as it is, and a rerun completes it: nothing lost, nothing twice.
    let store = Store::open_or_create(&root).unwrap();
    let caller = Arc::new(Caller::new(fast_retries(), &[]));
    let opts = CollectOptions::new(seeded.start, seeded.end);
    collect::collect(&c, &caller, &store, &mut store.writer(), &opts, &NoProgress)
        .await
        .unwrap();
    assert_eq!(store_rows(&root, "spans", &[]), all_spans);
    assert_eq!(
        store_rows(&root, "log_events", LOG_SKIP),
        store_rows(&expected, "log_events", LOG_SKIP)
    );
    assert_eq!(
        store_rows(&root, "lambda_invocations", &[]),
        store_rows(&expected, "lambda_invocations", &[])
    );
}

//! `collect` in what a 2026 account holds: the Transaction Search world (spans in aws/spans, an
//! indexed share of summaries, whole traces by retrieval), functions logging to a custom group,
//! actions the identity may not call, and two Regions in one store. Against the AWS test peer,
//! each test in its own Region.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use hopscope_collector::collect::{
    self, Api, Caller, CollectOptions, NoProgress, Summary, TraceSource, World,
};
use hopscope_collector::output::{FileCtx, Output};
use hopscope_store::Store;
use hopscope_test_support::aws_peer;
use serde_json::json;

use crate::collect::{
    LOG_SKIP, clients, fast_retries, imported, imported_scenario, origins, seed, seed_logging_to,
    seed_scenario, store_rows, table_rows,
};

fn fault(region: &str, operation: &str, settings: serde_json::Value) {
    let mut spec = json!({"region": region, "operation": operation});
    spec.as_object_mut()
        .unwrap()
        .extend(settings.as_object().unwrap().clone());
    aws_peer::control("POST", "/_peer/faults", &spec.to_string());
}

fn transaction_search_world(region: &str) {
    aws_peer::control(
        "POST",
        "/_peer/world",
        &json!({"region": region, "destination": "CloudWatchLogs"}).to_string(),
    );
}

/// A caller without AWS's rate limits: the small pages these tests ask for mean many calls.
fn unlimited() -> Arc<Caller> {
    let rates: Vec<(Api, f64)> = Api::ALL.iter().map(|&api| (api, 10_000.0)).collect();
    Arc::new(Caller::new(fast_retries(), &rates))
}

async fn run(c: &hopscope_collector::aws::Clients, root: &Path, opts: &CollectOptions) -> Summary {
    let store = Store::open_or_create(root).unwrap();
    let caller = unlimited();
    collect::collect(c, &caller, &store, &mut store.writer(), opts, &NoProgress)
        .await
        .unwrap()
}

/// The acceptance of the Transaction Search world: with no source flag, every trace is stored
/// whole (the same rows as importing the BatchGetTraces files of the same traces), though only
/// 1% is indexed, aws/spans comes in small pages and retrievals run a while; a rerun adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_search_stores_every_trace_whole_from_a_one_percent_index() {
    let region = "eu-north-1";
    transaction_search_world(region);
    let c = clients(region).await;
    let seeded = seed(&c).await;
    fault(region, "FilterLogEvents", json!({"page_size": 25}));
    fault(
        region,
        "ListRetrievedTraces",
        json!({"running": 2, "page_size": 2}),
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("collected");
    let opts = CollectOptions::new(seeded.start, seeded.end);
    let summary = run(&c, &root, &opts).await;

    assert_eq!(summary.world, Some(World::TransactionSearch));
    assert_eq!(summary.rejected, 0, "{:?}", summary.rejections);
    assert_eq!(summary.notes, Vec::<String>::new());
    let world = aws_peer::control("GET", &format!("/_peer/world?region={region}"), "");
    let indexed = world["indexed_trace_ids"].as_array().unwrap().len();
    let expected = imported(dir.path());
    let traces: BTreeSet<String> = store_rows(&expected, "spans", &[])
        .iter()
        .map(|r| r.split(" | ").next().unwrap().to_string())
        .collect();
    assert!(
        indexed < traces.len() / 10,
        "{indexed} of {} indexed",
        traces.len()
    );
    assert_eq!(summary.traces, traces.len());
    assert_eq!(summary.traces_seen, traces.len());
    assert_eq!(
        summary
            .apis
            .get(&Api::BatchGetTraces)
            .map_or(0, |s| s.calls),
        0
    );
    assert!(
        summary.apis[&Api::ListRetrievedTraces].calls
            > summary.apis[&Api::StartTraceRetrieval].calls
    );
    // Span for span, critical paths included, as the classic world's BatchGetTraces files.
    assert_eq!(
        store_rows(&root, "spans", &[]),
        store_rows(&expected, "spans", &[])
    );
    assert_eq!(
        store_rows(&root, "lambda_invocations", &[]),
        store_rows(&expected, "lambda_invocations", &[])
    );
    assert_eq!(
        store_rows(&root, "log_events", LOG_SKIP),
        store_rows(&expected, "log_events", LOG_SKIP)
    );

    let store = Store::open_or_create(&root).unwrap();
    std::fs::remove_dir_all(root.join(collect::checkpoint::DIR)).unwrap();
    let mut again = store.writer();
    collect::collect(&c, &unlimited(), &store, &mut again, &opts, &NoProgress)
        .await
        .unwrap();
    assert!(
        again.stats().values().all(|s| s.rows == 0),
        "{:?}",
        again.stats()
    );
}

/// `--traces spans`: aws/spans read as OpenTelemetry spans, grouped by trace across pages before
/// the critical path is computed: the rows equal one import of every span at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_read_from_aws_spans_are_grouped_by_trace_across_pages() {
    let region = "eu-west-3";
    transaction_search_world(region);
    let c = clients(region).await;
    let seeded = seed(&c).await;
    fault(region, "FilterLogEvents", json!({"page_size": 7}));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("collected");
    let mut opts = CollectOptions::new(seeded.start, seeded.end);
    opts.traces = TraceSource::Spans;
    let summary = run(&c, &root, &opts).await;
    assert_eq!(summary.world, Some(World::Spans));
    assert_eq!(summary.rejected, 0, "{:?}", summary.rejections);

    // Every span of aws/spans, every page, imported in one piece.
    let mut lines = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .logs
            .filter_log_events()
            .log_group_name("aws/spans")
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        lines.extend(
            page.events()
                .iter()
                .map(|e| e.message().unwrap().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert!(
        lines.len() > 7 * 3,
        "{} spans: too few pages to split a trace",
        lines.len()
    );
    let whole = dir.path().join("whole");
    let store = Store::open_or_create(&whole).unwrap();
    let mut writer = store.writer();
    let mut out = Output::new(&mut writer, 1 << 16);
    let ctx = FileCtx {
        path: "aws/spans",
        log_group: Some("aws/spans"),
        now: hopscope_collector::output::clock_micros(),
    };
    hopscope_collector::otel::import(&lines.join("\n"), &ctx, &mut out).unwrap();
    out.flush_all().unwrap();
    drop(out);
    let traces = store_rows(&whole, "spans", &[])
        .iter()
        .map(|r| r.split(" | ").next().unwrap().to_string())
        .collect::<BTreeSet<_>>()
        .len();
    assert_eq!(summary.traces, traces);
    assert_eq!(
        store_rows(&root, "spans", &[]),
        store_rows(&whole, "spans", &[])
    );
}

/// A function logging to a shared custom group (LoggingConfig.LogGroup) has its invocations and
/// cold starts; `lambda_functions` keeps each configuration, and a change between two
/// collections adds a row, never the same one twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_logging_to_a_custom_group_has_its_invocations_and_configurations() {
    let region = "ca-central-1";
    let group = "/shop/application-logs";
    let function = json!({"FunctionName": "users-api-create-user", "Runtime": "nodejs20.x",
        "MemorySize": 512, "Timeout": 10, "Architectures": ["arm64"], "Publish": true,
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": group},
        "Aliases": [{"Name": "live", "FunctionVersion": "1"}]});
    aws_peer::control(
        "POST",
        "/_peer/lambda",
        &json!({"region": region, "functions": [function]}).to_string(),
    );
    let c = clients(region).await;
    let seeded = seed_logging_to(&c, Some(group)).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("collected");
    let opts = CollectOptions::new(seeded.start, seeded.end);
    let summary = run(&c, &root, &opts).await;
    assert_eq!(summary.rejected, 0, "{:?}", summary.rejections);
    // $LATEST and version 1.
    assert_eq!(summary.function_configurations, 2);

    // The invocations and cold starts of the default group's import, read from the custom one.
    let expected = imported(dir.path());
    let without_group = |rows: Vec<String>| -> Vec<String> {
        rows.into_iter()
            .map(|r| {
                r.split(" | ")
                    .filter(|f| !f.starts_with("log_group=") && !f.starts_with("log_stream="))
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect()
    };
    let invocations = store_rows(&root, "lambda_invocations", &[]);
    assert!(
        invocations
            .iter()
            .any(|r| r.contains("init_ms=") && !r.contains("init_ms= "))
    );
    assert_eq!(
        without_group(invocations),
        without_group(store_rows(&expected, "lambda_invocations", &[]))
    );
    assert!(
        store_rows(&root, "log_events", LOG_SKIP)
            .iter()
            .all(|r| r.contains("function=users-api-create-user"))
    );

    let configurations = table_rows(
        &root,
        "lambda_functions",
        &["observed_at", "last_modified", "revision_id"],
    );
    assert_eq!(configurations.len(), 2, "{configurations:#?}");
    for row in &configurations {
        for field in [
            "account_id=123456789012",
            &format!("region={region}"),
            "memory_mb=512",
            "timeout_s=10",
            "architecture=arm64",
            &format!("log_group={group}"),
        ] {
            assert!(row.contains(field), "{field} in {row}");
        }
    }
    assert!(
        configurations
            .iter()
            .any(|r| r.contains("version=1 ") && r.contains("aliases=live"))
    );

    // A new memory size (and a new version 2): new rows; the old ones stay, none twice.
    let changed =
        json!({"FunctionName": "users-api-create-user", "MemorySize": 1024, "Publish": true});
    aws_peer::control(
        "POST",
        "/_peer/lambda",
        &json!({"region": region, "functions": [changed]}).to_string(),
    );
    run(&c, &root, &opts).await;
    let configurations = table_rows(
        &root,
        "lambda_functions",
        &["observed_at", "last_modified", "revision_id"],
    );
    let memory = |mb: &str| configurations.iter().filter(|r| r.contains(mb)).count();
    assert_eq!(
        (memory("memory_mb=512"), memory("memory_mb=1024")),
        (2, 2),
        "{configurations:#?}"
    );
    run(&c, &root, &opts).await;
    assert_eq!(
        table_rows(
            &root,
            "lambda_functions",
            &["observed_at", "last_modified", "revision_id"]
        )
        .len(),
        4
    );
}

/// A denied action skips what needs it, names the IAM action to add, and the rest is collected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_action_is_skipped_with_the_permission_to_add() {
    let region = "eu-central-2";
    let c = clients(region).await;
    let seeded = seed(&c).await;
    fault(region, "ListFunctions", json!({"denied": -1}));
    fault(region, "ListMetrics", json!({"denied": -1}));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("collected");
    let summary = run(&c, &root, &CollectOptions::new(seeded.start, seeded.end)).await;
    let skipped: Vec<(&str, Option<&str>)> = summary
        .skipped
        .iter()
        .map(|s| (s.source.as_str(), s.action.as_deref()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "Lambda functions and their custom log groups",
                Some("lambda:ListFunctions")
            ),
            (
                "metrics of API Gateway, SQS, DynamoDB, Step Functions and RDS",
                Some("cloudwatch:ListMetrics")
            ),
        ]
    );
    assert!(
        summary.skipped[0].reason.contains("not authorized"),
        "{:?}",
        summary.skipped
    );
    // Traces, the /aws/lambda/* groups and the Lambda metrics still came.
    let expected = imported(dir.path());
    assert_eq!(
        store_rows(&root, "spans", &[]),
        store_rows(&expected, "spans", &[])
    );
    assert_eq!(
        store_rows(&root, "lambda_invocations", &[]),
        store_rows(&expected, "lambda_invocations", &[])
    );
    assert!(!store_rows(&root, "metric_points", &[]).is_empty());
}

/// Two Regions into one store, each seeded with its own scenario: every row says where it came
/// from, each Region's rows are its scenario's, and neither Region's checkpoint hides the other's
/// window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_regions_share_one_store_and_keep_their_rows_apart() {
    let regions = [("af-south-1", "users"), ("me-south-1", "dragons")];
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("collected");
    for (region, scenario) in regions {
        let c = clients(region).await;
        let seeded = seed_scenario(&c, scenario, None).await;
        let summary = run(&c, &root, &CollectOptions::new(seeded.start, seeded.end)).await;
        assert!(
            summary.up_to_date.is_empty(),
            "{region}: {:?}",
            summary.up_to_date
        );
        assert_eq!(summary.origin.region.as_deref(), Some(region));
        assert_eq!(summary.rejected, 0, "{:?}", summary.rejections);
    }
    for table in ["spans", "log_events", "lambda_invocations", "metric_points"] {
        let expected: BTreeSet<String> = regions
            .iter()
            .map(|(r, _)| format!("account_id=123456789012 | region={r}"))
            .collect();
        assert_eq!(origins(&root, table), expected, "{table}");
    }
    // Each Region's spans are its scenario's, all of them.
    let collected = table_rows(&root, "spans", &[]);
    for (region, scenario) in regions {
        let mine: Vec<String> = collected
            .iter()
            .filter(|r| r.ends_with(&format!("region={region}")))
            .map(|r| {
                r.trim_end_matches(&format!(" | account_id=123456789012 | region={region}"))
                    .to_string()
            })
            .collect();
        assert_eq!(
            mine,
            store_rows(&imported_scenario(dir.path(), scenario), "spans", &[])
        );
    }
}

/// Under a trace budget, the failed traces are retrieved first; the summary and the
/// `trace_coverage` table say what share of the window's traces the store holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_budget_takes_the_failed_traces_first_and_says_what_it_left_out() {
    let region = "ap-east-1";
    transaction_search_world(region);
    let c = clients(region).await;
    let seeded = seed(&c).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("collected");
    let mut opts = CollectOptions::new(seeded.start, seeded.end);
    opts.trace_budget = 5;
    let summary = run(&c, &root, &opts).await;

    let expected = imported(dir.path());
    let spans = store_rows(&expected, "spans", &[]);
    let trace_of = |row: &String| row.split(" | ").next().unwrap().to_string();
    let all: BTreeSet<String> = spans.iter().map(trace_of).collect();
    let failed: BTreeSet<String> = spans
        .iter()
        .filter(|r| r.contains("| fault=true") || r.contains("| error=true"))
        .map(trace_of)
        .collect();
    assert!(
        failed.len() >= 5,
        "the users incident fails more than 5 traces"
    );
    let held: BTreeSet<String> = store_rows(&root, "spans", &[])
        .iter()
        .map(trace_of)
        .collect();
    assert_eq!((summary.traces, held.len()), (5, 5));
    assert!(held.is_subset(&failed), "{held:?}");
    assert_eq!(summary.traces_seen, all.len());
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains(&format!("holds {} traces; 5 were retrieved", all.len()))),
        "{:?}",
        summary.notes
    );
    assert_eq!(
        table_rows(&root, "trace_coverage", &["window_start", "window_end"]),
        [format!(
            "world=transaction_search | traces_seen={} | traces_held=5 | account_id=123456789012 | region={region}",
            all.len()
        )]
    );
}

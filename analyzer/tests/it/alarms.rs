//! Alarms over the sample scenarios: the starter pack in rules/ raises the alarms each
//! scenario.toml names and no other, never before the incident; state and history in the store;
//! the examples of rules/README.md all parse.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hopscope_analyzer::alarms::parse::{COMPOSITE_KEYS, METRIC_KEYS, check_references, parse_file};
use hopscope_analyzer::alarms::state::{
    AlarmLock, AlarmStore, HISTORY_DIR, LockError, LockHolder, StateFile,
};
use hopscope_analyzer::alarms::{self, State, Transition};
use hopscope_schema::store_layout::TEMP_PREFIX;

use hopscope_analyzer::Session;
use hopscope_scenarios::Scenario;

use crate::{scenario_stores, session};

fn rules_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../rules"))
}

/// 2026-11-20T11:00:00Z, the end of every scenario's window.
const END: i64 = 1_795_172_400_000_000;

/// (rule, key) of every alarm a scenario's `scenario.toml` says the starter pack raises.
fn expected(scenario: &Scenario) -> BTreeSet<(String, String)> {
    let set: BTreeSet<_> = scenario
        .alarms
        .iter()
        .map(|a| (a.rule.clone(), a.key.clone()))
        .collect();
    assert!(
        !set.is_empty(),
        "{}: scenario.toml names no alarm",
        scenario.name
    );
    set
}

#[tokio::test]
async fn the_starter_pack_raises_each_incidents_alarms_and_no_other() {
    let (rules, problems) = alarms::load(&rules_dir()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    for (scenario, store) in scenario_stores() {
        let s = Session::open(store.path()).await.unwrap();
        let at = scenario.window.end.timestamp_micros();
        let statuses = alarms::evaluate_rules(&s, &rules, at, &StateFile::default())
            .await
            .unwrap();
        let raised: BTreeSet<(String, String)> = statuses
            .iter()
            .filter(|a| a.actions_enabled && a.state == State::Alarm)
            .map(|a| (a.rule.clone(), a.key.clone()))
            .collect();
        assert_eq!(raised, expected(scenario), "{}", scenario.name);
        // Every other alarm has data and is OK: nothing is left undecided.
        let undecided: Vec<_> = statuses
            .iter()
            .filter(|a| a.state == State::InsufficientData)
            .collect();
        assert!(undecided.is_empty(), "{}: {undecided:?}", scenario.name);
    }
}

#[tokio::test]
async fn backtest_fires_only_inside_each_incident_and_never_clears() {
    let (rules, _) = alarms::load(&rules_dir()).unwrap();
    for (scenario, store) in scenario_stores() {
        let s = Session::open(store.path()).await.unwrap();
        let transitions = alarms::backtest(
            &s,
            &rules,
            scenario.window.start.timestamp_micros(),
            scenario.window.end.timestamp_micros(),
        )
        .await
        .unwrap();
        assert!(
            transitions.iter().all(|t| t.from != State::Alarm),
            "{}: {transitions:?}",
            scenario.name
        );
        let mut fired = BTreeSet::new();
        for t in transitions
            .iter()
            .filter(|t| t.actions_enabled && t.to == State::Alarm)
        {
            let at = chrono::DateTime::parse_from_rfc3339(&t.at).unwrap();
            assert!(
                at > scenario.incident.start,
                "{}: {} on {} fired at {}, before the incident ({})",
                scenario.name,
                t.rule,
                t.key,
                t.at,
                scenario.incident.start
            );
            // Once each: it never clears.
            assert!(fired.insert((t.rule.clone(), t.key.clone())), "{t:?}");
        }
        assert_eq!(fired, expected(scenario), "{}", scenario.name);
    }
}

#[tokio::test]
async fn state_is_kept_and_a_change_is_reported_once() {
    let (rules, _) = alarms::load(&rules_dir()).unwrap();
    let s = session().await;
    let first = alarms::evaluate_rules(&s, &rules, END, &StateFile::default())
        .await
        .unwrap();
    let changes = alarms::transitions(&rules, &first);
    assert!(changes.iter().any(|t| t.rule == "lambda-timeouts"
        && t.from == State::InsufficientData
        && t.to == State::Alarm));
    let mut states = StateFile::default();
    states.update(&first);
    let again = alarms::evaluate_rules(&s, &rules, END, &states)
        .await
        .unwrap();
    assert!(alarms::transitions(&rules, &again).is_empty());

    // Round trip through the store directory.
    let dir = tempfile::tempdir().unwrap();
    let store = AlarmStore::new(dir.path());
    let lock = store.try_lock("test").unwrap();
    store.save(&lock, &mut states, &changes).unwrap();
    assert_eq!(store.load().unwrap(), states);
    assert_eq!(store.history().unwrap(), changes);
    assert!(temp_files(store.dir()).is_empty());
}

/// Every file under `dir` whose name marks it temporary.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(TEMP_PREFIX)
            {
                out.push(p);
            }
        }
    }
    out
}

/// Evaluates the starter pack every 5 minutes over [from, to), saving each outcome as `watch`
/// does; returns every change of state, in order.
async fn evaluate_and_save(
    store: &AlarmStore,
    lock: &AlarmLock,
    from: i64,
    to: i64,
) -> Vec<Transition> {
    let (rules, _) = alarms::load(&rules_dir()).unwrap();
    let s = session().await;
    let mut all = Vec::new();
    let mut at = from;
    while at < to {
        let mut states = store.load().unwrap();
        let statuses = alarms::evaluate_rules(&s, &rules, at, &states)
            .await
            .unwrap();
        let changes = alarms::transitions(&rules, &statuses);
        states.update(&statuses);
        store.save(lock, &mut states, &changes).unwrap();
        all.extend(changes);
        at += 300 * 1_000_000;
    }
    all
}

#[tokio::test]
async fn history_is_appended_one_file_per_evaluation_with_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = AlarmStore::new(dir.path());
    let lock = store.try_lock("test").unwrap();
    let changes = evaluate_and_save(&store, &lock, END - 3600 * 1_000_000, END + 1).await;
    // The first evaluation (INSUFFICIENT_DATA -> OK everywhere), then each incident's alarms.
    let evaluations_with_changes: BTreeSet<&str> = changes.iter().map(|t| t.at.as_str()).collect();
    assert!(evaluations_with_changes.len() >= 3, "{changes:?}");
    let history = store.history().unwrap();
    assert_eq!(history, changes, "each change once, in order, none lost");
    let files = std::fs::read_dir(store.dir().join(HISTORY_DIR))
        .unwrap()
        .count();
    assert_eq!(files, evaluations_with_changes.len());
    assert_eq!(
        store.load().unwrap().history_files,
        evaluations_with_changes.len() as u64
    );
    assert!(temp_files(store.dir()).is_empty());
    // Evaluating again at the same time changes nothing and writes nothing.
    let again = evaluate_and_save(&store, &lock, END, END + 1).await;
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(store.history().unwrap(), changes);
}

#[tokio::test]
async fn a_run_killed_between_writes_leaves_the_store_readable_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = AlarmStore::new(dir.path());
    let lock = store.try_lock("test").unwrap();
    let mut changes = evaluate_and_save(
        &store,
        &lock,
        END - 3600 * 1_000_000,
        END - 1200 * 1_000_000,
    )
    .await;
    assert!(!changes.is_empty());
    let before = (store.load().unwrap(), store.history().unwrap());

    // A run killed while writing a history file and the state (temporary files), and one
    // killed after its history file was complete but before the state counted it.
    let history_dir = store.dir().join(HISTORY_DIR);
    let counted = before.0.history_files;
    std::fs::write(
        history_dir.join(format!(
            "{TEMP_PREFIX}{:020}-1.parquet.partial",
            counted + 1
        )),
        b"PAR1 half",
    )
    .unwrap();
    std::fs::write(
        store.dir().join(format!("{TEMP_PREFIX}state.json-1")),
        b"{\"alarms\":",
    )
    .unwrap();
    std::fs::copy(
        history_dir.join(format!("part-{counted:020}.parquet")),
        history_dir.join(format!("part-{:020}.parquet", counted + 1)),
    )
    .unwrap();
    assert_eq!((store.load().unwrap(), store.history().unwrap()), before);

    // The next evaluations record their changes once, over the leftover.
    changes.extend(evaluate_and_save(&store, &lock, END - 1200 * 1_000_000, END + 1).await);
    assert!(changes.len() > before.1.len());
    assert_eq!(store.history().unwrap(), changes);
}

#[test]
fn a_second_evaluator_is_refused_the_lock_with_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let store = AlarmStore::new(dir.path());
    let watch = store.try_lock("watch").unwrap();
    let err = store.try_lock("check").unwrap_err();
    match &err {
        LockError::Held { path, holder } => {
            assert_eq!(path, &store.lock_path());
            assert_eq!(
                holder,
                &Some(LockHolder {
                    pid: std::process::id(),
                    command: "watch".into()
                })
            );
        }
        e @ LockError::Io { .. } => panic!("{e}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "{} is locked by `hopscope alarms watch` (pid {})",
            store.lock_path().display(),
            std::process::id()
        )
    );
    drop(watch);
    store.try_lock("check").unwrap();
}

#[tokio::test]
async fn every_statistic_and_target_queries_the_store() {
    let text = r#"
[[rule]]
name = "fn-stats"
function = "worldbank-etl"
statistic = "STAT"
comparison = ">"
threshold = 0
period = "5m"

[[rule]]
name = "service-stats"
service = "users-api/prod"
statistic = "SSTAT"
comparison = ">"
threshold = 0
period = "5m"

[[rule]]
name = "edge-stats"
edge = "users-api-create-user -> DynamoDB:*"
statistic = "SSTAT"
comparison = ">"
threshold = 0
period = "5m"
"#;
    let s = session().await;
    let function_stats = [
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "p50",
        "tm90",
        "error_rate",
        "timeout_count",
        "cold_start_ratio",
        "memory_used_ratio",
    ];
    let span_stats = [
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "p99",
        "tm90",
        "error_rate",
        "fault_rate",
        "throttle_count",
    ];
    for (fs, ss) in function_stats.iter().zip(span_stats.iter().cycle()) {
        let text = text.replace("SSTAT", ss).replace("STAT", fs);
        let (rules, problems) = parse_file(Path::new("t.toml"), &text);
        assert!(problems.is_empty(), "{problems:?}");
        let statuses = alarms::evaluate_rules(&s, &rules, END, &StateFile::default())
            .await
            .unwrap();
        let keys: Vec<&str> = statuses.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "worldbank-etl",
                "users-api/prod",
                "users-api-create-user -> DynamoDB:users"
            ],
            "{fs}/{ss}"
        );
        for a in &statuses {
            assert!(
                a.reason.starts_with("Threshold Crossed: 1 datapoint ["),
                "{fs}/{ss}: {}",
                a.reason
            );
        }
    }
}

/// A percentile alarm says over how many samples its latest value was taken, and whether that
/// is below CloudWatch's significance bound; calls that never answered count at the time their
/// caller waited (the ETL's hung HTTP calls reach the 30 s timeout).
#[tokio::test]
async fn percentile_alarms_carry_their_samples_and_count_calls_that_never_answered() {
    let text = r#"
[[rule]]
name = "etl-http"
edge = "worldbank-etl -> api.worldbank.org"
statistic = "STAT"
comparison = ">"
threshold = 0
period = "1h"
"#;
    let s = session().await;
    let latest = |stat: &str| {
        let (rules, problems) = parse_file(Path::new("t.toml"), &text.replace("STAT", stat));
        assert!(problems.is_empty(), "{problems:?}");
        let s = &s;
        async move {
            let statuses = alarms::evaluate_rules(s, &rules, END, &StateFile::default())
                .await
                .unwrap();
            assert_eq!(statuses.len(), 1, "{statuses:?}");
            statuses[0].latest.expect("the edge sent data")
        }
    };
    let p99 = latest("p99").await;
    let calls = latest("count").await;
    assert_eq!(p99.samples, calls.value as u64);
    assert!(p99.samples > 100 && p99.samples < 1000, "{p99:?}");
    assert!(p99.low_sample, "{p99:?}");
    assert!(!calls.low_sample);
    let max = latest("max").await;
    assert!(max.value >= 29_000.0, "the hung calls count: {max:?}");
    assert!(
        p99.value >= 29_000.0,
        "66 of the hour's calls hung: {p99:?}"
    );
}

/// A target that sent no data still has its alarm, decided as missing data: a heartbeat query
/// with no `key` column and a function and a service named outright (a dead-man's switch must
/// not be silent); the composites `TRUE` and `FALSE` are one alarm each.
#[tokio::test]
async fn rules_whose_data_never_arrived_still_have_their_alarm() {
    let text = r#"
[[rule]]
name = "heartbeat"
query = "SELECT start_time AS time, 1.0 AS value FROM spans WHERE service = 'no-such-service'"
statistic = "count"
comparison = "<"
threshold = 1
period = "5m"
treat_missing_data = "MODE"

[[rule]]
name = "silent-function"
function = "no-such-function"
statistic = "count"
comparison = "<"
threshold = 1
period = "5m"
treat_missing_data = "MODE"

[[rule]]
name = "silent-service"
service = "no-such-api/prod"
statistic = "count"
comparison = "<"
threshold = 1
period = "5m"
treat_missing_data = "MODE"

[[rule]]
name = "always"
alarm_rule = "TRUE"

[[rule]]
name = "never"
alarm_rule = "FALSE"
"#;
    let s = session().await;
    for (mode, silent) in [
        ("breaching", State::Alarm),
        ("missing", State::InsufficientData),
    ] {
        let (rules, problems) = parse_file(Path::new("t.toml"), &text.replace("MODE", mode));
        assert!(problems.is_empty(), "{problems:?}");
        let statuses = alarms::evaluate_rules(&s, &rules, END, &StateFile::default())
            .await
            .unwrap();
        let got: Vec<(&str, &str, State)> = statuses
            .iter()
            .map(|a| (a.rule.as_str(), a.key.as_str(), a.state))
            .collect();
        assert_eq!(
            got,
            [
                ("heartbeat", "heartbeat", silent),
                ("silent-function", "no-such-function", silent),
                ("silent-service", "no-such-api/prod", silent),
                ("always", "always", State::Alarm),
                ("never", "never", State::Ok),
            ],
            "{mode}"
        );

        let transitions = alarms::backtest(&s, &rules, END - 3600 * 1_000_000, END)
            .await
            .unwrap();
        let fired: BTreeSet<(&str, &str)> = transitions
            .iter()
            .filter(|t| t.to == State::Alarm)
            .map(|t| (t.rule.as_str(), t.key.as_str()))
            .collect();
        let mut want = BTreeSet::from([("always", "always")]);
        if silent == State::Alarm {
            want.extend([
                ("heartbeat", "heartbeat"),
                ("silent-function", "no-such-function"),
                ("silent-service", "no-such-api/prod"),
            ]);
        }
        assert_eq!(fired, want, "{mode}");
    }
}

/// The fenced blocks of a Markdown text: (line of the opening fence, info string, body).
fn fenced_blocks(markdown: &str) -> Vec<(usize, String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) => open = Some((i + 1, info.trim().to_string(), String::new())),
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some((_, _, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fence is never closed");
    blocks
}

/// Parses every `toml` block of a rules README, one rule each; refuses blocks of unknown kind
/// (a block tagged `Toml` or left untagged would otherwise escape the check).
fn parse_readme_examples(markdown: &str) -> Result<(Vec<alarms::Rule>, String), String> {
    let mut all = Vec::new();
    let mut text = String::new();
    for (line, info, body) in fenced_blocks(markdown) {
        match info.as_str() {
            "toml" => {
                let (rules, problems) = parse_file(Path::new("rules/README.md"), &body);
                if !problems.is_empty() || rules.len() != 1 {
                    return Err(format!(
                        "README line {line}: {} rules, problems {problems:?}\n{body}",
                        rules.len()
                    ));
                }
                all.extend(rules);
                text.push_str(&body);
            }
            "sh" | "text" | "json" => {}
            other => return Err(format!("README line {line}: a ```{other} block")),
        }
    }
    let mut problems = Vec::new();
    check_references(&mut all, &mut problems);
    if !problems.is_empty() {
        return Err(format!("{problems:?}"));
    }
    Ok((all, text))
}

/// rules/README.md: every ```toml example parses, the composite's references resolve, and every
/// key the parser accepts appears in an example.
#[test]
fn every_example_of_the_rules_readme_parses() {
    let readme = std::fs::read_to_string(rules_dir().join("README.md")).unwrap();
    let (rules, text) = parse_readme_examples(&readme).unwrap();
    let toml_fences = readme.lines().filter(|l| l.trim() == "```toml").count();
    assert_eq!(rules.len(), toml_fences);
    assert!(rules.len() >= 5);
    for field in METRIC_KEYS.iter().chain(COMPOSITE_KEYS) {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{field} ="))),
            "no example of `{field}` in rules/README.md"
        );
    }
}

/// The check above fails on a README with a bad example, an untagged block or a dangling
/// composite reference.
#[test]
fn the_readme_check_rejects_bad_examples() {
    let good = "[[rule]]\nname = \"a\"\nfunction = \"f\"\nstatistic = \"p99\"\ncomparison = \">\"\nthreshold = 1\nperiod = \"5m\"\n";
    let md = |body: &str, tag: &str| {
        format!("# Rules\n\n```toml\n{good}```\n\ntext\n\n```{tag}\n{body}```\n")
    };
    // Each case differs from this one, which passes, by one fault.
    let second = good.replace("\"a\"", "\"b\"");
    assert!(parse_readme_examples(&md(&second, "toml")).is_ok());
    for (body, tag) in [
        (second.replace("period", "perod"), "toml"),
        (
            second.replace("threshold = 1", "threshold = \"high\""),
            "toml",
        ),
        (
            format!("{second}{}", good.replace("\"a\"", "\"c\"")),
            "toml",
        ),
        (second.clone(), ""),
        (second.clone(), "TOML"),
        (
            "[[rule]]\nname = \"b\"\nalarm_rule = \"ALARM(nope)\"\n".to_string(),
            "toml",
        ),
    ] {
        assert!(
            parse_readme_examples(&md(&body, tag)).is_err(),
            "```{tag}\n{body}"
        );
    }
}

/// (namespace, metric, dimensions, statistic, value) of one series.
type SeriesSpec<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str, f64);

/// One GetMetricData request + answer document (the format `hopscope import` reads) holding
/// `minutes` one-minute points of `value` before [`END`] for each series.
fn metric_document(series: &[SeriesSpec<'_>], minutes: i64) -> String {
    let end_secs = END / 1_000_000;
    let times: Vec<i64> = (1..=minutes).map(|m| end_secs - m * 60).collect();
    let mut queries = Vec::new();
    let mut results = Vec::new();
    for (i, (namespace, metric, dimensions, stat, value)) in series.iter().enumerate() {
        let dims: Vec<_> = dimensions
            .iter()
            .map(|(n, v)| serde_json::json!({"Name": n, "Value": v}))
            .collect();
        queries.push(serde_json::json!({"Id": format!("m{i}"), "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
            "Period": 60, "Stat": stat}}));
        results.push(serde_json::json!({"Id": format!("m{i}"), "Label": metric,
            "Timestamps": times, "Values": vec![value; times.len()], "StatusCode": "Complete"}));
    }
    serde_json::json!({"MetricDataQueries": queries, "MetricDataResults": results}).to_string()
}

/// rules/services.toml over CloudWatch metrics of the other services: one alarm per resource,
/// ALARM where the metric crosses and OK where it does not.
#[tokio::test]
async fn service_rules_keep_one_alarm_per_resource_from_metric_points() {
    let busy_api: &[(&str, &str)] = &[("ApiName", "orders-api")];
    let calm_api: &[(&str, &str)] = &[("ApiName", "users-api")];
    let document = metric_document(
        &[
            (
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                &[("QueueName", "orders")],
                "Maximum",
                900.0,
            ),
            (
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                &[("QueueName", "emails")],
                "Maximum",
                4.0,
            ),
            ("AWS/ApiGateway", "Count", busy_api, "Sum", 100.0),
            ("AWS/ApiGateway", "5XXError", busy_api, "Sum", 12.0),
            ("AWS/ApiGateway", "Count", calm_api, "Sum", 100.0),
            ("AWS/ApiGateway", "5XXError", calm_api, "Sum", 1.0),
            (
                "AWS/DynamoDB",
                "ThrottledRequests",
                &[("TableName", "users")],
                "Sum",
                3.0,
            ),
            (
                "AWS/States",
                "ExecutionsFailed",
                &[("StateMachineArn", "arn:sm:dragons")],
                "Sum",
                1.0,
            ),
            (
                "AWS/Lambda",
                "IteratorAge",
                &[("FunctionName", "stream-reader")],
                "Maximum",
                120_000.0,
            ),
            (
                "AWS/Lambda",
                "AsyncEventsDropped",
                &[("FunctionName", "mailer")],
                "Sum",
                2.0,
            ),
            (
                "AWS/RDS",
                "CPUUtilization",
                &[("DBInstanceIdentifier", "meals-db")],
                "Average",
                55.0,
            ),
        ],
        20,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.json");
    std::fs::write(&file, document).unwrap();
    let store = hopscope_test_support::import_store(&[file]);
    let s = Session::open(store.path()).await.unwrap();
    let (rules, problems) = parse_file(
        Path::new("rules/services.toml"),
        &std::fs::read_to_string(rules_dir().join("services.toml")).unwrap(),
    );
    assert!(problems.is_empty(), "{problems:?}");
    let statuses = alarms::evaluate_rules(&s, &rules, END, &StateFile::default())
        .await
        .unwrap();
    let states: BTreeSet<(String, String, State)> = statuses
        .iter()
        .map(|a| (a.rule.clone(), a.key.clone(), a.state))
        .collect();
    let expected: BTreeSet<(String, String, State)> = [
        ("sqs-oldest-message-age", "orders", State::Alarm),
        ("sqs-oldest-message-age", "emails", State::Ok),
        ("api-gateway-5xx-metric-rate", "orders-api", State::Alarm),
        ("api-gateway-5xx-metric-rate", "users-api", State::Ok),
        ("dynamodb-throttles", "users", State::Alarm),
        ("step-functions-failures", "arn:sm:dragons", State::Alarm),
        ("lambda-iterator-age", "stream-reader", State::Alarm),
        ("lambda-async-events-dropped", "mailer", State::Alarm),
        ("rds-cpu-high", "meals-db", State::Ok),
    ]
    .into_iter()
    .map(|(r, k, s)| (r.to_string(), k.to_string(), s))
    .collect();
    assert_eq!(states, expected);
}

/// `timeout_used_ratio` measures each invocation against the timeout its version had then, from
/// `lambda_functions`: the ETL's 30 s timeouts run at 100% of a 30 s limit, and after the limit
/// is raised to 900 s the same calls use 3%.
#[tokio::test]
async fn timeout_used_ratio_reads_the_configured_timeout_in_effect() {
    use hopscope_collector::output::Output;
    use hopscope_schema::lambda_functions::LambdaFunctionRow;

    let store = hopscope_test_support::import_store(&[hopscope_test_support::samples_dir()
        .join("etl")
        .join("logs")]);
    let text = r#"
[[rule]]
name = "near-timeout"
function = "worldbank-etl"
statistic = "timeout_used_ratio"
comparison = ">"
threshold = 0.9
period = "5m"
treat_missing_data = "missing"
"#;
    let (rules, problems) = parse_file(Path::new("t.toml"), text);
    assert!(problems.is_empty(), "{problems:?}");
    let evaluate = || async {
        let s = Session::open(store.path()).await.unwrap();
        let statuses = alarms::evaluate_rules(&s, &rules, END, &StateFile::default())
            .await
            .unwrap();
        let a = &statuses[0];
        (a.state, a.latest.as_ref().map(|l| l.value))
    };
    // No configuration collected: no datapoint.
    assert_eq!(evaluate().await, (State::InsufficientData, None));

    let hour = 3_600_000_000;
    let configure = |timeout_s: i32, last_modified: i64| {
        let writer_store = hopscope_store::Store::open_or_create(store.path()).unwrap();
        let mut writer = writer_store.writer();
        let mut out = Output::new(&mut writer, 16);
        out.functions.append(&LambdaFunctionRow {
            function: "worldbank-etl".into(),
            version: "$LATEST".into(),
            timeout_s: Some(timeout_s),
            last_modified,
            observed_at: last_modified,
            revision_id: Some(format!("r{timeout_s}")),
            ..Default::default()
        });
        out.flush_all().unwrap();
    };
    configure(30, END - 12 * hour);
    let (state, value) = evaluate().await;
    assert_eq!(state, State::Alarm);
    let value = value.unwrap();
    assert!((0.99..=1.01).contains(&value), "{value}");

    // Raised to 900 s an hour before: the last period's calls use a thirtieth of it.
    configure(900, END - hour);
    let (state, value) = evaluate().await;
    assert_eq!(state, State::Ok);
    assert!(value.unwrap() < 0.04, "{value:?}");
}

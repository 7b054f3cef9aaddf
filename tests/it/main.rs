//! The `hopscope` binary as users run it: commands, output formats and exit codes.

mod athena;
mod dashboard;
mod forensics;
mod logs;
mod rollups;
mod s3_store;
mod terminal;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use hopscope_test_support::aws_peer;

/// `hopscope --store STORE ARGS...`, with the AWS test peer's credentials (so that no test can
/// reach a real account) and no store from the environment.
fn command(store: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hopscope"));
    c.arg("--store")
        .arg(store)
        .args(args)
        .env_remove("HOPSCOPE_STORE")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE");
    c
}

fn hopscope(store: &Path, args: &[&str]) -> Output {
    command(store, args).output().expect("hopscope runs")
}

/// The same started in the background, its output piped.
fn spawn(store: &Path, args: &[&str]) -> Child {
    command(store, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hopscope starts")
}

/// Sends `signal` (`TERM`, `INT`) to a running `child` with kill(1).
#[cfg(unix)]
fn send_signal(child: &Child, signal: &str) {
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success(), "kill -{signal}");
}

/// `alarms watch` with the starter rules, collecting every second from `endpoint` once per tick.
#[cfg(unix)]
fn spawn_collecting_watch(store: &Path, region: &str, endpoint: &str) -> Child {
    let rule_dir = rules();
    spawn(
        store,
        &[
            "alarms",
            "watch",
            "--every",
            "1s",
            "--max-attempts",
            "1",
            "--region",
            region,
            "--endpoint-url",
            endpoint,
            "--rules",
            rule_dir.to_str().unwrap(),
        ],
    )
}

/// `hopscope gen` of `traces` traces of `scenario` into a new directory (kept while the first
/// value lives), and the scenario's directory in it.
fn generated(scenario: &str, traces: u32) -> (tempfile::TempDir, PathBuf) {
    let input = tempfile::tempdir().unwrap();
    let dir = input.path().join(scenario);
    let out = Command::new(env!("CARGO_BIN_EXE_hopscope"))
        .args([
            "gen",
            "--scenario",
            scenario,
            "--traces",
            &traces.to_string(),
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    (input, dir)
}

/// Kills `child` (SIGKILL) as soon as `written` says its first data file is in; it must still
/// have been running then.
fn kill_once(child: &mut Child, written: impl FnMut() -> bool) {
    assert!(wait_until(120, written), "no span file appeared");
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        still_running,
        "the import ended before it could be killed: give it more input"
    );
}

/// Polls `done` every 100 ms for up to `seconds`; whether it came true.
fn wait_until(seconds: u64, mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..seconds * 10 {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    done()
}

fn samples() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/sample-traces"))
}

/// A fresh store holding one sample scenario (the directory lives as long as the guard).
fn scenario_store(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let data = samples().join(name);
    let out = hopscope(&store, &["import", data.to_str().unwrap()]);
    assert!(out.status.success(), "{name}: {}", stderr(&out));
    (dir, store)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn import_then_sql_answers_from_every_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = hopscope(&store, &["import", samples().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stdout(&out);
    assert!(summary.contains("rejected: 0."), "{summary}");

    let out = hopscope(
        &store,
        &[
            "sql",
            "--format",
            "csv",
            "SELECT count(DISTINCT function) AS functions, sum(CASE WHEN init_ms IS NOT NULL THEN 1 ELSE 0 END) AS cold_starts,
                    sum(CASE WHEN status = 'timeout' THEN 1 ELSE 0 END) AS timeouts FROM lambda_invocations",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "functions,cold_starts,timeouts\n8,113,66\n");
    let configurations = |store: &Path| {
        stdout(&hopscope(
            store,
            &[
                "sql",
                "--format",
                "csv",
                "SELECT count(DISTINCT function) AS functions, count(*) AS configurations,
                        min(TRY_CAST(CAST(version AS VARCHAR) AS INT)) AS first_version,
                        max(TRY_CAST(CAST(version AS VARCHAR) AS INT)) AS last_version
                 FROM lambda_functions",
            ],
        ))
    };
    // Every function's $LATEST, and listDragons' versions 7 to 29.
    assert_eq!(
        configurations(&store),
        "functions,configurations,first_version,last_version\n8,31,7,29\n"
    );

    // A second import of the same data changes no count.
    let again = hopscope(&store, &["import", samples().to_str().unwrap()]);
    assert!(again.status.success());
    assert_eq!(
        configurations(&store),
        "functions,configurations,first_version,last_version\n8,31,7,29\n"
    );
    let count = |store: &Path| {
        stdout(&hopscope(
            store,
            &["sql", "--format", "csv", "SELECT count(*) AS n FROM spans"],
        ))
    };
    let before = count(&store);
    hopscope(
        &store,
        &["import", samples().join("users").to_str().unwrap()],
    );
    assert_eq!(count(&store), before);
}

#[test]
fn output_formats_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    hopscope(
        &store,
        &["import", samples().join("users/metrics").to_str().unwrap()],
    );
    let query = "SELECT metric, statistic, count(*) AS n FROM metric_points GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 2";

    let json = stdout(&hopscope(&store, &["sql", "--format", "json", query]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["metric"], "ConcurrentExecutions");

    let ndjson = stdout(&hopscope(&store, &["sql", "--format", "ndjson", query]));
    assert_eq!(ndjson.lines().count(), 2);

    let table = stdout(&hopscope(&store, &["sql", "--format", "table", query]));
    assert!(
        table.contains("| metric") && table.contains("ConcurrentExecutions"),
        "{table}"
    );

    let file = dir.path().join("out.parquet");
    let out = hopscope(&store, &["sql", "--output", file.to_str().unwrap(), query]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read(&file).unwrap().starts_with(b"PAR1"));
}

#[test]
fn sql_errors_exit_1_with_datafusion_words() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    hopscope(
        &store,
        &["import", samples().join("users/metrics").to_str().unwrap()],
    );
    for (query, words) in [
        ("SELEC 1", "expected: an sql statement"),
        ("SELECT nope FROM spans", "nope"),
        (
            "COPY (SELECT 1) TO '/tmp/hopscope-should-not-exist.csv'",
            "not supported",
        ),
    ] {
        let out = hopscope(&store, &["sql", query]);
        assert_eq!(out.status.code(), Some(1), "{query}");
        let err = stderr(&out).to_lowercase();
        assert!(
            err.starts_with("error:") && err.contains(words),
            "{query}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!Path::new("/tmp/hopscope-should-not-exist.csv").exists());
}

#[test]
fn bad_input_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let input = dir.path().join("mixed.ndjson");
    std::fs::write(
        &input,
        concat!(
            r#"{"trace_id":"1-6740a000-0123456789abcdef01234567","id":"aaaaaaaaaaaaaaaa","name":"ok","start_time":1732288000.5,"end_time":1732288000.75}"#,
            "\n",
            r#"{"trace_id":"1-6740a000-0123456789abcdef01234567","id":"bbbbbbbbbbbbbbbb","name":"no start"}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = hopscope(&store, &["import", input.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("rejected: 1."), "{text}");
    assert!(
        text.contains("mixed.ndjson line 2: bbbbbbbbbbbbbbbb: no `start_time`"),
        "{text}"
    );
    let n = stdout(&hopscope(
        &store,
        &["sql", "--format", "csv", "SELECT name FROM spans"],
    ));
    assert_eq!(n, "name\nok\n");
}

#[test]
fn a_missing_input_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = hopscope(&dir.path().join("s"), &["import", "/no/such/file.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/no/such/file.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn gen_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let o = hopscope(
            dir.path(),
            &[
                "gen",
                "--scenario",
                "users",
                "--traces",
                "20",
                "--seed",
                "7",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let read = |d: &Path| std::fs::read(d.join("traces/batch-0001.json")).unwrap();
    assert_eq!(read(&a), read(&b));
}

#[test]
fn map_prints_the_service_map() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    hopscope(
        &store,
        &["import", samples().join("users/traces").to_str().unwrap()],
    );
    let dot = stdout(&hopscope(&store, &["map", "--format", "dot"]));
    assert!(dot.starts_with("digraph service_map {"), "{dot}");
    assert!(
        dot.contains(r#""users-api-create-user" -> "DynamoDB:users""#),
        "{dot}"
    );
    let table = stdout(&hopscope(&store, &["map"]));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("users-api/prod") && l.contains("users-api-create-user")),
        "{table}"
    );
}

/// The issue's acceptance: on each sample scenario, `hopscope hops --format json` ranks the
/// scenario's culprit (written down by the generator in `scenario.toml`) first.
#[test]
fn hops_ranks_each_scenarios_culprit_first() {
    for name in hopscope_scenarios::SCENARIOS {
        let (_dir, store) = scenario_store(name);
        let scenario =
            hopscope_scenarios::load_scenario(&samples().join(name).join("scenario.toml")).unwrap();

        let out = hopscope(&store, &["hops", "--format", "json"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let top = &report["hops"][0];
        assert_eq!(
            (top["caller"].as_str(), top["callee"].as_str()),
            (
                Some(scenario.culprit.caller.as_str()),
                Some(scenario.culprit.callee.as_str())
            ),
            "{name}: top hop {top:#}"
        );
        // Evidence: the slowest traces exist, and the hop added latency since the baseline.
        assert!(top["added_ms_per_trace"].as_f64().unwrap() > 0.0, "{name}");
        let trace = top["slowest_traces"][0]["trace_id"].as_str().unwrap();
        let sql = format!("SELECT count(*) AS n FROM traces WHERE trace_id = '{trace}'");
        let out = hopscope(&store, &["sql", "--format", "csv", &sql]);
        assert_eq!(stdout(&out), "n\n1\n", "{name}");
    }
}

#[test]
fn hops_table_explains_the_window_and_rejects_bad_windows() {
    let (_dir, store) = scenario_store("dragons");
    let out = hopscope(
        &store,
        &[
            "hops",
            "--since",
            "2026-11-20T10:30:00Z",
            "--until",
            "2026-11-20T11:00:00Z",
            "--baseline",
            "2026-11-20T09:00:00Z..2026-11-20T10:00:00Z",
            "--limit",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Window   2026-11-20 10:30 .. 2026-11-20 11:00 UTC"),
        "{text}"
    );
    assert!(
        text.contains("Baseline 2026-11-20 09:00 .. 2026-11-20 10:00 UTC"),
        "{text}"
    );
    assert!(
        text.contains(" 1  dragons-api/prod -> listDragons"),
        "{text}"
    );
    assert!(text.contains("more (--limit"), "{text}");

    let out = hopscope(&store, &["hops", "--baseline", "2h"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("needs a window"), "{}", stderr(&out));
}

#[test]
fn trace_prints_the_waterfall_with_its_report_and_logs() {
    let (_dir, store) = scenario_store("dragons");
    let sql = "SELECT trace_id FROM spans WHERE name = 'Initialization' AND service = 'listDragons'
               ORDER BY critical_ms DESC, trace_id LIMIT 1";
    let out = stdout(&hopscope(&store, &["sql", "--format", "csv", sql]));
    let trace_id = out.lines().nth(1).unwrap().to_owned();

    let out = hopscope(&store, &["trace", &trace_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("Trace {trace_id}  2026-11-20 ")),
        "{text}"
    );
    let root = text
        .lines()
        .find(|l| l.contains("dragons-api/prod [AWS::ApiGateway::Stage]"));
    assert!(root.is_some_and(|l| l.starts_with("* ")), "{text}");
    let init = text
        .lines()
        .find(|l| l.contains("Initialization (listDragons)"));
    assert!(
        init.is_some_and(|l| l.starts_with("* ") && l.ends_with("cold start")),
        "{text}"
    );
    assert!(text.contains("Lambda invocations (REPORT):"), "{text}");
    assert!(text.contains("START RequestId: "), "{text}");

    let out = hopscope(&store, &["trace", "1-00000000-000000000000000000000000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no trace 1-00000000"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn map_of_a_window_counts_what_plain_sql_counts() {
    let (_dir, store) = scenario_store("users");
    let window = [
        "--since",
        "2026-11-20T10:30:00Z",
        "--until",
        "2026-11-20T11:00:00Z",
    ];
    let out = hopscope(
        &store,
        &[&["map", "--format", "json"][..], &window].concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let map: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let edge = map["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["callee"] == "DynamoDB:users")
        .unwrap();
    let sql = "SELECT count(*) AS n FROM spans WHERE service = 'DynamoDB:users'
               AND parent_service = 'users-api-create-user'
               AND start_time >= TIMESTAMP '2026-11-20T10:30:00Z'
               AND start_time < TIMESTAMP '2026-11-20T11:00:00Z'";
    let counted = stdout(&hopscope(&store, &["sql", "--format", "csv", sql]));
    assert_eq!(counted, format!("n\n{}\n", edge["requests"]));
    let all = hopscope(&store, &["map", "--format", "json"]);
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    let all_edge = all["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["callee"] == "DynamoDB:users")
        .unwrap();
    assert!(all_edge["requests"].as_i64() > edge["requests"].as_i64());
}

/// `collect --watch` stops cleanly on SIGTERM (a service manager) and SIGINT (Ctrl-C), without
/// waiting out its interval. Runs against the AWS test peer that scripts/test starts.
#[cfg(unix)]
#[test]
fn collect_watch_stops_cleanly_on_sigterm_and_sigint() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    let endpoint = aws_peer::endpoint();
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = spawn(
            &dir.path().join("store"),
            &[
                "collect",
                "--since",
                "10m",
                "--watch",
                "1h",
                "--endpoint-url",
                &endpoint,
                "--region",
                "ca-central-1",
            ],
        );
        // The first window's summary ends with its table of rows: the watch is now waiting.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if line.starts_with("table ") {
                break;
            }
        }
        assert!(seen.contains("new rows"), "{signal}: {seen}");
        send_signal(&child, signal);
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{signal}: still running");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(status.success(), "{signal}: {status:?} {err}");
        assert!(
            err.contains("Stopping after the current window"),
            "{signal}: {err}"
        );
    }
}

fn rules() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"))
}

/// A store of one sample scenario.
fn scenario_store_in(dir: &Path, name: &str) -> PathBuf {
    let store = dir.join(name);
    let out = hopscope(&store, &["import", samples().join(name).to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    store
}

#[test]
fn alarms_lint_reports_file_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = hopscope(dir.path(), &["alarms", "lint", rules().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).ends_with("no problems.\n"), "{}", stdout(&out));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nname = \"x\"\nfunction = \"f\"\nstatistic = \"p99\"\ncomparison = \">\"\nthreshold = 1\nperiod = \"5m\"\ntreat_missing = \"ignore\"\n",
    )
    .unwrap();
    let out = hopscope(dir.path(), &["alarms", "lint", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        format!(
            "{}:8: unknown key `treat_missing` (fix: did you mean `treat_missing_data`?)\n{}: 1 problem.\n",
            bad.display(),
            bad.display()
        )
    );
    // Rules with problems are not evaluated.
    let out = hopscope(
        dir.path(),
        &["alarms", "check", "--rules", bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad.toml:8"), "{}", stderr(&out));
}

#[test]
fn alarms_check_exits_2_in_alarm_and_notifies_a_change_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = scenario_store_in(dir.path(), "etl");
    let (url, received) = webhook_server();
    let check = |at: &str| {
        hopscope(
            &store,
            &[
                "alarms",
                "check",
                "--rules",
                rules().to_str().unwrap(),
                "--at",
                at,
                "--webhook",
                &url,
            ],
        )
    };
    // Before the incident: all OK.
    let out = check("2026-11-20T10:00:00Z");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 ALARM, 12 OK, 0 INSUFFICIENT_DATA"),
        "{}",
        stdout(&out)
    );
    let out = check("2026-11-20T11:00:00Z");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let table = stdout(&out);
    let alarm_lines: Vec<&str> = table.lines().filter(|l| l.starts_with("ALARM")).collect();
    assert_eq!(alarm_lines.len(), 5, "{table}");
    assert!(alarm_lines.iter().any(|l| l.contains(" lambda-timeouts ")
        && l.contains(
            "Threshold Crossed: 3 out of the last 3 datapoints [11.0 (20/11/26 10:55:00)"
        )));
    // Only lambda-timeouts notifies: the -high building blocks have no actions, and
    // lambda-near-timeout is silent while the function times out.
    let again = check("2026-11-20T11:00:00Z");
    assert_eq!(again.status.code(), Some(2));
    assert!(!stdout(&again).contains(" yes "), "{}", stdout(&again));
    let bodies = received.lock().unwrap().clone();
    let changes: Vec<serde_json::Value> = bodies
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .filter(|v: &serde_json::Value| v["to"] == "ALARM")
        .collect();
    let mut notified: Vec<(&str, &str, &str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["rule"].as_str().unwrap(),
                c["key"].as_str().unwrap(),
                c["from"].as_str().unwrap(),
                c["severity"].as_str().unwrap(),
            )
        })
        .collect();
    notified.sort_unstable();
    assert_eq!(
        notified,
        [("lambda-timeouts", "worldbank-etl", "OK", "critical"),],
        "{bodies:?}"
    );

    let history = hopscope_analyzer::alarms::state::AlarmStore::new(&store)
        .history()
        .unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|t| t.to == hopscope_analyzer::alarms::State::Alarm)
            .count(),
        5
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("_alarms/state.json")).unwrap()).unwrap();
    assert_eq!(
        state["alarms"]["lambda-timeouts"]["worldbank-etl"]["state"],
        "ALARM"
    );
    assert_eq!(
        state["alarms"]["lambda-timeouts"]["worldbank-etl"]["since"],
        "2026-11-20T11:00:00Z"
    );
}

/// A heartbeat whose data never arrived (empty range, no saved state) is an alarm, not
/// "0 alarms": a dead-man's switch must not be silent.
#[test]
fn alarms_check_raises_a_heartbeat_whose_data_never_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let store = scenario_store_in(dir.path(), "etl");
    let heartbeat = dir.path().join("heartbeat.toml");
    let rule = r#"
[[rule]]
name = "orders-heartbeat"
query = "SELECT start_time AS time, 1.0 AS value FROM spans WHERE service = 'orders-api'"
statistic = "count"
comparison = "<"
threshold = 1
period = "5m"
treat_missing_data = "MODE"
"#;
    for (mode, code, summary) in [
        (
            "breaching",
            2,
            "1 alarm: 1 ALARM, 0 OK, 0 INSUFFICIENT_DATA.",
        ),
        ("missing", 0, "1 alarm: 0 ALARM, 0 OK, 1 INSUFFICIENT_DATA."),
    ] {
        std::fs::write(&heartbeat, rule.replace("MODE", mode)).unwrap();
        let out = hopscope(
            &store,
            &[
                "alarms",
                "check",
                "--rules",
                heartbeat.to_str().unwrap(),
                "--at",
                "2026-11-20T11:00:00Z",
            ],
        );
        assert_eq!(out.status.code(), Some(code), "{mode}: {}", stderr(&out));
        let table = stdout(&out);
        assert!(table.contains(summary), "{mode}: {table}");
        assert!(table.contains(" orders-heartbeat "), "{mode}: {table}");
        std::fs::remove_dir_all(store.join("_alarms")).ok();
    }
}

#[test]
fn alarms_webhook_failures_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store = scenario_store_in(dir.path(), "etl");
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = hopscope(
        &store,
        &[
            "alarms",
            "check",
            "--rules",
            rules().join("lambda.toml").to_str().unwrap(),
            "--at",
            "2026-11-20T11:00:00Z",
            "--webhook",
            &format!("http://127.0.0.1:{port}/hook"),
            "--webhook-attempts",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: webhook") && stderr(&out).contains("after 2 attempts"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn alarms_backtest_prints_when_alarms_fired() {
    let dir = tempfile::tempdir().unwrap();
    let store = scenario_store_in(dir.path(), "dragons");
    let out = hopscope(
        &store,
        &[
            "alarms",
            "backtest",
            "--rules",
            rules().to_str().unwrap(),
            "--since",
            "2h",
            "--until",
            "2026-11-20T11:00:00Z",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let fired: Vec<&str> = text.lines().filter(|l| l.contains(" ALARM")).collect();
    assert_eq!(fired.len(), 2, "{text}");
    assert!(
        fired[0].starts_with("2026-11-20T10:40:00Z lambda-cold-start-ratio "),
        "{text}"
    );
    assert!(
        text.ends_with("2 times fired, 0 times cleared.\n"),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn alarms_watch_stops_cleanly_on_sigterm_and_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let store = scenario_store_in(dir.path(), "users");
    for signal in ["TERM", "INT"] {
        let rule_dir = rules();
        let args = ["alarms", "watch", "--no-collect", "--every", "1s"];
        let child = spawn(
            &store,
            &[&args[..], &["--rules", rule_dir.to_str().unwrap()]].concat(),
        );
        // Wait for the first evaluation to be saved, then stop it.
        let state = store.join("_alarms/state.json");
        let _ = std::fs::remove_file(&state);
        assert!(wait_until(30, || state.exists()), "{signal}");
        send_signal(&child, signal);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{signal}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("Stopping"),
            "{signal}: {}",
            stderr(&out)
        );
        // Each line of stdout is one JSON change of state.
        for line in stdout(&out).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["rule"].is_string() && v["to"].is_string(), "{line}");
        }
    }
}

/// Two evaluators on one store would both notify each change: a second `watch` refuses to
/// start, naming the lock and the first one's pid, and `check` evaluates read-only meanwhile.
#[cfg(unix)]
#[test]
fn alarms_one_watch_per_store_and_check_is_read_only_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = scenario_store_in(dir.path(), "etl");
    let rule_dir = rules();
    let args = ["alarms", "watch", "--no-collect", "--every", "1h"];
    let watch = || {
        spawn(
            &store,
            &[&args[..], &["--rules", rule_dir.to_str().unwrap()]].concat(),
        )
    };
    let first = watch();
    let state = store.join("_alarms/state.json");
    assert!(wait_until(30, || state.exists()));
    let saved = std::fs::read(&state).unwrap();

    let second = watch().wait_with_output().unwrap();
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let lock = store.join("_alarms/lock");
    assert!(
        stderr(&second).contains(&format!(
            "{} is locked by `hopscope alarms watch` (pid {})",
            lock.display(),
            first.id()
        )),
        "{}",
        stderr(&second)
    );

    let (url, received) = webhook_server();
    let check = hopscope(
        &store,
        &[
            "alarms",
            "check",
            "--rules",
            rules().to_str().unwrap(),
            "--at",
            "2026-11-20T11:00:00Z",
            "--webhook",
            &url,
        ],
    );
    // The evaluation is printed and decides the exit code; nothing is saved or notified.
    assert_eq!(check.status.code(), Some(2), "{}", stderr(&check));
    assert!(
        stdout(&check).contains(" lambda-timeouts "),
        "{}",
        stdout(&check)
    );
    assert!(
        stderr(&check).contains(&format!("(pid {})", first.id()))
            && stderr(&check).contains("evaluated read-only"),
        "{}",
        stderr(&check)
    );
    assert_eq!(std::fs::read(&state).unwrap(), saved);
    assert!(received.lock().unwrap().is_empty());

    send_signal(&first, "TERM");
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Once the watch is gone, check writes again.
    let check = hopscope(
        &store,
        &[
            "alarms",
            "check",
            "--rules",
            rules().to_str().unwrap(),
            "--at",
            "2026-11-20T11:00:00Z",
        ],
    );
    assert_eq!(check.status.code(), Some(2), "{}", stderr(&check));
    assert!(!stderr(&check).contains("read-only"), "{}", stderr(&check));
    assert_ne!(std::fs::read(&state).unwrap(), saved);
}

/// A local HTTP server answering 200 to every request; returns its URL and the bodies received.
fn webhook_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                sink.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, received)
}

/// `check --collect --publish-metric` against the AWS test peer (started by scripts/test): the
/// collection runs, the evaluation follows, and the states are published with PutMetricData.
#[test]
fn alarms_check_collects_and_publishes_through_aws() {
    let endpoint = aws_peer::endpoint();
    let region = "sa-east-1";
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("one.toml");
    std::fs::write(
        &rule,
        "[[rule]]\nname = \"orders-timeouts\"\nfunction = \"orders\"\nstatistic = \"timeout_count\"\ncomparison = \">\"\nthreshold = 0\nperiod = \"1m\"\ntreat_missing_data = \"not_breaching\"\n",
    )
    .unwrap();
    let out = hopscope(
        &dir.path().join("store"),
        &[
            "alarms",
            "check",
            "--collect",
            "--publish-metric",
            "--rules",
            rule.to_str().unwrap(),
            "--region",
            region,
            "--endpoint-url",
            &endpoint,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("state"), "{}", stdout(&out));
    assert!(stdout(&out).contains("OK "), "{}", stdout(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));

    // The peer counts the calls it saw in the Region.
    let calls = aws_peer::control("GET", &format!("/_peer/calls?region={region}"), "");
    assert_eq!(calls["PutMetricData"], 1, "{calls}");
    assert!(calls["GetTraceSummaries"].as_u64() >= Some(1), "{calls}");
}

/// AWS answering 503 to two collections in a row (retries exhausted) is transient: each is
/// reported, the evaluations go on, and the next collections succeed.
#[cfg(unix)]
#[test]
fn alarms_watch_rides_out_transient_aws_errors() {
    let endpoint = aws_peer::endpoint();
    let region = "ap-south-1";
    let fault =
        serde_json::json!({"region": region, "operation": "GetTraceSummaries", "server_error": 2});
    aws_peer::control("POST", "/_peer/faults", &fault.to_string());
    let calls = || -> u64 {
        let calls = aws_peer::control("GET", &format!("/_peer/calls?region={region}"), "");
        calls["GetTraceSummaries"].as_u64().unwrap_or(0)
    };
    let before = calls();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let child = spawn_collecting_watch(&store, region, &endpoint);
    // Two faulted collections, then two that succeed.
    assert!(
        wait_until(60, || calls() >= before + 4),
        "the watch kept collecting"
    );
    send_signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("warning: collecting").count(), 2, "{err}");
    assert!(!err.contains("warning: evaluating"), "{err}");
    assert!(store.join("_alarms/state.json").exists());
}

/// A collection that fails (AWS unreachable) is reported and the evaluation still runs.
#[cfg(unix)]
#[test]
fn alarms_watch_survives_a_failing_collection() {
    let dir = tempfile::tempdir().unwrap();
    let store = scenario_store_in(dir.path(), "users");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let child = spawn_collecting_watch(&store, "us-east-1", &endpoint);
    let state = store.join("_alarms/state.json");
    assert!(
        wait_until(30, || state.exists()),
        "evaluated despite the failed collection"
    );
    send_signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: collecting"),
        "{}",
        stderr(&out)
    );
}

/// `hopscope ... | head -1`: the reader goes away and hopscope ends quietly.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    let (_dir, store) = scenario_store("users");
    let mut child = spawn(
        &store,
        &[
            "sql",
            "--format",
            "csv",
            "SELECT value FROM generate_series(1, 200000)",
        ],
    );
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(first.trim(), "value", "{err}");
    // Neither a panic nor an error message: the pipe closing is the reader's choice.
    assert!(err.trim().is_empty(), "{err}");
    assert_ne!(out.status.code(), Some(101));
}

/// A CloudWatch Logs JSON call to the peer in `region`, as the SDK sends it.
fn logs_call(region: &str, target: &str, body: &serde_json::Value) -> String {
    aws_peer::request(
        "POST",
        "/",
        &format!(
            "X-Amz-Target: Logs_20140328.{target}\r\nContent-Type: application/x-amz-json-1.1\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20261122/{region}/logs/aws4_request, \
             SignedHeaders=host, Signature=0\r\n"
        ),
        &body.to_string(),
    )
}

/// Row counts of the collected tables in `store`.
fn counts(store: &Path) -> Vec<String> {
    let tables = [
        "spans",
        "log_events",
        "lambda_invocations",
        "lambda_functions",
    ];
    tables
        .iter()
        .map(|t| {
            let out = hopscope(
                store,
                &[
                    "sql",
                    "--format",
                    "csv",
                    &format!("SELECT count(*) AS n FROM {t}"),
                ],
            );
            assert!(out.status.success(), "{t}: {}", stderr(&out));
            format!("{t} {}", stdout(&out).lines().nth(1).unwrap_or_default())
        })
        .collect()
}

/// `alarms check --collect` collects what `collect` collects, in an account of 2026: traces only
/// in Transaction Search (aws/spans, nothing indexed), a function logging to a shared custom
/// group, its configuration. Neither command has a source flag.
#[test]
fn alarms_check_collect_sees_exactly_what_collect_sees() {
    let endpoint = aws_peer::endpoint();
    let region = "il-central-1";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    // Data of now: the clock other tests may have set to the samples' day goes back to now.
    aws_peer::control(
        "POST",
        "/_peer/clock",
        &serde_json::json!({"now": now.as_secs_f64()}).to_string(),
    );
    let world = serde_json::json!({"region": region, "destination": "CloudWatchLogs", "indexing_percentage": 0});
    aws_peer::control("POST", "/_peer/world", &world.to_string());
    let (function, group) = ("orders-api", "/team/shared-logs");
    let lambda = serde_json::json!({"region": region, "functions": [{"FunctionName": function,
        "MemorySize": 256, "Timeout": 3, "LoggingConfig": {"LogGroup": group}}]});
    aws_peer::control("POST", "/_peer/lambda", &lambda.to_string());
    dashboard::put_trace_segments(region, &dashboard::traces(function, "orders", 3));
    let stream = format!("2026/12/06/{function}[$LATEST]0123456789abcdef");
    logs_call(
        region,
        "CreateLogGroup",
        &serde_json::json!({"logGroupName": group}),
    );
    logs_call(
        region,
        "CreateLogStream",
        &serde_json::json!({"logGroupName": group, "logStreamName": stream}),
    );
    let at = now.as_millis() as i64 - 20_000;
    let lines = [
        "START RequestId: 6f1c Version: $LATEST",
        "END RequestId: 6f1c",
        "REPORT RequestId: 6f1c\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 256 MB\tMax Memory Used: 80 MB\tStatus: timeout",
    ];
    let events: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, m)| serde_json::json!({"timestamp": at + i as i64, "message": m}))
        .collect();
    let put = logs_call(
        region,
        "PutLogEvents",
        &serde_json::json!({"logGroupName": group, "logStreamName": stream, "logEvents": events}),
    );
    assert!(
        put.starts_with("HTTP/1.1 200") && !put.contains("rejected"),
        "{put}"
    );

    let dir = tempfile::tempdir().unwrap();
    let aws = ["--region", region, "--endpoint-url", &endpoint];
    let collected = dir.path().join("collected");
    let out = hopscope(
        &collected,
        &[&["collect", "--since", "5m"][..], &aws].concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Traces from Transaction Search"), "{text}");
    assert!(text.contains("3 of the 3 traces seen"), "{text}");

    let rule = dir.path().join("timeouts.toml");
    std::fs::write(
        &rule,
        format!("[[rule]]\nname = \"t\"\nfunction = \"{function}\"\nstatistic = \"timeout_count\"\ncomparison = \">\"\nthreshold = 0\nperiod = \"5m\"\ntreat_missing_data = \"not_breaching\"\n"),
    )
    .unwrap();
    let checked = dir.path().join("checked");
    let out = hopscope(
        &checked,
        &[
            &[
                "alarms",
                "check",
                "--collect",
                "--rules",
                rule.to_str().unwrap(),
            ][..],
            &aws,
        ]
        .concat(),
    );
    // 2 once the timeout's five-minute period has ended, 0 before: either way it evaluated.
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );

    let both = counts(&collected);
    assert_eq!(
        both,
        [
            "spans 9",
            "log_events 3",
            "lambda_invocations 1",
            "lambda_functions 1"
        ],
        "collect"
    );
    assert_eq!(counts(&checked), both, "alarms check --collect");
}

/// Import clears the temporaries a killed writer left, and leaves those of a writer still
/// running on the same store (its rename would fail otherwise).
#[test]
fn import_clears_a_dead_writers_temporaries_and_keeps_a_running_ones() {
    let (_dir, store) = scenario_store("dragons");
    let mut running = Command::new("sleep").arg("60").spawn().unwrap();
    let mut dead = Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    let temp = |pid: u32| {
        let path = store.join(format!(
            "{}{pid}-part.parquet-0.partial",
            hopscope_schema::store_layout::TEMP_PREFIX
        ));
        std::fs::write(&path, b"half a file").unwrap();
        path
    };
    let (live, left) = (temp(running.id()), temp(dead.id()));
    let out = hopscope(
        &store,
        &["import", samples().join("dragons").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(live.exists(), "a running writer's temporary was removed");
    assert!(!left.exists(), "a dead writer's temporary was kept");
    running.kill().unwrap();
    running.wait().unwrap();
}

//! The `hopscope` binary as users run it: commands, output formats and exit codes.

mod dashboard;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hopscope(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hopscope"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("HOPSCOPE_STORE")
        .output()
        .expect("hopscope runs")
}

fn samples() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/sample-traces"))
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

    // A second import of the same data changes no count.
    let again = hopscope(&store, &["import", samples().to_str().unwrap()]);
    assert!(again.status.success());
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
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let data = samples().join(name);
        let out = hopscope(&store, &["import", data.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let scenario = hopscope_scenarios::load_scenario(&data.join("scenario.toml")).unwrap();

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
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let data = samples().join("dragons");
    assert!(
        hopscope(&store, &["import", data.to_str().unwrap()])
            .status
            .success()
    );
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
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let data = samples().join("dragons");
    assert!(
        hopscope(&store, &["import", data.to_str().unwrap()])
            .status
            .success()
    );
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
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let data = samples().join("users");
    assert!(
        hopscope(&store, &["import", data.to_str().unwrap()])
            .status
            .success()
    );
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

//! `hopscope logs`: Logs Insights queries from the command line, in every format, scoped by
//! log group and time window, with errors that point into the query.

use super::{hopscope, scenario_store, stderr, stdout};

const USERS: &str = "/aws/lambda/users-api-create-user";

#[test]
fn logs_answers_as_plain_sql_does() {
    let (_dir, store) = scenario_store("users");
    let report =
        "filter @type = \"REPORT\" | stats count(*) as invocations, count(@initDuration) as cold";
    let out = hopscope(&store, &["logs", "--format", "csv", report]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sql = hopscope(
        &store,
        &[
            "sql",
            "--format",
            "csv",
            "SELECT count(*) AS invocations, count(init_ms) AS cold FROM lambda_invocations",
        ],
    );
    assert_eq!(stdout(&out), stdout(&sql));

    let json = stdout(&hopscope(
        &store,
        &["logs", "--format", "json", "stats count(*) as n by @log"],
    ));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.len(), 1, "{json}");
    assert_eq!(rows[0]["@log"], USERS);
    let ndjson = stdout(&hopscope(
        &store,
        &[
            "logs",
            "--format",
            "ndjson",
            "fields @timestamp, @requestId | limit 3",
        ],
    ));
    assert_eq!(ndjson.lines().count(), 3, "{ndjson}");
    let table = stdout(&hopscope(
        &store,
        &["logs", "--format", "table", "stats count(*) as n by @log"],
    ));
    assert!(table.contains("| @log") && table.contains(USERS), "{table}");
}

#[test]
fn logs_keeps_to_the_log_groups_and_window_asked_for() {
    let (_dir, store) = scenario_store("users");
    let count = |args: &[&str]| {
        let mut all = vec!["logs", "--format", "csv"];
        all.extend(args);
        all.push("stats count(*) as n");
        let out = hopscope(&store, &all);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let sql = |filter: &str| {
        stdout(&hopscope(
            &store,
            &[
                "sql",
                "--format",
                "csv",
                &format!("SELECT count(*) AS n FROM log_events {filter}"),
            ],
        ))
    };
    assert_eq!(count(&["--log-group", "/aws/lambda/users-*"]), sql(""));
    assert_eq!(
        count(&[
            "--log-group",
            "/aws/lambda/other",
            "--log-group",
            "/aws/lambda/users-api-?reate-user"
        ]),
        sql("")
    );
    assert_eq!(count(&["--log-group", "/aws/lambda/other"]), "n\n0\n");
    assert_eq!(
        count(&[
            "--since",
            "2026-11-20T10:30:00Z",
            "--until",
            "2026-11-20T11:00:00Z"
        ]),
        sql(
            "WHERE timestamp >= TIMESTAMP '2026-11-20T10:30:00Z' AND timestamp < TIMESTAMP '2026-11-20T11:00:00Z'"
        )
    );

    // The throttling from 10:30 brings a pattern the half hour before never had.
    let out = hopscope(
        &store,
        &[
            "logs",
            "--format",
            "json",
            "--since",
            "2026-11-20T10:30:00Z",
            "--until",
            "2026-11-20T11:00:00Z",
            "pattern @message | diff | filter @changeType = \"new\"",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        rows.iter().any(|r| r["@pattern"]
            .as_str()
            .is_some_and(|p| p.contains("ProvisionedThroughputExceededException"))),
        "{rows:?}"
    );
}

#[test]
fn logs_errors_point_into_the_query_and_exit_1() {
    let (_dir, store) = scenario_store("users");
    let out = hopscope(&store, &["logs", "fields @timestamp\n| stats count(*) by"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim_end(),
        "error: line 2, column 20: expected a field name after 'by', found the end of the query"
    );
    let out = hopscope(&store, &["logs", "fields @message | lookup users id"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "line 1, column 19: 'lookup' is a Logs Insights command hopscope does not run"
        ),
        "{}",
        stderr(&out)
    );
    let out = hopscope(
        &store,
        &[
            "logs",
            "--since",
            "10m",
            "--until",
            "20m",
            "fields @message",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("must be before --until"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn logs_help_documents_every_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = hopscope(dir.path(), &["logs", "--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for flag in [
        "--log-group <GLOB>",
        "--since <TIME>",
        "--until <TIME>",
        "--format <FORMAT>",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    assert!(help.contains("Logs Insights"), "{help}");
}

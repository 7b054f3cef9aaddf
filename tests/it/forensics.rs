//! `hopscope timeouts`, `amplification`, `why` and `changes` on the sample incidents: what they
//! print agrees with plain SQL over the same store.

use super::{hopscope, scenario_store, stderr, stdout};

/// One number out of `hopscope sql` (a one-column, one-row CSV answer).
fn sql_number(store: &std::path::Path, sql: &str) -> i64 {
    let out = hopscope(store, &["sql", "--format", "csv", sql]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().nth(1).unwrap().parse().unwrap()
}

#[test]
fn timeouts_name_the_call_each_etl_timeout_waited_on() {
    let (_dir, store) = scenario_store("etl");
    let reported = sql_number(
        &store,
        "SELECT count(*) FROM lambda_invocations WHERE status = 'timeout'",
    );
    assert!(reported > 10, "{reported}");

    let out = hopscope(&store, &["timeouts"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // The default window, the last hour of data, holds the whole incident.
    insta::assert_snapshot!(text);
    for line in [
        format!("{reported} timeouts"),
        "client -> worldbank-etl [AWS::Lambda::Function]".to_owned(),
        format!("  {reported} Lambda timeouts; 0 followed by a retry"),
        format!("  - {reported} waiting on api.worldbank.org for > "),
        format!("REPORT lines with Status: timeout: worldbank-etl {reported}"),
    ] {
        assert!(text.contains(&line), "{line}: {text}");
    }

    let out = hopscope(&store, &["timeouts", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["timeouts"].as_i64(), Some(reported));
    let events = report["hops"][0]["events"].as_array().unwrap();
    assert_eq!(events.len() as i64, reported);
    for e in events {
        assert_eq!(e["in_flight"]["callee"], "api.worldbank.org", "{e:#}");
        assert!(
            e["in_flight"]["running_ms"].as_f64().unwrap() > 1_000.0,
            "{e:#}"
        );
    }

    // Before the incident: nothing to say, said so.
    let out = hopscope(
        &store,
        &[
            "timeouts",
            "--since",
            "2026-11-20T09:00:00Z",
            "--until",
            "2026-11-20T10:00:00Z",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("No Lambda timeout and no call that never answered"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn amplification_counts_the_users_sdk_retries() {
    let (_dir, store) = scenario_store("users");
    let retries = sql_number(&store, "SELECT sum(aws_retries) FROM spans");
    let requests = sql_number(&store, "SELECT count(*) FROM spans WHERE parent_id IS NULL");
    assert!(retries > 10, "{retries}");

    let window = [
        "--since",
        "2026-11-20T09:00:00Z",
        "--until",
        "2026-11-20T11:00:00Z",
    ];
    let mut args = vec!["amplification", "--format", "json"];
    args.extend(window);
    let out = hopscope(&store, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = &report["entry_points"][0];
    assert_eq!(entry["entry"], "users-api/prod");
    assert_eq!(entry["requests"].as_i64(), Some(requests));
    assert_eq!(entry["sdk_retries"].as_i64(), Some(retries));
    let worst = entry["worst_traces"][0]["trace_id"].as_str().unwrap();
    let worst_retries = sql_number(
        &store,
        &format!("SELECT sum(aws_retries) FROM spans WHERE trace_id = '{worst}'"),
    );
    let most = sql_number(
        &store,
        "SELECT max(n) FROM (SELECT trace_id, sum(aws_retries) AS n FROM spans GROUP BY 1)",
    );
    assert_eq!(worst_retries, most);

    let mut args = vec!["amplification"];
    args.extend(window);
    let out = hopscope(&store, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn help_documents_the_forensic_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = hopscope(dir.path(), &["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    assert!(
        help.contains("timeouts") && help.contains("amplification"),
        "{help}"
    );
    for (command, says) in [
        ("timeouts", "in flight when the caller gave up"),
        ("amplification", "repeated identical calls"),
        ("why", "slow and failed calls have in common"),
        ("changes", "the hour before the first alarm first"),
    ] {
        let out = hopscope(dir.path(), &[command, "--help"]);
        assert!(out.status.success());
        let help = stdout(&out);
        for flag in [
            "--since <TIME>",
            "--until <TIME>",
            "--limit <LIMIT>",
            "--format <FORMAT>",
        ] {
            assert!(help.contains(flag), "{command} {flag}: {help}");
        }
        // Wrapped to the width of the terminal.
        let words = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(words.contains(says), "{command}: {help}");
    }
}

#[test]
fn why_names_the_users_throttles_with_the_counts_sql_gives() {
    let (_dir, store) = scenario_store("users");
    let window = [
        "--since",
        "2026-11-20T10:30:00Z",
        "--until",
        "2026-11-20T11:00:00Z",
    ];
    let mut args = vec!["why", "users-api/prod", "users-api-create-user"];
    args.extend(window);
    let out = hopscope(&store, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let calls = sql_number(
        &store,
        "SELECT count(*) FROM spans WHERE hop_caller = 'users-api/prod'
           AND service = 'users-api-create-user' AND (parent_service IS DISTINCT FROM service)
           AND start_time >= '2026-11-20T10:30:00Z' AND start_time < '2026-11-20T11:00:00Z'",
    );
    assert!(text.contains(&format!("{calls} calls")), "{text}");
    let first = text
        .lines()
        .find(|l| l.contains("% "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        first.ends_with(
            "failed call beneath: DynamoDB:users PutItem: throttled 400 ProvisionedThroughputExceededException"
        ),
        "{text}"
    );
    args.extend(["--format", "json"]);
    let out = hopscope(&store, &args);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["calls"].as_i64(), Some(calls));
    assert_eq!(report["evidence"][0]["attribute"], "failed_call");

    // A hop with no calls says so and how to find the names.
    let out = hopscope(&store, &["why", "client", "nope"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("hopscope hops"), "{}", stdout(&out));
}

#[test]
fn changes_lead_with_the_dragons_deploy_storm_before_its_first_alarm() {
    let (_dir, store) = scenario_store("dragons");
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
    let mut args = vec![
        "changes",
        "--since",
        "2026-11-20T09:00:00Z",
        "--until",
        "2026-11-20T11:00:00Z",
        "--rules",
        rules,
    ];
    let out = hopscope(&store, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("First alarm  10:40:00  lambda-cold-start-ratio listDragons"),
        "{text}"
    );
    let mut lead_up = text
        .lines()
        .skip_while(|l| *l != "In the hour before the first alarm")
        .skip(1)
        .take_while(|l| !l.is_empty());
    let first = lead_up.next().unwrap_or_else(|| panic!("{text}"));
    assert!(
        first.starts_with("  10:24:00  shift") && first.ends_with("cold starts 1% -> 33%"),
        "{text}"
    );
    // Then the deploy that caused it (the sample's functions/), and its first invocation.
    let published = lead_up.next().unwrap();
    assert!(
        published.starts_with("  10:25:00  published") && published.contains("version 8: code "),
        "{text}"
    );
    assert!(
        lead_up
            .next()
            .unwrap()
            .ends_with("version 8 after 7 (1 invocations in the range)"),
        "{text}"
    );
    // Every version after the first is a change, in JSON.
    args.extend(["--format", "json"]);
    let out = hopscope(&store, &args);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first_seen = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "first_seen")
        .count();
    let versions = sql_number(
        &store,
        "SELECT count(DISTINCT version) FROM lambda_invocations WHERE function = 'listDragons'",
    );
    assert_eq!(first_seen as i64, versions - 1);
    assert_eq!(report["alarms_from"], "replayed");

    // With no rules and no recorded history there is no alarm to lead up to.
    let empty = tempfile::tempdir().unwrap();
    let out = hopscope(
        &store,
        &["changes", "--rules", empty.path().to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("First alarm  none in the window"), "{text}");
    assert!(!text.contains("In the hour before"), "{text}");
}

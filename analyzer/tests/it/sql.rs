//! The SQL surface: tables and views over the store, read-only, answering from every scenario.

use std::collections::BTreeSet;

use hopscope_analyzer::{Error, Session};
use hopscope_schema::traces;

use crate::{csv, sample_store, session};

#[tokio::test]
async fn answers_come_from_all_five_scenarios() {
    let s = session().await;
    let out = csv(
        &s,
        "SELECT root_service, count(*) AS traces, sum(CASE WHEN partial THEN 1 ELSE 0 END) AS partial
         FROM traces GROUP BY root_service ORDER BY root_service",
    )
    .await;
    insta::assert_snapshot!(out);
}

#[tokio::test]
async fn every_table_has_rows() {
    let s = session().await;
    for table in [
        "spans",
        "log_events",
        "lambda_invocations",
        "metric_points",
        "traces",
    ] {
        let out = csv(&s, &format!("SELECT count(*) > 0 AS has_rows FROM {table}")).await;
        assert_eq!(out, "has_rows\ntrue\n", "{table} is empty");
    }
}

#[tokio::test]
async fn traces_view_meets_the_contract() {
    let s = session().await;
    let view = s.context().table(traces::TABLE).await.unwrap();
    let got: Vec<(String, String)> = view
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().to_string()))
        .collect();
    let want: Vec<(String, String)> = traces::schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().to_string()))
        .collect();
    assert_eq!(got, want);
}

/// Cold starts seen in the logs (REPORT Init Duration) are exactly those seen in the traces
/// (Initialization subsegments), request by request.
#[tokio::test]
async fn cold_starts_agree_between_logs_and_traces() {
    let s = session().await;
    let from_traces = csv(
        &s,
        "SELECT f.service AS function, l.aws_request_id AS request_id
         FROM spans i
         JOIN spans f ON i.trace_id = f.trace_id AND i.parent_id = f.id
         JOIN spans l ON l.trace_id = f.trace_id AND l.id = f.parent_id
         WHERE i.name = 'Initialization' ORDER BY 1, 2",
    )
    .await;
    let from_logs = csv(
        &s,
        "SELECT function, request_id FROM lambda_invocations WHERE init_ms IS NOT NULL ORDER BY 1, 2",
    )
    .await;
    assert!(
        from_traces.lines().count() > 10,
        "expected cold starts in the samples:\n{from_traces}"
    );
    assert_eq!(from_traces, from_logs);
    let per_function = csv(
        &s,
        "SELECT function, count(*) AS cold_starts FROM lambda_invocations WHERE init_ms IS NOT NULL
         GROUP BY function ORDER BY function",
    )
    .await;
    insta::assert_snapshot!(per_function);
}

#[tokio::test]
async fn writing_statements_are_refused_and_write_nothing() {
    let s = session().await;
    let before = files_under(sample_store());
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("x.parquet");
    for sql in [
        format!("COPY (SELECT * FROM spans) TO '{}'", target.display()),
        "INSERT INTO spans SELECT * FROM spans".to_string(),
        format!(
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}'",
            out.path().display()
        ),
        "CREATE TABLE t AS SELECT 1".to_string(),
        "DROP VIEW traces".to_string(),
        "SET datafusion.execution.batch_size = 1".to_string(),
    ] {
        let result = s.query(&sql).await;
        let Err(Error::DataFusion(e)) = result.as_ref().map(|_| ()) else {
            panic!("{sql}: expected a refusal, got {:?}", result.map(|_| ()));
        };
        assert!(
            e.to_string().contains("not supported") || e.to_string().contains("not allowed"),
            "{sql}: {e}"
        );
    }
    assert!(!target.exists());
    assert_eq!(files_under(sample_store()), before);
}

#[tokio::test]
async fn sql_errors_are_datafusion_errors() {
    let s = session().await;
    let err = s
        .collect("SELECT no_such_column FROM spans")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no_such_column"), "{err}");
}

#[tokio::test]
async fn a_missing_store_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let Err(err) = Session::open(&dir.path().join("nothing")).await else {
        panic!("opened a missing store")
    };
    assert!(err.to_string().contains("import data first"), "{err}");
}

fn files_under(dir: &std::path::Path) -> BTreeSet<std::path::PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path());
            }
        }
    }
    out
}

/// Every span whose parent is stored knows the parent's node from ingest, across the documents
/// of a trace (an AWS::Lambda segment learns the API Gateway stage that called it).
#[tokio::test]
async fn parent_services_are_resolved_at_ingest() {
    let s = session().await;
    let out = csv(
        &s,
        "SELECT count(*) AS linked,
                sum(CASE WHEN c.parent_service IS NULL OR c.parent_service <> p.service THEN 1 ELSE 0 END) AS wrong
         FROM spans c JOIN spans p ON c.trace_id = p.trace_id AND c.parent_id = p.id",
    )
    .await;
    let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').collect();
    assert!(row[0].parse::<u64>().unwrap() > 10_000, "{out}");
    assert_eq!(row[1], "0", "{out}");
    let edges = csv(
        &s,
        "SELECT parent_service AS caller, service AS callee, count(*) AS calls FROM spans
         WHERE parent_service <> service AND parent_service LIKE 'users%' GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await;
    insta::assert_snapshot!(edges);
}

/// The service map's edge counts equal a plain self-join of spans on parent ids (which does not
/// use the ingest-time `parent_service`).
#[tokio::test]
async fn service_edges_equal_a_plain_count_over_spans() {
    let s = session().await;
    let from_view = csv(
        &s,
        "SELECT caller, callee, requests, errors, throttles, faults FROM service_edges ORDER BY caller, callee",
    )
    .await;
    let from_join = csv(
        &s,
        "SELECT p.service AS caller, c.service AS callee, count(*) AS requests,
                sum(CASE WHEN c.error AND NOT c.throttle THEN 1 ELSE 0 END) AS errors,
                sum(CASE WHEN c.throttle THEN 1 ELSE 0 END) AS throttles,
                sum(CASE WHEN c.fault THEN 1 ELSE 0 END) AS faults
         FROM spans c JOIN spans p ON c.trace_id = p.trace_id AND c.parent_id = p.id
         WHERE p.service <> c.service OR p.service_type IS DISTINCT FROM c.service_type
         GROUP BY p.service, p.service_type, c.service, c.service_type ORDER BY caller, callee",
    )
    .await;
    assert!(from_view.lines().count() > 20, "{from_view}");
    assert_eq!(from_view, from_join);
    insta::assert_snapshot!(from_view);
}

#[tokio::test]
async fn service_nodes_have_roots_and_resources() {
    let s = session().await;
    let out = csv(&s, "SELECT node, node_type, root, requests FROM service_nodes WHERE root OR node LIKE 'DynamoDB%' ORDER BY node, node_type").await;
    insta::assert_snapshot!(out);
}

/// The JSON functions read what the importer read: every span's `raw` document holds its own id,
/// name and HTTP method, by function (`json_get_str`) and by operator (`->>`).
#[tokio::test]
async fn json_functions_read_the_raw_documents() {
    let s = session().await;
    let out = csv(
        &s,
        "SELECT count(*) AS spans,
                sum(CASE WHEN json_get_str(raw, 'id') = id THEN 1 ELSE 0 END) AS ids,
                sum(CASE WHEN (raw->>'name') = name THEN 1 ELSE 0 END) AS names,
                sum(CASE WHEN http_method IS NOT NULL THEN 1 ELSE 0 END) AS with_method,
                sum(CASE WHEN json_get_str(raw, 'http', 'request', 'method') = http_method
                    THEN 1 ELSE 0 END) AS methods
         FROM spans WHERE kind <> 'otel'",
    )
    .await;
    let row: Vec<i64> = out
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let [spans, ids, names, with_method, methods] = row[..] else {
        panic!("{out}");
    };
    assert!(spans > 10_000, "{out}");
    assert_eq!((ids, names), (spans, spans), "{out}");
    assert!(with_method > 0, "{out}");
    assert_eq!(methods, with_method, "{out}");
}

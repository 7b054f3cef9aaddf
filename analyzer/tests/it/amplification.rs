//! Amplification against what the generator wrote (the users throttling incident, the etl
//! paging) and against traces built here (N+1 queries, Lambda retries, SQS redeliveries).

use hopscope_analyzer::Session;
use hopscope_analyzer::amplification::{self, Repeat, Window};
use serde_json::{Value, json};

use crate::constructed::{self, Doc, START};
use crate::csv;

async fn scenario(name: &str) -> (Session, Window) {
    let (scenario, store) = crate::scenario_stores()
        .iter()
        .find(|(s, _)| s.name == name)
        .unwrap();
    let window = Window {
        start_us: scenario.window.start.timestamp_micros(),
        end_us: scenario.window.end.timestamp_micros(),
    };
    (Session::open(store.path()).await.unwrap(), window)
}

/// The traces in the generator's trace files of `scenario`, and every segment and subsegment
/// document of them.
fn documents(scenario: &str) -> (i64, Vec<Value>) {
    fn walk(doc: &Value, out: &mut Vec<Value>) {
        out.push(doc.clone());
        for sub in doc["subsegments"].as_array().into_iter().flatten() {
            walk(sub, out);
        }
    }
    let dir = hopscope_test_support::samples_dir()
        .join(scenario)
        .join("traces");
    let (mut traces, mut out) = (0, Vec::new());
    for file in std::fs::read_dir(dir).unwrap() {
        let batch: Value =
            serde_json::from_str(&std::fs::read_to_string(file.unwrap().path()).unwrap()).unwrap();
        for trace in batch["Traces"].as_array().unwrap() {
            traces += 1;
            for seg in trace["Segments"].as_array().unwrap() {
                let doc: Value = serde_json::from_str(seg["Document"].as_str().unwrap()).unwrap();
                walk(&doc, &mut out);
            }
        }
    }
    (traces, out)
}

/// One number out of a one-row CSV answer.
async fn number(s: &Session, sql: &str) -> i64 {
    csv(s, sql).await.lines().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn users_sdk_retries_are_the_aws_retries_the_generator_wrote() {
    let (s, window) = scenario("users").await;
    let report = amplification::load(&s, Some(window)).await.unwrap();
    let (requests, docs) = documents("users");
    let retries: Vec<i64> = docs
        .iter()
        .filter_map(|d| d["aws"]["retries"].as_i64())
        .collect();
    let written: i64 = retries.iter().sum();
    assert!(written > 50, "the incident retries: {written}");

    assert_eq!(report.entry_points.len(), 1, "{report:#?}");
    let e = &report.entry_points[0];
    assert_eq!(e.entry, "users-api/prod");
    assert_eq!((report.requests, e.requests), (requests, requests));
    assert_eq!(e.sdk_retries, written);
    assert_eq!(
        (e.async_retries, e.repeated_calls, e.redeliveries),
        (0, 0, 0)
    );
    // One function invocation per request; its Invoke call and its PutItem (when made).
    assert_eq!(e.invocations, requests);
    let calls = number(
        &s,
        "SELECT count(*) FROM spans
         WHERE parent_id IS NOT NULL AND (parent_service IS DISTINCT FROM service)",
    )
    .await;
    assert_eq!(e.calls, calls);
    assert_eq!(
        e.amplified_requests,
        retries.iter().filter(|&&r| r > 0).count() as i64
    );
    let worst = &e.worst_traces[0];
    assert_eq!(worst.sdk_retries, *retries.iter().max().unwrap());
    assert_eq!(worst.extra(), worst.sdk_retries);
    assert_eq!(e.worst_traces.len(), amplification::WORST_TRACES);
    let summary = e.summary();
    assert!(
        summary.contains(&format!("extra: {written} SDK retries, 0 async retries")),
        "{summary}"
    );
}

#[tokio::test]
async fn etl_paging_counts_as_repeated_calls_per_route() {
    let (s, window) = scenario("etl").await;
    let report = amplification::load(&s, Some(window)).await.unwrap();
    let e = &report.entry_points[0];
    assert_eq!(e.entry, "worldbank-etl");
    // Pages of one indicator: the same route, its query string aside.
    let repeated = number(
        &s,
        "SELECT sum(n - 1) FROM (
           SELECT trace_id, split_part(http_url, '?', 1) AS route, count(*) AS n FROM spans
           WHERE service = 'api.worldbank.org' GROUP BY 1, 2 HAVING count(*) > 1)",
    )
    .await;
    assert!(repeated > 0);
    assert_eq!(e.repeated_calls, repeated);
    let most = number(
        &s,
        "SELECT max(n) FROM (
           SELECT trace_id, split_part(http_url, '?', 1) AS route, count(*) AS n FROM spans
           WHERE service = 'api.worldbank.org' GROUP BY 1, 2)",
    )
    .await;
    assert_eq!(e.worst_traces[0].repeated[0].calls, most);
    assert!(
        e.repeated.iter().all(|r| r.callee == "api.worldbank.org"
            && r.operation.starts_with("GET /v2/country/all/indicator/")),
        "{:#?}",
        e.repeated
    );
    assert_eq!(
        e.repeated.iter().map(|r| r.extra_calls).sum::<i64>(),
        repeated,
        "five indicators, five routes"
    );
}

#[tokio::test]
async fn n_plus_one_queries_lambda_retries_and_redeliveries_are_counted_apart() {
    let t = START;
    let mut docs = Vec::new();
    // N+1: ten GetItem on one table and five times one query, one GetItem retried twice.
    let n1 = "1-6a1e9a00-0000000000000000000000a1";
    let mut calls = Vec::new();
    for i in 0..10 {
        let at = t + 0.1 + f64::from(i) * 0.01;
        let mut aws = json!({"table_name": "orders"});
        if i == 0 {
            aws["retries"] = json!(2);
        }
        calls.push(Doc::aws_call(
            &format!("ddb-{i}"),
            "DynamoDB",
            "GetItem",
            aws,
            at,
            at + 0.005,
        ));
    }
    for i in 0..5 {
        let at = t + 0.3 + f64::from(i) * 0.01;
        let q = "SELECT * FROM items WHERE order_id = $1";
        calls.push(Doc::sql(
            &format!("sql-{i}"),
            "orders-db",
            q,
            at,
            at + 0.005,
        ));
    }
    calls.push(Doc::sql(
        "sql-x",
        "orders-db",
        "SELECT count(*) FROM items",
        t + 0.4,
        t + 0.41,
    ));
    docs.push(Doc::lambda_service(
        n1,
        "n1-svc",
        None,
        "orders",
        "req-n1",
        t,
        t + 0.6,
    ));
    docs.push(Doc::function(n1, "n1-fn", "n1-svc", "orders", t + 0.01, t + 0.55).with(calls));

    // Lambda retries: the same request id again; and two function segments under one.
    let r1 = "1-6a1e9a00-0000000000000000000000b1";
    docs.push(Doc::lambda_service(
        r1,
        "r1-svc-1",
        None,
        "jobs",
        "req-r1",
        t,
        t + 1.0,
    ));
    docs.push(Doc::function(
        r1,
        "r1-fn-1",
        "r1-svc-1",
        "jobs",
        t + 0.01,
        t + 0.99,
    ));
    docs.push(Doc::lambda_service(
        r1,
        "r1-svc-2",
        None,
        "jobs",
        "req-r1",
        t + 60.0,
        t + 61.0,
    ));
    docs.push(Doc::function(
        r1,
        "r1-fn-2",
        "r1-svc-2",
        "jobs",
        t + 60.01,
        t + 60.99,
    ));
    let r2 = "1-6a1e9a00-0000000000000000000000b2";
    docs.push(Doc::lambda_service(
        r2,
        "r2-svc",
        None,
        "jobs",
        "req-r2",
        t,
        t + 121.0,
    ));
    docs.push(Doc::function(
        r2,
        "r2-fn-1",
        "r2-svc",
        "jobs",
        t + 0.01,
        t + 0.99,
    ));
    docs.push(Doc::function(
        r2,
        "r2-fn-2",
        "r2-svc",
        "jobs",
        t + 120.01,
        t + 120.99,
    ));

    // One SQS message consumed twice (two invocations, two request ids).
    let q1 = "1-6a1e9a00-0000000000000000000000c1";
    let send = Doc::aws_call(
        "q1-send",
        "SQS",
        "SendMessage",
        json!({"queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue"}),
        t + 0.1,
        t + 0.12,
    );
    docs.push(Doc::lambda_service(
        q1,
        "q1-svc",
        None,
        "producer",
        "req-p",
        t,
        t + 0.2,
    ));
    docs.push(
        Doc::function(q1, "q1-fn", "q1-svc", "producer", t + 0.01, t + 0.19).with(vec![send]),
    );
    for (k, at) in [(1, 1.0), (2, 40.0)] {
        let svc = format!("q1-consumer-svc-{k}");
        docs.push(Doc::lambda_service(
            q1,
            &svc,
            Some("q1-send"),
            "consumer",
            &format!("req-c{k}"),
            t + at,
            t + at + 0.5,
        ));
        docs.push(Doc::function(
            q1,
            &format!("q1-consumer-fn-{k}"),
            &svc,
            "consumer",
            t + at + 0.01,
            t + at + 0.49,
        ));
    }
    let (_dir, s) = constructed::store(&docs).await;

    let report = amplification::load(&s, Some(constructed::window()))
        .await
        .unwrap();
    assert_eq!(report.requests, 4, "{report:#?}");
    let names: Vec<&str> = report
        .entry_points
        .iter()
        .map(|e| e.entry.as_str())
        .collect();
    // Ranked by extra work per request: 15, then 1 and 1 (the fan-out of the producer first).
    assert_eq!(names, ["orders", "producer", "jobs"]);

    let orders = &report.entry_points[0];
    assert_eq!(
        (orders.requests, orders.invocations, orders.calls),
        (1, 1, 16)
    );
    assert_eq!((orders.sdk_retries, orders.repeated_calls), (2, 9 + 4));
    let worst = &orders.worst_traces[0];
    assert_eq!(worst.trace_id, n1);
    assert_eq!(worst.extra(), 15);
    assert_eq!(
        worst.repeated,
        [
            Repeat {
                caller: Some("orders".into()),
                callee: "DynamoDB:orders".into(),
                operation: "GetItem".into(),
                calls: 10,
            },
            Repeat {
                caller: Some("orders".into()),
                callee: "orders-db".into(),
                operation: "SELECT * FROM items WHERE order_id = $1".into(),
                calls: 5,
            },
        ]
    );
    assert_eq!(
        orders.repeated[0].summary(),
        "orders -> DynamoDB:orders GetItem: 9 extra calls in 1 trace (at most 10 in one)"
    );

    let jobs = report
        .entry_points
        .iter()
        .find(|e| e.entry == "jobs")
        .unwrap();
    assert_eq!(
        (jobs.requests, jobs.invocations, jobs.async_retries),
        (2, 4, 2)
    );
    assert_eq!(
        (jobs.repeated_calls, jobs.redeliveries, jobs.calls),
        (0, 0, 0)
    );
    assert_eq!(jobs.amplified_requests, 2);

    let producer = &report.entry_points[1];
    assert_eq!((producer.invocations, producer.redeliveries), (3, 1));
    assert_eq!((producer.async_retries, producer.repeated_calls), (0, 0));
    // The SendMessage call; the consumers' invocations are not calls.
    assert_eq!(producer.calls, 1);
}

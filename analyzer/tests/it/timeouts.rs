//! Timeout forensics against what the generator wrote (the etl incident) and against traces
//! built here: every timeout, the call in flight when the caller gave up, and retries.

use std::collections::BTreeMap;

use hopscope_analyzer::Session;
use hopscope_analyzer::timeouts::{self, TimeoutKind, Window};

use crate::constructed::{self, Doc};
use crate::csv;

/// The etl scenario's store and its whole window.
async fn etl() -> (Session, Window) {
    let (scenario, store) = crate::scenario_stores()
        .iter()
        .find(|(s, _)| s.name == "etl")
        .unwrap();
    let window = Window {
        start_us: scenario.window.start.timestamp_micros(),
        end_us: scenario.window.end.timestamp_micros(),
    };
    (Session::open(store.path()).await.unwrap(), window)
}

/// REPORT lines saying `Status: timeout` in the generator's log files of `scenario`.
fn reported_timeouts_in_files(scenario: &str) -> usize {
    let dir = hopscope_test_support::samples_dir()
        .join(scenario)
        .join("logs");
    let mut n = 0;
    for file in std::fs::read_dir(dir).unwrap() {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file.unwrap().path()).unwrap()).unwrap();
        n += doc["logEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                let m = e["message"].as_str().unwrap();
                m.starts_with("REPORT ") && m.contains("Status: timeout")
            })
            .count();
    }
    n
}

#[tokio::test]
async fn every_etl_timeout_was_waiting_on_the_hanging_api_for_as_long_as_sql_says() {
    let (s, window) = etl().await;
    let report = timeouts::load(&s, Some(window)).await.unwrap();

    let in_files = reported_timeouts_in_files("etl");
    assert!(in_files > 10, "the incident has timeouts: {in_files}");
    assert_eq!(report.timeouts as usize, in_files);
    assert_eq!(report.reported.len(), 1);
    assert_eq!(report.reported[0].function, "worldbank-etl");
    assert_eq!(report.reported[0].timeouts as usize, in_files);

    // One hop: the schedule (the trace's client) -> the function, every one a Lambda timeout.
    assert_eq!(report.hops.len(), 1, "{:#?}", report.hops);
    let hop = &report.hops[0];
    assert_eq!(
        (hop.caller.as_deref(), hop.callee.as_str()),
        (None, "worldbank-etl")
    );
    assert_eq!(hop.lambda_timeouts as usize, in_files);
    assert_eq!(hop.unanswered, 0);

    // Plain SQL: per timed-out invocation, the call that never ended and how long it had run
    // when the function stopped (its segment's end).
    let expected = csv(
        &s,
        "SELECT f.trace_id, c.http_url,
                (CAST(f.end_time AS BIGINT) - CAST(c.start_time AS BIGINT)) AS running_us
         FROM spans f JOIN spans c ON c.trace_id = f.trace_id
         WHERE f.cause_message LIKE '%Task timed out%' AND c.in_progress
         ORDER BY f.trace_id",
    )
    .await;
    let expected: BTreeMap<String, (String, i64)> = expected
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_owned(), (f[1].to_owned(), f[2].parse().unwrap()))
        })
        .collect();
    assert_eq!(expected.len(), in_files, "one call in flight per timeout");
    assert_eq!(hop.events.len(), in_files);
    for e in &hop.events {
        let (url, running_us) = &expected[&e.trace_id];
        let f = e.in_flight.as_ref().expect("a call was in flight");
        assert_eq!(f.callee, "api.worldbank.org");
        let path = url
            .trim_start_matches("https://api.worldbank.org")
            .split('?')
            .next()
            .unwrap();
        assert_eq!(f.operation, format!("GET {path}"));
        let running_ms = f.running_ms.unwrap();
        assert!(
            (running_ms - *running_us as f64 / 1_000.0).abs() < 0.001,
            "{}: {running_ms} ms against {running_us} µs",
            e.trace_id
        );
        assert_eq!(e.kind, TimeoutKind::Lambda);
        assert!(!e.retried, "the generator never retries");
        // The function ran out its 30 s (after its cold start, if any).
        assert!(e.waited_ms.unwrap() >= 30_000.0, "{e:?}");
    }
    let group = &hop.waiting_on[..];
    assert_eq!(group.len(), 1);
    let w = &group[0];
    assert_eq!(w.callee.as_deref(), Some("api.worldbank.org"));
    assert_eq!(w.timeouts as usize, in_files);
    let longest = expected.values().map(|v| v.1).max().unwrap() as f64 / 1_000.0;
    let shortest = expected.values().map(|v| v.1).min().unwrap() as f64 / 1_000.0;
    assert!((w.in_flight_max_ms.unwrap() - longest).abs() < 0.001);
    assert!((w.in_flight_min_ms.unwrap() - shortest).abs() < 0.001);
    assert_eq!(
        w.operations.iter().map(|o| o.timeouts).sum::<i64>() as usize,
        in_files
    );
    assert_eq!(w.example_traces.len(), timeouts::EXAMPLE_TRACES);
    assert!(expected.contains_key(&w.example_traces[0]));
    assert!(
        hop.summary().starts_with(&format!(
            "{in_files} timeouts ({in_files} Lambda): {in_files} waiting on api.worldbank.org for > {} s (longest {:.1} s)",
            (shortest / 1_000.0).ceil() - 1.0,
            longest / 1_000.0
        )),
        "{}",
        hop.summary()
    );

    // By default the last hour of data, which holds the whole incident.
    let default = timeouts::load(&s, None).await.unwrap();
    assert_eq!(default.timeouts as usize, in_files);
    assert!(default.window.end_us <= window.end_us);
}

/// A Lambda timeout retried by Lambda (the same request id again a minute later), a call that
/// never answered under a segment that ended, and a timeout with nothing in flight.
#[tokio::test]
async fn retries_unanswered_calls_and_own_code_timeouts_are_told_apart() {
    let t0 = constructed::START;
    let retried = "1-6a1e9a00-000000000000000000000001";
    let unanswered = "1-6a1e9a00-000000000000000000000002";
    let own_code = "1-6a1e9a00-000000000000000000000003";
    let docs = vec![
        // First attempt: times out after 3 s while a GET is in flight (it started 1.3 s in).
        Doc::lambda_service(retried, "svc-1", None, "fn-a", "req-1", t0, t0 + 3.1),
        Doc::function(retried, "fn-1", "svc-1", "fn-a", t0 + 0.05, t0 + 3.05)
            .timed_out(3)
            .with(vec![Doc::http(
                "h-1",
                "api.example.com",
                "GET",
                "https://api.example.com/items/7?x=1",
                t0 + 1.35,
                None,
            )]),
        // Lambda's retry of the same request, a minute later: it answers.
        Doc::lambda_service(
            retried,
            "svc-2",
            None,
            "fn-a",
            "req-1",
            t0 + 60.0,
            t0 + 61.0,
        ),
        Doc::function(retried, "fn-2", "svc-2", "fn-a", t0 + 60.05, t0 + 60.95).with(vec![
            Doc::http(
                "h-2",
                "api.example.com",
                "GET",
                "https://api.example.com/items/7?x=1",
                t0 + 60.1,
                Some(t0 + 60.9),
            ),
        ]),
        // An API whose backend call never answered: the API gave up after 29 s.
        Doc::segment(
            unanswered,
            "api-1",
            None,
            "edge-api",
            "AWS::ApiGateway::Stage",
            t0,
            t0 + 29.0,
        )
        .with(vec![Doc::http(
            "h-3",
            "backend.internal",
            "POST",
            "http://backend.internal/orders",
            t0 + 0.5,
            None,
        )]),
        // A function that spends its whole time in its own code.
        Doc::lambda_service(own_code, "svc-3", None, "fn-b", "req-3", t0, t0 + 5.1),
        Doc::function(own_code, "fn-3", "svc-3", "fn-b", t0 + 0.05, t0 + 5.05).timed_out(5),
    ];
    let (_dir, s) = constructed::store(&docs).await;

    let report = timeouts::load(&s, Some(constructed::window()))
        .await
        .unwrap();
    assert_eq!(report.timeouts, 3, "{report:#?}");
    let hop = |callee: &str| report.hops.iter().find(|h| h.callee == callee).unwrap();

    let a = hop("fn-a");
    assert_eq!((a.timeouts, a.lambda_timeouts, a.retried), (1, 1, 1));
    let e = &a.events[0];
    assert_eq!(
        (e.trace_id.as_str(), e.span_id.clone()),
        (retried, constructed::id("fn-1"))
    );
    let f = e.in_flight.as_ref().unwrap();
    assert_eq!(
        (f.callee.as_str(), f.operation.as_str()),
        ("api.example.com", "GET /items/{id}")
    );
    assert!((f.running_ms.unwrap() - 1_700.0).abs() < 0.01, "{f:?}");
    assert!(e.retried);
    assert_eq!(
        a.waiting_on[0].summary(),
        "1 waiting on api.example.com GET /items/{id} for > 1 s (longest 1.7 s)"
    );

    let edge = hop("backend.internal");
    assert_eq!(
        (edge.caller.as_deref(), edge.unanswered, edge.retried),
        (Some("edge-api"), 1, 0)
    );
    let e = &edge.events[0];
    assert_eq!(e.kind, TimeoutKind::Unanswered);
    let f = e.in_flight.as_ref().unwrap();
    assert_eq!(
        (f.span_id.clone(), f.operation.as_str()),
        (constructed::id("h-3"), "POST /orders")
    );
    // Waited on until the API segment around it ended.
    assert!((f.running_ms.unwrap() - 28_500.0).abs() < 0.01, "{f:?}");
    assert!((e.waited_ms.unwrap() - 28_500.0).abs() < 0.01, "{e:?}");

    let b = hop("fn-b");
    assert_eq!(b.waiting_on.len(), 1);
    assert_eq!(b.waiting_on[0].callee, None);
    assert_eq!(b.events[0].in_flight, None);
    assert_eq!(
        b.waiting_on[0].summary(),
        "1 with no call in flight (own code)"
    );
}

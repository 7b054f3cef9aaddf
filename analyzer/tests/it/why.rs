//! Why: on each sample scenario, the scenario's cause leads the evidence, and the numbers
//! behind it are the store's.

use hopscope_analyzer::Session;
use hopscope_analyzer::hops::{Baseline, Window};
use hopscope_analyzer::why::{Attribute, Comparison, WhyQuery, WhyReport};
use hopscope_scenarios::Scenario;

use crate::{csv, scenario_stores};

fn incident(scenario: &Scenario) -> Window {
    Window {
        start_us: scenario.incident.start.timestamp_micros(),
        end_us: scenario.incident.end.timestamp_micros(),
    }
}

async fn why(s: &Session, scenario: &Scenario) -> WhyReport {
    let q = WhyQuery {
        caller: scenario.why.caller.clone(),
        callee: scenario.why.callee.clone(),
        window: Some(incident(scenario)),
        baseline: Baseline::Preceding,
        limit: 10,
    };
    WhyReport::load(s, &q).await.unwrap()
}

#[tokio::test]
async fn each_scenario_s_cause_leads_the_evidence() {
    for (scenario, store) in scenario_stores() {
        let s = Session::open(store.path()).await.unwrap();
        let r = why(&s, scenario).await;
        let expected = &scenario.why;
        let top = r
            .evidence
            .first()
            .unwrap_or_else(|| panic!("{}: no evidence", scenario.name));
        assert_eq!(
            (top.attribute.to_string().as_str(), top.value.as_str()),
            (expected.attribute.as_str(), expected.value.as_str()),
            "{}: {:#?}",
            scenario.name,
            r.evidence
        );
        assert_eq!(r.compared_with, Comparison::Baseline, "{}", scenario.name);
        // It sets the slow calls apart: most of them, few of the calls before.
        assert!(
            top.slow_share >= 0.9 && top.others_share <= 0.15,
            "{}: {top:?}",
            scenario.name
        );
        assert!(!top.traces.is_empty(), "{}", scenario.name);
    }
}

/// The call counts are the hop's calls in plain SQL, and the slow ones those above the p90 or
/// failed.
#[tokio::test]
async fn the_calls_compared_are_the_hop_s_calls() {
    let (scenario, store) = scenario_stores()
        .iter()
        .find(|(s, _)| s.name == "dragons")
        .unwrap();
    let s = Session::open(store.path()).await.unwrap();
    let r = why(&s, scenario).await;
    let w = incident(scenario);
    let count = |w: Window, slower_than: f64| {
        format!(
            "SELECT count(*) AS n FROM spans
             WHERE hop_caller = 'dragons-api/prod' AND service = 'listDragons'
               AND (parent_service IS DISTINCT FROM service) AND duration_ms > {slower_than}
               AND start_time >= to_timestamp_micros({}) AND start_time < to_timestamp_micros({})",
            w.start_us, w.end_us
        )
    };
    assert_eq!(csv(&s, &count(w, -1.0)).await, format!("n\n{}\n", r.calls));
    assert_eq!(
        csv(&s, &count(w.preceding(), -1.0)).await,
        format!("n\n{}\n", r.others.calls)
    );
    // No GET /dragons failed in the incident: the slow calls are the ones above the p90.
    let p90 = r.p90_ms.unwrap();
    assert_eq!(r.failed, 0);
    assert_eq!(
        csv(&s, &count(w, p90)).await,
        format!("n\n{}\n", r.slow.calls)
    );
    assert!(r.slow.calls > 0 && r.slow.calls * 10 <= r.calls);
    // The cold starts of the slow calls, counted from the Initialization subsegments.
    let cold = &r.evidence[0];
    assert_eq!(cold.attribute, Attribute::ColdStart);
    assert_eq!(
        (cold.slow, r.slow.calls),
        (r.slow.examined, r.slow.examined)
    );
    // Where the time went: listDragons' initialization, seconds of it per slow call.
    assert_eq!(r.time[0].part, "listDragons init");
    assert!(
        r.time[0].slow_ms > 1000.0 && r.time[0].others_ms < 100.0,
        "{:?}",
        r.time
    );
}

/// Without a baseline, the slow calls are compared with the window's other calls.
#[tokio::test]
async fn without_a_baseline_the_rest_of_the_window_is_compared() {
    let (scenario, store) = scenario_stores()
        .iter()
        .find(|(s, _)| s.name == "users")
        .unwrap();
    let s = Session::open(store.path()).await.unwrap();
    let q = WhyQuery {
        caller: Some("users-api-create-user".to_owned()),
        callee: "DynamoDB:users".to_owned(),
        window: Some(incident(scenario)),
        baseline: Baseline::Off,
        limit: 3,
    };
    let r = WhyReport::load(&s, &q).await.unwrap();
    assert_eq!(r.compared_with, Comparison::RestOfWindow);
    assert_eq!(r.slow.calls + r.others.calls, r.calls);
    assert_eq!(r.evidence[0].attribute, Attribute::Outcome);
    assert!(
        r.evidence[0]
            .value
            .starts_with("throttled 400 ProvisionedThroughputExceededException"),
        "{:?}",
        r.evidence
    );
    // Throttled calls failed: every one is a slow call, none is among the others.
    assert_eq!(r.evidence[0].others, 0);
}

//! The service map and the hops through a cluster session: their hand-written tallies run on
//! the client, their SQL on the cluster, and the reports are those of a local session.

use hopscope_analyzer::hops::{HopQuery, HopReport};
use hopscope_analyzer::service_map::ServiceMap;
use hopscope_cluster::LocalPart;
use hopscope_test_support::sample_store;
use serde_json::Value;

use crate::sessions;

/// `value` with every float rounded to 12 significant digits: the tallies add partitions in
/// the order they finish.
fn rounded(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => {
            let v: f64 = format!("{:.11e}", n.as_f64().unwrap()).parse().unwrap();
            serde_json::json!(v)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(rounded).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, rounded(v))).collect()),
        other => other,
    }
}

fn json(report: &impl serde::Serialize) -> Value {
    rounded(serde_json::to_value(report).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_map_is_the_local_one() {
    let (local, cluster) = sessions(sample_store()).await;
    let want = ServiceMap::load(&local).await.unwrap();
    let got = ServiceMap::load(&cluster).await.unwrap();
    assert!(!want.edges.is_empty());
    assert_eq!(json(&got), json(&want));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_hops_are_the_local_ones() {
    let (local, cluster) = sessions(sample_store()).await;
    // No window: the last hour of data, found with SQL on the cluster; p99 series: SQL too.
    let q = HopQuery {
        series_buckets: 6,
        ..HopQuery::default()
    };
    let want = HopReport::load(&local, &q).await.unwrap();
    let got = HopReport::load(&cluster, &q).await.unwrap();
    assert!(!want.hops.is_empty());
    assert!(
        want.hops
            .iter()
            .any(|h| h.p99_series.iter().any(Option::is_some))
    );
    assert_eq!(json(&got), json(&want));
}

#[test]
fn the_notices_say_what_runs_where() {
    for part in [LocalPart::ServiceMap, LocalPart::Hops] {
        let notice = part.notice("df://scheduler:50050");
        assert!(notice.contains("runs on this client"), "{notice}");
        assert!(notice.contains("on df://scheduler:50050"), "{notice}");
    }
}

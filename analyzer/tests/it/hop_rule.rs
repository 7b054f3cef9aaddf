//! Every reader of hops and map edges counts the same calls: the ones
//! `hopscope_schema::spans::enters_service` (hops) and `enters_node` (the map) decide.

use std::collections::BTreeMap;

use hopscope_analyzer::hops::{
    Baseline, HISTOGRAM_BUCKETS, HopDetail, HopQuery, HopReport, Window,
};
use hopscope_analyzer::service_map::ServiceMap;

use crate::{csv, session};

/// (caller, callee) -> count.
type Counts = BTreeMap<(String, String), i64>;

/// Rows `caller,callee,n` of a CSV with a header.
fn counts(text: &str) -> Counts {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.rsplitn(3, ',').collect();
            ((f[2].to_owned(), f[1].to_owned()), f[0].parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn the_views_the_tallies_and_the_hop_detail_count_the_same_calls() {
    let s = session().await;
    // A hop is a map edge between two services; a map edge within one (a Lambda function
    // under its Lambda service) is an edge of nodes, not a hop.
    let edges = counts(
        &csv(
            &s,
            "SELECT caller, callee, sum(requests) AS n FROM service_edges
             WHERE caller <> callee GROUP BY caller, callee ORDER BY caller, callee",
        )
        .await,
    );
    let hops_view = counts(
        &csv(
            &s,
            "SELECT caller, callee, requests FROM hops WHERE caller IS NOT NULL ORDER BY caller, callee",
        )
        .await,
    );
    assert!(edges.len() > 20, "{edges:?}");
    assert_eq!(hops_view, edges, "the hops view against service_edges");

    let map = ServiceMap::load(&s).await.unwrap();
    let mut map_edges = Counts::new();
    for e in map.edges.iter().filter(|e| e.caller != e.callee) {
        *map_edges
            .entry((e.caller.clone(), e.callee.clone()))
            .or_default() += e.requests;
    }
    assert_eq!(map_edges, edges, "the map's tally against service_edges");

    let all_time = Window {
        start_us: 0,
        end_us: 4_102_444_800_000_000,
    };
    let report = HopReport::load(
        &s,
        &HopQuery {
            window: Some(all_time),
            baseline: Baseline::Off,
            ..HopQuery::default()
        },
    )
    .await
    .unwrap();
    let mut tallied = Counts::new();
    for hop in &report.hops {
        if let Some(caller) = &hop.caller {
            tallied.insert((caller.clone(), hop.callee.clone()), hop.now.requests);
        }
        let detail = HopDetail::load(&s, hop, all_time, None, HISTOGRAM_BUCKETS)
            .await
            .unwrap();
        assert_eq!(
            detail.samples.0, hop.now.samples,
            "the detail of {:?} -> {}",
            hop.caller, hop.callee
        );
        assert_eq!(
            detail.buckets.iter().map(|b| b.count).sum::<i64>(),
            hop.now.samples
        );
    }
    assert_eq!(tallied, edges, "the hops tally against service_edges");
}

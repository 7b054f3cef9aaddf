//! The service map read in one pass agrees with the `service_nodes` and `service_edges` views.

use hopscope_analyzer::service_map::ServiceMap;

use crate::{csv, session};

#[tokio::test]
async fn the_map_matches_the_views() {
    let s = session().await;
    let map = ServiceMap::load(&s).await.unwrap();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();

    let nodes: String = map
        .nodes
        .iter()
        .map(|n| {
            let t = opt(&n.node_type);
            format!("{},{t},{},{},{}\n", n.name, n.root, n.requests, n.faults)
        })
        .collect();
    let view = csv(
        &s,
        "SELECT node, node_type, root, requests, faults FROM service_nodes
         ORDER BY node, node_type",
    )
    .await;
    assert_eq!(
        format!("node,node_type,root,requests,faults\n{nodes}"),
        view
    );
    assert!(map.nodes.iter().any(|n| n.root) && map.nodes.iter().any(|n| !n.root));

    let edges: String = map
        .edges
        .iter()
        .map(|e| {
            let t = opt(&e.callee_type);
            format!(
                "{},{},{t},{},{},{},{},{},{},{}\n",
                e.caller,
                e.callee,
                e.requests,
                e.ok,
                e.errors,
                e.throttles,
                e.faults,
                e.p99_ms,
                e.async_calls
            )
        })
        .collect();
    let view = csv(
        &s,
        "SELECT caller, callee, callee_type, requests, ok, errors, throttles, faults, p99_ms,
                async_calls
         FROM service_edges ORDER BY caller, callee, callee_type",
    )
    .await;
    let header = "caller,callee,callee_type,requests,ok,errors,throttles,faults,p99_ms,async_calls";
    assert_eq!(format!("{header}\n{edges}"), view);
    assert!(map.edges.len() > 10);
}

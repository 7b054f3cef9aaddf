//! The service map read in one pass agrees with the `service_nodes` and `service_edges` views.

use hopscope_analyzer::service_map::ServiceMap;
use hopscope_analyzer::window::Window;

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
                "{},{},{t},{},{},{},{},{},{},{},{},{}\n",
                e.caller,
                e.callee,
                e.requests,
                e.ok,
                e.errors,
                e.throttles,
                e.faults,
                e.p50_ms,
                e.p99_ms,
                e.async_calls,
                e.dwell_p99_ms.map(|d| d.to_string()).unwrap_or_default()
            )
        })
        .collect();
    let view = csv(
        &s,
        "SELECT caller, callee, callee_type, requests, ok, errors, throttles, faults, p50_ms,
                p99_ms, async_calls, dwell_p99_ms
         FROM service_edges ORDER BY caller, callee, callee_type",
    )
    .await;
    let header = "caller,callee,callee_type,requests,ok,errors,throttles,faults,p50_ms,p99_ms,\
                  async_calls,dwell_p99_ms";
    assert_eq!(format!("{header}\n{edges}"), view);
    assert!(map.edges.len() > 10);
}

/// In a window, each edge's calls and outcomes equal a plain count over the spans in it: the
/// window only prunes the map's scan, and each row's time is tested in the tally.
#[tokio::test]
async fn a_windowed_map_counts_the_spans_in_its_window() {
    let s = session().await;
    let bounds = csv(
        &s,
        "SELECT CAST(min(start_time) AS BIGINT), CAST(max(start_time) AS BIGINT) FROM spans",
    )
    .await;
    let (lo, hi) = bounds.lines().nth(1).unwrap().split_once(',').unwrap();
    let (lo, hi): (i64, i64) = (lo.parse().unwrap(), hi.parse().unwrap());
    // The middle third: files and row groups straddle both edges.
    let window = Window {
        start_us: lo + (hi - lo) / 3,
        end_us: lo + 2 * (hi - lo) / 3,
    };
    let map = ServiceMap::load_in(&s, Some(window)).await.unwrap();
    let edges: String = map
        .edges
        .iter()
        .map(|e| {
            let t = e.callee_type.clone().unwrap_or_default();
            let (c, r, f) = (&e.caller, e.requests, e.faults);
            format!("{c},{},{t},{r},{},{f}\n", e.callee, e.errors + e.throttles)
        })
        .collect();
    let ts = |us: i64| format!("arrow_cast({us}, 'Timestamp(Microsecond, Some(\"UTC\"))')");
    let plain = csv(
        &s,
        &format!(
            "SELECT parent_service AS caller, service AS callee, service_type AS callee_type,
                    count(*) AS requests, sum(CASE WHEN error THEN 1 ELSE 0 END) AS errors,
                    sum(CASE WHEN fault THEN 1 ELSE 0 END) AS faults
             FROM spans
             WHERE parent_service IS NOT NULL
               AND (parent_service <> service OR parent_service_type IS DISTINCT FROM service_type)
               AND start_time >= {} AND start_time < {}
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            ts(window.start_us),
            ts(window.end_us)
        ),
    )
    .await;
    assert_eq!(
        format!("caller,callee,callee_type,requests,errors,faults\n{edges}"),
        plain
    );
    let all = ServiceMap::load(&s).await.unwrap();
    let total = |m: &ServiceMap| m.edges.iter().map(|e| e.requests).sum::<i64>();
    assert!(
        0 < total(&map) && total(&map) < total(&all),
        "the window holds some calls, not all"
    );
}

/// A store of two Regions holding the same application (the users scenario, two seeds): the map
/// keeps each service once per Region, with that Region's numbers, as the views group them.
#[tokio::test]
async fn a_service_in_two_regions_is_two_nodes() {
    use hopscope_collector::output::{FileCtx, Output};
    use hopscope_store::Store;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::open_or_create(&root).unwrap();
    let mut writer = store.writer();
    let mut out = Output::new(&mut writer, 1 << 14);
    let mut single_region = Vec::new();
    for (region, seed) in [("eu-west-1", 42), ("us-east-1", 7)] {
        let generated = dir.path().join(format!("users-{seed}"));
        hopscope_scenarios::generate("users", 100, seed, &generated).unwrap();
        out.set_origin(&hopscope_schema::Origin {
            account_id: Some("123456789012".into()),
            region: Some(region.into()),
        });
        let mut files: Vec<_> = std::fs::read_dir(generated.join("traces"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in &files {
            let ctx = FileCtx {
                path: file.to_str().unwrap(),
                log_group: None,
                now: hopscope_collector::output::clock_micros(),
            };
            let text = std::fs::read_to_string(file).unwrap();
            hopscope_collector::xray::import_batch_get_traces(&text, &ctx, &mut out).unwrap();
        }
        // The same traces alone, for the numbers each Region's nodes must have.
        let alone = hopscope_test_support::import_store(&[generated.join("traces")]);
        let session = hopscope_analyzer::Session::open(alone.path())
            .await
            .unwrap();
        single_region.push((region, ServiceMap::load(&session).await.unwrap()));
    }
    out.flush_all().unwrap();
    drop(out);
    let s = hopscope_analyzer::Session::open(&root).await.unwrap();
    let map = ServiceMap::load(&s).await.unwrap();

    for (region, alone) in &single_region {
        let node = alone
            .nodes
            .iter()
            .find(|n| n.name == "users-api/prod")
            .unwrap();
        let here = map
            .nodes
            .iter()
            .find(|n| n.name == format!("users-api/prod [{region}]"))
            .unwrap_or_else(|| panic!("{region}: {:?}", map.nodes));
        assert_eq!(here.region.as_deref(), Some(*region));
        assert_eq!(
            (here.requests, here.faults, here.root),
            (node.requests, node.faults, true)
        );
        for edge in &alone.edges {
            let q = |n: &str| format!("{n} [{region}]");
            let mine = map
                .edges
                .iter()
                .find(|e| e.caller == q(&edge.caller) && e.callee == q(&edge.callee))
                .unwrap_or_else(|| panic!("{region}: no {} -> {}", edge.caller, edge.callee));
            assert_eq!(
                (mine.requests, mine.faults, mine.p99_ms),
                (edge.requests, edge.faults, edge.p99_ms)
            );
        }
    }
    assert_eq!(
        map.nodes.len(),
        single_region
            .iter()
            .map(|(_, m)| m.nodes.len())
            .sum::<usize>()
    );
    let view = csv(
        &s,
        "SELECT region, sum(requests) AS requests FROM service_nodes
         WHERE node = 'users-api/prod' GROUP BY region ORDER BY region",
    )
    .await;
    let expected: String = single_region
        .iter()
        .map(|(r, m)| {
            let n = m.nodes.iter().find(|n| n.name == "users-api/prod").unwrap();
            format!("{r},{}\n", n.requests)
        })
        .collect();
    assert_eq!(view, format!("region,requests\n{expected}"));
}

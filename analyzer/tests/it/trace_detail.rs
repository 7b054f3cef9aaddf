//! One trace in full: waterfall order, critical path, parts, and its REPORT and log lines.

use hopscope_analyzer::trace_detail::{SpanPart, TraceDetail};

use crate::{csv, session};

#[tokio::test]
async fn a_cold_start_trace_shows_its_init_on_the_critical_path_with_its_logs() {
    let s = session().await;
    let ids = csv(
        &s,
        "SELECT trace_id FROM spans WHERE name = 'Initialization' AND service = 'listDragons'
         ORDER BY critical_ms DESC, trace_id LIMIT 1",
    )
    .await;
    let trace_id = ids.lines().nth(1).unwrap();
    let t = TraceDetail::load(&s, trace_id).await.unwrap().unwrap();

    // Waterfall order: every span comes after its parent, one level deeper.
    for (i, span) in t.spans.iter().enumerate() {
        match &span.parent_id {
            Some(p) => {
                let at = t.spans[..i]
                    .iter()
                    .position(|x| &x.id == p)
                    .expect("parent first");
                assert_eq!(span.depth, t.spans[at].depth + 1, "{}", span.name);
            }
            None => assert_eq!(span.depth, 0),
        }
    }
    let root = &t.spans[0];
    assert_eq!((root.name.as_str(), root.depth), ("dragons-api/prod", 0));
    assert!(root.on_critical_path);
    // Critical time adds up to the root's duration.
    let critical: f64 = t.spans.iter().filter_map(|x| x.critical_ms).sum();
    assert!(
        (critical - root.duration_ms.unwrap()).abs() < 0.01,
        "{critical}"
    );

    let init = t.spans.iter().find(|x| x.name == "Initialization").unwrap();
    assert_eq!(init.part, SpanPart::Init);
    assert!(init.on_critical_path);
    assert!(
        t.spans
            .iter()
            .any(|x| x.part == SpanPart::Downstream && x.name == "SSM")
    );
    assert!(t.spans.iter().any(|x| x.part == SpanPart::Overhead));

    // The REPORT of the request is joined, with the cold start's init duration ...
    assert_eq!(t.invocations.len(), 1);
    let report = &t.invocations[0];
    assert_eq!(report.function, "listDragons");
    let init_ms = report.init_ms.expect("a cold start reports Init Duration");
    assert!(
        (init_ms - init.duration_ms.unwrap()).abs() < 1.0,
        "{init_ms}"
    );
    // The Lambda service segment carries the request id that joins it.
    assert!(
        t.spans
            .iter()
            .any(|x| x.request_id.as_deref() == Some(&report.request_id[..]))
    );
    // ... and so are the request's log lines, in time order.
    assert!(
        t.logs
            .iter()
            .any(|l| l.message.starts_with("START RequestId: "))
    );
    assert!(
        t.logs
            .iter()
            .all(|l| l.request_id.as_deref() == Some(&report.request_id[..])
                || l.message.contains(&report.request_id))
    );
    assert!(
        t.logs
            .windows(2)
            .all(|w| w[0].timestamp_us <= w[1].timestamp_us)
    );

    assert_eq!(
        TraceDetail::load(&s, "1-00000000-000000000000000000000000")
            .await
            .unwrap(),
        None
    );
    // Quotes in an id are data, not SQL.
    assert_eq!(TraceDetail::load(&s, "x' OR '1'='1").await.unwrap(), None);
}

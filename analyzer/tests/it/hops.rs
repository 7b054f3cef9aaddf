//! Hops: the view and the report agree with plain SQL over `spans`, and lose no critical time.

use hopscope_analyzer::hops::{Baseline, HopQuery, HopReport, Window};

use crate::{csv, session};

#[tokio::test]
async fn hops_hold_all_critical_time_and_every_call() {
    let s = session().await;
    // Every span's critical time lands in exactly one hop.
    let totals = csv(
        &s,
        "SELECT (SELECT round(sum(critical_ms), 3) FROM hops) AS in_hops,
                (SELECT round(sum(critical_ms), 3) FROM spans) AS in_spans",
    )
    .await;
    let values: Vec<&str> = totals.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(values[0], values[1], "{totals}");

    // A hop's calls are the spans where the trace entered the callee from the caller.
    let mismatched = csv(
        &s,
        "SELECT count(*) AS bad FROM hops h JOIN (
           SELECT hop_caller, service, count(*) AS n FROM spans
           WHERE (parent_service IS DISTINCT FROM service) GROUP BY hop_caller, service) c
         ON (c.hop_caller IS NOT DISTINCT FROM h.caller) AND c.service = h.callee
         WHERE c.n <> h.requests",
    )
    .await;
    assert_eq!(mismatched, "bad\n0\n");

    // Downstream time is what the hops called from the callee hold.
    let downstream = csv(
        &s,
        "SELECT count(*) AS bad FROM hops h
         LEFT JOIN (SELECT caller, sum(critical_ms) AS d FROM hops GROUP BY caller) x
           ON x.caller = h.callee
         WHERE abs(h.downstream_ms - coalesce(x.d, 0)) > 0.001",
    )
    .await;
    assert_eq!(downstream, "bad\n0\n");
}

#[tokio::test]
async fn the_report_over_all_time_matches_the_view() {
    let s = session().await;
    let all = Window {
        start_us: 0,
        end_us: i64::MAX / 2,
    };
    let report = HopReport::load(
        &s,
        &HopQuery {
            window: Some(all),
            baseline: Baseline::Off,
            slowest_traces: 2,
            series_buckets: 0,
        },
    )
    .await
    .unwrap();
    let view = csv(
        &s,
        "SELECT count(*) AS n, round(max(critical_ms), 3) AS top FROM hops",
    )
    .await;
    let top = report
        .hops
        .iter()
        .map(|h| h.now.critical_ms)
        .fold(0.0, f64::max);
    assert_eq!(
        view,
        format!(
            "n,top\n{},{}\n",
            report.hops.len(),
            (top * 1000.0).round() / 1000.0
        )
    );
    // Without a baseline the ranking is by critical time held.
    let ranked: Vec<f64> = report.hops.iter().map(|h| h.added_ms_per_trace).collect();
    assert!(ranked.windows(2).all(|w| w[0] >= w[1]), "{ranked:?}");
    assert!(report.hops.iter().all(|h| h.before.is_none()));
    let shares: f64 = report.hops.iter().map(|h| h.now.share).sum();
    assert!((shares - 1.0).abs() < 1e-9, "{shares}");
    // Evidence is ordered and belongs to the hop.
    let top = &report.hops[0];
    assert_eq!(top.slowest_traces.len(), 2);
    assert!(top.slowest_traces[0].critical_ms >= top.slowest_traces[1].critical_ms);
}

#[tokio::test]
async fn p99_series_cover_the_window_in_buckets() {
    let s = session().await;
    let window = Window {
        start_us: 1_795_165_200_000_000, // 2026-11-20T09:00:00Z
        end_us: 1_795_172_400_000_000,   // 11:00
    };
    let report = HopReport::load(
        &s,
        &HopQuery {
            window: Some(window),
            baseline: Baseline::Off,
            slowest_traces: 0,
            series_buckets: 12,
        },
    )
    .await
    .unwrap();
    let culprit = report
        .hops
        .iter()
        .find(|h| h.callee == "BedrockRuntime")
        .expect("the chatbot's Bedrock hop");
    assert_eq!(culprit.p99_series.len(), 12);
    // The chatbot's incident starts at 10:28: the last buckets are far slower than the first.
    let first = culprit.p99_series[0].unwrap();
    let last = culprit.p99_series[11].unwrap();
    assert!(last > 3.0 * first, "{:?}", culprit.p99_series);
}

//! Hops: the view and the report agree with plain SQL over `spans`, and lose no critical time.

use hopscope_analyzer::hops::{Baseline, HopQuery, HopReport, HopStats, Window};

use hopscope_analyzer::Session;

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
    let report = all_time(&s, 2).await;
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

/// The ingest-time per-trace totals give what grouping spans by trace would.
#[tokio::test]
async fn traces_and_evidence_match_grouping_by_trace() {
    let s = session().await;
    let by_trace = csv(
        &s,
        "SELECT count(*) AS bad FROM hops h JOIN (
           SELECT hop_caller, service, count(DISTINCT trace_id) AS n FROM spans
           GROUP BY hop_caller, service) c
         ON (c.hop_caller IS NOT DISTINCT FROM h.caller) AND c.service = h.callee
         WHERE c.n <> h.traces",
    )
    .await;
    assert_eq!(by_trace, "bad\n0\n");

    let report = all_time(&s, 3).await;
    for h in &report.hops {
        let caller = h
            .caller
            .as_deref()
            .map_or("hop_caller IS NULL".into(), |c| {
                format!("hop_caller = '{c}'")
            });
        let expected = csv(
            &s,
            &format!(
                "SELECT trace_id, round(sum(critical_ms), 3) AS ms FROM spans
                 WHERE {caller} AND service = '{}'
                 GROUP BY trace_id ORDER BY ms DESC, trace_id LIMIT 3",
                h.callee
            ),
        )
        .await;
        let expected: Vec<(String, f64)> = expected
            .lines()
            .skip(1)
            .map(|l| {
                let (id, ms) = l.split_once(',').unwrap();
                (id.to_owned(), ms.parse().unwrap())
            })
            .collect();
        let got: Vec<(String, f64)> = h
            .slowest_traces
            .iter()
            .map(|t| {
                (
                    t.trace_id.clone(),
                    (t.critical_ms * 1000.0).round() / 1000.0,
                )
            })
            .collect();
        assert_eq!(got, expected, "{:?} -> {}", h.caller, h.callee);
    }
}

/// Window and baseline aggregated in one pass give what each window gives alone.
#[tokio::test]
async fn a_baseline_in_the_same_pass_equals_each_window_alone() {
    let s = session().await;
    let bounds = csv(
        &s,
        "SELECT CAST(min(start_time) AS BIGINT) AS lo, CAST(max(start_time) AS BIGINT) AS hi FROM spans",
    )
    .await;
    let (lo, hi) = bounds.lines().nth(1).unwrap().split_once(',').unwrap();
    let (lo, hi): (i64, i64) = (lo.parse().unwrap(), hi.parse().unwrap());
    let mid = lo + (hi - lo) * 2 / 3;
    let window = Window {
        start_us: mid,
        end_us: hi + 1,
    };
    let baseline = Window {
        start_us: lo,
        end_us: mid,
    };
    let alone = |w: Window| {
        let s = &s;
        async move {
            let q = HopQuery {
                window: Some(w),
                baseline: Baseline::Off,
                slowest_traces: 3,
                series_buckets: 0,
            };
            HopReport::load(s, &q).await.unwrap()
        }
    };
    let (now, before) = (alone(window).await, alone(baseline).await);
    let both = HopReport::load(
        &s,
        &HopQuery {
            window: Some(window),
            baseline: Baseline::Window(baseline),
            slowest_traces: 3,
            series_buckets: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (both.traces, both.baseline_traces),
        (now.traces, before.traces)
    );
    assert!(now.traces > 0 && before.traces > 0);
    for h in &both.hops {
        let find = |r: &HopReport| {
            r.hops
                .iter()
                .find(|x| x.caller == h.caller && x.callee == h.callee)
                .map(|x| x.now.clone())
        };
        let hop = format!("{:?} -> {}", h.caller, h.callee);
        assert_close(Some(&h.now), find(&now).as_ref(), &hop);
        assert_close(h.before.as_ref(), find(&before).as_ref(), &hop);
    }
}

/// Equal up to the order floating-point sums were taken in.
fn assert_close(a: Option<&HopStats>, b: Option<&HopStats>, what: &str) {
    let (Some(a), Some(b)) = (a, b) else {
        assert_eq!(a, b, "{what}");
        return;
    };
    let floats = |s: &HopStats| {
        [
            s.critical_ms,
            s.critical_ms_per_trace,
            s.share,
            s.init_ms,
            s.handler_ms,
            s.overhead_ms,
            s.downstream_ms,
        ]
    };
    let without_floats = |s: &HopStats| HopStats {
        critical_ms: 0.0,
        critical_ms_per_trace: 0.0,
        share: 0.0,
        init_ms: 0.0,
        handler_ms: 0.0,
        overhead_ms: 0.0,
        downstream_ms: 0.0,
        ..s.clone()
    };
    assert_eq!(without_floats(a), without_floats(b), "{what}");
    let close = |(x, y): (f64, f64)| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
    assert!(
        floats(a).into_iter().zip(floats(b)).all(close),
        "{what}: {a:?} vs {b:?}"
    );
}

/// The report's hand-written tally and the `hops` view's SQL agree on every number of every hop.
#[tokio::test]
async fn the_tally_agrees_with_the_view_on_every_hop() {
    let s = session().await;
    let report = all_time(&s, 3).await;
    let traces: f64 = csv(
        &s,
        "SELECT count(*) AS n FROM spans WHERE parent_id IS NULL",
    )
    .await
    .lines()
    .nth(1)
    .unwrap()
    .parse()
    .unwrap();
    assert_eq!(report.traces as f64, traces);
    let view = csv(
        &s,
        "SELECT coalesce(caller, '-'), callee, coalesce(callee_type, '-'), requests, traces,
                critical_ms, share, init_ms, handler_ms, overhead_ms, downstream_ms,
                coalesce(p50_ms, -1), coalesce(p90_ms, -1), coalesce(p99_ms, -1),
                samples, censored, CAST(p50_low_sample AS INT), CAST(p90_low_sample AS INT),
                CAST(p99_low_sample AS INT),
                errors, throttles, faults, timeouts, cold_starts, invocations,
                coalesce(cold_start_ratio, -1)
         FROM hops",
    )
    .await;
    let rows: Vec<Vec<String>> = view
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), report.hops.len());
    for h in &report.hops {
        let caller = h.caller.clone().unwrap_or("-".into());
        let row = rows
            .iter()
            .find(|r| r[0] == caller && r[1] == h.callee)
            .unwrap_or_else(|| panic!("{caller} -> {} not in the view", h.callee));
        let n = &h.now;
        let got = [
            n.requests as f64,
            n.traces as f64,
            n.critical_ms,
            n.share,
            n.init_ms,
            n.handler_ms,
            n.overhead_ms,
            n.downstream_ms,
            n.p50_ms.unwrap_or(-1.0),
            n.p90_ms.unwrap_or(-1.0),
            n.p99_ms.unwrap_or(-1.0),
            n.samples as f64,
            n.censored as f64,
            f64::from(u8::from(n.p50_low_sample)),
            f64::from(u8::from(n.p90_low_sample)),
            f64::from(u8::from(n.p99_low_sample)),
            n.errors as f64,
            n.throttles as f64,
            n.faults as f64,
            n.timeouts as f64,
            n.cold_starts as f64,
            n.invocations as f64,
            n.cold_start_ratio.unwrap_or(-1.0),
        ];
        assert_eq!(row[2], h.callee_type.clone().unwrap_or("-".into()));
        for (i, g) in got.iter().enumerate() {
            let want: f64 = row[3 + i].parse().unwrap();
            assert!(
                (g - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{caller} -> {}: column {} is {g}, the view says {want}",
                h.callee,
                3 + i
            );
        }
        assert!((n.critical_ms_per_trace - n.critical_ms / traces).abs() < 1e-9);
    }
}

/// The hops of everything stored, with no baseline and `slowest` traces of evidence.
async fn all_time(s: &Session, slowest: usize) -> HopReport {
    let q = HopQuery {
        window: Some(Window {
            start_us: 0,
            end_us: i64::MAX / 2,
        }),
        baseline: Baseline::Off,
        slowest_traces: slowest,
        series_buckets: 0,
    };
    HopReport::load(s, &q).await.unwrap()
}

/// A window a trace budget held part of: the hop report and the map carry the coverage the
/// collection recorded, and say what it means; windows no collection recorded carry none.
#[tokio::test]
async fn reports_say_what_share_of_the_windows_traces_the_store_holds() {
    use hopscope_analyzer::coverage::Coverage;
    use hopscope_collector::output::Output;
    use hopscope_schema::trace_coverage::TraceCoverageRow;

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = hopscope_store::Store::open_or_create(&root).unwrap();
    let mut writer = store.writer();
    let mut out = Output::new(&mut writer, 1024);
    let hour = |h: i64| 1_795_165_200_000_000 + h * 3_600_000_000; // 2026-11-20T09:00Z + h
    let origin = hopscope_schema::Origin {
        account_id: Some("123456789012".into()),
        region: Some("eu-west-1".into()),
    };
    out.set_origin(&origin);
    for (start, seen, held) in [(0, 1000, 300), (1, 500, 500)] {
        out.coverage.append(&TraceCoverageRow {
            window_start: hour(start),
            window_end: hour(start + 1),
            world: "transaction_search",
            traces_seen: seen,
            traces_held: held,
        });
    }
    out.flush_all().unwrap();
    drop(out);
    let s = Session::open(&root).await.unwrap();
    let window = |a: i64, b: i64| Window {
        start_us: hour(a),
        end_us: hour(b),
    };
    let first = Coverage::of(&s, Some(window(0, 1))).await.unwrap().unwrap();
    assert_eq!((first.traces_seen, first.traces_held), (1000, 300));
    assert_eq!(first.worlds, ["transaction_search"]);
    let note = first.note().unwrap();
    assert!(
        note.contains("300 of the 1000 traces") && note.contains("30.0%"),
        "{note}"
    );
    let both = Coverage::of(&s, Some(window(0, 2))).await.unwrap().unwrap();
    assert_eq!((both.traces_seen, both.traces_held), (1500, 800));
    let whole = Coverage::of(&s, Some(window(1, 2))).await.unwrap().unwrap();
    assert_eq!(whole.note(), None, "all held: nothing to say");
    assert_eq!(Coverage::of(&s, Some(window(5, 6))).await.unwrap(), None);

    let q = HopQuery {
        window: Some(window(0, 1)),
        ..HopQuery::default()
    };
    assert_eq!(
        HopReport::load(&s, &q).await.unwrap().coverage,
        Some(first.clone())
    );
    let map = hopscope_analyzer::service_map::ServiceMap::load_in(&s, Some(window(0, 1)))
        .await
        .unwrap();
    assert_eq!(map.coverage, Some(first));
    // A store of imported files has no coverage rows: nothing is said.
    let imported = Session::open(hopscope_test_support::sample_store())
        .await
        .unwrap();
    assert_eq!(Coverage::of(&imported, None).await.unwrap(), None);
}

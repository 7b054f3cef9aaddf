//! Frame render time: the overview on the sample scenarios, and the waterfall of a trace of
//! 100,000 spans scrolled to its middle. Target: well under 16 ms a frame (60 per second).
//! Run with `cargo bench -p hopscope-tui --bench render`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hopscope_analyzer::Session;
use hopscope_analyzer::trace_detail::{LogLine, SpanPart, TraceDetail, WaterfallSpan};
use hopscope_test_support::sample_store;
use hopscope_tui::app::{Action, App, Cursor, Effect, Options, Screen, Slot, TraceView};
use hopscope_tui::data::{Anchor, Response, TimeRange, answer};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SPANS: usize = 100_000;

fn options() -> Options {
    Options {
        range: TimeRange {
            span_secs: 3600,
            anchor: Anchor::LatestData,
        },
        color: true,
        live: None,
        rules: Err("no rules".into()),
    }
}

/// The overview of the committed sample scenarios, loaded as the worker loads it.
fn overview_app() -> App {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut app = App::new(options(), 0);
    runtime.block_on(async {
        let session = Session::open(sample_store()).await.unwrap();
        for effect in app.start() {
            if let Effect::Request(r) = effect {
                let result = answer(&session, r.query).await;
                app.update(Action::Data(Response { id: r.id, result }));
            }
        }
    });
    app
}

/// A trace of `SPANS` spans: a Lambda tree repeated, ten levels deep at most.
fn huge_trace() -> TraceDetail {
    let start_us = 1_795_165_200_000_000;
    let parts = [
        SpanPart::Overhead,
        SpanPart::Handler,
        SpanPart::Init,
        SpanPart::Downstream,
    ];
    let spans = (0..SPANS)
        .map(|i| {
            let begin = start_us + i as i64 * 300;
            WaterfallSpan {
                id: format!("{i:016x}"),
                parent_id: (i > 0).then(|| format!("{:016x}", i - 1)),
                depth: (i % 10) as u16,
                name: format!("span-{i}"),
                kind: "subsegment".into(),
                service: format!("service-{}", i % 17),
                service_type: Some("AWS::Lambda::Function".into()),
                start_us: begin,
                end_us: Some(begin + 5_000),
                duration_ms: Some(5.0),
                critical_ms: Some(0.3),
                on_critical_path: i % 3 == 0,
                part: parts[i % 4],
                error: i % 101 == 0,
                fault: false,
                throttle: false,
                in_progress: false,
                http_status: Some(200),
                aws_operation: (i % 4 == 3).then(|| "PutItem".to_string()),
                cause: None,
                annotations: vec![("tenant".into(), "a".into())],
                request_id: None,
            }
        })
        .collect();
    let logs = (0..200)
        .map(|i| LogLine {
            timestamp_us: start_us + i * 1000,
            log_group: "/aws/lambda/orders".into(),
            log_stream: "stream".into(),
            level: Some("INFO".into()),
            request_id: None,
            message: format!("line {i}"),
        })
        .collect();
    TraceDetail {
        trace_id: "1-6b000000-000000000000000000000000".into(),
        start_us,
        end_us: start_us + SPANS as i64 * 300 + 5_000,
        spans,
        invocations: Vec::new(),
        logs,
    }
}

fn trace_app() -> App {
    let mut app = App::new(options(), 0);
    app.screen = Screen::Trace;
    let trace = huge_trace();
    app.trace = Some(TraceView {
        trace_id: trace.trace_id.clone(),
        visible: (0..trace.spans.len()).collect(),
        detail: Slot {
            data: Some(Some(Box::new(trace))),
            pending: None,
            error: None,
        },
        spans: Cursor {
            selected: SPANS / 2,
            offset: SPANS / 2 - 10,
        },
        log_scroll: 0,
        logs_focused: false,
        focus_request: None,
        // No invocations in this trace: every span shows all of the trace's log lines.
        span_invocation: vec![None; SPANS],
    });
    app
}

fn render(c: &mut Criterion) {
    let overview = overview_app();
    let trace = trace_app();
    for (name, app) in [("overview", &overview), ("waterfall_100k_spans", &trace)] {
        for (w, h) in [(80, 24), (200, 60)] {
            let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
            c.bench_function(&format!("render/{name}/{w}x{h}"), |b| {
                b.iter(|| {
                    terminal
                        .draw(|f| hopscope_tui::ui::render(f, black_box(app)))
                        .unwrap();
                });
            });
        }
    }
    // Scrolling: one step down and the frame after it.
    let mut app = trace_app();
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    c.bench_function("render/waterfall_100k_spans/scroll_step", |b| {
        b.iter(|| {
            app.update(Action::Down);
            terminal
                .draw(|f| hopscope_tui::ui::render(f, &app))
                .unwrap();
        });
    });
}

criterion_group!(benches, render);
criterion_main!(benches);

//! Whole-frame snapshots of every screen on the committed sample scenarios, at 80x24 and
//! 160x48 and 200x60, with a fixed clock; the data goes through the worker's own queries.

use std::sync::Arc;

use hopscope_analyzer::Session;
use hopscope_test_support::sample_store;
use hopscope_tui::app::{Action, App, Edit, Effect, Options, Screen};
use hopscope_tui::data::{Anchor, Response, TimeRange, answer};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// 2026-11-22T08:00:00Z: the clock of every test.
const NOW_US: i64 = 1_795_334_400_000_000;

/// The starter pack `hopscope demo` shows.
fn starter_pack() -> Vec<hopscope_analyzer::alarms::Rule> {
    let (rules, problems) = hopscope_analyzer::alarms::starter_pack();
    assert!(problems.is_empty(), "{problems:?}");
    rules
}

/// Applies `action` and answers every request it makes, as the worker would.
async fn act(session: &Session, app: &mut App, action: Action) {
    let mut effects = app.update(action);
    while let Some(effect) = effects.pop() {
        if let Effect::Request(r) = effect {
            let result = answer(session, r.query).await;
            effects.extend(app.update(Action::Data(Response { id: r.id, result })));
        }
    }
}

fn frame(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| hopscope_tui::ui::render(f, app)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        let line: String = (0..width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The frame at 80x24, 160x48 and 200x60, each after the terminal took that size (so what is
/// fetched per row or column, the histogram's bars and the lanes' points, fits it); back at
/// 80x24 after.
async fn snapshot(session: &Session, app: &mut App, name: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"in [0-9.]+ ms", "in [elapsed] ms");
    for (w, h) in [(80, 24), (160, 48), (200, 60)] {
        act(session, app, Action::Resize(w, h)).await;
        let text = frame(app, w, h);
        settings.bind(|| insta::assert_snapshot!(format!("{name}_{w}x{h}"), text));
    }
    act(session, app, Action::Resize(80, 24)).await;
}

async fn app(session: &Session) -> App {
    let mut app = App::new(
        Options {
            range: TimeRange {
                span_secs: 3600,
                anchor: Anchor::LatestData,
            },
            color: false,
            live: None,
            rules: Ok(Arc::new(starter_pack())),
        },
        NOW_US,
    );
    app.update(Action::Resize(80, 24));
    let effects = app.start();
    for e in effects {
        if let Effect::Request(r) = e {
            let result = answer(session, r.query).await;
            app.update(Action::Data(Response { id: r.id, result }));
        }
    }
    app
}

#[tokio::test]
async fn every_screen_on_the_sample_scenarios() {
    let session = Session::open(sample_store()).await.unwrap();
    let mut app = app(&session).await;
    assert!(app.overview.error.is_none(), "{:?}", app.overview.error);
    assert!(app.alarms.error.is_none(), "{:?}", app.alarms.error);
    snapshot(&session, &mut app, "overview").await;

    // The alarms panel has the focus after two Tabs; at 80x24 its one line shows the selection.
    act(&session, &mut app, Action::NextPanel).await;
    act(&session, &mut app, Action::NextPanel).await;
    act(&session, &mut app, Action::Down).await;
    snapshot(&session, &mut app, "overview_alarms").await;
    act(&session, &mut app, Action::NextPanel).await;

    // The culprit of the users scenario: DynamoDB throttling.
    act(&session, &mut app, Action::Filter).await;
    for c in "DynamoDB:users".chars() {
        act(&session, &mut app, Action::Edit(Edit::Insert(c))).await;
    }
    act(&session, &mut app, Action::Enter).await;
    snapshot(&session, &mut app, "overview_filtered").await;
    act(&session, &mut app, Action::Enter).await;
    assert_eq!(app.screen, Screen::Hop);
    snapshot(&session, &mut app, "hop").await;

    act(&session, &mut app, Action::Enter).await;
    assert_eq!(app.screen, Screen::Trace);
    act(&session, &mut app, Action::Down).await;
    snapshot(&session, &mut app, "trace").await;
    // Down to the first span of a Lambda invocation: the logs narrow to that request's.
    for _ in 0..20 {
        if app.trace.as_ref().unwrap().selected_invocation().is_some() {
            break;
        }
        act(&session, &mut app, Action::Down).await;
    }
    let view = app.trace.as_ref().unwrap();
    let request = &view
        .selected_invocation()
        .expect("a span of an invocation")
        .request_id;
    assert!(!view.visible_logs().is_empty());
    assert!(view.visible_logs().iter().all(|l| match &l.request_id {
        Some(r) => r == request,
        None => l.message.contains(request.as_str()),
    }));
    snapshot(&session, &mut app, "trace_request").await;

    act(&session, &mut app, Action::GoSql).await;
    act(&session, &mut app, Action::Edit(Edit::Clear)).await;
    for c in "SELECT function, count(*) AS n, count(init_ms) AS cold FROM lambda_invocations GROUP BY 1 ORDER BY 1".chars() {
        act(&session, &mut app, Action::Edit(Edit::Insert(c))).await;
    }
    act(&session, &mut app, Action::Enter).await;
    snapshot(&session, &mut app, "sql").await;

    act(&session, &mut app, Action::Help).await;
    snapshot(&session, &mut app, "help").await;
    act(&session, &mut app, Action::Back).await;
    act(&session, &mut app, Action::GoOverview).await;
    act(&session, &mut app, Action::TimePicker).await;
    snapshot(&session, &mut app, "time_picker").await;
}

/// The logs screen: the range's lines, a search, the timeouts' pattern new against the baseline,
/// and Enter on a line to its trace, at its invocation.
#[tokio::test]
async fn the_logs_screen_searches_marks_new_patterns_and_jumps_to_the_trace() {
    let session = Session::open(sample_store()).await.unwrap();
    let mut app = app(&session).await;
    act(&session, &mut app, Action::GoLogs).await;
    assert_eq!(app.screen, Screen::Logs);
    let logs = app.logs.result.data.as_ref().expect("the range's lines");
    assert!(logs.lines.len() > 100, "{}", logs.lines.len());
    snapshot(&session, &mut app, "logs").await;

    act(&session, &mut app, Action::Filter).await;
    for c in "Task timed out".chars() {
        act(&session, &mut app, Action::Edit(Edit::Insert(c))).await;
    }
    act(&session, &mut app, Action::Enter).await;
    let logs = app.logs.result.data.as_ref().expect("the search's lines");
    let window = logs.window.expect("a window");
    let counted = session
        .collect(&format!(
            "SELECT count(*) FROM log_events WHERE message LIKE '%Task timed out%'
             AND timestamp >= to_timestamp_micros({}) AND timestamp < to_timestamp_micros({})",
            window.start_us, window.end_us
        ))
        .await
        .unwrap();
    let counted: i64 = hopscope_analyzer::text::TextTable::from_batches(&counted, 1)
        .unwrap()
        .rows[0][0]
        .parse()
        .unwrap();
    assert_eq!(logs.lines.len() as i64, counted);
    assert!(
        logs.lines
            .iter()
            .all(|l| l.message.contains("Task timed out"))
    );
    // The etl scenario's API hangs from 10:24: its timeouts are new against the hour before.
    let timeouts = logs
        .patterns
        .iter()
        .find(|p| p.pattern.contains("Task timed out"))
        .expect("the timeouts' pattern");
    assert_eq!(timeouts.change.as_deref(), Some("new"), "{timeouts:?}");
    assert_eq!(timeouts.count, counted);
    snapshot(&session, &mut app, "logs_search").await;

    let line = app.logs.result.data.as_ref().unwrap().lines[0].clone();
    act(&session, &mut app, Action::Enter).await;
    assert_eq!(app.screen, Screen::Trace);
    let view = app.trace.as_ref().unwrap();
    assert_eq!(Some(&view.trace_id), line.trace_id.as_ref());
    let invocation = view
        .selected_invocation()
        .expect("the line's invocation selected");
    assert_eq!(Some(&invocation.request_id), line.request_id.as_ref());
    act(&session, &mut app, Action::Back).await;
    assert_eq!(app.screen, Screen::Logs);
}

/// Opens the overview's hop whose callee matches `filter`.
async fn open_hop(session: &Session, app: &mut App, filter: &str) {
    act(session, app, Action::GoOverview).await;
    act(session, app, Action::Filter).await;
    act(session, app, Action::Edit(Edit::Clear)).await;
    for c in filter.chars() {
        act(session, app, Action::Edit(Edit::Insert(c))).await;
    }
    act(session, app, Action::Enter).await;
    act(session, app, Action::Enter).await;
    assert_eq!(app.screen, Screen::Hop);
}

/// The hop screen's panes (why, what changed, timeouts) and the amplification screen, on the
/// scenario whose cause each shows best.
#[tokio::test]
async fn the_hop_panes_and_the_amplification_screen() {
    let session = Session::open(sample_store()).await.unwrap();
    let mut app = app(&session).await;

    // Dragons: cold starts lead why; the deploy storm is the change before the first alarm.
    open_hop(&session, &mut app, "listDragons").await;
    let view = app.hop.as_ref().unwrap();
    assert_eq!(view.hop.callee, "listDragons");
    act(&session, &mut app, Action::NextPanel).await;
    let view = app.hop.as_ref().unwrap();
    assert_eq!(view.pane, hopscope_tui::app::HopPane::Why);
    let why = view.why.data.as_ref().expect("why answered");
    assert_eq!(why.evidence[0].value, "yes", "{:?}", why.evidence[0]);
    snapshot(&session, &mut app, "hop_why").await;
    act(&session, &mut app, Action::NextPanel).await;
    let changes = app
        .hop
        .as_ref()
        .unwrap()
        .changes
        .data
        .as_ref()
        .expect("changes answered");
    assert!(changes.lanes.iter().all(|l| l.function == "listDragons"));
    assert!(changes.changes[0].lead_up, "{:?}", changes.changes[0]);
    snapshot(&session, &mut app, "hop_changes").await;
    // A lane point per column at most, each whole minutes: 24 columns at 80 give 3-minute
    // points over the hour, 120 at 200 give a point a minute (asked again on resize); the
    // histogram a bar per row.
    let points = |app: &App| {
        app.hop
            .as_ref()
            .unwrap()
            .changes
            .data
            .as_ref()
            .unwrap()
            .lanes[0]
            .points
            .len()
    };
    let bars = |app: &App| {
        app.hop
            .as_ref()
            .unwrap()
            .detail
            .data
            .as_ref()
            .unwrap()
            .buckets
            .len()
    };
    assert_eq!(points(&app), 20);
    let narrow = bars(&app);
    act(&session, &mut app, Action::Resize(200, 60)).await;
    assert_eq!(points(&app), 60);
    assert!(
        bars(&app) > narrow,
        "{} bars at 200x60, {narrow} at 80x24",
        bars(&app)
    );
    act(&session, &mut app, Action::Resize(80, 24)).await;
    // The pane scrolls, no further than its last screenful.
    act(&session, &mut app, Action::PageDown).await;
    assert!(app.hop.as_ref().unwrap().scroll > 0);

    // ETL: the timeouts pane names what the function waited on. A hop opened next keeps the
    // pane that was showing.
    open_hop(&session, &mut app, "worldbank-etl").await;
    act(&session, &mut app, Action::NextPanel).await;
    let view = app.hop.as_ref().unwrap();
    assert_eq!(view.pane, hopscope_tui::app::HopPane::Timeouts);
    assert_eq!(view.scroll, 0);
    // The hop into the API that never answered: its callers' timeouts waited on it.
    assert_eq!(view.hop.callee, "api.worldbank.org");
    let timeouts = view.timeouts.data.as_ref().expect("timeouts answered");
    assert_eq!(timeouts.hops[0].callee, "worldbank-etl");
    snapshot(&session, &mut app, "hop_timeouts").await;
    let text = frame(&app, 80, 24);
    assert!(
        text.contains("client -> worldbank-etl gave up waiting on this hop's callee"),
        "{text}"
    );

    act(&session, &mut app, Action::GoAmplification).await;
    assert_eq!(app.screen, Screen::Amplification);
    let report = app
        .amplification
        .report
        .data
        .as_ref()
        .expect("amplification answered");
    assert!(!report.entry_points.is_empty());
    let worst = report.entry_points[0].worst_traces[0].trace_id.clone();
    snapshot(&session, &mut app, "amplification").await;
    // Enter opens the selected entry point's worst trace.
    act(&session, &mut app, Action::Enter).await;
    assert_eq!(app.screen, Screen::Trace);
    assert_eq!(app.trace.as_ref().unwrap().trace_id, worst);
}

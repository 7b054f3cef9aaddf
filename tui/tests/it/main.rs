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

fn snapshot(name: &str, app: &App) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"in [0-9.]+ ms", "in [elapsed] ms");
    settings.bind(|| {
        for (w, h) in [(80, 24), (160, 48), (200, 60)] {
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), frame(app, w, h));
        }
    });
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
    snapshot("overview", &app);

    // The alarms panel has the focus after two Tabs; at 80x24 its one line shows the selection.
    act(&session, &mut app, Action::NextPanel).await;
    act(&session, &mut app, Action::NextPanel).await;
    act(&session, &mut app, Action::Down).await;
    snapshot("overview_alarms", &app);
    act(&session, &mut app, Action::NextPanel).await;

    // The culprit of the users scenario: DynamoDB throttling.
    act(&session, &mut app, Action::Filter).await;
    for c in "DynamoDB:users".chars() {
        act(&session, &mut app, Action::Edit(Edit::Insert(c))).await;
    }
    act(&session, &mut app, Action::Enter).await;
    snapshot("overview_filtered", &app);
    act(&session, &mut app, Action::Enter).await;
    assert_eq!(app.screen, Screen::Hop);
    snapshot("hop", &app);

    act(&session, &mut app, Action::Enter).await;
    assert_eq!(app.screen, Screen::Trace);
    act(&session, &mut app, Action::Down).await;
    snapshot("trace", &app);
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
    snapshot("trace_request", &app);

    act(&session, &mut app, Action::GoSql).await;
    act(&session, &mut app, Action::Edit(Edit::Clear)).await;
    for c in "SELECT function, count(*) AS n, count(init_ms) AS cold FROM lambda_invocations GROUP BY 1 ORDER BY 1".chars() {
        act(&session, &mut app, Action::Edit(Edit::Insert(c))).await;
    }
    act(&session, &mut app, Action::Enter).await;
    snapshot("sql", &app);

    act(&session, &mut app, Action::Help).await;
    snapshot("help", &app);
    act(&session, &mut app, Action::Back).await;
    act(&session, &mut app, Action::GoOverview).await;
    act(&session, &mut app, Action::TimePicker).await;
    snapshot("time_picker", &app);
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
    snapshot("logs", &app);

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
    snapshot("logs_search", &app);

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

//! The bottom line: the filter prompt while typing, else progress, errors, notes and key hints.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use super::format::fit;
use crate::app::{App, HopPane, Screen};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = Theme { color: app.color };
    if let Some(prompt) = &app.prompt {
        let line = Line::from(vec![
            Span::styled("/", theme.key()),
            Span::raw(prompt.clone()),
            Span::styled("█", theme.dim()),
            Span::styled("  Enter apply · Esc cancel", theme.dim()),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let mut spans = Vec::new();
    let pending = match app.screen {
        Screen::Overview => app.overview.pending.map(|p| ("hops", p)),
        Screen::Hop => app.hop.as_ref().and_then(|v| {
            let pane = match v.pane {
                HopPane::Traces => None,
                HopPane::Why => v.why.pending.map(|p| ("why", p)),
                HopPane::Changes => v.changes.pending.map(|p| ("changes", p)),
                HopPane::Timeouts => v.timeouts.pending.map(|p| ("timeouts", p)),
            };
            v.detail.pending.map(|p| ("hop", p)).or(pane)
        }),
        Screen::Trace => app
            .trace
            .as_ref()
            .and_then(|v| v.detail.pending)
            .map(|p| ("trace", p)),
        Screen::Sql => app.sql.result.pending.map(|p| ("query", p)),
        Screen::Logs => app.logs.result.pending.map(|p| ("logs", p)),
        Screen::Amplification => app
            .amplification
            .report
            .pending
            .map(|p| ("amplification", p)),
    };
    if let Some((what, p)) = pending {
        let secs = (app.now_us - p.since_us).max(0) as f64 / 1e6;
        spans.push(Span::styled(
            format!("⟳ loading {what}… {secs:.1}s "),
            theme.warn(),
        ));
    }
    let error = match app.screen {
        Screen::Overview => app.overview.error.as_deref(),
        Screen::Hop => app.hop.as_ref().and_then(|v| {
            let pane = match v.pane {
                HopPane::Traces => None,
                HopPane::Why => v.why.error.as_deref(),
                HopPane::Changes => v.changes.error.as_deref(),
                HopPane::Timeouts => v.timeouts.error.as_deref(),
            };
            v.detail.error.as_deref().or(pane)
        }),
        Screen::Trace => app.trace.as_ref().and_then(|v| v.detail.error.as_deref()),
        Screen::Sql => None,
        Screen::Logs => app.logs.result.error.as_deref(),
        Screen::Amplification => app.amplification.report.error.as_deref(),
    };
    if let Some(e) = error {
        spans.push(Span::styled(
            fit(&format!("error: {e} "), area.width as usize / 2),
            theme.error(),
        ));
    }
    if let Some(note) = &app.note {
        spans.push(Span::styled(format!("{note} "), theme.good()));
    }
    let filter = app.filter();
    if !filter.is_empty() {
        spans.push(Span::styled(format!("/{filter} "), theme.key()));
    }
    if app.screen == Screen::Hop {
        spans.push(Span::styled("Tab", theme.key()));
        spans.push(Span::raw(" pane "));
    }
    for (key, what) in [
        ("?", "help"),
        ("q", "quit"),
        ("t", "range"),
        ("b", "baseline"),
        ("/", "filter"),
        ("s", "SQL"),
        ("Esc", "back"),
    ] {
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::raw(format!(" {what} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

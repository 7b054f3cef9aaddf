//! The amplification screen: entry points ranked by the extra work one request became (SDK and
//! Lambda retries, repeated identical calls, redeliveries), and the selected one's repeated
//! calls and worst traces.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::Theme;
use super::format::{count, fit};
use crate::app::{App, visible_offset};
use hopscope_analyzer::amplification::{self, Repeat};
use hopscope_analyzer::text::sanitize;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = Theme { color: app.color };
    let view = &app.amplification;
    let block = |t: String| {
        Block::default()
            .borders(Borders::TOP)
            .title(Span::styled(t, theme.title()))
    };
    let Some(r) = &view.report.data else {
        let text = if view.report.pending.is_some() {
            "Loading…".to_string()
        } else {
            view.report
                .error
                .clone()
                .unwrap_or_else(|| "No data.".into())
        };
        frame.render_widget(Paragraph::new(text), area);
        return;
    };
    if r.entry_points.is_empty() {
        frame.render_widget(Paragraph::new("No request started in the range."), area);
        return;
    }
    let [list, detail] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Fill(1)]).areas(area);
    let width = list.width as usize;
    let name_width = width
        .saturating_sub(amplification::TABLE_WIDTH_BESIDES_NAME)
        .max(12);
    let mut lines = vec![Line::styled(
        amplification::table_header(name_width),
        theme.header(),
    )];
    let rows = list.height.saturating_sub(2) as usize;
    let offset = visible_offset(view.entries.offset, view.entries.selected, rows);
    for (i, e) in r.entry_points.iter().enumerate().skip(offset).take(rows) {
        let text = amplification::table_row(i + 1, e, name_width);
        lines.push(if i == view.entries.selected {
            Line::styled(text, theme.selected())
        } else {
            Line::raw(text)
        });
    }
    frame.render_widget(
        Paragraph::new(lines).block(block(format!(
            " Extra work per request, {} requests (Enter opens the worst trace, y copies it) ",
            count(r.requests)
        ))),
        list,
    );

    let Some(e) = r.entry_points.get(view.entries.selected) else {
        return;
    };
    let width = detail.width as usize;
    let mut lines = vec![Line::raw(fit(&e.summary(), width))];
    for rc in &e.repeated {
        lines.push(Line::from(vec![
            Span::styled("repeated ", theme.warn()),
            Span::raw(fit(&rc.summary(), width.saturating_sub(9))),
        ]));
    }
    for t in &e.worst_traces {
        let repeats: Vec<String> = t.repeated.iter().take(2).map(Repeat::summary).collect();
        lines.push(Line::from(vec![
            Span::styled("worst ", theme.key()),
            Span::raw(fit(
                &format!(
                    "{}  {} invocations, {} calls, {} extra{}",
                    sanitize(&t.trace_id),
                    t.invocations,
                    t.calls,
                    t.extra(),
                    if repeats.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", repeats.join("; "))
                    }
                ),
                width.saturating_sub(6),
            )),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(block(format!(" {} ", fit(&sanitize(&e.entry), 60)))),
        detail,
    );
}

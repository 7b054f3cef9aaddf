//! The logs screen: the range's lines that match the search (newest first), the selected line
//! in full (wrapped, so a long line is never cut), and the patterns of the lines against the
//! baseline's, new ones marked.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::Theme;
use super::format::{count, fit};
use crate::app::{App, visible_offset};
use crate::data::{LogsResult, MAX_LOG_LINES};

/// Rows of the detail pane (its title included).
fn detail_rows(height: u16) -> u16 {
    if height >= 40 { 8 } else { 4 }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = Theme { color: app.color };
    let view = &app.logs;
    let Some(result) = &view.result.data else {
        let text = if view.result.pending.is_some() {
            "Loading the range's log lines…".to_string()
        } else if let Some(e) = &view.result.error {
            format!("error: {e}")
        } else {
            "No logs loaded: r loads them.".into()
        };
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::TOP).title(" Logs ")),
            area,
        );
        return;
    };
    let detail_height = detail_rows(area.height);
    let [lines, detail, patterns] = Layout::vertical([
        Constraint::Fill(3),
        Constraint::Length(detail_height),
        Constraint::Fill(2),
    ])
    .areas(area);
    render_lines(frame, lines, app, result, &theme);
    render_detail(frame, detail, app, result, &theme);
    render_patterns(frame, patterns, app, result, &theme);
}

fn render_lines(frame: &mut Frame, area: Rect, app: &App, result: &LogsResult, theme: &Theme) {
    let view = &app.logs;
    let mut title = format!(
        " Log lines: {}{}",
        count(result.lines.len() as i64),
        if result.lines.len() == MAX_LOG_LINES {
            " (the newest)"
        } else {
            ""
        },
    );
    if !view.search.is_empty() {
        title.push_str(&format!(" · /{}", view.search));
    }
    title.push(' ');
    let focused = !view.patterns_focused;
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        title,
        if focused { theme.header() } else { theme.dim() },
    ));
    let rows = area.height.saturating_sub(1) as usize;
    let offset = visible_offset(view.lines.offset, view.lines.selected, rows);
    let width = area.width as usize;
    let text: Vec<Line> = result
        .lines
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows)
        .map(|(i, l)| {
            let group = l.group.strip_prefix("/aws/lambda/").unwrap_or(&l.group);
            let line = fit(
                &format!("{:<12} {:<18} {}", l.time, fit(group, 18), l.message),
                width,
            );
            if i == view.lines.selected && focused {
                Line::styled(line, theme.selected())
            } else {
                Line::raw(line)
            }
        })
        .collect();
    let text = if text.is_empty() {
        vec![Line::styled("No line in the range matches.", theme.dim())]
    } else {
        text
    };
    frame.render_widget(Paragraph::new(text).block(block), area);
}

/// The selected line in full, wrapped, with its request and trace.
fn render_detail(frame: &mut Frame, area: Rect, app: &App, result: &LogsResult, theme: &Theme) {
    let Some(line) = result.lines.get(app.logs.lines.selected) else {
        frame.render_widget(Block::default().borders(Borders::TOP), area);
        return;
    };
    // The trace first: it is what Enter opens, and a narrow screen cuts the end of the title.
    let mut title = match &line.trace_id {
        Some(t) => vec![Span::styled(format!(" Enter: trace {t} "), theme.key())],
        None => vec![Span::styled(" no trace ", theme.dim())],
    };
    if let Some(r) = &line.request_id {
        title.push(Span::styled(format!("· request {r} "), theme.dim()));
    }
    title.push(Span::styled(format!("· {} ", line.group), theme.dim()));
    frame.render_widget(
        Paragraph::new(line.message.clone())
            .wrap(Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .title(Line::from(title)),
            ),
        area,
    );
}

fn render_patterns(frame: &mut Frame, area: Rect, app: &App, result: &LogsResult, theme: &Theme) {
    let view = &app.logs;
    let baseline = result.patterns.iter().any(|p| p.change.is_some());
    let title = if baseline {
        format!(
            " Patterns: {} · + new, ↑ grown, against the window before ",
            result.patterns.len()
        )
    } else {
        format!(" Patterns: {} ", result.patterns.len())
    };
    let focused = view.patterns_focused;
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        title,
        if focused { theme.header() } else { theme.dim() },
    ));
    let rows = area.height.saturating_sub(2) as usize;
    let offset = visible_offset(view.patterns.offset, view.patterns.selected, rows);
    let width = area.width as usize;
    let header = if baseline {
        format!("{:<2}{:>7} {:>7}  pattern", "", "now", "before")
    } else {
        format!("{:>7}  pattern", "lines")
    };
    let mut text = vec![Line::styled(fit(&header, width), theme.header())];
    for (i, p) in result.patterns.iter().enumerate().skip(offset).take(rows) {
        let (line, style) = match p.change.as_deref() {
            Some(change) => {
                let mark = match change {
                    "new" => "+",
                    "grown" => "↑",
                    "shrunk" => "↓",
                    "gone" => "-",
                    _ => " ",
                };
                let style = if change == "new" {
                    theme.error()
                } else if change == "grown" {
                    theme.warn()
                } else {
                    ratatui::style::Style::default()
                };
                (
                    format!(
                        "{mark:<2}{:>7} {:>7}  {}",
                        count(p.count),
                        count(p.previous.unwrap_or(0)),
                        p.pattern
                    ),
                    style,
                )
            }
            None => (
                format!("{:>7}  {}", count(p.count), p.pattern),
                ratatui::style::Style::default(),
            ),
        };
        let style = if i == view.patterns.selected && focused {
            theme.selected()
        } else {
            style
        };
        text.push(Line::styled(fit(&line, width), style));
    }
    frame.render_widget(Paragraph::new(text).block(block), area);
}

//! The service map as a tree: each node under its caller, with requests, errors, p99 and a
//! health mark (`ok`, `!`, `!!`) that the colour repeats.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::Theme;
use super::format::{count, fit, pct_ms};
use crate::app::{App, OverviewFocus, visible_offset};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = Theme { color: app.color };
    let block = Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(" Service map (Tab) ", theme.title()));
    let lines = app.visible_map();
    if lines.is_empty() {
        let text = match (&app.overview.data, app.overview.pending) {
            (None, Some(_)) => "Loading the service map…",
            (None, None) if app.overview.error.is_some() => "The service map could not be loaded.",
            _ if !app.filter().is_empty() => "No node matches the filter.",
            _ => "No spans in the store.",
        };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let rows_shown = area.height.saturating_sub(2) as usize;
    let offset = visible_offset(app.map.offset, app.map.selected, rows_shown);
    let wide = area.width >= 100;
    let name_width = area.width.saturating_sub(if wide { 44 } else { 32 }) as usize;
    let rows = lines
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_shown)
        .map(|(i, l)| {
            let indent = "  ".repeat(l.depth as usize);
            let branch = if l.depth == 0 { "● " } else { "└─ " };
            let mut name = format!("{indent}{branch}{}", l.node);
            if wide && let Some(t) = &l.node_type {
                name.push_str(&format!(" ({t})"));
            }
            if l.repeated {
                name.push_str(" ↑");
            }
            let mut cells = vec![
                Cell::from(Span::styled(
                    format!("{:>2}", l.health.mark()),
                    theme.health(l.health),
                )),
                Cell::from(fit(&name, name_width)),
                Cell::from(Line::from(count(l.requests)).right_aligned()),
            ];
            if wide {
                cells.push(Cell::from(Line::from(count(l.errors)).right_aligned()));
                cells.push(Cell::from(Line::from(count(l.throttles)).right_aligned()));
            }
            cells.push(Cell::from(Line::from(count(l.faults)).right_aligned()));
            cells.push(Cell::from(
                Line::from(pct_ms(l.p99_ms, l.p99_low_sample)).right_aligned(),
            ));
            let row = Row::new(cells);
            if i == app.map.selected && app.focus == OverviewFocus::Map {
                row.style(theme.selected())
            } else {
                row
            }
        });
    let mut header = vec!["", "node", "req"];
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(6),
    ];
    if wide {
        header.extend(["4xx", "429"]);
        widths.extend([Constraint::Length(6), Constraint::Length(6)]);
    }
    header.extend(["5xx", "p99"]);
    widths.extend([Constraint::Length(6), Constraint::Length(7)]);
    let header = Row::new(header.into_iter().map(Cell::from)).style(theme.header());
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

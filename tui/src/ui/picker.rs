//! `t`: the time range picker.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{Theme, centered};
use crate::app::App;
use crate::data::{TimeRange, duration_label};

pub fn render(frame: &mut Frame, area: Rect, app: &App, selected: usize) {
    let theme = Theme { color: app.color };
    let lines: Vec<Line> = TimeRange::PRESETS
        .iter()
        .enumerate()
        .map(|(i, &secs)| {
            let current = if secs == app.range.span_secs {
                "•"
            } else {
                " "
            };
            let text = format!(" {current} last {:<4}", duration_label(secs));
            if i == selected {
                Line::styled(text, theme.selected())
            } else {
                Line::raw(text)
            }
        })
        .collect();
    let area = centered(area, 24, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Time range ")),
        area,
    );
}

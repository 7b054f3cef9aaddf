//! `?`: every key, grouped by where it works.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{Theme, centered};
use crate::app::App;
use crate::keys::HELP;

pub fn render(frame: &mut Frame, area: Rect, app: &App, scroll: usize) {
    let theme = Theme { color: app.color };
    let key_width = HELP
        .iter()
        .flat_map(|(_, keys)| keys.iter().map(|(k, _)| k.chars().count()))
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for (section, keys) in HELP {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(*section, theme.header()));
        for (key, what) in *keys {
            lines.push(Line::from(vec![
                Span::styled(format!("{key:<key_width$}  "), theme.key()),
                Span::raw(*what),
            ]));
        }
    }
    let area = centered(area, 100, area.height);
    let inner_height = area.height.saturating_sub(2) as usize;
    let scroll = scroll.min(lines.len().saturating_sub(inner_height));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).scroll((scroll as u16, 0)).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Keys (j/k scroll, Esc close) "),
        ),
        area,
    );
}

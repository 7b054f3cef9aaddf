//! The top line: where you are, the time range and the baseline.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use super::format::date_minute;
use crate::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = Theme { color: app.color };
    let mut spans = vec![
        Span::styled("hopscope", theme.title()),
        Span::raw(" │ "),
        Span::styled(app.screen.title(), theme.header()),
        Span::raw(" │ "),
        Span::raw(app.range_label()),
    ];
    // The live note takes the room of the date, and on a narrow screen of the window's times.
    let live = app.live.is_some();
    if let Some(w) = app.overview.data.as_ref().and_then(|o| o.window)
        && (area.width >= 100 || !live)
    {
        let start = date_minute(w.start_us);
        let start = if area.width >= 100 && !live {
            &start[..]
        } else {
            &start[11..]
        };
        spans.push(Span::styled(
            format!(" {start}–{} UTC", &date_minute(w.end_us)[11..]),
            theme.dim(),
        ));
    }
    spans.push(Span::raw(" │ baseline "));
    spans.push(Span::raw(if app.baseline { "on" } else { "off" }));
    if let Some(live) = &app.live {
        spans.push(Span::raw(" │ "));
        let style = if live.contains("failed") {
            theme.error()
        } else {
            theme.good()
        };
        spans.push(Span::styled(live.clone(), style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

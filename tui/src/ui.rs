//! Drawing: one module per screen region, each `render(frame, area, &App)`. Nothing here waits
//! or queries; it draws what the [`App`] holds.

mod alarms;
mod footer;
mod format;
mod header;
mod help;
mod hop;
mod hops;
mod map;
mod picker;
mod sql;
mod theme;
mod trace;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

pub use self::format::{ms, sparkline};
pub use self::theme::Theme;
use crate::app::{App, Overlay, Screen};

/// Draws the whole frame.
pub fn render(frame: &mut Frame, app: &App) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    header::render(frame, header, app);
    match app.screen {
        Screen::Overview => overview(frame, body, app),
        Screen::Hop => hop::render(frame, body, app),
        Screen::Trace => trace::render(frame, body, app),
        Screen::Sql => sql::render(frame, body, app),
    }
    footer::render(frame, footer, app);
    match &app.overlay {
        Some(Overlay::Help { scroll }) => help::render(frame, body, app, *scroll),
        Some(Overlay::TimePicker { selected }) => picker::render(frame, body, app, *selected),
        None => {}
    }
}

/// The overview: ranked hops beside (wide) or above (narrow) the service map, the alarms below
/// across the width; on a short terminal the alarms take one line of counts.
fn overview(frame: &mut Frame, area: Rect, app: &App) {
    let [top, alarms] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(alarm_rows(area.height)),
    ])
    .areas(area);
    let [hops, map] = if area.width >= 160 {
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
            .spacing(2)
            .areas(top)
    } else {
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top)
    };
    hops::render(frame, hops, app);
    map::render(frame, map, app);
    alarms::render(frame, alarms, app);
}

/// Rows of the alarms panel: a quarter of the height (title and header included), or one line of
/// counts when that would leave the hops and the map too little.
fn alarm_rows(height: u16) -> u16 {
    if height >= 26 {
        (height / 4).clamp(5, 14)
    } else {
        1
    }
}

/// A rectangle of at most `width` x `height` in the middle of `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

//! Drawing: one module per screen region, each `render(frame, area, &App)`. Nothing here waits
//! or queries; it draws what the [`App`] holds.

mod alarms;
mod amplification;
pub(crate) mod changes;
mod footer;
mod format;
mod header;
mod help;
pub(crate) mod hop;
mod hops;
mod logs;
mod map;
mod picker;
mod sql;
mod theme;
mod timeouts;
mod trace;
mod why;

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
        Screen::Logs => logs::render(frame, body, app),
        Screen::Amplification => amplification::render(frame, body, app),
    }
    footer::render(frame, footer, app);
    match &app.overlay {
        Some(Overlay::Help { scroll }) => help::render(frame, body, app, *scroll),
        Some(Overlay::TimePicker { selected }) => picker::render(frame, body, app, *selected),
        None => {}
    }
}

/// The overview: ranked hops beside (wide) or above (narrow) the service map, the alarms below
/// across the width; on a short terminal the alarms take one line of counts. Hop names are the
/// key information: on a wide screen the hops take the width their names need (the map keeps
/// at least [`MAP_MIN_WIDTH`]), and rows the hops and the map leave empty go to the alarms
/// while they have lines to fill them with.
fn overview(frame: &mut Frame, area: Rect, app: &App) {
    let side_by_side = area.width >= 160;
    let hops_listed = app.visible_hops().len() as u16;
    let map_listed = app.visible_map().len() as u16;
    // Title and header rows above each list.
    let top_needed = if side_by_side {
        hops_listed.max(map_listed) + 2
    } else {
        hops_listed + map_listed + 4
    };
    // Title and header above the alarms' lines.
    let alarms_needed = app.visible_alarms().len() as u16 + 2;
    let alarms_height = match alarm_rows(area.height) {
        // A short terminal keeps its one line of counts.
        1 => 1,
        rows => rows
            .max(area.height.saturating_sub(top_needed).min(alarms_needed))
            .min(area.height.saturating_sub(area.height / 2)),
    };
    let [top, alarms] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(alarms_height)]).areas(area);
    let [hops, map] = if side_by_side {
        let longest = app
            .visible_hops()
            .iter()
            .map(|(_, h)| hops::hop_name(h).chars().count() as u16)
            .max()
            .unwrap_or(0);
        let wanted = hops::FIXED_WIDTH + longest.min(hops::MAX_NAME_WIDTH);
        let hops_width = wanted
            .max(area.width * 62 / 100)
            .min(area.width.saturating_sub(MAP_MIN_WIDTH + 2));
        Layout::horizontal([Constraint::Length(hops_width), Constraint::Fill(1)])
            .spacing(2)
            .areas(top)
    } else {
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top)
    };
    hops::render(frame, hops, app);
    map::render(frame, map, app);
    alarms::render(frame, alarms, app);
}

/// The narrowest the service map gets beside the hops.
const MAP_MIN_WIDTH: u16 = 56;

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

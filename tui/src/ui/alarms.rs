//! The overview's alarms panel: every rule's alarms, ALARM first, with severity, rule, key and
//! CloudWatch's reason. The state is spelled out (colour repeats it); a building block of
//! composite rules, which notifies nobody, is shown in parentheses. With one line to spare it
//! collapses to the counts and the top (or selected) alarm.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use hopscope_analyzer::alarms::State;

use super::Theme;
use super::format::fit;
use crate::app::{App, OverviewFocus, visible_offset};
use crate::data::AlarmLine;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = Theme { color: app.color };
    let alarms = app.visible_alarms();
    let focused = app.focus == OverviewFocus::Alarms;
    let summary = summary(app, &alarms);
    if area.height < 3 {
        let mut spans = vec![Span::styled(summary, theme.title())];
        let shown = if focused { app.alarm.selected } else { 0 };
        if let Some(a) = alarms.get(shown) {
            spans.push(Span::raw(" │ "));
            spans.push(Span::styled(a.state.as_str(), state_style(theme, a.state)));
            let rest = format!(" {} {} {}", a.severity.as_str(), rule(a), a.key);
            spans.push(Span::raw(rest));
        }
        let line = Line::from(spans);
        let line = if focused {
            line.style(theme.selected())
        } else {
            line
        };
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let block = Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(format!(" {summary} (Tab) "), theme.title()));
    if alarms.is_empty() {
        frame.render_widget(Paragraph::new(empty_text(app)).block(block), area);
        return;
    }
    let rows_shown = area.height.saturating_sub(2) as usize;
    let offset = visible_offset(app.alarm.offset, app.alarm.selected, rows_shown);
    let rule_width = ((area.width as usize).saturating_sub(28) / 4).clamp(12, 32);
    let key_width = rule_width;
    let rows = alarms
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_shown)
        .map(|(i, a)| {
            let row = Row::new(vec![
                Cell::from(Span::styled(a.state.as_str(), state_style(theme, a.state))),
                Cell::from(a.severity.as_str()),
                Cell::from(fit(&rule(a), rule_width)),
                Cell::from(fit(&a.key, key_width)),
                Cell::from(a.reason.clone()),
            ]);
            if focused && i == app.alarm.selected {
                row.style(theme.selected())
            } else {
                row
            }
        });
    let widths = [
        Constraint::Length(17),
        Constraint::Length(8),
        Constraint::Length(rule_width as u16),
        Constraint::Length(key_width as u16),
        Constraint::Fill(1),
    ];
    let header = Row::new(["state", "severity", "rule", "key", "reason"].map(Cell::from))
        .style(theme.header());
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

/// `Alarms: 2 ALARM · 0 INSUFFICIENT_DATA · 40 OK`, or what the panel is waiting for.
fn summary(app: &App, alarms: &[&AlarmLine]) -> String {
    let rules = match &app.rules {
        Ok(rules) if !rules.is_empty() => rules.len(),
        Ok(_) => return "Alarms: no rules".into(),
        Err(why) => return format!("Alarms: {why}"),
    };
    if app.alarms.data.is_none() {
        return match (app.alarms.pending, &app.alarms.error) {
            (_, Some(e)) => format!("Alarms: not evaluated: {e}"),
            (Some(_), None) => format!("Alarms: evaluating {rules} rules…"),
            (None, None) => "Alarms".into(),
        };
    }
    let count = |s: State| alarms.iter().filter(|a| a.state == s).count();
    let filtered = if app.filter().is_empty() {
        ""
    } else {
        " (filtered)"
    };
    let mut text = format!(
        "Alarms{filtered}: {} ALARM · {} INSUFFICIENT_DATA · {} OK",
        count(State::Alarm),
        count(State::InsufficientData),
        count(State::Ok)
    );
    if let Some(e) = &app.alarms.error {
        text.push_str(&format!(" · last evaluation failed: {e}"));
    }
    text
}

fn empty_text(app: &App) -> &'static str {
    if !app.filter().is_empty() && app.alarms.data.is_some() {
        "No alarm matches the filter."
    } else if app.alarms.data.is_some() {
        "The rules have no alarm yet: nothing they watch is in the store."
    } else {
        ""
    }
}

fn rule(a: &AlarmLine) -> String {
    if a.actions_enabled {
        a.rule.clone()
    } else {
        format!("({})", a.rule)
    }
}

fn state_style(theme: Theme, state: State) -> Style {
    match state {
        State::Alarm => theme.error(),
        State::InsufficientData => theme.warn(),
        State::Ok => theme.good(),
    }
}

//! The hop screen's changes pane: a lane of changes above the function's lanes (p99, errors,
//! cold starts, throttles, concurrency) on the same time axis, then the changes in words, the
//! hour before the first alarm first.

use hopscope_analyzer::changes::{AlarmsFrom, Change, ChangeKind, ChangesReport};
use hopscope_analyzer::text::sanitize;
use ratatui::text::{Line, Span};

use super::Theme;
use super::format::{clock, fit, sparkline};

/// Width of the label before each lane: function and metric.
const LABEL: usize = 30;

/// Lane points for a terminal `width` wide: one per column after the label and the shift note.
pub fn lane_points(width: u16) -> usize {
    usize::from(width).saturating_sub(LABEL + 26).clamp(12, 120)
}

/// The pane's lines for a terminal `width` wide.
pub fn lines(r: &ChangesReport, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let from = match r.alarms_from {
        AlarmsFrom::Recorded => "recorded",
        AlarmsFrom::Replayed => "replayed from the rules",
        AlarmsFrom::Nothing => "none recorded, no rules",
    };
    out.push(match &r.first_alarm {
        Some(a) => Line::from(vec![
            Span::styled("first alarm ", theme.dim()),
            Span::styled(clock(a.at_us), theme.error()),
            Span::raw(fit(
                &format!(
                    " {} {}  (alarms: {from})",
                    sanitize(&a.rule),
                    sanitize(&a.key)
                ),
                width.saturating_sub(20),
            )),
        ]),
        None => Line::styled(
            fit(&format!("no alarm in the range (alarms: {from})"), width),
            theme.dim(),
        ),
    });
    let period_us = r.period_secs * 1_000_000;
    let points = r.lanes.first().map_or(0, |l| l.points.len());
    if points > 0 {
        // The lane of changes, on the lanes' time axis: ! an alarm, ^ a deployment or
        // configuration, | a version first seen, ~ a shift.
        let mut marks = vec![' '; points];
        for c in &r.changes {
            let Ok(i) = usize::try_from((c.at_us - r.first_point_us) / period_us) else {
                continue;
            };
            if let Some(m) = marks.get_mut(i) {
                *m = stronger(*m, mark(c.kind));
            }
        }
        out.push(Line::from(vec![
            Span::styled(format!("{:<30}", "changes ! alarm ^ deploy"), theme.dim()),
            Span::styled(marks.into_iter().collect::<String>(), theme.error()),
        ]));
        let (start, end) = (clock(r.first_point_us), clock(r.window.end_us));
        out.push(Line::styled(
            format!(
                "{:<30}{}{:>w$}",
                "",
                start.get(..5).unwrap_or_default(),
                end.get(..5).unwrap_or_default(),
                w = points.saturating_sub(5)
            ),
            theme.dim(),
        ));
    }
    let mut function = None;
    for lane in &r.lanes {
        let name = if function == Some(&lane.function) {
            String::new()
        } else {
            function = Some(&lane.function);
            sanitize(&lane.function)
        };
        let shift = lane.shift.map_or(String::new(), |s| {
            format!(
                " {}→{} {}",
                lane.metric.show(s.before),
                lane.metric.show(s.after),
                clock(s.at_us).get(..5).unwrap_or_default()
            )
        });
        out.push(Line::from(vec![
            Span::raw(format!("{:<18}{:<12}", fit(&name, 17), lane.metric.label())),
            Span::styled(sparkline(&lane.points), theme.warn()),
            Span::styled(shift, theme.key()),
        ]));
    }
    let lead_up = r.changes.iter().filter(|c| c.lead_up).count();
    for (title, part) in [
        ("in the hour before the first alarm", &r.changes[..lead_up]),
        ("changes", &r.changes[lead_up..]),
    ] {
        if part.is_empty() {
            continue;
        }
        out.push(Line::styled(title, theme.header()));
        for c in part {
            out.push(change_line(c, width, theme));
        }
    }
    if r.changes.is_empty() {
        out.push(Line::raw("No change in the range."));
    }
    out
}

fn change_line(c: &Change, width: usize, theme: Theme) -> Line<'static> {
    let style = if c.kind == ChangeKind::Alarm {
        theme.error()
    } else {
        theme.key()
    };
    Line::from(vec![
        Span::raw(format!("{} ", clock(c.at_us))),
        Span::styled(format!("{:<10} ", c.kind.label()), style),
        Span::raw(fit(
            &format!("{}  {}", sanitize(&c.subject), sanitize(&c.detail)),
            width.saturating_sub(20),
        )),
    ])
}

fn mark(kind: ChangeKind) -> char {
    match kind {
        ChangeKind::Alarm => '!',
        ChangeKind::Published | ChangeKind::Updated | ChangeKind::AliasMoved => '^',
        ChangeKind::FirstSeen | ChangeKind::LastSeen => '|',
        ChangeKind::Shift => '~',
    }
}

/// Of two marks in one point, the one that says more: an alarm, then a deployment.
fn stronger(a: char, b: char) -> char {
    let rank = |c| match c {
        '!' => 4,
        '^' => 3,
        '|' => 2,
        '~' => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

//! The hop screen: latency histogram, percentiles now vs baseline, outcomes, cold starts, where
//! the critical time went; below, one pane at a time (Tab): the slowest traces and error types,
//! why the hop is slow, what changed, and its timeouts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::Theme;
use super::format::{LOW_SAMPLE_MARK, count, dur, dur_range, fit, pct_dur};
use super::hops::{change, hop_name};
use crate::app::{App, HopPane, visible_offset};
use crate::data::Percentile;
use hopscope_analyzer::hops::HopStats;
use hopscope_analyzer::text::sanitize;

/// The histogram's share of the screen's body, in percent (the rest: traces and error kinds).
const TOP_PERCENT: u16 = 55;

/// Bars the histogram has room for on a terminal `height` rows high: one per row of its panel
/// (between 8 and 40, so that a bar still means something).
pub fn histogram_rows(height: u16) -> usize {
    // Header and footer lines, the hop's title line, and the panel's own title.
    let body = height.saturating_sub(2);
    let top = body.saturating_sub(1) * TOP_PERCENT / 100;
    // One row spare: the layout may round the panel down.
    usize::from(top.saturating_sub(2)).clamp(8, 40)
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = Theme { color: app.color };
    let Some(view) = &app.hop else {
        frame.render_widget(Paragraph::new("No hop selected."), area);
        return;
    };
    let h = &view.hop;
    let [title, top, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Percentage(TOP_PERCENT),
        Constraint::Fill(1),
    ])
    .areas(area);
    let mut head = vec![
        Span::styled(format!("#{} ", view.rank + 1), theme.key()),
        Span::styled(hop_name(h), theme.title()),
    ];
    if let Some(t) = &h.callee_type {
        head.push(Span::styled(format!(" ({})", sanitize(t)), theme.dim()));
    }
    head.push(Span::raw(format!(
        "  {:+.0} ms/trace · {:.0}% of critical time",
        h.added_ms_per_trace,
        h.now.share * 100.0
    )));
    frame.render_widget(Paragraph::new(Line::from(head)), title);

    let [hist, stats] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let block = |t: &'static str| {
        Block::default()
            .borders(Borders::TOP)
            .title(Span::styled(t, theme.title()))
    };

    // Histogram: one bar per bucket, scaled to the fullest.
    let detail = view.detail.data.as_ref();
    let hist_lines: Vec<Line> = match detail {
        None if view.detail.pending.is_some() => vec![Line::raw("Loading…")],
        None => vec![Line::raw(
            view.detail
                .error
                .clone()
                .unwrap_or_else(|| "No data.".into()),
        )],
        Some(d) if d.buckets.is_empty() => vec![Line::raw("No calls in the range.")],
        Some(d) => {
            let max = d.buckets.iter().map(|b| b.count).max().unwrap_or(1).max(1);
            let label_width = 16;
            let bar_width = (hist.width as usize).saturating_sub(label_width + 7).max(1);
            d.buckets
                .iter()
                .rev()
                .take(hist.height.saturating_sub(1) as usize)
                .rev()
                .map(|b| {
                    let n = ((b.count as f64 / max as f64) * bar_width as f64).round() as usize;
                    Line::from(vec![
                        Span::raw(format!(
                            "{:>label_width$} ",
                            dur_range(b.lower_ms, b.upper_ms)
                        )),
                        Span::styled("█".repeat(n.max(usize::from(b.count > 0))), theme.warn()),
                        Span::raw(format!(" {}", count(b.count))),
                    ])
                })
                .collect()
        }
    };
    frame.render_widget(
        Paragraph::new(hist_lines).block(block(" Latency histogram ")),
        hist,
    );

    // Percentiles, outcomes and cold starts: now, baseline, change.
    let before = h.before.as_ref();
    let mut lines = vec![Line::styled(
        format!("{:<10}{:>9}{:>9}{:>8}", "", "now", "baseline", "change"),
        theme.header(),
    )];
    let row =
        |label: &str, now: Option<f64>, base: Option<f64>, fmt: &dyn Fn(Option<f64>) -> String| {
            Line::raw(format!(
                "{label:<10}{:>9}{:>9}{:>8}",
                fmt(now),
                fmt(base),
                change(now, base)
            ))
        };
    let percentiles = detail.map_or_else(
        || {
            let of = |label,
                      now: &HopStats,
                      before: Option<&HopStats>,
                      pick: fn(&HopStats) -> (Option<f64>, bool)| {
                Percentile {
                    label,
                    now: pick(now).0,
                    before: before.and_then(|b| pick(b).0),
                    now_low_sample: pick(now).1,
                    before_low_sample: before.is_some_and(|b| pick(b).1),
                }
            };
            vec![
                of("p50", &h.now, before, |s| (s.p50_ms, s.p50_low_sample)),
                of("p90", &h.now, before, |s| (s.p90_ms, s.p90_low_sample)),
                of("p99", &h.now, before, |s| (s.p99_ms, s.p99_low_sample)),
            ]
        },
        |d| d.percentiles.clone(),
    );
    let mut low_sample = false;
    for p in &percentiles {
        low_sample |= p.now_low_sample || p.before_low_sample;
        lines.push(Line::raw(format!(
            "{:<10}{:>9}{:>9}{:>8}",
            p.label,
            pct_dur(p.now, p.now_low_sample),
            pct_dur(p.before, p.before_low_sample),
            change(p.now, p.before)
        )));
    }
    let censored = if h.now.censored > 0 {
        format!(
            ", {} never answered or timed out (counted at the time waited)",
            h.now.censored
        )
    } else {
        String::new()
    };
    lines.push(Line::styled(
        format!("over {} timed calls{censored}", h.now.samples),
        theme.dim(),
    ));
    if low_sample {
        lines.push(Line::styled(
            format!("{LOW_SAMPLE_MARK} fewer calls than the percentile needs (10/(1-p))"),
            theme.dim(),
        ));
    }
    let n = |v: i64| Some(v as f64);
    let int = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| count(v as i64));
    for (label, now, base) in [
        (
            "requests",
            n(h.now.requests),
            before.map(|b| b.requests as f64),
        ),
        (
            "4xx+5xx",
            n(h.now.errors + h.now.faults),
            before.map(|b| (b.errors + b.faults) as f64),
        ),
        (
            "throttles",
            n(h.now.throttles),
            before.map(|b| b.throttles as f64),
        ),
        (
            "timeouts",
            n(h.now.timeouts),
            before.map(|b| b.timeouts as f64),
        ),
        (
            "cold st.",
            n(h.now.cold_starts),
            before.map(|b| b.cold_starts as f64),
        ),
    ] {
        lines.push(row(label, now, base, &int));
    }
    lines.push(Line::raw(format!(
        "critical {}: init {} · handler {} · overhead {}; downstream {}",
        dur(h.now.critical_ms),
        dur(h.now.init_ms),
        dur(h.now.handler_ms),
        dur(h.now.overhead_ms),
        dur(h.now.downstream_ms),
    )));
    if let Some(r) = h.now.cold_start_ratio {
        lines.push(Line::raw(format!(
            "cold starts {} of {} invocations ({:.1}%)",
            h.now.cold_starts,
            h.now.invocations,
            r * 100.0
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(block(" Now vs baseline ")),
        stats,
    );

    let pane_title = HopPane::ALL
        .iter()
        .map(|&p| {
            if p == view.pane {
                format!("[{}]", p.title())
            } else {
                p.title().to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if view.pane != HopPane::Traces {
        let width = bottom.width as usize;
        let pane_lines = |slot_pending: bool, error: Option<&String>| -> Vec<Line<'static>> {
            if slot_pending {
                vec![Line::raw("Loading…")]
            } else {
                vec![Line::raw(
                    error.cloned().unwrap_or_else(|| "No data.".into()),
                )]
            }
        };
        let lines = match view.pane {
            HopPane::Why => view.why.data.as_ref().map_or_else(
                || pane_lines(view.why.pending.is_some(), view.why.error.as_ref()),
                |r| super::why::lines(r, width, theme),
            ),
            HopPane::Changes => view.changes.data.as_ref().map_or_else(
                || pane_lines(view.changes.pending.is_some(), view.changes.error.as_ref()),
                |r| super::changes::lines(r, width, theme),
            ),
            _ => view.timeouts.data.as_ref().map_or_else(
                || {
                    pane_lines(
                        view.timeouts.pending.is_some(),
                        view.timeouts.error.as_ref(),
                    )
                },
                |r| super::timeouts::lines(r, h, width, theme),
            ),
        };
        // Scrolled no further than the last screenful.
        let rows = bottom.height.saturating_sub(1) as usize;
        let scroll = view.scroll.min(lines.len().saturating_sub(rows));
        frame.render_widget(
            Paragraph::new(lines)
                .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0))
                .block(block_owned(
                    format!(" {pane_title} (Tab, j/k scroll) "),
                    theme,
                )),
            bottom,
        );
        return;
    }
    let [traces, errors] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    let rows_shown = traces.height.saturating_sub(1) as usize;
    let offset = visible_offset(view.traces.offset, view.traces.selected, rows_shown);
    let trace_lines: Vec<Line> = if h.slowest_traces.is_empty() {
        vec![Line::raw("No trace.")]
    } else {
        h.slowest_traces
            .iter()
            .enumerate()
            .skip(offset)
            .take(rows_shown)
            .map(|(i, t)| {
                let text = fit(
                    &format!("{:>9}  {}", dur(t.critical_ms), sanitize(&t.trace_id)),
                    traces.width as usize,
                );
                if i == view.traces.selected {
                    Line::styled(text, theme.selected())
                } else {
                    Line::raw(text)
                }
            })
            .collect()
    };
    frame.render_widget(
        Paragraph::new(trace_lines).block(block_owned(
            // The pane's keys are in the help: the title is the tabs, at every width.
            format!(" {pane_title} "),
            theme,
        )),
        traces,
    );
    let error_lines: Vec<Line> = match detail {
        Some(d) if d.error_types.is_empty() => vec![Line::raw("No errors.")],
        Some(d) => d
            .error_types
            .iter()
            .map(|(kind, n)| {
                Line::from(vec![
                    Span::styled(format!("{:>6} ", count(*n)), theme.error()),
                    Span::raw(fit(kind, (errors.width as usize).saturating_sub(7))),
                ])
            })
            .collect(),
        None => Vec::new(),
    };
    frame.render_widget(
        Paragraph::new(error_lines).block(block(" Error types ")),
        errors,
    );
}

fn block_owned(title: String, theme: Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(title, theme.title()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_histogram_has_a_bar_per_row_it_has_room_for() {
        assert_eq!(super::histogram_rows(24), 9);
        assert_eq!(super::histogram_rows(48), 22);
        assert_eq!(super::histogram_rows(60), 29);
        assert_eq!(super::histogram_rows(10), 8);
        assert_eq!(super::histogram_rows(200), 40);
    }
}

//! The overview's ranked hops: which caller -> callee added the latency, against the baseline.

use hopscope_analyzer::hops::Hop;
use hopscope_analyzer::text::sanitize;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::Theme;
use super::format::{count, dur, fit, pct_ms, sparkline};
use crate::app::{App, OverviewFocus, visible_offset};
use crate::data::{Health, SERIES_BUCKETS};

/// The panel's title: the traces ranked and the baseline's, and the share of the window's traces
/// the store holds when a trace budget left some out (counts are then of those held).
fn title(report: Option<&hopscope_analyzer::hops::HopReport>) -> String {
    let Some(r) = report else {
        return " Slow hops ".into();
    };
    let held = r
        .coverage
        .as_ref()
        .filter(|c| c.is_partial())
        .map_or_else(String::new, |c| {
            format!(
                " (held {:.0}% of {})",
                100.0 * c.traces_held as f64 / c.traces_seen.max(1) as f64,
                c.traces_seen
            )
        });
    if r.baseline.is_some() {
        format!(
            " Slow hops: {} traces{held}, baseline {} traces before ",
            r.traces, r.baseline_traces
        )
    } else {
        format!(" Slow hops: {} traces{held}, no baseline ", r.traces)
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = Theme { color: app.color };
    let report = app.overview.data.as_ref().and_then(|o| o.report.as_ref());
    let title = title(report);
    let block = Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(title, theme.title()));
    let hops = app.visible_hops();
    if hops.is_empty() {
        let text = match (&app.overview.data, app.overview.pending) {
            (None, Some(_)) => "Ranking hops…",
            (None, None) if app.overview.error.is_some() => "The hops could not be loaded.",
            _ if !app.filter().is_empty() => "No hop matches the filter.",
            _ => "No spans in this time range (t picks another).",
        };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let wide = area.width >= 120;
    // Narrow screens show the selected hop's sparkline on the last line instead of a column.
    let (table_area, spark_area) = if wide || area.height < 6 {
        (area, None)
    } else {
        let [t, s] = ratatui::layout::Layout::vertical([Constraint::Min(3), Constraint::Length(1)])
            .areas(area);
        (t, Some(s))
    };
    let rows_shown = table_area.height.saturating_sub(2) as usize;
    let offset = visible_offset(app.hops.offset, app.hops.selected, rows_shown);
    let focused = app.focus == OverviewFocus::Hops;
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    let rows = hops
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_shown)
        .map(|(i, &(rank, h))| {
            let health = Health::of(h.now.requests, h.now.errors, h.now.throttles, h.now.faults);
            let mut cells = vec![
                right(format!("{}", rank + 1)),
                Cell::from(Span::styled(health.mark(), theme.health(health))),
                Cell::from(hop_name(h)),
                Cell::from(
                    Line::from(format!("{:+.0}", h.added_ms_per_trace))
                        .right_aligned()
                        .style(if rank == 0 && h.added_ms_per_trace > 0.0 {
                            theme.error()
                        } else {
                            ratatui::style::Style::new()
                        }),
                ),
                right(pct_ms(h.now.p50_ms, h.now.p50_low_sample)),
            ];
            let before = h.before.as_ref();
            if wide {
                cells.push(right(before.map_or_else(
                    || "-".into(),
                    |b| pct_ms(b.p50_ms, b.p50_low_sample),
                )));
            }
            cells.push(right(pct_ms(h.now.p99_ms, h.now.p99_low_sample)));
            cells.push(right(before.map_or_else(
                || "-".into(),
                |b| pct_ms(b.p99_ms, b.p99_low_sample),
            )));
            cells.push(right(change(h.now.p99_ms, before.and_then(|b| b.p99_ms))));
            cells.push(right(count(h.now.requests)));
            cells.push(right(format!(
                "{}/{}/{}",
                count(h.now.errors + h.now.faults),
                count(h.now.throttles),
                count(h.now.timeouts)
            )));
            cells.push(right(
                h.now
                    .cold_start_ratio
                    .map_or_else(|| "-".into(), |r| format!("{:.0}%", r * 100.0)),
            ));
            if wide {
                cells.push(Cell::from(Span::styled(
                    sparkline(&h.p99_series),
                    theme.warn(),
                )));
            }
            let row = Row::new(cells);
            if i == app.hops.selected && focused {
                row.style(theme.selected())
            } else {
                row
            }
        });
    let mut header = vec!["#", "", "caller -> callee", "+ms/tr", "p50"];
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(6),
    ];
    if wide {
        header.push("p50 b");
        widths.push(Constraint::Length(6));
    }
    header.extend(["p99", "p99 b", "Δp99", "req", "err/thr/to", "cold"]);
    widths.extend([
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(10),
        Constraint::Length(4),
    ]);
    if wide {
        header.push("p99 over the range");
        widths.push(Constraint::Length(SERIES_BUCKETS as u16));
    }
    let header = Row::new(header.into_iter().map(Cell::from)).style(theme.header());
    frame.render_widget(
        Table::new(rows, widths).header(header).block(block),
        table_area,
    );
    if let Some(area) = spark_area
        && let Some((_, h)) = hops.get(app.hops.selected)
    {
        let line = Line::from(vec![
            Span::styled("p99 ", theme.dim()),
            Span::styled(sparkline(&h.p99_series), theme.warn()),
            Span::raw(" "),
            Span::raw(fit(
                &format!(
                    "{}: max {}; Enter: detail",
                    hop_name(h),
                    dur(h
                        .p99_series
                        .iter()
                        .flatten()
                        .copied()
                        .fold(f64::NAN, f64::max))
                ),
                (area.width as usize).saturating_sub(SERIES_BUCKETS + 5),
            )),
        ]);
        frame.render_widget(Paragraph::new(line), area);
    }
}

/// `caller -> callee`; the entry point's caller is the client.
/// Columns of the wide hops table other than the name, their gaps included.
pub const FIXED_WIDTH: u16 = 96;
/// Longer names are cut with `…` even when the screen has room: the rest of the row matters too.
pub const MAX_NAME_WIDTH: u16 = 72;

pub fn hop_name(h: &Hop) -> String {
    format!(
        "{} -> {}",
        sanitize(h.caller.as_deref().unwrap_or("client")),
        sanitize(&h.callee)
    )
}

/// The relative change from `before` to `now`: `+35%`, `-8%`, `new`.
pub fn change(now: Option<f64>, before: Option<f64>) -> String {
    match (now, before) {
        (Some(n), Some(b)) if b > 0.0 => {
            let pct = (n - b) / b * 100.0;
            if pct.abs() >= 999.5 {
                format!("{:+.0}x", n / b)
            } else {
                format!("{pct:+.0}%")
            }
        }
        (Some(_), None) => "new".into(),
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn changes() {
        assert_eq!(super::change(Some(135.0), Some(100.0)), "+35%");
        assert_eq!(super::change(Some(92.0), Some(100.0)), "-8%");
        assert_eq!(super::change(Some(500.0), Some(5.0)), "+100x");
        assert_eq!(super::change(Some(5.0), None), "new");
        assert_eq!(super::change(None, Some(5.0)), "-");
    }

    #[test]
    fn the_title_says_what_share_of_the_traces_a_budget_held() {
        use hopscope_analyzer::coverage::Coverage;
        use hopscope_analyzer::hops::{HopReport, Window};

        let mut report = HopReport {
            window: Window {
                start_us: 0,
                end_us: 1,
            },
            baseline: None,
            traces: 300,
            baseline_traces: 0,
            hops: Vec::new(),
            coverage: None,
            unsummarized_files: 0,
        };
        let title = |r: &HopReport| super::title(Some(r));
        assert_eq!(title(&report), " Slow hops: 300 traces, no baseline ");
        report.coverage = Some(Coverage {
            traces_seen: 1000,
            traces_held: 300,
            worlds: vec!["transaction_search".into()],
        });
        assert_eq!(
            title(&report),
            " Slow hops: 300 traces (held 30% of 1000), no baseline "
        );
        report.coverage = Some(Coverage {
            traces_seen: 300,
            traces_held: 300,
            worlds: vec!["xray".into()],
        });
        assert_eq!(title(&report), " Slow hops: 300 traces, no baseline ");
    }
}

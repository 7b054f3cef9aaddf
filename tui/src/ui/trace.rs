//! The trace screen: the waterfall on a time axis (only the rows on screen are drawn, so a
//! trace of 100,000 spans scrolls as fast as one of ten), the selected span's detail, and the
//! trace's log lines.

use hopscope_analyzer::text::sanitize;
use hopscope_analyzer::trace_detail::{LEGEND, SpanPart, TraceDetail, WaterfallSpan};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::Theme;
use super::format::{clock, dur, fit, opt_ms};
use crate::app::{App, TraceView, visible_offset};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = Theme { color: app.color };
    let Some(view) = &app.trace else {
        frame.render_widget(Paragraph::new("No trace selected."), area);
        return;
    };
    let trace = match &view.detail.data {
        Some(Some(t)) => t,
        Some(None) => {
            frame.render_widget(
                Paragraph::new(format!(
                    "Trace {} is not in the store.",
                    sanitize(&view.trace_id)
                )),
                area,
            );
            return;
        }
        None => {
            let text = match &view.detail.error {
                Some(e) => format!(
                    "Trace {} could not be loaded: {}",
                    sanitize(&view.trace_id),
                    sanitize(e)
                ),
                None => format!("Loading trace {}…", sanitize(&view.trace_id)),
            };
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), area);
            return;
        }
    };
    let wide = area.width >= 140;
    let [head, main, logs] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(3),
        Constraint::Fill(if wide { 1 } else { 2 }),
    ])
    .areas(area);
    let (waterfall_area, detail_area) = if wide {
        let [w, d] = Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)])
            .areas(main);
        (w, d)
    } else {
        let [w, d] = Layout::vertical([Constraint::Fill(1), Constraint::Length(5)]).areas(main);
        (w, d)
    };
    header(frame, head, trace, view, theme);
    waterfall(frame, waterfall_area, trace, view, theme);
    let selected = view
        .visible
        .get(view.spans.selected)
        .map(|&i| &trace.spans[i]);
    span_detail(frame, detail_area, selected, theme);
    log_lines(frame, logs, trace, view, theme);
}

fn header(frame: &mut Frame, area: Rect, t: &TraceDetail, view: &TraceView, theme: Theme) {
    let critical = t.spans.iter().filter(|s| s.on_critical_path).count();
    let mut legend = vec![
        Span::styled("* ", theme.error()),
        Span::raw("critical path  "),
    ];
    for (part, name) in LEGEND {
        legend.push(Span::styled(
            part.glyph().to_string(),
            part_style(part, theme),
        ));
        legend.push(Span::raw(format!(" {name}  ")));
    }
    legend.extend([Span::styled("!", theme.error()), Span::raw(" error")]);
    let lines = vec![
        Line::from(vec![
            Span::styled(t.trace_id.clone(), theme.title()),
            Span::raw(format!(
                "  {} · {} spans ({} shown, {} critical) · {} UTC",
                dur((t.end_us - t.start_us) as f64 / 1e3),
                t.spans.len(),
                view.visible.len(),
                critical,
                clock(t.start_us)
            )),
        ]),
        Line::from(legend),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn part_style(part: SpanPart, theme: Theme) -> Style {
    if !theme.color {
        return Style::new();
    }
    Style::new().fg(match part {
        SpanPart::Init => Color::Magenta,
        SpanPart::Handler => Color::Blue,
        SpanPart::Overhead => Color::Yellow,
        SpanPart::Downstream => Color::Cyan,
        SpanPart::Other => Color::Gray,
    })
}

fn waterfall(frame: &mut Frame, area: Rect, t: &TraceDetail, view: &TraceView, theme: Theme) {
    let focus = if view.logs_focused { "" } else { " ◀" };
    let block = Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(format!(" Waterfall{focus} "), theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = inner.height as usize;
    let offset = visible_offset(view.spans.offset, view.spans.selected, rows);
    let name_width = (inner.width as usize * 2 / 5).clamp(10, 60);
    let dur_width = 8;
    let bar_width = (inner.width as usize)
        .saturating_sub(name_width + dur_width + 3)
        .max(1);
    let total = (t.end_us - t.start_us).max(1) as f64;
    let mut lines = Vec::with_capacity(rows);
    for (row, &i) in view.visible.iter().enumerate().skip(offset).take(rows) {
        let s = &t.spans[i];
        let mark = if s.error || s.fault || s.throttle {
            Span::styled("!", theme.error())
        } else if s.on_critical_path {
            Span::styled("*", theme.error())
        } else {
            Span::raw(" ")
        };
        let indent = " ".repeat((s.depth as usize).min(name_width / 2));
        let name = fit(&format!("{indent}{}", label(s)), name_width);
        let end_us = s.end_us.unwrap_or(t.end_us);
        let x0 = (((s.start_us - t.start_us) as f64 / total) * bar_width as f64).floor() as usize;
        let x1 = (((end_us - t.start_us) as f64 / total) * bar_width as f64).ceil() as usize;
        let x0 = x0.min(bar_width - 1);
        let len = x1.saturating_sub(x0).clamp(1, bar_width - x0);
        let mut bar_style = part_style(s.part, theme);
        if s.on_critical_path {
            bar_style = bar_style.add_modifier(Modifier::BOLD);
        }
        let bar = s.part.glyph().to_string().repeat(len);
        let mut name_style = Style::new();
        if s.on_critical_path {
            name_style = name_style.add_modifier(Modifier::BOLD);
        }
        let mut line = Line::from(vec![
            mark,
            Span::styled(format!("{name:<name_width$} "), name_style),
            Span::raw(format!(
                "{:>dur_width$} ",
                if s.in_progress {
                    "…".to_string()
                } else {
                    opt_ms(s.duration_ms)
                }
            )),
            Span::raw(" ".repeat(x0)),
            Span::styled(bar, bar_style),
        ]);
        if offset + row == view.spans.selected {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A span's name, with its node when the name does not say it.
fn label(s: &WaterfallSpan) -> String {
    match &s.aws_operation {
        Some(op) => format!("{} {op}", s.name),
        None => s.name.clone(),
    }
}

fn span_detail(frame: &mut Frame, area: Rect, span: Option<&WaterfallSpan>, theme: Theme) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(" Span ", theme.title()));
    let Some(s) = span else {
        frame.render_widget(Paragraph::new("No span selected.").block(block), area);
        return;
    };
    let mut flags = Vec::new();
    for (on, name) in [
        (s.on_critical_path, "critical"),
        (s.error, "error"),
        (s.fault, "fault"),
        (s.throttle, "throttle"),
        (s.in_progress, "in progress"),
    ] {
        if on {
            flags.push(name);
        }
    }
    let mut lines = vec![Line::raw(format!(
        "{} · {} ({}) · {} · {}, critical {}{}{}",
        s.name,
        s.service,
        s.service_type.as_deref().unwrap_or(&s.kind),
        s.id,
        s.duration_ms.map_or_else(|| "-".into(), dur),
        s.critical_ms.map_or_else(|| "-".into(), dur),
        s.http_status
            .map(|h| format!(" · HTTP {h}"))
            .unwrap_or_default(),
        if flags.is_empty() {
            String::new()
        } else {
            format!(" · {}", flags.join(", "))
        }
    ))];
    if let Some(cause) = &s.cause {
        lines.push(Line::styled(format!("cause: {cause}"), theme.error()));
    }
    if !s.annotations.is_empty() {
        let notes: Vec<String> = s
            .annotations
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        lines.push(Line::raw(format!("annotations: {}", notes.join(", "))));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        area,
    );
}

fn log_lines(frame: &mut Frame, area: Rect, t: &TraceDetail, view: &TraceView, theme: Theme) {
    let focus = if view.logs_focused { " ◀" } else { " (Tab)" };
    let logs = view.visible_logs();
    let whose = match view.selected_invocation() {
        Some(inv) => format!("request {} of {}", inv.request_id, inv.function),
        None => "the trace's requests".into(),
    };
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        format!(" Logs: {} lines of {whose}{focus} ", logs.len()),
        theme.title(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if logs.is_empty() {
        let text = if t.logs.is_empty() {
            "No log lines for this trace's requests."
        } else {
            "No log lines for this request."
        };
        frame.render_widget(Paragraph::new(text), inner);
        return;
    }
    let lines: Vec<Line> = logs
        .iter()
        .skip(view.log_scroll)
        .take(inner.height as usize)
        .map(|l| {
            let level = l.level.as_deref().unwrap_or("");
            let style = match level.to_ascii_uppercase().as_str() {
                "ERROR" | "FATAL" => theme.error(),
                "WARN" | "WARNING" => theme.warn(),
                _ => Style::new(),
            };
            Line::from(vec![
                Span::styled(clock(l.timestamp_us), theme.dim()),
                Span::raw(" "),
                Span::styled(format!("{level:<5} "), style),
                Span::styled(
                    format!("{} ", l.log_group.trim_start_matches("/aws/lambda/")),
                    theme.dim(),
                ),
                Span::raw(l.message.clone()),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

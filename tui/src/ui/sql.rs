//! The SQL screen: the editor line and the result, scrolled by rows and columns.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::Theme;
use super::format::{dur, fit};
use crate::app::{App, SQL_EXAMPLE, visible_offset};

/// Widest a result column gets; longer values are cut with `…`.
const MAX_COLUMN: usize = 40;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = Theme { color: app.color };
    let [editor, result] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(1)]).areas(area);
    let sql = &app.sql;
    let title = if sql.editing {
        " SQL: Enter runs · ↑↓ history · Esc to the result "
    } else {
        " SQL: e edits · Enter edits · r runs again "
    };
    let border = if sql.editing {
        theme.key()
    } else {
        theme.dim()
    };
    // Scroll the line so the cursor stays in view.
    let width = editor.width.saturating_sub(2) as usize;
    let first = sql.cursor.saturating_sub(width.saturating_sub(1));
    let shown = if sql.input.is_empty() {
        Line::styled(
            fit(&format!("{SQL_EXAMPLE}   (↑ recalls it)"), width),
            theme.dim(),
        )
    } else {
        Line::raw(
            sql.input
                .chars()
                .skip(first)
                .take(width)
                .collect::<String>(),
        )
    };
    frame.render_widget(
        Paragraph::new(shown).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(border)
                .title(title),
        ),
        editor,
    );
    if sql.editing {
        frame.set_cursor_position((editor.x + 1 + (sql.cursor - first) as u16, editor.y + 1));
    }

    let block = Block::default().borders(Borders::TOP);
    let Some(r) = &sql.result.data else {
        let text = if sql.result.pending.is_some() {
            "Running…".to_string()
        } else if let Some(e) = &sql.result.error {
            format!("error: {e}")
        } else {
            "Type a query and press Enter. Tables: spans, traces, log_events, lambda_invocations, metric_points, service_edges, service_nodes.".into()
        };
        frame.render_widget(
            Paragraph::new(text)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(block),
            result,
        );
        return;
    };
    let visible = app.visible_rows();
    let mut status = format!("{} rows in {}", r.table.total_rows, dur(r.elapsed_ms));
    if r.table.rows.len() < r.table.total_rows {
        status.push_str(&format!(" (first {} kept)", r.table.rows.len()));
    }
    if !app.filter().is_empty() {
        status.push_str(&format!(", {} match /{}", visible.len(), app.filter()));
    }
    if let Some(e) = &sql.result.error {
        status = format!("error: {e}");
    }
    let block = block.title(Span::styled(
        format!(" {status} "),
        if sql.result.error.is_some() {
            theme.error()
        } else {
            theme.dim()
        },
    ));
    let rows_shown = result.height.saturating_sub(2) as usize;
    let offset = visible_offset(sql.rows.offset, sql.rows.selected, rows_shown);
    let page: Vec<usize> = visible
        .iter()
        .copied()
        .skip(offset)
        .take(rows_shown)
        .collect();
    // Columns from the scrolled-to one, as many as fit, each as wide as its widest shown value.
    let mut widths = Vec::new();
    let mut used = 0usize;
    for c in sql.column..r.table.columns.len() {
        let w = page
            .iter()
            .map(|&i| r.table.rows[i][c].chars().count())
            .chain([r.table.columns[c].chars().count()])
            .max()
            .unwrap_or(1)
            .clamp(1, MAX_COLUMN);
        if used > 0 && used + w + 1 > result.width as usize {
            break;
        }
        used += w + 1;
        widths.push((c, w));
    }
    let header = Row::new(
        widths
            .iter()
            .map(|&(c, w)| Cell::from(fit(&r.table.columns[c], w))),
    )
    .style(theme.header());
    let rows = page.iter().enumerate().map(|(n, &i)| {
        let row = Row::new(
            widths
                .iter()
                .map(|&(c, w)| Cell::from(fit(&r.table.rows[i][c], w))),
        );
        if offset + n == sql.rows.selected && !sql.editing {
            row.style(theme.selected())
        } else {
            row
        }
    });
    let constraints: Vec<Constraint> = widths
        .iter()
        .map(|&(_, w)| Constraint::Length(w as u16))
        .collect();
    let mut table = Table::new(rows, constraints).header(header).block(block);
    if widths.is_empty() {
        table = table.header(Row::new([Line::raw("(no columns)")]));
    }
    frame.render_widget(table, result);
}

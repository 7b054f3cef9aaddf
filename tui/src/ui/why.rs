//! The hop screen's why pane: what the slow calls have in common that the others lack, strongest
//! first with its counts, and where the slow calls' time went.

use hopscope_analyzer::text::sanitize;
use hopscope_analyzer::why::{Comparison, WhyReport};
use ratatui::text::{Line, Span};

use super::Theme;
use super::format::{dur, fit};
use super::hops::change;

/// The pane's lines for a terminal `width` wide.
pub fn lines(r: &WhyReport, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if r.calls == 0 {
        out.push(Line::raw("No call of this hop in the range."));
        return out;
    }
    let against = match r.compared_with {
        Comparison::Baseline => format!("{} calls of the baseline", r.others.calls),
        Comparison::RestOfWindow => format!(
            "the range's {} other calls (the baseline had too few)",
            r.others.calls
        ),
    };
    out.push(Line::styled(
        fit(
            &format!(
                "{} slow calls (above p90 {}, or failed: {}) against {against}",
                r.slow.calls,
                r.p90_ms.map_or_else(|| "-".into(), dur),
                r.failed
            ),
            width,
        ),
        theme.dim(),
    ));
    if r.evidence.is_empty() {
        out.push(Line::raw(fit(
            "Nothing sets the slow calls apart: the callee itself got slower (time below).",
            width,
        )));
    } else {
        out.push(Line::styled(
            format!("{:>10} {:>10}  evidence", "slow", "others"),
            theme.header(),
        ));
        // Counts first, so a small sample reads as small: `9/9 100%`.
        let value_width = width.saturating_sub(23);
        for e in &r.evidence {
            let mark = if e.compared_with == r.compared_with {
                " "
            } else {
                "*"
            };
            out.push(Line::from(vec![
                Span::styled(
                    format!(
                        "{:>5} {:>3.0}% {:>5} {:>3.0}%{mark}",
                        format!("{}/{}", e.slow, r.slow.examined),
                        e.slow_share * 100.0,
                        e.others,
                        e.others_share * 100.0,
                    ),
                    theme.warn(),
                ),
                Span::raw(" "),
                Span::raw(fit(
                    &format!("{}: {}", e.attribute, sanitize(&e.value)),
                    value_width,
                )),
            ]));
            for (a, v) in &e.same_calls {
                out.push(Line::styled(
                    fit(&format!("{:22} = {a}: {}", "", sanitize(v)), width),
                    theme.dim(),
                ));
            }
        }
        if r.evidence
            .iter()
            .any(|e| e.compared_with != r.compared_with)
        {
            out.push(Line::styled(
                "* against the range's other calls (a sandbox is never in the baseline)",
                theme.dim(),
            ));
        }
    }
    if !r.time.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled(
            format!(
                "{:<28}{:>9}{:>9}{:>8}",
                "mean time per call", "slow", "others", "change"
            ),
            theme.header(),
        ));
        for t in &r.time {
            out.push(Line::raw(format!(
                "{:<28}{:>9}{:>9}{:>8}",
                fit(&sanitize(&t.part), 27),
                dur(t.slow_ms),
                dur(t.others_ms),
                change(Some(t.slow_ms), Some(t.others_ms))
            )));
        }
    }
    out
}

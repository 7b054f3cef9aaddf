//! The hop screen's timeouts pane: the hop's Lambda timeouts and calls that never answered,
//! what each group was waiting on and for how long, with example traces; and where else in
//! the range callers gave up.

use hopscope_analyzer::hops::Hop;
use hopscope_analyzer::text::sanitize;
use hopscope_analyzer::timeouts::TimeoutReport;
use ratatui::text::Line;

use super::Theme;
use super::format::fit;

/// Other hops with timeouts listed under the hop's own.
const ELSEWHERE: usize = 5;

/// The pane's lines for a terminal `width` wide.
pub fn lines(r: &TimeoutReport, hop: &Hop, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let own = r
        .hops
        .iter()
        .find(|h| h.caller == hop.caller && h.callee == hop.callee);
    match own {
        None => out.push(Line::raw(
            "No Lambda timeout and no call that never answered at this hop.",
        )),
        Some(h) => {
            out.push(Line::styled(fit(&h.summary(), width), theme.warn()));
            for w in &h.waiting_on {
                out.push(Line::raw(fit(&format!("  {}", w.summary()), width)));
                for op in w
                    .operations
                    .iter()
                    .filter(|o| !o.operation.is_empty())
                    .take(3)
                {
                    out.push(Line::styled(
                        fit(
                            &format!("    {:>5}  {}", op.timeouts, sanitize(&op.operation)),
                            width,
                        ),
                        theme.dim(),
                    ));
                }
                let ids: Vec<String> = w.example_traces.iter().map(|t| sanitize(t)).collect();
                out.push(Line::styled(
                    fit(&format!("    e.g. {}", ids.join(", ")), width),
                    theme.dim(),
                ));
            }
        }
    }
    // Callers that gave up while this hop's call was in flight: the hop as what they waited on.
    for h in r
        .hops
        .iter()
        .filter(|h| h.caller.as_deref() != Some(hop.callee.as_str()))
    {
        for w in h
            .waiting_on
            .iter()
            .filter(|w| w.callee.as_deref() == Some(hop.callee.as_str()))
        {
            out.push(Line::styled(
                fit(
                    &format!("{} gave up waiting on this hop's callee:", h.name()),
                    width,
                ),
                theme.warn(),
            ));
            out.push(Line::raw(fit(&format!("  {}", w.summary()), width)));
            let ids: Vec<String> = w.example_traces.iter().map(|t| sanitize(t)).collect();
            out.push(Line::styled(
                fit(&format!("    e.g. {}", ids.join(", ")), width),
                theme.dim(),
            ));
        }
    }
    let others: Vec<_> = r
        .hops
        .iter()
        .filter(|h| !(h.caller == hop.caller && h.callee == hop.callee))
        .collect();
    if !others.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled(
            format!("elsewhere in the range ({} timeouts in all)", r.timeouts),
            theme.header(),
        ));
        for h in others.iter().take(ELSEWHERE) {
            out.push(Line::raw(fit(
                &format!("{:>6}  {}", h.timeouts, h.name()),
                width,
            )));
        }
    }
    out
}

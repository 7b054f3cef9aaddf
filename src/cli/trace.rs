//! `hopscope trace ID`: one trace as an indented waterfall with its critical path, its Lambda
//! REPORT data and the log lines of its requests.

use hopscope_store::Location;
use std::fmt::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use hopscope_analyzer::Session;
use hopscope_analyzer::trace_detail::{LEGEND, SpanPart, TraceDetail, WaterfallSpan};

use super::output::{sanitize, truncate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    /// Indented waterfall on a time axis, then Lambda invocations and log lines
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The X-Ray trace id (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx)
    pub trace_id: String,

    /// Width of the time axis in characters
    #[arg(long, default_value_t = 40)]
    pub width: usize,

    /// Log lines to show (most relevant first: those of the trace's requests, by time)
    #[arg(long, default_value_t = 50)]
    pub logs: usize,

    /// Output format
    #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
    pub format: TraceFormat,
}

pub async fn run(store: &Location, args: TraceArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_at(store).await?;
    let Some(trace) = TraceDetail::load(&session, args.trace_id.trim()).await? else {
        anyhow::bail!(
            "no trace {} in {}: list traces with `hopscope sql \"SELECT trace_id, duration_ms FROM traces ORDER BY duration_ms DESC LIMIT 10\"`",
            sanitize(&args.trace_id),
            store.display()
        );
    };
    match args.format {
        TraceFormat::Json => println!("{}", serde_json::to_string_pretty(&trace)?),
        TraceFormat::Text => print!(
            "{}",
            render(&trace.sanitized(), args.width.max(10), args.logs)
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn time(us: i64, format: &str) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map_or_else(|| us.to_string(), |t| t.format(format).to_string())
}

/// The bar of a span that never ended (its end is the trace's), unless it is Lambda's own.
const NEVER_ENDED: char = '?';

/// A span's bar on an axis of `width` characters from the trace's start to its end.
fn bar(span: &WaterfallSpan, start: i64, end: i64, width: usize) -> String {
    let total = (end - start).max(1) as f64;
    let col = |t: i64| (((t - start) as f64 / total) * width as f64).round() as usize;
    let from = col(span.start_us).min(width.saturating_sub(1));
    let to = col(span.end_us.unwrap_or(end)).clamp(from + 1, width);
    let fill = match span.part {
        SpanPart::Init | SpanPart::Overhead => span.part.glyph(),
        _ if span.in_progress => NEVER_ENDED,
        part => part.glyph(),
    };
    let mut out = String::with_capacity(width * 3);
    for i in 0..width {
        out.push(if (from..to).contains(&i) { fill } else { ' ' });
    }
    out
}

fn flags(span: &WaterfallSpan) -> String {
    let mut f = Vec::new();
    if span.fault {
        f.push("fault".to_owned());
    } else if span.throttle {
        f.push("throttled".to_owned());
    } else if span.error {
        f.push("error".to_owned());
    }
    if let Some(status) = span.http_status {
        f.push(status.to_string());
    }
    if span.in_progress {
        f.push("never ended".to_owned());
    }
    if span.part == SpanPart::Init {
        f.push("cold start".to_owned());
    }
    f.join(", ")
}

/// The text of a trace whose strings are sanitized ([`TraceDetail::sanitized`]).
fn render(t: &TraceDetail, width: usize, max_logs: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Trace {}  {}  {:.1} ms  {} spans",
        t.trace_id,
        time(t.start_us, "%Y-%m-%d %H:%M:%S%.3f UTC"),
        (t.end_us - t.start_us) as f64 / 1000.0,
        t.spans.len()
    );
    out.push_str(
        "* on the critical path (what the root waited on); crit = the span's own time on it\n",
    );
    out.push_str("bars:");
    for (part, name) in LEGEND {
        let _ = write!(out, " {} {name} ", part.glyph());
    }
    let _ = writeln!(out, " {NEVER_ENDED} never ended\n");
    let name_width = 48;
    let _ = writeln!(
        out,
        "  {:<name_width$} {:>9} {:>9} {:>9}  {:<width$}",
        "span", "start ms", "dur ms", "crit ms", "timeline",
    );
    for s in &t.spans {
        let indent = "  ".repeat(usize::from(s.depth.min(20)));
        // Segments show their node's type (a Lambda service and its function share a name);
        // subsegments the node they call, when it is another.
        let label = match (&s.service_type, s.kind.as_str()) {
            (Some(t), "segment" | "inferred") => {
                format!("{indent}{} [{t}]", s.name)
            }
            _ if s.name == s.service => format!("{indent}{}", s.name),
            _ => format!("{indent}{} ({})", s.name, s.service),
        };
        let mark = if s.on_critical_path { '*' } else { ' ' };
        let _ = writeln!(
            out,
            "{mark} {:<name_width$} {:>9.1} {:>9} {:>9} |{}| {}",
            truncate(&label, name_width),
            (s.start_us - t.start_us) as f64 / 1000.0,
            s.duration_ms
                .map_or_else(|| "-".into(), |d| format!("{d:.1}")),
            s.critical_ms
                .filter(|c| *c > 0.0)
                .map_or_else(String::new, |c| format!("{c:.1}")),
            bar(s, t.start_us, t.end_us, width),
            flags(s),
        );
        if let Some(cause) = &s.cause {
            let _ = writeln!(out, "  {indent}  cause: {cause}");
        }
    }
    if !t.invocations.is_empty() {
        out.push_str("\nLambda invocations (REPORT):\n");
        let _ = writeln!(
            out,
            "  {:<28} {:<38} {:>9} {:>9} {:>11} {:>9} {:<8}",
            "function", "request id", "dur ms", "billed ms", "mem MB", "init ms", "status"
        );
        for i in &t.invocations {
            let _ = writeln!(
                out,
                "  {:<28} {:<38} {:>9.1} {:>9} {:>11} {:>9} {:<8}",
                truncate(&i.function, 28),
                truncate(&i.request_id, 38),
                i.duration_ms,
                i.billed_ms
                    .map_or_else(|| "-".into(), |b| format!("{b:.0}")),
                match (i.max_memory_mb, i.memory_mb) {
                    (Some(used), Some(size)) => format!("{used}/{size}"),
                    _ => "-".into(),
                },
                i.init_ms.map_or_else(|| "-".into(), |v| format!("{v:.1}")),
                i.status,
            );
        }
    }
    if !t.logs.is_empty() {
        let _ = writeln!(
            out,
            "\nLog lines ({} of {}):",
            t.logs.len().min(max_logs),
            t.logs.len()
        );
        for l in t.logs.iter().take(max_logs) {
            let _ = writeln!(
                out,
                "  {} {:<24} {}",
                time(l.timestamp_us, "%H:%M:%S%.3f"),
                truncate(l.log_group.trim_start_matches("/aws/lambda/"), 24),
                l.message,
            );
        }
    }
    out
}

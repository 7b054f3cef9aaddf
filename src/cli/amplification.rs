//! `hopscope amplification`: how much work one request became, per entry point, and how much
//! of it was retries, repeated identical calls and redeliveries.

use hopscope_store::Location;
use std::fmt::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use hopscope_analyzer::Session;
use hopscope_analyzer::amplification::{self, AmplificationReport, AmplifiedTrace};
use hopscope_analyzer::coverage::Coverage;

use super::output::{sanitize, truncate};
use super::time::{WindowArgs, range};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AmplificationFormat {
    /// Ranked table of entry points, with their most repeated calls and worst traces
    Table,
    /// The whole report
    Json,
}

#[derive(Debug, Args)]
pub struct AmplificationArgs {
    // Neither --since nor --until: the last hour of data stored.
    #[command(flatten)]
    pub window: WindowArgs,

    /// Entry points to show in the table (JSON has all)
    #[arg(long, default_value_t = 10)]
    pub limit: usize,

    /// Output format
    #[arg(long, value_enum, default_value_t = AmplificationFormat::Table)]
    pub format: AmplificationFormat,
}

pub async fn run(store: &Location, args: AmplificationArgs) -> anyhow::Result<ExitCode> {
    let window = args.window.resolve(chrono::Utc::now())?;
    let session = Session::open_at(store).await?;
    let report = amplification::load(&session, window).await?;
    match args.format {
        AmplificationFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        AmplificationFormat::Table => print!("{}", table(&report, args.limit)),
    }
    Ok(ExitCode::SUCCESS)
}

/// What made a trace's extra work, as `2 SDK retries, 1 repeated call`.
fn extra(t: &AmplifiedTrace) -> String {
    let parts: Vec<String> = [
        (t.sdk_retries, "SDK retr", "y", "ies"),
        (t.async_retries, "async retr", "y", "ies"),
        (t.repeated_calls, "repeated call", "", "s"),
        (t.redeliveries, "redeliver", "y", "ies"),
    ]
    .into_iter()
    .filter(|(n, ..)| *n > 0)
    .map(|(n, word, one, many)| format!("{n} {word}{}", if n == 1 { one } else { many }))
    .collect();
    parts.join(", ")
}

/// `1 call`, `2 calls`.
fn counted(n: i64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The entry point's column of the table.
const NAME_WIDTH: usize = 40;

fn table(r: &AmplificationReport, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Window   {}  {} request{}",
        range(&r.window),
        r.requests,
        if r.requests == 1 { "" } else { "s" }
    );
    if let Some(note) = r.coverage.as_ref().and_then(Coverage::note) {
        let _ = writeln!(out, "Held     {note}");
    }
    if r.entry_points.is_empty() {
        out.push_str("No request started in the window: pick another with --since/--until, or import or collect traces.\n");
        return out;
    }
    out.push_str("Ranked by extra work (retries, repeated calls, redeliveries) per request.\n\n");
    let _ = writeln!(out, "{}", amplification::table_header(NAME_WIDTH));
    for (i, e) in r.entry_points.iter().take(limit).enumerate() {
        let _ = writeln!(out, "{}", amplification::table_row(i + 1, e, NAME_WIDTH));
        let _ = writeln!(out, "    {}", e.summary());
        for rc in &e.repeated {
            let _ = writeln!(out, "    repeated: {}", truncate(&rc.summary(), 150));
        }
        for t in &e.worst_traces {
            let mut what = vec![extra(t)];
            what.extend(
                t.repeated
                    .iter()
                    .take(2)
                    .map(hopscope_analyzer::amplification::Repeat::summary),
            );
            let _ = writeln!(
                out,
                "    worst: {}  {}, {}; {}",
                sanitize(&t.trace_id),
                counted(t.invocations, "invocation"),
                counted(t.calls, "call"),
                truncate(&what.join("; "), 150)
            );
        }
    }
    if r.entry_points.len() > limit {
        let _ = writeln!(
            out,
            "... {} more (--limit, or --format json for all)",
            r.entry_points.len() - limit
        );
    }
    out
}

//! `hopscope timeouts`: every Lambda timeout and call that never answered, by hop, with what
//! was in flight when the caller gave up.

use hopscope_store::Location;
use std::fmt::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use hopscope_analyzer::Session;
use hopscope_analyzer::coverage::Coverage;
use hopscope_analyzer::timeouts::{self, TimeoutReport};

use super::output::{sanitize, truncate};
use super::time::{WindowArgs, range};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimeoutsFormat {
    /// Per hop: its timeouts, what they were waiting on and for how long, example traces
    Table,
    /// The whole report, every timeout with the call in flight
    Json,
}

#[derive(Debug, Args)]
pub struct TimeoutsArgs {
    // Neither --since nor --until: the last hour of data stored.
    #[command(flatten)]
    pub window: WindowArgs,

    /// Hops to show in the table (JSON has all)
    #[arg(long, default_value_t = 10)]
    pub limit: usize,

    /// Output format
    #[arg(long, value_enum, default_value_t = TimeoutsFormat::Table)]
    pub format: TimeoutsFormat,
}

pub async fn run(store: &Location, args: TimeoutsArgs) -> anyhow::Result<ExitCode> {
    let window = args.window.resolve(chrono::Utc::now())?;
    let session = Session::open_at(store).await?;
    let report = timeouts::load(&session, window).await?;
    match args.format {
        TimeoutsFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        TimeoutsFormat::Table => print!("{}", table(&report, args.limit)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Operations listed under a callee.
const OPERATIONS: usize = 5;

fn table(r: &TimeoutReport, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Window   {}  {} timeout{}",
        range(&r.window),
        r.timeouts,
        if r.timeouts == 1 { "" } else { "s" }
    );
    if let Some(note) = r.coverage.as_ref().and_then(Coverage::note) {
        let _ = writeln!(out, "Held     {note}");
    }
    if r.hops.is_empty() {
        out.push_str("No Lambda timeout and no call that never answered in the window.\n");
    }
    for h in r.hops.iter().take(limit) {
        let kind = h
            .callee_type
            .as_deref()
            .map(|t| format!(" [{}]", sanitize(t)))
            .unwrap_or_default();
        let _ = writeln!(out, "\n{}{kind}", h.name());
        let mut kinds = Vec::new();
        if h.lambda_timeouts > 0 {
            kinds.push(format!("{} Lambda timeouts", h.lambda_timeouts));
        }
        if h.unanswered > 0 {
            kinds.push(format!("{} calls never answered", h.unanswered));
        }
        let _ = writeln!(
            out,
            "  {}; {} followed by a retry",
            kinds.join(", "),
            h.retried
        );
        for w in &h.waiting_on {
            let median = w
                .in_flight_median_ms
                .map(|m| format!(", median {:.1} s", m / 1_000.0))
                .unwrap_or_default();
            let retried = if w.retried > 0 {
                format!(", {} retried", w.retried)
            } else {
                String::new()
            };
            let _ = writeln!(out, "  - {}{median}{retried}", w.summary());
            if w.operations.len() > 1 {
                for op in w.operations.iter().take(OPERATIONS) {
                    let _ = writeln!(
                        out,
                        "    {:>6}  {}",
                        op.timeouts,
                        truncate(&sanitize(&op.operation), 100)
                    );
                }
                if w.operations.len() > OPERATIONS {
                    let _ = writeln!(
                        out,
                        "            ... {} more operations",
                        w.operations.len() - OPERATIONS
                    );
                }
            }
            let ids: Vec<String> = w.example_traces.iter().map(|t| sanitize(t)).collect();
            let _ = writeln!(out, "    e.g. {}", ids.join(", "));
        }
    }
    if r.hops.len() > limit {
        let _ = writeln!(
            out,
            "\n... {} more hops (--limit, or --format json for all)",
            r.hops.len() - limit
        );
    }
    if !r.reported.is_empty() {
        let counts: Vec<String> = r
            .reported
            .iter()
            .map(|f| format!("{} {}", sanitize(&f.function), f.timeouts))
            .collect();
        let _ = writeln!(
            out,
            "\nREPORT lines with Status: timeout: {}",
            counts.join(", ")
        );
    }
    out
}

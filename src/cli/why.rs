//! `hopscope why CALLER CALLEE`: what the hop's slow and failed calls have in common that its
//! calls before lacked.

use hopscope_store::Location;
use std::fmt::Write;
use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, ValueEnum};
use hopscope_analyzer::Session;
use hopscope_analyzer::why::{Comparison, WhyQuery, WhyReport};

use super::hops::{BaselineArg, window_and_baseline};
use super::output::{sanitize, truncate};
use super::time::{WindowArgs, range};

/// How `why` names the trace's client as a caller (as `hops` shows it).
const CLIENT: &str = "client";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhyFormat {
    /// The evidence, strongest first, and where the slow calls' time went
    Table,
    /// The whole report
    Json,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The calling service, as `hops` shows it (`client`: the hop into a trace's entry point)
    pub caller: String,

    /// The called service, as `hops` shows it
    pub callee: String,

    // Neither --since nor --until: the last hour of data stored.
    #[command(flatten)]
    pub window: WindowArgs,

    /// What to compare the slow calls with: `off` (the window's other calls), a duration (the
    /// hop's calls in that much time just before the window), or `START..END` [default: as long
    /// as the window, just before it]
    #[arg(long, value_name = "WINDOW")]
    pub baseline: Option<BaselineArg>,

    /// Evidence lines to show
    #[arg(long, default_value_t = 8)]
    pub limit: usize,

    /// Output format
    #[arg(long, value_enum, default_value_t = WhyFormat::Table)]
    pub format: WhyFormat,
}

pub async fn run(store: &Location, args: WhyArgs) -> anyhow::Result<ExitCode> {
    let (window, baseline) = window_and_baseline(&args.window, args.baseline.as_ref(), Utc::now())?;
    let q = WhyQuery {
        caller: (args.caller != CLIENT).then(|| args.caller.clone()),
        callee: args.callee.clone(),
        window,
        baseline,
        limit: args.limit,
    };
    let session = Session::open_at(store).await?;
    let report = WhyReport::load(&session, &q).await?;
    match args.format {
        WhyFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        WhyFormat::Table => print!("{}", table(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Widest value shown before it is cut (JSON has it whole).
const VALUE_WIDTH: usize = 110;

fn table(r: &WhyReport) -> String {
    let mut out = String::new();
    let hop = format!(
        "{} -> {}",
        sanitize(r.caller.as_deref().unwrap_or(CLIENT)),
        sanitize(&r.callee)
    );
    let _ = writeln!(out, "Hop      {hop}");
    let _ = writeln!(out, "Window   {}  {} calls", range(&r.window), r.calls);
    if r.calls == 0 {
        out.push_str(
            "No call of this hop in the window: check the names with `hopscope hops`, or pick \
             another window with --since/--until.\n",
        );
        return out;
    }
    let _ = writeln!(
        out,
        "Slow     {} calls: above the window's p90 ({} ms) or failed ({})",
        r.slow.calls,
        r.p90_ms.map_or_else(|| "-".into(), |p| format!("{p:.0}")),
        r.failed
    );
    let others = match (r.compared_with, &r.baseline) {
        (Comparison::Baseline, Some(b)) => format!("{} calls in {}", r.others.calls, range(b)),
        _ => format!(
            "the window's {} other calls (the baseline had too few)",
            r.others.calls
        ),
    };
    let _ = writeln!(out, "Against  {others}");
    if r.slow.examined < r.slow.calls || r.others.examined < r.others.calls {
        let _ = writeln!(
            out,
            "Examined {} slow calls (failed and slowest first) and {} others (a fixed sample)",
            r.slow.examined, r.others.examined
        );
    }
    out.push('\n');
    if r.evidence.is_empty() {
        out.push_str(
            "Nothing sets the slow calls apart: no attribute of theirs, nor any call beneath \
             them, is more frequent than before. The callee itself got slower (see below).\n",
        );
    } else {
        let _ = writeln!(out, "{:>11} {:>11}  evidence", "slow calls", "others");
        for e in &r.evidence {
            let mark = if e.compared_with == r.compared_with {
                ""
            } else {
                "*"
            };
            let _ = writeln!(
                out,
                "{:>5} {:>4.0}% {:>5} {:>3.0}%{mark:1} {}: {}",
                format!("{}/{}", e.slow, r.slow.examined),
                e.slow_share * 100.0,
                e.others,
                e.others_share * 100.0,
                e.attribute,
                truncate(&sanitize(&e.value), VALUE_WIDTH)
            );
            for (a, v) in &e.same_calls {
                let _ = writeln!(
                    out,
                    "{:25}same calls: {a}: {}",
                    "",
                    truncate(&sanitize(v), VALUE_WIDTH)
                );
            }
            if !e.traces.is_empty() {
                let ids: Vec<String> = e.traces.iter().map(|t| sanitize(t)).collect();
                let _ = writeln!(out, "{:25}traces: {}", "", ids.join(", "));
            }
        }
        if r.evidence
            .iter()
            .any(|e| e.compared_with != r.compared_with)
        {
            out.push_str("* against the window's other calls (a sandbox lives minutes)\n");
        }
    }
    if !r.time.is_empty() {
        let _ = writeln!(
            out,
            "\nWhere a slow call's time went (mean critical-path ms per call):"
        );
        let _ = writeln!(out, "{:>11} {:>11}  part", "slow", "others");
        for t in &r.time {
            let _ = writeln!(
                out,
                "{:>11.1} {:>11.1}  {}",
                t.slow_ms,
                t.others_ms,
                truncate(&sanitize(&t.part), VALUE_WIDTH)
            );
        }
    }
    out
}

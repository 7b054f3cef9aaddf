//! `hopscope changes`: what changed around an incident, the hour before the first alarm first,
//! and each function's lanes with the point where they shifted.

use hopscope_store::Location;
use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, ValueEnum};
use hopscope_analyzer::Session;
use hopscope_analyzer::changes::{AlarmsFrom, Change, ChangesQuery, ChangesReport};
use hopscope_analyzer::text::{clock, sparkline};

use super::output::{sanitize, truncate};
use super::time::{WindowArgs, range};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChangesFormat {
    /// The changes, the lead-up to the first alarm first, then each function's lanes
    Table,
    /// The whole report, lanes point by point
    Json,
}

#[derive(Debug, Args)]
pub struct ChangesArgs {
    // Neither --since nor --until: the last hour of data stored.
    #[command(flatten)]
    pub window: WindowArgs,

    /// Only these Lambda functions (a glob, `orders-*`; repeatable) [default: every function]
    #[arg(long, value_name = "GLOB")]
    pub function: Vec<String>,

    /// Rule file or directory replayed for alarm changes when `hopscope alarms` recorded none
    /// [default: rules/ in the current directory, when there is one]
    #[arg(long, value_name = "PATH")]
    pub rules: Option<PathBuf>,

    /// Points of each lane across the window (each at least a minute)
    #[arg(long, default_value_t = 60)]
    pub points: usize,

    /// Changes to list in the table (JSON has all)
    #[arg(long, default_value_t = 40)]
    pub limit: usize,

    /// Output format
    #[arg(long, value_enum, default_value_t = ChangesFormat::Table)]
    pub format: ChangesFormat,
}

pub async fn run(store: &Location, args: ChangesArgs) -> anyhow::Result<ExitCode> {
    let window = args.window.resolve(Utc::now())?;
    let (rules, rules_note) = match super::alarms::dashboard_rules(args.rules.as_deref())? {
        Ok(rules) => (rules, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let session = Session::open_at(store).await?;
    let q = ChangesQuery {
        window,
        functions: args.function.clone(),
        points: args.points.max(1),
        rules,
    };
    let report = ChangesReport::load(&session, &q).await?;
    match args.format {
        ChangesFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ChangesFormat::Table => print!("{}", table(&report, rules_note.as_deref(), args.limit)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Widest change detail shown before it is cut (JSON has it whole).
const DETAIL_WIDTH: usize = 100;

fn table(r: &ChangesReport, rules_note: Option<&str>, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Window       {}", range(&r.window));
    let alarms_from = match r.alarms_from {
        AlarmsFrom::Recorded => "as `hopscope alarms` recorded them".to_string(),
        AlarmsFrom::Replayed => "replayed from the rules: no alarm history recorded".to_string(),
        AlarmsFrom::Nothing => format!(
            "none: no alarm history recorded and no rules to replay ({})",
            rules_note.unwrap_or("no rules")
        ),
    };
    let _ = writeln!(out, "Alarms       {alarms_from}");
    match &r.first_alarm {
        Some(a) => {
            let _ = writeln!(
                out,
                "First alarm  {}  {} {}",
                clock(a.at_us),
                sanitize(&a.rule),
                sanitize(&a.key)
            );
        }
        None => out.push_str("First alarm  none in the window\n"),
    }
    let lead_up = r.changes.iter().filter(|c| c.lead_up).count();
    let width = r
        .changes
        .iter()
        .map(|c| sanitize(&c.subject).chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    let mut shown = 0;
    for (title, part) in [
        ("In the hour before the first alarm", &r.changes[..lead_up]),
        (
            if lead_up > 0 {
                "Other changes"
            } else {
                "Changes"
            },
            &r.changes[lead_up..],
        ),
    ] {
        if part.is_empty() || shown >= limit {
            continue;
        }
        let _ = writeln!(out, "\n{title}");
        for c in part.iter().take(limit.saturating_sub(shown)) {
            out.push_str(&line(c, width));
            shown += 1;
        }
    }
    if r.changes.is_empty() {
        out.push_str("\nNo change in the window.\n");
    } else if r.changes.len() > shown {
        let _ = writeln!(
            out,
            "  ... {} more changes (--limit, or --format json)",
            r.changes.len() - shown
        );
    }
    // A lane that stayed at zero (no errors, no throttles) says nothing a line of ▁ would.
    let moving: Vec<_> = r
        .lanes
        .iter()
        .filter(|l| l.points.iter().flatten().any(|v| *v != 0.0))
        .collect();
    if !moving.is_empty() {
        let _ = writeln!(
            out,
            "\nLanes ({} min per point, from {})",
            r.period_secs / 60,
            clock(r.first_point_us)
        );
        let fwidth = moving
            .iter()
            .map(|l| sanitize(&l.function).chars().count())
            .max()
            .unwrap_or(0)
            .min(40);
        for l in &moving {
            let shift = l.shift.map_or(String::new(), |s| {
                format!(
                    "  {} -> {} at {}",
                    l.metric.show(s.before),
                    l.metric.show(s.after),
                    clock(s.at_us)
                )
            });
            let _ = writeln!(
                out,
                "  {:<fwidth$}  {:<11}  {}{shift}",
                truncate(&sanitize(&l.function), fwidth),
                l.metric.label(),
                sparkline(&l.points)
            );
        }
        if moving.len() < r.lanes.len() {
            let _ = writeln!(
                out,
                "  ({} lanes at zero throughout left out; --format json has them)",
                r.lanes.len() - moving.len()
            );
        }
    }
    out
}

fn line(c: &Change, width: usize) -> String {
    format!(
        "  {}  {:<10}  {:<width$}  {}\n",
        clock(c.at_us),
        c.kind.label(),
        truncate(&sanitize(&c.subject), width),
        truncate(&sanitize(&c.detail), DETAIL_WIDTH)
    )
}

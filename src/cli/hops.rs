//! `hopscope hops`: the hops ranked by the latency they added to what users saw.

use hopscope_store::Location;
use std::process::ExitCode;

use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, ValueEnum};
use hopscope_analyzer::hops::{Baseline, Hop, HopQuery, HopReport, HopStats, Window};

use super::cluster::LocalPart;
use super::output::{low_sample_legend, sanitize, truncate};
use super::time::{TimeArg, WindowArgs, range};
use hopscope_analyzer::coverage::Coverage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HopsFormat {
    /// Ranked table, with each top hop's critical time split and its slowest traces
    Table,
    /// The whole report: every hop with now and baseline statistics
    Json,
}

#[derive(Debug, Args)]
pub struct HopsArgs {
    // Neither --since nor --until: the last hour of data stored.
    #[command(flatten)]
    pub window: WindowArgs,

    /// What to compare with: `off`, a duration (that much time just before the window), or
    /// `START..END` [default: as long as the window, just before it]
    #[arg(long, value_name = "WINDOW")]
    pub baseline: Option<BaselineArg>,

    /// Hops to show in the table (JSON has all)
    #[arg(long, default_value_t = 10)]
    pub limit: usize,

    /// Slowest trace ids to give per hop as evidence (up to 10 come from the per-minute
    /// rollups; more reads every span of the window)
    #[arg(long, default_value_t = 3)]
    pub traces: usize,

    /// Output format
    #[arg(long, value_enum, default_value_t = HopsFormat::Table)]
    pub format: HopsFormat,
}

/// `--baseline` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineArg {
    Off,
    Before(TimeDelta),
    Range(TimeArg, TimeArg),
}

impl std::str::FromStr for BaselineArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") {
            return Ok(BaselineArg::Off);
        }
        if let Some((a, b)) = s.split_once("..") {
            return Ok(BaselineArg::Range(a.parse()?, b.parse()?));
        }
        let d = humantime::parse_duration(s)
            .map_err(|e| format!("{s:?}: expected `off`, a duration (2h) or START..END: {e}"))?;
        TimeDelta::from_std(d)
            .map(BaselineArg::Before)
            .map_err(|_| format!("{s:?} is too long"))
    }
}

/// The window and baseline the arguments ask for, resolved against `now`.
fn query(args: &HopsArgs, now: DateTime<Utc>) -> anyhow::Result<HopQuery> {
    let (window, baseline) = window_and_baseline(&args.window, args.baseline.as_ref(), now)?;
    Ok(HopQuery {
        window,
        baseline,
        slowest_traces: args.traces,
        series_buckets: 0,
    })
}

/// `--since`/`--until` and `--baseline`, resolved against `now`.
pub fn window_and_baseline(
    window: &WindowArgs,
    baseline: Option<&BaselineArg>,
    now: DateTime<Utc>,
) -> anyhow::Result<(Option<Window>, Baseline)> {
    let window = window.resolve(now)?;
    let baseline = match baseline {
        None => Baseline::Preceding,
        Some(BaselineArg::Off) => Baseline::Off,
        Some(BaselineArg::Before(d)) => match window {
            Some(w) => Baseline::Window(Window {
                start_us: w.start_us - d.num_microseconds().unwrap_or(i64::MAX / 2),
                end_us: w.start_us,
            }),
            None => anyhow::bail!(
                "--baseline {} needs a window: give --since (and --until) too, or use --baseline START..END",
                humantime::format_duration(d.to_std().unwrap_or_default())
            ),
        },
        Some(BaselineArg::Range(a, b)) => {
            let (a, b) = (a.resolve(now), b.resolve(now));
            anyhow::ensure!(
                a < b,
                "--baseline {a}..{b}: the start must be before the end"
            );
            Baseline::Window(Window {
                start_us: a.timestamp_micros(),
                end_us: b.timestamp_micros(),
            })
        }
    };
    Ok((window, baseline))
}

pub async fn run(
    store: &Location,
    cluster: Option<&str>,
    args: HopsArgs,
) -> anyhow::Result<ExitCode> {
    let q = query(&args, Utc::now())?;
    let session = super::cluster::open(store, cluster, Some(LocalPart::Hops)).await?;
    let report = HopReport::load(&session, &q).await?;
    super::output::note_unsummarized(report.unsummarized_files);
    match args.format {
        HopsFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        HopsFormat::Table => print!("{}", table(&report, args.limit)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The hop as `caller -> callee`, the trace's client shown as `client`.
pub fn hop_name(h: &Hop) -> String {
    format!(
        "{} -> {}",
        sanitize(h.caller.as_deref().unwrap_or("client")),
        sanitize(&h.callee)
    )
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.0}"))
}

/// A percentile, `~`-marked when taken over fewer calls than its significance bound.
fn pct(v: Option<f64>, low_sample: bool) -> String {
    match v {
        Some(_) if low_sample => format!("~{}", ms(v)),
        _ => ms(v),
    }
}

fn table(r: &HopReport, limit: usize) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "Window   {}  {} traces", range(&r.window), r.traces);
    if let Some(note) = r.coverage.as_ref().and_then(Coverage::note) {
        let _ = writeln!(out, "Held     {note}");
    }
    match &r.baseline {
        Some(b) if r.baseline_traces > 0 => {
            let _ = writeln!(out, "Baseline {}  {} traces", range(b), r.baseline_traces);
            out.push_str("Ranked by critical-path time added per trace since the baseline.\n\n");
        }
        Some(b) => {
            let _ = writeln!(out, "Baseline {}  no traces: nothing to compare", range(b));
            out.push_str("Ranked by critical-path time per trace.\n\n");
        }
        None => out.push_str("No baseline. Ranked by critical-path time per trace.\n\n"),
    }
    if r.hops.is_empty() {
        out.push_str("No spans in the window: pick another with --since/--until, or import or collect traces.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:>2}  {:<58} {:>9} {:>9} {:>5}  {:>15}  {:>15} {:>6} {:>4} {:>4} {:>4} {:>4} {:>5}",
        "#",
        "hop",
        "added ms",
        "crit ms",
        "share",
        "p50 ms was→now",
        "p99 ms was→now",
        "calls",
        "4xx",
        "429",
        "5xx",
        "t/o",
        "cold"
    );
    let mut low_sample = false;
    for (i, h) in r.hops.iter().take(limit).enumerate() {
        let was = |f: fn(&HopStats) -> (Option<f64>, bool)| {
            let before = h.before.as_ref().map_or((None, false), f);
            let now = f(&h.now);
            format!("{}→{}", pct(before.0, before.1), pct(now.0, now.1))
        };
        low_sample |= [&h.now]
            .into_iter()
            .chain(h.before.as_ref())
            .any(|s| s.p50_low_sample || s.p99_low_sample);
        let n = &h.now;
        let _ = writeln!(
            out,
            "{:>2}  {:<58} {:>+9.1} {:>9.1} {:>4.0}%  {:>15}  {:>15} {:>6} {:>4} {:>4} {:>4} {:>4} {:>5}",
            i + 1,
            truncate(&hop_name(h), 58),
            h.added_ms_per_trace,
            n.critical_ms_per_trace,
            n.share * 100.0,
            was(|s| (s.p50_ms, s.p50_low_sample)),
            was(|s| (s.p99_ms, s.p99_low_sample)),
            n.requests,
            n.errors,
            n.throttles,
            n.faults,
            n.timeouts,
            n.cold_start_ratio
                .map_or_else(|| "-".into(), |c| format!("{:.0}%", c * 100.0)),
        );
        if i < 3 {
            let _ = writeln!(
                out,
                "    per trace: init {:.1} ms, handler {:.1} ms, overhead {:.1} ms; waited downstream {:.1} ms",
                n.init_ms / r.traces.max(1) as f64,
                n.handler_ms / r.traces.max(1) as f64,
                n.overhead_ms / r.traces.max(1) as f64,
                n.downstream_ms / r.traces.max(1) as f64,
            );
            if n.censored > 0 {
                let _ = writeln!(
                    out,
                    "    {} of {} timed calls never answered or timed out: counted at the time waited",
                    n.censored, n.samples
                );
            }
            if !h.slowest_traces.is_empty() {
                let ids: Vec<String> = h
                    .slowest_traces
                    .iter()
                    .map(|t| format!("{} ({:.0} ms)", sanitize(&t.trace_id), t.critical_ms))
                    .collect();
                let _ = writeln!(out, "    slowest: {}", ids.join(", "));
            }
        }
    }
    if r.hops.len() > limit {
        let _ = writeln!(
            out,
            "... {} more (--limit, or --format json for all)",
            r.hops.len() - limit
        );
    }
    if low_sample {
        let _ = writeln!(out, "{}", low_sample_legend());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(since: Option<&str>, until: Option<&str>, baseline: Option<&str>) -> HopsArgs {
        HopsArgs {
            window: WindowArgs {
                since: since.map(|s| s.parse().unwrap()),
                until: until.map(|s| s.parse().unwrap()),
            },
            baseline: baseline.map(|s| s.parse().unwrap()),
            limit: 10,
            traces: 3,
            format: HopsFormat::Table,
        }
    }

    fn us(t: &str) -> i64 {
        DateTime::parse_from_rfc3339(t).unwrap().timestamp_micros()
    }

    #[test]
    fn windows_and_baselines_resolve_against_now() {
        let now = DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .unwrap()
            .to_utc();
        let q = query(&args(Some("30m"), None, None), now).unwrap();
        assert_eq!(
            q.window,
            Some(Window {
                start_us: us("2026-11-20T11:30:00Z"),
                end_us: us("2026-11-20T12:00:00Z")
            })
        );
        assert_eq!(q.baseline, Baseline::Preceding);
        let q = query(&args(None, Some("2026-11-20T11:00:00Z"), Some("2h")), now).unwrap();
        assert_eq!(
            q.baseline,
            Baseline::Window(Window {
                start_us: us("2026-11-20T08:00:00Z"),
                end_us: us("2026-11-20T10:00:00Z")
            })
        );
        let q = query(&args(None, None, Some("off")), now).unwrap();
        assert_eq!((q.window, q.baseline), (None, Baseline::Off));
        let err = query(&args(None, None, Some("2h")), now).unwrap_err();
        assert!(err.to_string().contains("needs a window"), "{err}");
        let err = query(&args(Some("10m"), Some("20m"), None), now).unwrap_err();
        assert!(err.to_string().contains("must be before"), "{err}");
        assert!("yesterday..now".parse::<BaselineArg>().is_err());
    }
}

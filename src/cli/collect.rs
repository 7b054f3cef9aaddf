//! `hopscope collect`: pull a window of X-Ray traces, Lambda logs and metrics from AWS.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use hopscope_collector::aws::Clients;
use hopscope_collector::collect::{self, Caller, CollectOptions, Progress, Summary};
use hopscope_store::{Location, Store, StoreWriter, remove_leftovers};
use indicatif::{ProgressBar, ProgressStyle};

use super::aws_args::AwsArgs;
use super::repeat;
use super::time::TimeArg;

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Start of the window: RFC 3339 (2026-11-20T14:00:00Z) or a duration before now (90m, 2h, 7d)
    #[arg(long, value_name = "TIME")]
    pub since: TimeArg,

    /// End of the window, in the same forms as --since [default: now]
    #[arg(long, value_name = "TIME")]
    pub until: Option<TimeArg>,

    /// Keep collecting a new window every INTERVAL (e.g. 30s) until Ctrl-C or SIGTERM, which
    /// finish the current window first
    #[arg(long, value_name = "INTERVAL", value_parser = humantime::parse_duration)]
    pub watch: Option<Duration>,

    /// How many rejected records to list in the summary (all are counted)
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub show_rejected: usize,

    #[command(flatten)]
    pub aws: AwsArgs,
}

pub async fn run(store_dir: &Location, args: CollectArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(store_dir)?;
    remove_leftovers(&store)?;
    let clients = args.aws.connect().await;
    let retry = args.aws.retry();
    let first_start = args.since.resolve(Utc::now());
    let window = async || -> anyhow::Result<()> {
        let now = Utc::now();
        let end = args.until.as_ref().map_or(now, |u| u.resolve(now));
        anyhow::ensure!(
            first_start < end,
            "--since ({first_start}) is not before --until ({end})"
        );
        let opts = args.aws.options(first_start, end);
        for clients in &clients {
            // A fresh caller per window and scope: quotas are per account and Region, and the
            // summary counts this window's calls.
            let caller = Arc::new(Caller::new(retry, &[]));
            let mut writer = store.writer();
            let progress = BarProgress::new();
            let summary =
                collect::collect(clients, &caller, &store, &mut writer, &opts, &progress)
                    .await
                    .with_context(|| {
                        format!(
                            "collecting {first_start} .. {end}{} (rerun to continue from the last complete source)",
                            clients.region.as_deref().map(|r| format!(" in {r}")).unwrap_or_default()
                        )
                    })?;
            progress.finish();
            print_summary(&store, &opts, &writer, &summary, args.show_rejected);
        }
        Ok(())
    };
    match args.watch {
        None => window().await?,
        Some(interval) => {
            // Ctrl-C or SIGTERM finishes the current window, or ends the wait for the next one
            // at once.
            let mut stop = repeat::stop_on_signal("Stopping after the current window");
            repeat::every(interval, &mut stop, window).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A bar on a terminal; `info` log lines per stage otherwise.
struct BarProgress {
    bar: Option<ProgressBar>,
}

impl BarProgress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {pos}/{len} [{bar:30}] {per_sec}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for BarProgress {
    fn stage(&self, name: &str, total: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(name.to_string());
                bar.set_length(total);
                bar.set_position(0);
            }
            None => tracing::info!(total, stage = name, "Collecting."),
        }
    }

    fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }
}

fn print_summary(
    store: &Store,
    opts: &CollectOptions,
    writer: &StoreWriter,
    summary: &Summary,
    show_rejected: usize,
) {
    let origin = &summary.origin;
    let from = match (&origin.account_id, &origin.region) {
        (None, None) => String::new(),
        (account, region) => format!(
            " from account {} in {}",
            account.as_deref().unwrap_or("(unknown)"),
            region.as_deref().unwrap_or("(no Region)")
        ),
    };
    println!(
        "Collected {} .. {}{from} into {} in {:.2?}: {} traces, {} log events from {} log groups, {} Lambda configurations, metrics of {} functions.",
        opts.start.to_rfc3339(),
        opts.end.to_rfc3339(),
        store.location().display(),
        summary.elapsed,
        summary.traces,
        summary.log_events,
        summary.log_groups,
        summary.function_configurations,
        summary.functions.len()
    );
    if let Some(world) = summary.world {
        let share = if summary.traces_seen == 0 {
            String::new()
        } else {
            format!(
                ": {} of the {} traces seen in the window ({:.1}%)",
                summary.traces,
                summary.traces_seen,
                100.0 * summary.traces as f64 / summary.traces_seen as f64
            )
        };
        let spans = if summary.span_events > 0 {
            format!(" ({} spans of aws/spans read)", summary.span_events)
        } else {
            String::new()
        };
        println!("Traces from {}{share}{spans}.", world.describe());
    }
    for skipped in &summary.skipped {
        let fix = skipped
            .action
            .as_ref()
            .map(|a| format!(" (allow {a})"))
            .unwrap_or_default();
        println!(
            "Skipped {}: {}{fix}.",
            skipped.source,
            crate::cli::output::sanitize(&skipped.reason)
        );
    }
    if !summary.up_to_date.is_empty() {
        println!(
            "Already collected (checkpoint): {}.",
            summary.up_to_date.join(", ")
        );
    }
    println!(
        "{:<20} {:>8} {:>10} {:>8} {:>9}",
        "operation", "calls", "throttles", "retries", "failures"
    );
    for (api, s) in &summary.apis {
        println!(
            "{:<20} {:>8} {:>10} {:>8} {:>9}",
            api.name(),
            s.calls,
            s.throttles,
            s.retries,
            s.failures
        );
    }
    super::import::print_rows_and_rejections(
        writer,
        summary.records,
        summary.rejected,
        &summary.rejections,
        show_rejected,
    );
    for note in &summary.notes {
        println!("Note: {}", crate::cli::output::sanitize(note));
    }
}

/// What a quiet collection added to the store.
#[derive(Debug, Clone, Copy)]
pub struct Collected {
    /// New rows of the `spans` table (spans already stored are not counted again).
    pub spans: usize,
}

/// Collects one window with no progress display or summary (the alarm evaluator's and the live
/// dashboard's collection), from every account and Region asked for; rejected records are
/// logged, skipped sources warned about.
pub async fn collect_quietly(
    store_dir: &Location,
    clients: &[Clients],
    aws: &AwsArgs,
    start: chrono::DateTime<Utc>,
    end: chrono::DateTime<Utc>,
) -> anyhow::Result<Collected> {
    let store = super::open_store(store_dir)?;
    remove_leftovers(&store)?;
    let opts = aws.options(start, end);
    let mut spans = 0;
    for clients in clients {
        let caller = Arc::new(Caller::new(aws.retry(), &[]));
        let mut writer = store.writer();
        let summary = collect::collect(
            clients,
            &caller,
            &store,
            &mut writer,
            &opts,
            &collect::NoProgress,
        )
        .await
        .with_context(|| format!("collecting {start} .. {end}"))?;
        tracing::info!(
            region = summary.origin.region,
            traces = summary.traces,
            traces_seen = summary.traces_seen,
            log_events = summary.log_events,
            rejected = summary.rejected,
            "Collected."
        );
        for skipped in &summary.skipped {
            tracing::warn!(
                source = skipped.source,
                action = skipped.action,
                reason = crate::cli::output::sanitize(&skipped.reason),
                "Skipped a source."
            );
        }
        spans += writer
            .stats()
            .get(hopscope_schema::spans::TABLE)
            .map_or(0, |s| s.rows);
    }
    Ok(Collected { spans })
}

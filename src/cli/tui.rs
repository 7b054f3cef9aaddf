//! `hopscope tui`: the incident dashboard over the store, optionally collecting from AWS in the
//! background (`--live`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::Args;
use hopscope_analyzer::Session;
use hopscope_analyzer::alarms::Rule;
use hopscope_store::Location;
use hopscope_tui::{Anchor, Options, TimeRange};
use tokio::sync::watch;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::EitherWriter;

use super::aws_args::AwsArgs;
use super::output::sanitize;
use super::repeat::{self, Stop};

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Time range shown, ending now (15m, 1h, 7d) [default: the last hour of data in the store]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub since: Option<Duration>,

    /// Keep collecting from AWS while the dashboard is open, a new window every INTERVAL (e.g.
    /// 30s) as `collect --since SINCE --watch INTERVAL` does, and refresh the screens after each
    /// (the range then ends now; failures show in the top line and the next window retries)
    #[arg(long, value_name = "INTERVAL", value_parser = humantime::parse_duration)]
    pub live: Option<Duration>,

    /// Alarm rules of the overview's alarms panel: a file or directory of `*.toml` rule files
    /// [default: rules/ in the current directory, if there is one]
    #[arg(long, value_name = "PATH")]
    pub rules: Option<PathBuf>,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// How long quitting waits for a collection window in progress before abandoning it (the store
/// stays whole either way: writes are atomic, and the next collection continues from the last
/// checkpoint).
const FINISH_WINDOW: Duration = Duration::from_secs(10);

pub async fn run(store: &Location, args: TuiArgs) -> anyhow::Result<ExitCode> {
    let span_secs = args.since.map_or(3600, |d| (d.as_secs() as i64).max(1));
    let range = TimeRange {
        span_secs,
        anchor: if args.since.is_some() || args.live.is_some() {
            Anchor::Now
        } else {
            Anchor::LatestData
        },
    };
    let rules = super::alarms::dashboard_rules(args.rules.as_deref())?;
    let Some(interval) = args.live else {
        let session = Session::open_at(store).await?;
        dashboard(session, range, rules, None)?;
        return Ok(ExitCode::SUCCESS);
    };
    if !interactive() {
        bail!(
            "the dashboard needs a terminal; use `hopscope collect --watch` to collect in scripts"
        );
    }
    super::open_store(store)?;
    let session = Session::open_at(store).await?;
    let (notes, live) = watch::channel(String::new());
    let (stop, stopped) = watch::channel(Stop::Run);
    let start = Utc::now() - chrono::TimeDelta::seconds(span_secs);
    // The collector's future is not `Send`: it runs on a thread of its own, which also keeps
    // it from competing with the dashboard's queries for the runtime's threads.
    let collector = {
        let store = store.clone();
        std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let mut abandon = stopped.clone();
            runtime.block_on(async move {
                tokio::select! {
                    () = collect_live(&store, &args.aws, start, interval, notes, stopped) => {}
                    _ = abandon.wait_for(|s| *s == Stop::Now) => {}
                }
            });
            Ok(())
        })
    };
    let note = format!("collecting every {}…", humantime::format_duration(interval));
    let result = dashboard(session, range, rules, Some((live, note)));
    let _ = stop.send(Stop::AfterRound);
    if !collector.is_finished() {
        eprintln!("Finishing the current collection window (Ctrl-C abandons it).");
        let mut joined = tokio::task::spawn_blocking(move || collector.join());
        tokio::select! {
            _ = &mut joined => {}
            () = tokio::time::sleep(FINISH_WINDOW) => abandon(&stop, joined).await,
            () = repeat::shutdown_signal() => abandon(&stop, joined).await,
        }
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn abandon<T>(stop: &watch::Sender<Stop>, joined: tokio::task::JoinHandle<T>) {
    let _ = stop.send(Stop::Now);
    let _ = joined.await;
    eprintln!(
        "Abandoned the collection window: the next collection continues from the last checkpoint."
    );
}

/// Collects windows from `start` to now, one every `interval` until told to stop, as `collect
/// --watch` does, each followed by a note for the dashboard. A failure is a note too: AWS errors
/// are often transient, and the next window retries from the last checkpoint.
async fn collect_live(
    store: &Location,
    aws: &AwsArgs,
    start: DateTime<Utc>,
    interval: Duration,
    notes: watch::Sender<String>,
    mut stop: watch::Receiver<Stop>,
) {
    let clients = aws.connect().await;
    let window = async || {
        let end = Utc::now();
        let at = end.format("%H:%M:%S");
        let note = match super::collect::collect_quietly(store, &clients, aws, start, end).await {
            Ok(c) => format!("collected {at} (+{} spans)", c.spans),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "Collecting failed.");
                format!("collect failed {at}: {}", sanitize(&format!("{e:#}")))
            }
        };
        notes.send(note)
    };
    // An error: the dashboard closed (no one reads the notes).
    let _ = repeat::every(interval, &mut stop, window).await;
}

/// Whether the dashboard can open: both ends of the terminal are a terminal.
pub fn interactive() -> bool {
    super::terminal::stdout_is_terminal() && std::io::stdin().is_terminal()
}

/// Runs the dashboard until the user quits. Log lines are held back meanwhile: they would
/// scribble over the screen.
pub fn dashboard(
    session: Session,
    range: TimeRange,
    rules: Result<Vec<Rule>, String>,
    live: Option<(watch::Receiver<String>, String)>,
) -> anyhow::Result<()> {
    if !interactive() {
        bail!("the dashboard needs a terminal; use `hopscope sql` or `hopscope map` in scripts");
    }
    let (live, note) = match live {
        Some((rx, note)) => (Some(rx), Some(note)),
        None => (None, None),
    };
    let options = Options {
        range,
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        live: note,
        rules: rules.map(Arc::new),
    };
    let runtime = tokio::runtime::Handle::current();
    DASHBOARD_ON.store(true, Ordering::SeqCst);
    let result =
        tokio::task::block_in_place(|| hopscope_tui::run(&runtime, session, options, live));
    DASHBOARD_ON.store(false, Ordering::SeqCst);
    Ok(result?)
}

static DASHBOARD_ON: AtomicBool = AtomicBool::new(false);

/// Diagnostics go to stderr, except while the dashboard owns the terminal.
pub struct LogWriter;

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = EitherWriter<std::io::Stderr, std::io::Sink>;

    fn make_writer(&'a self) -> Self::Writer {
        if DASHBOARD_ON.load(Ordering::SeqCst) {
            EitherWriter::B(std::io::sink())
        } else {
            EitherWriter::A(std::io::stderr())
        }
    }
}

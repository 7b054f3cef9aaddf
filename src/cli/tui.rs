//! `hopscope tui`: the incident dashboard over the store, optionally collecting from AWS in the
//! background (`--live`).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use hopscope_analyzer::Session;
use hopscope_tui::{Anchor, Options, TimeRange};
use tokio::sync::watch;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::EitherWriter;

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Time range shown, ending now (15m, 1h, 7d) [default: the last hour of data in the store]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub since: Option<Duration>,
}

pub async fn run(store: &Path, args: TuiArgs) -> anyhow::Result<ExitCode> {
    let range = match args.since {
        Some(d) => TimeRange {
            span_secs: (d.as_secs() as i64).max(1),
            anchor: Anchor::Now,
        },
        None => TimeRange {
            span_secs: 3600,
            anchor: Anchor::LatestData,
        },
    };
    let session = Session::open(store).await?;
    dashboard(session, range, None)?;
    Ok(ExitCode::SUCCESS)
}

/// Whether the dashboard can open: both ends of the terminal are a terminal.
pub fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// Runs the dashboard until the user quits. Log lines are held back meanwhile: they would
/// scribble over the screen.
pub fn dashboard(
    session: Session,
    range: TimeRange,
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

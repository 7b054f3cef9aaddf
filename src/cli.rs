//! Command-line surface: global options and one module per command.

mod alarms;
mod amplification;
mod athena;
mod aws_args;
mod changes;
#[cfg(feature = "cluster")]
mod cluster;
mod collect;
mod demo;
mod generate;
mod hops;
mod import;
mod logs;
mod map;
mod output;
mod repeat;
mod sql;
mod store_admin;
mod terminal;
mod time;
mod timeouts;
mod trace;
mod tui;
mod why;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hopscope_collector::aws::{AwsOptions, s3_location};
use hopscope_store::{Location, S3Location};
pub use terminal::for_stderr;

use crate::allocator::Workload;

/// Observability pipeline and trace analyzer for AWS serverless systems: X-Ray traces, Lambda
/// logs and CloudWatch metrics in one Parquet store (a directory, or S3), queried with SQL.
#[derive(Debug, Parser)]
#[command(name = "hopscope", version, propagate_version = true)]
pub struct Cli {
    /// Store: a directory, or `s3://BUCKET/PREFIX` for a store on S3 shared by a team [default:
    /// the user's data directory, e.g. ~/.local/share/hopscope/store]
    #[arg(
        long,
        global = true,
        env = "HOPSCOPE_STORE",
        value_name = "DIR|s3://BUCKET/PREFIX"
    )]
    pub store: Option<PathBuf>,

    /// Log filter for diagnostics on stderr (e.g. `debug`, `hopscope_collector=trace`)
    #[arg(
        long,
        global = true,
        env = "HOPSCOPE_LOG",
        default_value = "warn",
        value_name = "FILTER"
    )]
    pub log: String,

    /// Run `sql`, `map` and `hops` on an Apache DataFusion Ballista cluster: its scheduler as
    /// df://HOST:PORT (see `hopscope cluster`). The scheduler and executors read the store too:
    /// a directory at the same path, or the same S3 prefix. The hand-written tallies of `map`
    /// and `hops` still run here
    #[cfg(feature = "cluster")]
    #[arg(long, global = true, value_name = "URL")]
    pub cluster: Option<String>,

    /// How a store on S3 is reached (its own heading in --help, so it comes last).
    #[command(flatten)]
    pub store_aws: StoreAwsArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// How a store on S3 is reached: the standard AWS chain (credentials, `AWS_PROFILE`,
/// `AWS_REGION`, `AWS_ENDPOINT_URL`), or these.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Store on S3")]
pub struct StoreAwsArgs {
    /// AWS profile for a store on S3 [default: AWS_PROFILE, else `default`]
    #[arg(long, global = true, value_name = "NAME")]
    pub store_profile: Option<String>,

    /// Region of a store's S3 bucket [default: AWS_REGION, else the profile's region]
    #[arg(long, global = true, value_name = "REGION")]
    pub store_region: Option<String>,

    /// S3 endpoint for a store on S3, e.g. a local emulator [default: AWS_ENDPOINT_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub store_endpoint_url: Option<String>,
}

impl StoreAwsArgs {
    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            region: self.store_region.clone(),
            profile: self.store_profile.clone(),
            endpoint_url: self.store_endpoint_url.clone(),
            credentials: None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect X-Ray traces, Lambda logs and metrics of a time window from AWS into the store
    /// (resumable: a rerun continues from the last complete source)
    Collect(collect::CollectArgs),
    /// Import files into the store (format detected per file; directories are walked; gzip is read)
    Import(import::ImportArgs),
    /// Run SQL over the store's tables; with no query, open an interactive shell
    Sql(sql::SqlArgs),
    /// Run a CloudWatch Logs Insights query over the stored log events (fields, filter,
    /// stats, parse, pattern, diff, ...)
    Logs(logs::LogsArgs),
    /// Print the service map (nodes and caller -> callee edges) as a table, JSON, DOT or Mermaid
    /// (of everything stored, or of --since/--until)
    Map(map::MapArgs),
    /// Rank the hops (caller -> callee) by the critical-path latency they added, against a baseline
    /// (window: --since/--until, else the last hour of data stored)
    Hops(hops::HopsArgs),
    /// Why a hop is slow: what its slow and failed calls have in common that its calls before
    /// lacked (cold starts, versions, statements, calls beneath that were slow or failed, ...),
    /// and where their time went
    Why(why::WhyArgs),
    /// Every Lambda timeout and call that never answered, by hop: which downstream call was in
    /// flight when the caller gave up, for how long, and whether a retry followed (window:
    /// --since/--until, else the last hour of data stored)
    Timeouts(timeouts::TimeoutsArgs),
    /// How much work one request became, per entry point: invocations and downstream calls per
    /// request, SDK and Lambda retries, repeated identical calls (N+1), SQS redeliveries, with
    /// the worst traces (window: --since/--until, else the last hour of data stored)
    Amplification(amplification::AmplificationArgs),
    /// What changed around an incident: new Lambda versions and configurations, first
    /// invocations of each version, alarm changes, and where each function's p99, errors, cold
    /// starts, throttles and concurrency shifted; the hour before the first alarm first (window:
    /// --since/--until, else the last hour of data stored)
    Changes(changes::ChangesArgs),
    /// Print one trace as a waterfall with its critical path, Lambda REPORT data and log lines
    Trace(trace::TraceArgs),
    /// Load the embedded sample scenarios into a store and open the dashboard on them (on a
    /// terminal; otherwise, or with --no-tui, print what they hold)
    Demo(demo::DemoArgs),
    /// Open the incident dashboard over the store: slow hops, service map, traces, SQL (with
    /// --live, collecting from AWS in the background)
    Tui(tui::TuiArgs),
    /// Generate a sample scenario's traces, logs and metrics (deterministic for a seed)
    Gen(generate::GenArgs),
    /// Alarm rules: lint, check once, watch on a schedule, backtest over stored history
    Alarms(alarms::AlarmsArgs),
    /// Run a scheduler or an executor of an Apache DataFusion Ballista cluster that knows
    /// hopscope's SQL functions (for `--cluster`)
    #[cfg(feature = "cluster")]
    Cluster(cluster::ClusterArgs),
    /// Upkeep of the store: `store rebuild-rollups` writes the minute and hour rollups that are
    /// missing
    Store(store_admin::StoreArgs),
    /// Print the Athena DDL (Glue tables with partition projection on `hour`) of the store on S3
    /// (--store s3://BUCKET/PREFIX); with --apply, create or update the tables through Glue
    AthenaDdl(athena::AthenaDdlArgs),
}

impl Command {
    /// Whether the command draws on the terminal itself (the dashboard, the SQL shell): then
    /// its stdout is not routed through the escaper (it sanitizes what it draws).
    fn drives_the_terminal(&self) -> bool {
        match self {
            Command::Tui(_) => true,
            Command::Demo(args) => !args.no_tui && tui::interactive(),
            Command::Sql(args) => args.query.is_none(),
            _ => false,
        }
    }

    /// The commands `--cluster` runs on a cluster.
    fn runs_on_a_cluster(&self) -> bool {
        matches!(self, Command::Sql(_) | Command::Map(_) | Command::Hops(_))
    }

    /// Import and collect write batch after batch; everything else mostly reads.
    pub fn workload(&self) -> Workload {
        match self {
            Command::Collect(_) | Command::Import(_) => Workload::Ingest,
            _ => Workload::Query,
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    init_logging(&cli.log);
    terminal::stdout_is_terminal();
    let _escaped = if cli.command.drives_the_terminal() {
        None
    } else {
        terminal::install().context("routing stdout through the escaper")?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let path = || cli.store.clone().map_or_else(default_store, Ok);
    let store = || runtime.block_on(location(path()?, &cli.store_aws));
    // Alarm state lives beside the store, in its directory.
    let local = |command: &str| -> anyhow::Result<PathBuf> {
        match store()? {
            Location::Local(root) => Ok(root),
            Location::Remote(remote) => bail!(
                "`{command}` keeps alarm state beside the store, which needs a store directory; {} is on S3 (use a local --store for {command})",
                remote.url()
            ),
        }
    };
    #[cfg(feature = "cluster")]
    let on = cli.cluster.as_deref();
    #[cfg(not(feature = "cluster"))]
    let on = None;
    if on.is_some() && !cli.command.runs_on_a_cluster() {
        anyhow::bail!("--cluster applies to sql, map and hops only");
    }
    match cli.command {
        Command::Collect(args) => runtime.block_on(collect::run(&store()?, args)),
        Command::Import(args) => import::run(&store()?, args),
        Command::Sql(args) => runtime.block_on(sql::run(&store()?, on, args)),
        Command::Logs(args) => runtime.block_on(logs::run(&store()?, args)),
        Command::Map(args) => runtime.block_on(map::run(&store()?, on, args)),
        Command::Hops(args) => runtime.block_on(hops::run(&store()?, on, args)),
        Command::Why(args) => runtime.block_on(why::run(&store()?, args)),
        Command::Timeouts(args) => runtime.block_on(timeouts::run(&store()?, args)),
        Command::Amplification(args) => runtime.block_on(amplification::run(&store()?, args)),
        Command::Changes(args) => runtime.block_on(changes::run(&store()?, args)),
        Command::Trace(args) => runtime.block_on(trace::run(&store()?, args)),
        Command::Demo(args) => {
            if let Some(url) = cli
                .store
                .as_deref()
                .and_then(|p| p.to_str())
                .filter(|p| p.starts_with("s3://"))
            {
                bail!(
                    "`demo` loads the samples into a store directory of its own; {url} is on S3 (use `hopscope --store {url} import sample-traces` to share them)"
                );
            }
            runtime.block_on(demo::run(cli.store.clone(), args))
        }
        Command::Tui(args) => runtime.block_on(tui::run(&store()?, args)),
        Command::Gen(args) => generate::run(args),
        Command::Store(args) => store_admin::run(&store()?, args),
        Command::Alarms(args) => runtime.block_on(alarms::run(&local("alarms")?, args)),
        Command::AthenaDdl(args) => runtime.block_on(athena::run(&path()?, args)),
        #[cfg(feature = "cluster")]
        Command::Cluster(args) => runtime.block_on(cluster::run(args, &cli.store_aws)),
    }
}

/// Without the `cluster` feature every session is local.
#[cfg(not(feature = "cluster"))]
mod cluster {
    use hopscope_analyzer::Session;

    #[derive(Debug, Clone, Copy)]
    pub enum LocalPart {
        ServiceMap,
        Hops,
    }

    pub async fn open(
        store: &hopscope_store::Location,
        _cluster: Option<&str>,
        _local: Option<LocalPart>,
    ) -> anyhow::Result<Session> {
        Ok(Session::open_at(store).await?)
    }
}

/// The store at `location`, created if new, whose writers also write the rollups the reports
/// read (every command that writes data opens it here).
pub(crate) fn open_store(location: &Location) -> anyhow::Result<hopscope_store::Store> {
    Ok(hopscope_store::Store::open_or_create_at(location.clone())?
        .with_summarizers(hopscope_analyzer::rollups::summarizers()))
}

/// The store `path` names: a directory, or a prefix on S3 reached as `aws` says.
async fn location(path: PathBuf, aws: &StoreAwsArgs) -> anyhow::Result<Location> {
    let Some(url) = path.to_str().filter(|p| p.starts_with("s3://")) else {
        return Ok(Location::Local(path));
    };
    let url = S3Location::parse(url)?;
    s3_location(url, &aws.options())
        .await
        .map_err(anyhow::Error::msg)
}

fn default_store() -> anyhow::Result<PathBuf> {
    let data = dirs::data_dir()
        .context("no data directory for this user: pass --store DIR or set HOPSCOPE_STORE")?;
    Ok(data.join("hopscope").join("store"))
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(tui::LogWriter)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(args: &[&str]) -> Workload {
        Cli::try_parse_from(std::iter::once("hopscope").chain(args.iter().copied()))
            .expect("valid arguments")
            .command
            .workload()
    }

    #[test]
    fn import_and_collect_tune_the_allocator_for_ingest_and_the_rest_for_queries() {
        assert_eq!(workload(&["import", "traces/"]), Workload::Ingest);
        assert_eq!(workload(&["collect", "--since", "2h"]), Workload::Ingest);
        assert_eq!(workload(&["sql", "SELECT 1"]), Workload::Query);
        assert_eq!(workload(&["hops"]), Workload::Query);
        assert_eq!(workload(&["demo", "--no-tui"]), Workload::Query);
    }
}

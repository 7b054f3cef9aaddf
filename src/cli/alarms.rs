//! `hopscope alarms`: lint rule files, evaluate them once (`check`) or on a schedule (`watch`),
//! and replay them over stored history (`backtest`).

mod notifiers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use hopscope_analyzer::Session;
use hopscope_analyzer::alarms::state::{AlarmLock, AlarmStore, LockError};
use hopscope_analyzer::alarms::{
    self, AlarmStatus, Evaluated, Evaluator, Notifier, NotifyError, Rule, State,
};
use hopscope_collector::aws::Clients;
use hopscope_collector::collect::{Caller, RetryPolicy};
use hopscope_store::Location;

use super::aws_args::AwsArgs;
use super::output::sanitize;
use super::repeat;
use super::terminal::for_stderr;
use super::time::TimeArg;
use notifiers::{StateMetric, Webhook};

#[derive(Debug, Args)]
pub struct AlarmsArgs {
    #[command(subcommand)]
    pub command: AlarmsCommand,
}

#[derive(Debug, Subcommand)]
pub enum AlarmsCommand {
    /// Check rule files and report every problem with its file, line and a fix
    Lint(LintArgs),
    /// Evaluate every rule once and print each alarm's state (exit 0: none in ALARM, 2: some in
    /// ALARM, 1: error). While `alarms watch` (or, for over 10 s, another check) holds the
    /// store's alarm lock, evaluates read-only: nothing saved, nothing notified
    Check(CheckArgs),
    /// Collect and evaluate on a schedule until SIGTERM or Ctrl-C, notifying changes of state.
    /// Holds the store's alarm lock: one watch per store
    Watch(WatchArgs),
    /// Replay the rules over stored history: when each alarm would have fired and cleared
    Backtest(BacktestArgs),
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Rule file or directory of `*.toml` rule files [default: rules/ in the current directory]
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RulesArg {
    /// Rule file or directory of `*.toml` rule files
    #[arg(long, default_value = "rules", value_name = "PATH")]
    pub rules: PathBuf,
}

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// POST each change of state as JSON to this URL (retried with backoff; a failure is
    /// reported, never fatal)
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,

    /// Attempts per webhook call before reporting it failed
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub webhook_attempts: u32,

    /// Publish each alarm's state (1 = ALARM, 0 = OK) as the CloudWatch custom metric
    /// `AlarmState` (dimensions Rule, Key) with PutMetricData
    #[arg(long)]
    pub publish_metric: bool,

    /// Namespace of the published metric
    #[arg(long, default_value = "hopscope/Alarms", value_name = "NAMESPACE")]
    pub metric_namespace: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// One line per alarm: state, change, severity, rule, key, reason
    Table,
    /// One JSON object per alarm per line
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub rules: RulesArg,

    /// Evaluate as at this time: RFC 3339 or a duration before now [default: now]
    #[arg(long, value_name = "TIME")]
    pub at: Option<TimeArg>,

    /// Collect the latest window from AWS into the store first
    #[arg(long)]
    pub collect: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = CheckFormat::Table)]
    pub format: CheckFormat,

    #[command(flatten)]
    pub notify: NotifyArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub rules: RulesArg,

    /// Time between evaluations (e.g. 1m, 30s)
    #[arg(long, default_value = "1m", value_name = "INTERVAL", value_parser = humantime::parse_duration)]
    pub every: Duration,

    /// Evaluate what is in the store without collecting from AWS first
    #[arg(long)]
    pub no_collect: bool,

    #[command(flatten)]
    pub notify: NotifyArgs,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    #[command(flatten)]
    pub rules: RulesArg,

    /// Start of the replay: RFC 3339 or a duration before --until (7d, 24h)
    #[arg(long, value_name = "TIME")]
    pub since: TimeArg,

    /// End of the replay, in the same forms [default: now]
    #[arg(long, value_name = "TIME")]
    pub until: Option<TimeArg>,
}

pub async fn run(store: &Path, args: AlarmsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AlarmsCommand::Lint(a) => lint(a),
        AlarmsCommand::Check(a) => check(store, a).await,
        AlarmsCommand::Watch(a) => watch(store, a).await,
        AlarmsCommand::Backtest(a) => backtest(store, a).await,
    }
}

fn lint(args: LintArgs) -> anyhow::Result<ExitCode> {
    let path = args.path.unwrap_or_else(|| PathBuf::from("rules"));
    let (rules, problems) =
        alarms::load(&path).with_context(|| format!("reading rules {}", path.display()))?;
    for p in &problems {
        println!("{}", sanitize(&p.to_string()));
    }
    if problems.is_empty() {
        println!("{}: {} rules, no problems.", path.display(), rules.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{}: {} problem{}.",
            path.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Rules that parse, or an error listing every problem (evaluating half a rule set would hide
/// alarms).
fn load_rules(path: &Path) -> anyhow::Result<Vec<Rule>> {
    let (rules, problems) =
        alarms::load(path).with_context(|| format!("reading rules {}", path.display()))?;
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| sanitize(&p.to_string())).collect();
        anyhow::bail!(
            "the rules have problems (see `hopscope alarms lint {}`):\n{}",
            path.display(),
            list.join("\n")
        );
    }
    Ok(rules)
}

/// The rules of the dashboard's alarms panel: `--rules PATH`, else rules/ when the current
/// directory has one; `Err` inside says why the panel has none (a rule set with problems is not
/// evaluated, as `check` does not). An unreadable `--rules PATH` is an error.
pub fn dashboard_rules(path: Option<&Path>) -> anyhow::Result<Result<Vec<Rule>, String>> {
    let default = Path::new("rules");
    let path = match path {
        Some(p) => p,
        None if default.is_dir() => default,
        None => return Ok(Err("no rules/ here (--rules PATH)".into())),
    };
    let (rules, problems) =
        alarms::load(path).with_context(|| format!("reading rules {}", path.display()))?;
    Ok(match problems.len() {
        0 => Ok(rules),
        n => Err(sanitize(&format!(
            "{n} problem{} in {} (hopscope alarms lint {})",
            if n == 1 { "" } else { "s" },
            path.display(),
            path.display()
        ))),
    })
}

/// Collects the window the rules look back over (checkpoints make repeated windows cheap).
async fn collect(
    store_dir: &Path,
    clients: &[Clients],
    aws: &AwsArgs,
    rules: &[Rule],
) -> anyhow::Result<()> {
    let end = Utc::now();
    let start = end - alarms::lookback(rules);
    let location = Location::Local(store_dir.into());
    super::collect::collect_quietly(&location, clients, aws, start, end).await?;
    Ok(())
}

/// How long `check` waits for another check to release the alarm lock before evaluating
/// read-only (a watch holds it for good: no waiting then).
const CHECK_LOCK_WAIT: Duration = Duration::from_secs(10);

/// The rules' evaluator, telling changes to the webhook and CloudWatch as `notify` asks.
fn evaluator(
    store_dir: &Path,
    rules: Vec<Rule>,
    notify: NotifyArgs,
    clients: Option<Vec<Clients>>,
    retry: RetryPolicy,
) -> Evaluator {
    let mut notifiers: Vec<Box<dyn Notifier>> = Vec::new();
    if let Some(url) = notify.webhook {
        notifiers.push(Box::new(Webhook::new(url, notify.webhook_attempts)));
    }
    // The state metric goes to the first account and Region named.
    if let Some(clients) = clients
        .and_then(|c| c.into_iter().next())
        .filter(|_| notify.publish_metric)
    {
        notifiers.push(Box::new(StateMetric {
            clients,
            caller: Arc::new(Caller::new(retry, &[])),
            namespace: notify.metric_namespace,
        }));
    }
    Evaluator::new(store_dir, rules, notifiers)
}

/// Says on stderr which notifications failed: never fatal.
fn report(failed: &[NotifyError]) {
    for e in failed {
        eprintln!("warning: {}", for_stderr(&e.to_string()));
    }
}

async fn check(store_dir: &Path, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let rules = load_rules(&args.rules.rules)?;
    let clients = if args.collect || args.notify.publish_metric {
        Some(args.aws.connect().await)
    } else {
        None
    };
    if args.collect {
        let clients = clients.as_ref().expect("connected for --collect");
        collect(store_dir, clients, &args.aws, &rules).await?;
    }
    let at = args.at.map_or_else(Utc::now, |a| a.resolve(Utc::now()));
    let ev = evaluator(store_dir, rules, args.notify, clients, args.aws.retry());
    // A store that does not exist is reported by the evaluation, not created by the lock.
    Session::open(store_dir).await?;
    let lock = check_lock(&AlarmStore::new(store_dir)).await?;
    let Evaluated {
        statuses, failed, ..
    } = ev.evaluate(at, lock.as_ref()).await?;
    report(&failed);
    match args.format {
        CheckFormat::Table => print_table(&statuses),
        CheckFormat::Json => {
            for s in &statuses {
                println!("{}", status_json(s));
            }
        }
    }
    let alarm = statuses
        .iter()
        .any(|s| s.actions_enabled && s.state == State::Alarm);
    Ok(if alarm {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The alarm lock for `check`: waits up to [`CHECK_LOCK_WAIT`] while another check holds it;
/// `None` (read-only, said on stderr) while a watch holds it or the wait runs out.
async fn check_lock(store: &AlarmStore) -> anyhow::Result<Option<AlarmLock>> {
    let deadline = tokio::time::Instant::now() + CHECK_LOCK_WAIT;
    loop {
        match store.try_lock("check") {
            Ok(lock) => return Ok(Some(lock)),
            Err(LockError::Held { holder, .. })
                if holder.as_ref().is_none_or(|h| h.command != "watch")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e @ LockError::Held { .. }) => {
                eprintln!(
                    "note: {e}: evaluated read-only (the state is not saved and no change is notified; the lock's holder does that)."
                );
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn status_json(s: &AlarmStatus) -> serde_json::Value {
    serde_json::json!({
        "rule": s.rule,
        "key": s.key,
        "state": s.state,
        "previous": s.previous,
        "since": s.since,
        "evaluated": s.evaluated,
        "severity": s.severity.as_str(),
        "actions_enabled": s.actions_enabled,
        "reason": s.reason,
        "latest": s.latest.map(|d| serde_json::json!({
            "time": rfc3339_micros(d.time),
            "value": d.value,
            "samples": d.samples,
            "low_sample": d.low_sample,
        })),
    })
}

fn rfc3339_micros(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us).map_or_else(|| us.to_string(), |t| t.to_rfc3339())
}

fn print_table(statuses: &[AlarmStatus]) {
    println!(
        "{:<17} {:<8} {:<9} {:<28} {:<40} reason",
        "state", "changed", "severity", "rule", "key"
    );
    for s in statuses {
        let changed = if s.state == s.previous { "" } else { "yes" };
        let rule = if s.actions_enabled {
            s.rule.clone()
        } else {
            format!("({})", s.rule)
        };
        println!(
            "{:<17} {:<8} {:<9} {:<28} {:<40} {}",
            s.state.as_str(),
            changed,
            s.severity.as_str(),
            rule,
            sanitize(&s.key),
            sanitize(&s.reason),
        );
        if let Some(d) = s.latest.filter(|d| d.low_sample) {
            println!(
                "{:<17} {:<8} {:<9} {:<28} {:<40} ~ latest value {} over {} samples: below the percentile's significance bound",
                "", "", "", "", "", d.value, d.samples
            );
        }
    }
    let count = |st: State| statuses.iter().filter(|s| s.state == st).count();
    let n = statuses.len();
    println!(
        "{n} {}: {} ALARM, {} OK, {} INSUFFICIENT_DATA.",
        if n == 1 { "alarm" } else { "alarms" },
        count(State::Alarm),
        count(State::Ok),
        count(State::InsufficientData)
    );
}

async fn watch(store_dir: &Path, args: WatchArgs) -> anyhow::Result<ExitCode> {
    let rules = load_rules(&args.rules.rules)?;
    // The store must exist before its alarm lock does: collecting creates it.
    if args.no_collect {
        Session::open(store_dir).await?;
    } else {
        super::open_store(&Location::Local(store_dir.to_path_buf()))?;
    }
    let lock = AlarmStore::new(store_dir)
        .try_lock("watch")
        .map_err(|e| match e {
            LockError::Held { .. } => anyhow::anyhow!(
                "{e}: one watch per store, so that each change of state is notified once; stop that one first (`hopscope alarms check` evaluates read-only meanwhile)"
            ),
            e @ LockError::Io { .. } => e.into(),
        })?;
    let clients = if !args.no_collect || args.notify.publish_metric {
        Some(args.aws.connect().await)
    } else {
        None
    };
    let collect_clients = if args.no_collect {
        None
    } else {
        clients.clone()
    };
    let ev = evaluator(store_dir, rules, args.notify, clients, args.aws.retry());
    let mut stop = repeat::stop_on_signal("Stopping after the current evaluation");
    eprintln!(
        "Evaluating {} rules every {} (SIGTERM or Ctrl-C stops).",
        ev.rules().len(),
        humantime::format_duration(args.every)
    );
    let evaluation = async || -> anyhow::Result<()> {
        // Transient failures (AWS, a store being written) are reported and retried next tick.
        if let Some(clients) = &collect_clients
            && let Err(e) = collect(store_dir, clients, &args.aws, ev.rules()).await
        {
            eprintln!("warning: collecting: {}", for_stderr(&format!("{e:#}")));
        }
        match ev.evaluate(Utc::now(), Some(&lock)).await {
            Ok(evaluated) => {
                report(&evaluated.failed);
                for t in evaluated.transitions {
                    if t.actions_enabled {
                        println!("{}", serde_json::to_string(&t)?);
                    }
                }
            }
            Err(e) => eprintln!("warning: evaluating: {}", for_stderr(&format!("{e:#}"))),
        }
        Ok(())
    };
    repeat::every(args.every, &mut stop, evaluation).await?;
    Ok(ExitCode::SUCCESS)
}

async fn backtest(store_dir: &Path, args: BacktestArgs) -> anyhow::Result<ExitCode> {
    let rules = load_rules(&args.rules.rules)?;
    let now = Utc::now();
    let until = args.until.map_or(now, |u| u.resolve(now));
    let since = args.since.resolve(until);
    anyhow::ensure!(
        since < until,
        "--since ({since}) is not before --until ({until})"
    );
    let session = Session::open(store_dir).await?;
    let transitions = alarms::backtest(
        &session,
        &rules,
        since.timestamp_micros(),
        until.timestamp_micros(),
    )
    .await?;
    println!(
        "Replayed {} rules over {} .. {}.",
        rules.len(),
        since.to_rfc3339(),
        until.to_rfc3339()
    );
    println!(
        "{:<20} {:<28} {:<40} {:<17} {:<17}",
        "at", "rule", "key", "from", "to"
    );
    for t in &transitions {
        println!(
            "{:<20} {:<28} {:<40} {:<17} {:<17}",
            t.at,
            t.rule,
            sanitize(&t.key),
            t.from.as_str(),
            t.to.as_str()
        );
    }
    // Fired and cleared: ALARM spans per alarm.
    let fired = transitions.iter().filter(|t| t.to == State::Alarm).count();
    let cleared = transitions
        .iter()
        .filter(|t| t.from == State::Alarm)
        .count();
    println!("{fired} times fired, {cleared} times cleared.");
    Ok(ExitCode::SUCCESS)
}

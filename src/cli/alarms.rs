//! `hopscope alarms`: lint rule files, evaluate them once (`check`) or on a schedule (`watch`),
//! and replay them over stored history (`backtest`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use hopscope_analyzer::Session;
use hopscope_analyzer::alarms::state::{AlarmLock, AlarmStore, LockError};
use hopscope_analyzer::alarms::{self, AlarmStatus, Rule, RuleKind, State, Transition};
use hopscope_collector::aws::Clients;
use hopscope_collector::collect::{Caller, RetryPolicy};
use hopscope_collector::publish::{self, AlarmDatum};
use hopscope_collector::store::Store;

use super::aws_args::AwsArgs;
use super::output::sanitize;
use super::time::TimeArg;

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

/// The starter pack of rules/, built in so that `hopscope demo` shows alarms from anywhere.
const STARTER_PACK: [(&str, &str); 2] = [
    (
        "rules/api-gateway.toml",
        include_str!("../../rules/api-gateway.toml"),
    ),
    ("rules/lambda.toml", include_str!("../../rules/lambda.toml")),
];

/// The built-in starter pack, or its problems (the alarms panel shows them).
pub fn starter_pack() -> Result<Vec<Rule>, String> {
    let (mut rules, mut problems) = (Vec::new(), Vec::new());
    for (file, text) in STARTER_PACK {
        let (r, p) = alarms::parse::parse_file(Path::new(file), text);
        rules.extend(r);
        problems.extend(p);
    }
    alarms::parse::check_references(&mut rules, &mut problems);
    match problems.first() {
        None => Ok(rules),
        Some(p) => Err(sanitize(&p.to_string())),
    }
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

/// The longest time a rule looks back: what a collection before an evaluation must cover.
fn lookback(rules: &[Rule]) -> chrono::TimeDelta {
    let secs = rules
        .iter()
        .filter_map(|r| match &r.kind {
            RuleKind::Metric(m) => Some(
                m.condition.period_secs
                    * alarms::eval::evaluation_range(m.condition.evaluation_periods) as i64,
            ),
            RuleKind::Composite(_) => None,
        })
        .max()
        .unwrap_or(900);
    chrono::TimeDelta::seconds(secs)
}

/// Collects the window the rules look back over (checkpoints make repeated windows cheap).
async fn collect(
    store_dir: &Path,
    clients: &Clients,
    aws: &AwsArgs,
    rules: &[Rule],
) -> anyhow::Result<()> {
    let end = Utc::now();
    let start = end - lookback(rules);
    super::collect::collect_quietly(store_dir, clients, aws, start, end).await?;
    Ok(())
}

/// How long `check` waits for another check to release the alarm lock before evaluating
/// read-only (a watch holds it for good: no waiting then).
const CHECK_LOCK_WAIT: Duration = Duration::from_secs(10);

/// One evaluation: statuses, with state and history saved and changes notified by the holder
/// of the alarm lock.
struct Evaluator {
    store_dir: PathBuf,
    rules: Vec<Rule>,
    notify: NotifyArgs,
    clients: Option<Clients>,
    caller: Arc<Caller>,
    http: ureq::Agent,
}

impl Evaluator {
    /// Evaluates at `at`; without the lock, read-only (the holder saves and notifies).
    async fn evaluate(
        &self,
        at: DateTime<Utc>,
        lock: Option<&AlarmLock>,
    ) -> anyhow::Result<(Vec<AlarmStatus>, Vec<Transition>)> {
        let session = Session::open(&self.store_dir).await?;
        let store = AlarmStore::new(&self.store_dir);
        // Read under the lock, so this is the state the last saved evaluation left.
        let mut states = store
            .load()
            .with_context(|| format!("reading {}", store.dir().display()))?;
        let statuses =
            alarms::evaluate_rules(&session, &self.rules, at.timestamp_micros(), &states).await?;
        let transitions = alarms::transitions(&self.rules, &statuses);
        let Some(lock) = lock else {
            return Ok((statuses, Vec::new()));
        };
        states.update(&statuses);
        store
            .save(lock, &mut states, &transitions)
            .with_context(|| format!("saving alarm state in {}", store.dir().display()))?;
        self.notify(&transitions, &statuses, at).await;
        Ok((statuses, transitions))
    }

    /// Notifications never fail the evaluation: problems are reported on stderr.
    async fn notify(
        &self,
        transitions: &[Transition],
        statuses: &[AlarmStatus],
        at: DateTime<Utc>,
    ) {
        let enabled: Vec<&Transition> = transitions.iter().filter(|t| t.actions_enabled).collect();
        if let Some(url) = &self.notify.webhook {
            for t in &enabled {
                if let Err(e) = post_webhook(&self.http, url, self.notify.webhook_attempts, t).await
                {
                    eprintln!(
                        "warning: webhook {} for {} {}: {e:#}",
                        sanitize(url),
                        t.rule,
                        sanitize(&t.key)
                    );
                }
            }
        }
        if let Some(clients) = &self.clients {
            let data: Vec<AlarmDatum> = statuses
                .iter()
                .filter(|s| s.state != State::InsufficientData)
                .map(|s| AlarmDatum {
                    rule: s.rule.clone(),
                    key: s.key.clone(),
                    value: if s.state == State::Alarm { 1.0 } else { 0.0 },
                    timestamp: at.timestamp(),
                })
                .collect();
            if let Err(e) = publish::put_alarm_states(
                &clients.cloudwatch,
                &self.caller,
                &self.notify.metric_namespace,
                &data,
            )
            .await
            {
                eprintln!("warning: publishing alarm states to CloudWatch: {e}");
            }
        }
    }
}

/// POSTs one transition, retrying with exponential backoff from 1 s.
async fn post_webhook(
    agent: &ureq::Agent,
    url: &str,
    attempts: u32,
    t: &Transition,
) -> anyhow::Result<()> {
    let body = serde_json::to_string(t)?;
    let mut wait = Duration::from_secs(1);
    let mut attempt = 1;
    loop {
        let agent = agent.clone();
        let (url, body) = (url.to_string(), body.clone());
        let result = tokio::task::spawn_blocking(move || {
            agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.as_bytes())
                .map(|_| ())
        })
        .await?;
        match result {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= attempts.max(1) => {
                return Err(anyhow::anyhow!("{e} (after {attempt} attempts)"));
            }
            Err(e) => {
                tracing::debug!(attempt, error = %e, "Retrying the webhook.");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
        }
    }
}

async fn evaluator(
    store_dir: &Path,
    rules: Vec<Rule>,
    notify: NotifyArgs,
    clients: Option<Clients>,
    retry: RetryPolicy,
) -> Evaluator {
    let http = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    Evaluator {
        store_dir: store_dir.to_path_buf(),
        rules,
        clients: if notify.publish_metric { clients } else { None },
        notify,
        caller: Arc::new(Caller::new(retry, &[])),
        http,
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
    let ev = evaluator(store_dir, rules, args.notify, clients, args.aws.retry()).await;
    // A store that does not exist is reported by the evaluation, not created by the lock.
    Session::open(store_dir).await?;
    let lock = check_lock(&AlarmStore::new(store_dir)).await?;
    let (statuses, _) = ev.evaluate(at, lock.as_ref()).await?;
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
        let changed = if s.state != s.previous { "yes" } else { "" };
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
    println!(
        "{} alarms: {} ALARM, {} OK, {} INSUFFICIENT_DATA.",
        statuses.len(),
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
        Store::open_or_create(store_dir)?;
    }
    let lock = AlarmStore::new(store_dir)
        .try_lock("watch")
        .map_err(|e| match e {
            LockError::Held { .. } => anyhow::anyhow!(
                "{e}: one watch per store, so that each change of state is notified once; stop that one first (`hopscope alarms check` evaluates read-only meanwhile)"
            ),
            e => e.into(),
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
    let ev = evaluator(store_dir, rules, args.notify, clients, args.aws.retry()).await;
    let stop = Arc::new(tokio::sync::Notify::new());
    {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            super::collect::shutdown_signal().await;
            eprintln!("Stopping after the current evaluation.");
            stop.notify_one();
        });
    }
    eprintln!(
        "Evaluating {} rules every {} (SIGTERM or Ctrl-C stops).",
        ev.rules.len(),
        humantime::format_duration(args.every)
    );
    loop {
        // Transient failures (AWS, a store being written) are reported and retried next tick.
        if let Some(clients) = &collect_clients
            && let Err(e) = collect(store_dir, clients, &args.aws, &ev.rules).await
        {
            eprintln!("warning: collecting: {e:#}");
        }
        match ev.evaluate(Utc::now(), Some(&lock)).await {
            Ok((_, transitions)) => {
                for t in transitions {
                    if t.actions_enabled {
                        println!("{}", serde_json::to_string(&t)?);
                    }
                }
            }
            Err(e) => eprintln!("warning: evaluating: {e:#}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(args.every) => {}
            _ = stop.notified() => break,
        }
    }
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

//! `hopscope demo`: the embedded sample scenarios, imported into a store and summarised.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use hopscope_analyzer::Session;
use hopscope_analyzer::hdr::{HDR_HISTOGRAM, HDR_QUANTILE};
use hopscope_analyzer::significance;
use hopscope_collector::import::ImportOptions;
use hopscope_store::Location;
use hopscope_tui::{Anchor, TimeRange};

use super::output::{self, Format};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Traces per scenario
    #[arg(long, default_value_t = 300)]
    pub traces: usize,

    /// Random seed of the generator
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Print summary tables instead of opening the dashboard (also when stdout is not a terminal)
    #[arg(long)]
    pub no_tui: bool,
}

/// A percentile of `duration_ms` in ms to one decimal, `~`-marked below its significance bound.
fn percentile_sql(q: f64) -> String {
    format!(
        "CASE WHEN count(duration_ms) < {min} THEN '~' ELSE '' END
           || CAST(round({HDR_QUANTILE}({HDR_HISTOGRAM}(duration_ms), {q}), 1) AS VARCHAR)",
        min = significance::min_samples(q).unwrap_or(0),
    )
}

/// Per Lambda function: invocations, cold starts, timeouts (counted at the timeout: censored),
/// errors and duration percentiles with the invocations they are taken over.
fn functions_sql() -> String {
    format!(
        "SELECT function, count(*) AS invocations,
           count(init_ms) AS cold_starts,
           sum(CASE WHEN status = 'timeout' THEN 1 ELSE 0 END) AS timeouts,
           sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors,
           count(duration_ms) AS timed,
           {p50} AS p50_ms, {p99} AS p99_ms
         FROM lambda_invocations GROUP BY function
         ORDER BY {HDR_QUANTILE}({HDR_HISTOGRAM}(duration_ms), 0.99) DESC",
        p50 = percentile_sql(0.5),
        p99 = percentile_sql(0.99),
    )
}

/// Per downstream node (AWS resources, hosts, databases): calls and how they went. Calls that
/// never answered are counted at the time their caller waited (censored).
fn downstream_sql() -> String {
    format!(
        "SELECT service, count(*) AS calls,
           sum(CASE WHEN throttle THEN 1 ELSE 0 END) AS throttled,
           sum(CASE WHEN fault THEN 1 ELSE 0 END) AS faults,
           sum(CASE WHEN in_progress AND duration_ms IS NOT NULL THEN 1 ELSE 0 END) AS censored,
           count(duration_ms) AS timed,
           {p99} AS p99_ms
         FROM spans WHERE kind = 'subsegment' AND namespace IN ('aws', 'remote')
         GROUP BY service ORDER BY {HDR_QUANTILE}({HDR_HISTOGRAM}(duration_ms), 0.99) DESC LIMIT 15",
        p99 = percentile_sql(0.99),
    )
}

pub async fn run(store: Option<PathBuf>, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let store_dir = store
        .clone()
        .unwrap_or_else(|| scratch.path().join("store"));
    let samples = scratch.path().join("samples");
    for name in hopscope_scenarios::SCENARIOS {
        hopscope_scenarios::generate(name, args.traces, args.seed, &samples.join(name))?;
    }
    let store_handle = super::open_store(&Location::Local(store_dir.clone()))?;
    let mut writer = store_handle.writer();
    let summary = super::import::import_into(&[samples], &ImportOptions::default(), &mut writer)?;
    super::import::print_summary(&store_handle, &writer, &summary, 5);

    let session = Session::open(&store_dir).await?;
    if !args.no_tui && super::tui::interactive() {
        let range = TimeRange {
            span_secs: 3600,
            anchor: Anchor::LatestData,
        };
        // The alarms panel shows a problem of the pack instead of its alarms.
        let rules = match hopscope_analyzer::alarms::starter_pack() {
            (rules, problems) if problems.is_empty() => Ok(rules),
            (_, problems) => Err(output::sanitize(&problems[0].to_string())),
        };
        super::tui::dashboard(session, range, rules, None)?;
        if store.is_none() {
            println!(
                "This store was temporary; `hopscope demo --store DIR` keeps it for `hopscope --store DIR tui`."
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nLambda functions, slowest p99 first:");
    output::print(&session.collect(&functions_sql()).await?, Format::Table)?;
    println!("\nDownstream calls, slowest p99 first:");
    output::print(&session.collect(&downstream_sql()).await?, Format::Table)?;
    println!(
        "{}\n{}",
        output::low_sample_legend(),
        output::CENSORED_LEGEND
    );
    match store {
        Some(dir) => println!("\nExplore further: hopscope --store {} sql", dir.display()),
        None => println!(
            "\nThis store was temporary; `hopscope demo --store DIR` keeps it for `hopscope --store DIR sql`."
        ),
    }
    Ok(ExitCode::SUCCESS)
}

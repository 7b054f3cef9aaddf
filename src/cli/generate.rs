//! `hopscope gen`: the deterministic scenario generator.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Scenario: dietician, dragons, chatbot, etl or users
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(hopscope_scenarios::SCENARIOS))]
    pub scenario: String,

    /// Number of traces to generate
    #[arg(long, default_value_t = 300)]
    pub traces: usize,

    /// Random seed; the same seed gives the same bytes
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// When the two-hour window starts, as RFC 3339; the incident moves with it (benches lay
    /// windows side by side to build a store of days) [default: 2026-11-20T09:00:00Z]
    #[arg(long, value_name = "TIME")]
    pub start: Option<chrono::DateTime<chrono::Utc>>,

    /// Output directory (created)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: GenArgs) -> anyhow::Result<ExitCode> {
    let start = args.start.unwrap_or_else(hopscope_scenarios::default_start);
    let summary = hopscope_scenarios::generate_from(
        &args.scenario,
        args.traces,
        args.seed,
        start,
        &args.out,
    )?;
    println!(
        "Generated {} into {}: {summary:?}",
        args.scenario,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

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

    /// Output directory (created)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: GenArgs) -> anyhow::Result<ExitCode> {
    let summary = hopscope_scenarios::generate(&args.scenario, args.traces, args.seed, &args.out)?;
    println!(
        "Generated {} into {}: {summary:?}",
        args.scenario,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

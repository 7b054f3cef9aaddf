//! `hopscope store rebuild-rollups`: upkeep of the store itself.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use hopscope_store::Location;

#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub action: StoreAction,
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Write the rollups that are missing: the per-minute summaries of data written before
    /// rollups existed, or by an import or collect killed between a data file and its summary
    /// (reports read such files whole until then, and say so); then the summary of every ended
    /// hour that has none covering its data files (windows of days read those), and, for an hour
    /// of several data files, its minutes merged into one file (windows that cut an hour read
    /// those)
    RebuildRollups,
}

pub fn run(location: &Location, args: StoreArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        StoreAction::RebuildRollups => {
            // Never creates a store: there would be nothing to summarize.
            hopscope_store::check_existing_at(location)?;
            let store = super::open_store(location)?;
            for rebuilt in store.rebuild_rollups()? {
                println!(
                    "{}: {} minute summaries, {} hour summaries, {} hours of merged minutes written",
                    rebuilt.table, rebuilt.minutes, rebuilt.hours, rebuilt.merged_hours
                );
            }
            if let Some(r) = location.requests() {
                println!(
                    "S3 requests: {} LIST, {} GET, {} PUT.",
                    r.lists, r.gets, r.puts
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

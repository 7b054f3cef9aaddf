//! `hopscope map`: the service map of everything in the store.

use hopscope_store::Location;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use hopscope_analyzer::service_map::ServiceMap;

use super::cluster::LocalPart;
use super::output::{CENSORED_LEGEND, low_sample_legend, sanitize};
use super::time::WindowArgs;
use hopscope_analyzer::coverage::Coverage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MapFormat {
    /// One line per edge: caller -> callee with requests, outcomes and latency
    Table,
    Json,
    /// Graphviz DOT (`hopscope map --format dot | dot -Tsvg > map.svg`)
    Dot,
    /// Mermaid flowchart (paste into Markdown)
    Mermaid,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    // Neither --since nor --until: everything stored.
    #[command(flatten)]
    pub window: WindowArgs,

    /// Output format
    #[arg(long, value_enum, default_value_t = MapFormat::Table)]
    pub format: MapFormat,
}

pub async fn run(
    store: &Location,
    cluster: Option<&str>,
    args: MapArgs,
) -> anyhow::Result<ExitCode> {
    let window = args.window.resolve(chrono::Utc::now())?;
    let session = super::cluster::open(store, cluster, Some(LocalPart::ServiceMap)).await?;
    let map = ServiceMap::load_in(&session, window).await?;
    super::output::note_unsummarized(map.unsummarized_files);
    match args.format {
        MapFormat::Json => println!("{}", serde_json::to_string_pretty(&map)?),
        MapFormat::Dot => print!("{}", map.to_dot()),
        MapFormat::Mermaid => print!("{}", map.to_mermaid()),
        MapFormat::Table => {
            if let Some(note) = map.coverage.as_ref().and_then(Coverage::note) {
                println!("Held: {note}");
            }
            println!(
                "{:<34} {:<34} {:>8} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>8} {:>14}",
                "caller",
                "callee",
                "requests",
                "ok",
                "4xx",
                "429",
                "5xx",
                "p50 ms",
                "p99 ms",
                "censored",
                "async dwell p99"
            );
            let pct = |v: f64, low: bool| {
                if low && v.is_finite() {
                    format!("~{v:.1}")
                } else {
                    format!("{v:.1}")
                }
            };
            for e in &map.edges {
                println!(
                    "{:<34} {:<34} {:>8} {:>6} {:>6} {:>6} {:>6} {:>9} {:>9} {:>8} {:>14}",
                    sanitize(&e.caller),
                    sanitize(&e.callee),
                    e.requests,
                    e.ok,
                    e.errors,
                    e.throttles,
                    e.faults,
                    pct(e.p50_ms, e.p50_low_sample),
                    pct(e.p99_ms, e.p99_low_sample),
                    e.censored,
                    match (e.async_calls, e.dwell_p99_ms) {
                        (0, _) | (_, None) => String::new(),
                        (n, Some(d)) => format!("{n}: {d:.1} ms"),
                    },
                );
            }
            if map
                .edges
                .iter()
                .any(|e| e.p50_low_sample || e.p99_low_sample)
            {
                println!("{}", low_sample_legend());
            }
            if map.edges.iter().any(|e| e.censored > 0) {
                println!("{CENSORED_LEGEND}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

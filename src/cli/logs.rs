//! `hopscope logs QUERY`: a CloudWatch Logs Insights query over the store's log events.

use hopscope_store::Location;
use std::process::ExitCode;

use clap::Args;
use hopscope_analyzer::Session;
use hopscope_analyzer::insights::{self, Scope};

use super::output::{self, Format};
use super::time::WindowArgs;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The query, in the Logs Insights query language: commands joined by `|`, such as
    /// 'filter @type = "REPORT" | stats avg(@duration), max(@duration) by bin(5m)'. Commands:
    /// fields, display, filter, stats, sort, limit, dedup, parse, unnest, pattern, diff
    pub query: String,

    /// Only log groups matching this glob (`*` any text, `?` one character), such as
    /// '/aws/lambda/orders-*'; repeat for more [default: every log group]
    #[arg(long = "log-group", value_name = "GLOB")]
    pub log_groups: Vec<String>,

    // Neither --since nor --until: every stored event (`diff` needs a window).
    #[command(flatten)]
    pub window: WindowArgs,

    /// Output format [default: table on a terminal, csv otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub async fn run(store: &Location, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let scope = Scope {
        window: args.window.resolve(chrono::Utc::now())?,
        log_groups: args.log_groups,
    };
    let format = args
        .format
        .unwrap_or(if super::terminal::stdout_is_terminal() {
            Format::Table
        } else {
            Format::Csv
        });
    let session = Session::open_at(store).await?;
    let result = insights::run(&session, &args.query, &scope).await?;
    output::print(&result.batches, format)?;
    Ok(ExitCode::SUCCESS)
}

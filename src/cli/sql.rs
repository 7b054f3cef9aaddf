//! `hopscope sql [QUERY]`: one query, or an interactive shell.

use hopscope_store::Location;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use hopscope_analyzer::Session;
use rustyline::error::ReadlineError;

use super::output::{self, Format};

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query (DataFusion SQL). Tables: spans, log_events, lambda_invocations,
    /// metric_points; view: traces. Omit it to open the interactive shell.
    pub query: Option<String>,

    /// Output format [default: table on a terminal, csv otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Write the result to FILE instead (.parquet, .csv, .json or .ndjson)
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub async fn run(
    store: &Location,
    cluster: Option<&str>,
    args: SqlArgs,
) -> anyhow::Result<ExitCode> {
    let session = super::cluster::open(store, cluster, None).await?;
    let format = args
        .format
        .unwrap_or(if super::terminal::stdout_is_terminal() {
            Format::Table
        } else {
            Format::Csv
        });
    match &args.query {
        Some(query) => {
            run_query(&session, query, format, args.output.as_deref()).await?;
            Ok(ExitCode::SUCCESS)
        }
        None => shell(&session, format).await,
    }
}

async fn run_query(
    session: &Session,
    query: &str,
    format: Format,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let df = session.query(query).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    match output {
        Some(path) => {
            output::write_file(&batches, schema, path)?;
            let rows: usize = batches
                .iter()
                .map(arrow::array::RecordBatch::num_rows)
                .sum();
            eprintln!("Wrote {rows} rows to {}.", path.display());
        }
        None => output::print(&batches, format)?,
    }
    Ok(())
}

const SHELL_HELP: &str =
    "End a query with ';'. \\d lists tables, \\d NAME describes one, \\q quits.";

async fn shell(session: &Session, format: Format) -> anyhow::Result<ExitCode> {
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = dirs::data_dir().map(|d| d.join("hopscope").join("sql_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "hopscope SQL over {}. {SHELL_HELP}",
        session.location().display()
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "hopscope> "
        } else {
            "     ...> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match trimmed.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["\\q"] => break,
                ["\\d"] => describe_all(session).await?,
                ["\\d", name] => describe(session, name).await?,
                _ => println!("{SHELL_HELP}"),
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let query = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(query.trim());
        if let Err(e) = run_query(session, &query, format, None).await {
            eprintln!("error: {}", super::terminal::for_stderr(&format!("{e:#}")));
        }
    }
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(h);
    }
    Ok(ExitCode::SUCCESS)
}

async fn describe_all(session: &Session) -> anyhow::Result<()> {
    for t in session.tables().await? {
        println!(
            "{:<20} {:<6} {} columns",
            t.name,
            t.kind,
            t.schema.fields().len()
        );
    }
    Ok(())
}

async fn describe(session: &Session, name: &str) -> anyhow::Result<()> {
    let tables = session.tables().await?;
    let Some(t) = tables.iter().find(|t| t.name == name) else {
        println!("no table {name}; \\d lists them");
        return Ok(());
    };
    for f in t.schema.fields() {
        println!(
            "{:<22} {:<40} {}",
            f.name(),
            f.data_type().to_string(),
            if f.is_nullable() { "null" } else { "not null" }
        );
    }
    Ok(())
}

//! `hopscope import PATH...`

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use hopscope_collector::import::{ImportOptions, ImportSummary, import_files, list_files};
use hopscope_collector::output::Rejection;
use hopscope_store::{Location, Store, StoreWriter, remove_leftovers};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or directories to import: BatchGetTraces responses, X-Ray segment documents (JSON,
    /// NDJSON, daemon payloads), aws/spans OTel spans, CloudWatch Logs events (FilterLogEvents,
    /// GetLogEvents, subscription payloads), Lambda log text, GetMetricData responses, Lambda
    /// ListFunctions / ListVersionsByFunction / GetFunctionConfiguration responses; .gz too
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Log group for inputs that do not name one (FilterLogEvents answers, plain log text),
    /// e.g. /aws/lambda/my-function
    #[arg(long, value_name = "NAME")]
    pub log_group: Option<String>,

    /// How many rejected records to list in the summary (all are counted)
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub show_rejected: usize,
}

pub fn run(store_dir: &Location, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(store_dir)?;
    // What a killed run left (never read either way), as collect does.
    remove_leftovers(&store)?;
    let mut writer = store.writer();
    let opts = ImportOptions {
        log_group: args.log_group.clone(),
        ..Default::default()
    };
    let summary = import_into(&args.paths, &opts, &mut writer)?;
    print_summary(&store, &writer, &summary, args.show_rejected);
    Ok(ExitCode::SUCCESS)
}

/// Imports `paths` through `writer`, with a progress bar when stderr is a terminal.
pub fn import_into(
    paths: &[PathBuf],
    opts: &ImportOptions,
    writer: &mut StoreWriter,
) -> anyhow::Result<ImportSummary> {
    let files = list_files(paths)?;
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = if std::io::stderr().is_terminal() && total > 8 << 20 {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} importing {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let summary =
        import_files(&files, opts, writer, |bytes| bar.inc(bytes)).context("import stopped")?;
    bar.finish_and_clear();
    Ok(summary)
}

pub fn print_summary(
    store: &Store,
    writer: &StoreWriter,
    summary: &ImportSummary,
    show_rejected: usize,
) {
    let formats: Vec<String> = summary
        .formats
        .iter()
        .map(|(f, n)| format!("{n} {f}"))
        .collect();
    println!(
        "Imported {} files ({}) into {} in {:.2?}.",
        summary.files,
        formats.join(", "),
        store.location().display(),
        summary.elapsed
    );
    print_rows_and_rejections(
        writer,
        summary.records,
        summary.rejected,
        &summary.rejections,
        show_rejected,
    );
}

/// The end of an import's or a collection's summary: rows per table, records read and the
/// first `show_rejected` rejections.
pub fn print_rows_and_rejections(
    writer: &StoreWriter,
    records: usize,
    rejected: usize,
    rejections: &[Rejection],
    show_rejected: usize,
) {
    println!("{:<20} {:>10} {:>12}", "table", "new rows", "duplicates");
    for (table, stats) in writer.stats() {
        println!("{table:<20} {:>10} {:>12}", stats.rows, stats.duplicates);
    }
    println!("Records read: {records}; rejected: {rejected}.");
    if let Some(r) = writer.location().requests() {
        println!(
            "S3 requests: {} LIST, {} GET, {} PUT.",
            r.lists, r.gets, r.puts
        );
    }
    for r in rejections.iter().take(show_rejected) {
        println!(
            "  rejected {}",
            crate::cli::output::sanitize(&r.to_string())
        );
    }
    if rejected > show_rejected {
        println!(
            "  ... and {} more (--show-rejected N lists more)",
            rejected - show_rejected
        );
    }
}

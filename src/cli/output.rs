//! Printing query results: table, CSV, JSON, NDJSON, or a file by its extension.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned table (control characters in the data are shown escaped, as `\x1b`)
    Table,
    Csv,
    /// One JSON array of row objects
    Json,
    /// One JSON object per line
    Ndjson,
}

pub use hopscope_analyzer::text::sanitize;

/// The line under a table whose percentiles may carry the `~` low-sample mark.
pub fn low_sample_legend() -> String {
    let bound = |q| hopscope_analyzer::significance::min_samples(q).unwrap_or(0);
    format!(
        "~ low-sample: fewer calls than the percentile needs to mean much (10/(1-p): p50 {}, p99 {})",
        bound(0.5),
        bound(0.99)
    )
}

/// The line under a table that counts censored calls.
pub const CENSORED_LEGEND: &str = "censored: calls that never answered, counted at the time their caller waited; Lambda timeouts at the timeout";

/// Cuts `text` to `width` characters, marking the cut with `…` (the dashboard's own rule).
pub use hopscope_analyzer::text::fit as truncate;

/// Writes `batches` to stdout in `format`. On a terminal, text values show their control
/// characters escaped in every format (also in the SQL shell, whose stdout is not routed
/// through the escaper); piped output keeps them as they are, except in tables.
pub fn print(batches: &[RecordBatch], format: Format) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let escaped: Vec<RecordBatch>;
    let batches = if format == Format::Table || super::terminal::stdout_is_terminal() {
        escaped = batches.iter().map(sanitized).collect::<Result<_, _>>()?;
        &escaped
    } else {
        batches
    };
    match format {
        Format::Table => writeln!(
            out,
            "{}",
            arrow::util::pretty::pretty_format_batches(batches)?
        )?,
        Format::Csv => write_csv(batches, &mut out)?,
        Format::Json => write_json(batches, &mut out, false)?,
        Format::Ndjson => write_json(batches, &mut out, true)?,
    }
    Ok(())
}

/// Writes `batches` to `path`; the format follows the extension (.parquet, .csv, .json, .ndjson).
pub fn write_file(batches: &[RecordBatch], schema: Arc<Schema>, path: &Path) -> anyhow::Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    match ext.as_str() {
        "parquet" => {
            let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
        }
        "csv" => write_csv(batches, &mut file)?,
        "json" => write_json(batches, &mut file, false)?,
        "ndjson" | "jsonl" => write_json(batches, &mut file, true)?,
        other => bail!(
            "--output {}: unknown extension {other:?}; use .parquet, .csv, .json or .ndjson",
            path.display()
        ),
    }
    Ok(())
}

fn write_csv(batches: &[RecordBatch], out: &mut dyn Write) -> anyhow::Result<()> {
    let mut w = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(out);
    for b in batches {
        w.write(&flattened(b)?)?;
    }
    Ok(())
}

fn write_json(batches: &[RecordBatch], out: &mut dyn Write, lines: bool) -> anyhow::Result<()> {
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    if lines {
        let mut w = arrow::json::LineDelimitedWriter::new(out);
        w.write_batches(&refs)?;
        w.finish()?;
    } else {
        let mut w = arrow::json::ArrayWriter::new(out);
        w.write_batches(&refs)?;
        w.finish()?;
        writeln!(w.get_mut())?;
    }
    Ok(())
}

/// CSV has no nested values: maps, lists and structs become their text form.
fn flattened(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    map_columns(
        batch,
        |c| c.data_type().is_nested(),
        std::string::ToString::to_string,
    )
}

/// Strings (and nested values) with control characters escaped, for the terminal.
fn sanitized(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    map_columns(
        batch,
        |c| {
            c.data_type().is_nested()
                || matches!(
                    c.data_type(),
                    DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Dictionary(_, _)
                )
        },
        sanitize,
    )
}

fn map_columns(
    batch: &RecordBatch,
    select: impl Fn(&ArrayRef) -> bool,
    text: impl Fn(&str) -> String,
) -> anyhow::Result<RecordBatch> {
    let options = FormatOptions::default();
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if !select(column) {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
            continue;
        }
        let f = ArrayFormatter::try_new(column.as_ref(), &options)?;
        let values: StringArray = (0..column.len())
            .map(|i| column.is_valid(i).then(|| text(&f.value(i).to_string())))
            .collect();
        fields.push(Field::new(field.name(), DataType::Utf8, true));
        columns.push(Arc::new(values) as ArrayRef);
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Says on stderr that `files` span files were read whole for lack of a per-minute rollup.
pub fn note_unsummarized(files: usize) {
    if files > 0 {
        eprintln!(
            "note: {files} span files have no per-minute rollup (written before rollups, or by a \
             run killed in between) and were read whole; `hopscope store rebuild-rollups` adds \
             them."
        );
    }
}

//! `hopscope import`: walk the inputs, detect each file's format, run its parser.

mod detect;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use detect::Format;

use crate::error::{Error, Result};
use hopscope_store::{BatchSink, with_writer_thread};

use crate::output::{FileCtx, Output, Rejection, clock_micros};
use crate::{cwlogs, lambda_functions, lambda_logs, metrics, otel, xray};

/// Options of one import run.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Log group for inputs that do not name one.
    pub log_group: Option<String>,
    /// Rows per table buffered before a batch is written.
    pub batch_rows: usize,
    /// Files at least this large are read in chunks of `chunk_bytes` when their format allows
    /// it (NDJSON of segment documents), so memory stays bounded by the batch size, not the file.
    pub stream_threshold: u64,
    pub chunk_bytes: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            log_group: None,
            batch_rows: 64 * 1024,
            stream_threshold: 32 << 20,
            chunk_bytes: 8 << 20,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    pub files: usize,
    /// Files per detected format.
    pub formats: Vec<(Format, usize)>,
    pub records: usize,
    pub rejected: usize,
    /// The first rejections, with file, record and reason.
    pub rejections: Vec<Rejection>,
    pub elapsed: Duration,
}

/// Documentation next to data (README.md, scenario.toml) is skipped when a directory is walked;
/// a file named explicitly is always read.
const SKIPPED_IN_DIRECTORIES: &[&str] = &["md", "toml"];

/// Every file under `inputs` (directories are walked in name order; hidden files are skipped).
pub fn list_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        walk(input, &mut files)?;
    }
    Ok(files)
}

fn walk(path: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    if !meta.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| Error::Read {
            path: path.into(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .filter(|p| {
            p.is_dir()
                || !p
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| SKIPPED_IN_DIRECTORIES.contains(&e))
        })
        .collect();
    entries.sort();
    for entry in entries {
        walk(&entry, files)?;
    }
    Ok(())
}

/// Reads a file, decompressing gzip (by magic number, whatever the name).
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len() * 8);
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|source| Error::Read {
                path: path.into(),
                source,
            })?;
        return Ok(out);
    }
    Ok(bytes)
}

/// Imports `files` into `sink`, calling `progress(bytes_done)` after each file. Parsing runs on
/// the calling thread, `sink` on a writer thread of its own.
pub fn import_files(
    files: &[PathBuf],
    opts: &ImportOptions,
    sink: &mut (dyn BatchSink + Send),
    mut progress: impl FnMut(u64),
) -> Result<ImportSummary> {
    let started = Instant::now();
    with_writer_thread(sink, |sink| {
        let mut out = Output::new(sink, opts.batch_rows);
        let mut summary = ImportSummary::default();
        let now = clock_micros();
        for path in files {
            let shown = path.display().to_string();
            let ctx = FileCtx {
                path: &shown,
                log_group: opts.log_group.as_deref(),
                now,
            };
            let format = match stream_if_large(path, opts, &ctx, &mut out)? {
                Some(format) => format,
                None => import_bytes(&read_input(path)?, &ctx, &mut out)?,
            };
            match summary.formats.iter_mut().find(|(f, _)| *f == format) {
                Some((_, n)) => *n += 1,
                None => summary.formats.push((format, 1)),
            }
            summary.files += 1;
            out.flush_full()?;
            progress(std::fs::metadata(path).map_or(0, |m| m.len()));
        }
        out.flush_all()?;
        summary.records = out.records;
        summary.rejected = out.rejected();
        summary.rejections = out.rejections().to_vec();
        summary.elapsed = started.elapsed();
        Ok(summary)
    })
}

/// Imports a large NDJSON file of segment documents chunk by chunk. Returns `None` (nothing
/// read) when the file is small or of another format.
fn stream_if_large(
    path: &Path,
    opts: &ImportOptions,
    ctx: &FileCtx<'_>,
    out: &mut Output<'_>,
) -> Result<Option<Format>> {
    let read_err = |source| Error::Read {
        path: path.into(),
        source,
    };
    if std::fs::metadata(path).map_err(read_err)?.len() < opts.stream_threshold {
        return Ok(None);
    }
    let mut magic = [0u8; 2];
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let gz = read_full(&mut file, &mut magic).map_err(read_err)? == 2 && magic == [0x1f, 0x8b];
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let chunk = opts.chunk_bytes.max(1);
    let mut buf = Vec::with_capacity(chunk * 2);
    let mut line = 1;
    let mut checked = false;
    loop {
        let start = buf.len();
        buf.resize(start + chunk, 0);
        let n = read_full(&mut reader, &mut buf[start..]).map_err(read_err)?;
        buf.truncate(start + n);
        let eof = n == 0;
        // Whole lines only; a partial last line waits for the next chunk.
        let end = match memchr::memrchr(b'\n', &buf) {
            _ if eof => buf.len(),
            Some(i) => i + 1,
            None => continue,
        };
        let Ok(text) = std::str::from_utf8(&buf[..end]) else {
            return Ok(None);
        };
        if !checked {
            let first = text.lines().next().unwrap_or("");
            if !first.trim_start().starts_with('{')
                || detect::detect(first) != Format::SegmentDocuments
            {
                return Ok(None);
            }
            checked = true;
        }
        xray::import_segment_lines(text, line, ctx, out)?;
        line += memchr::memchr_iter(b'\n', text.as_bytes()).count();
        out.flush_full()?;
        buf.drain(..end);
        if eof {
            return Ok(Some(Format::SegmentDocuments));
        }
    }
}

fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Detects the format of one input and parses it into `out`. Returns the detected format.
pub fn import_bytes(bytes: &[u8], ctx: &FileCtx<'_>, out: &mut Output<'_>) -> Result<Format> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            out.records += 1;
            out.reject(
                ctx,
                "file",
                format!("not UTF-8 text ({e}); hopscope imports JSON and text, optionally gzipped"),
            );
            return Ok(Format::Unsupported);
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = detect::detect(text);
    match format {
        Format::BatchGetTraces => xray::import_batch_get_traces(text, ctx, out)?,
        Format::SegmentDocuments => xray::import_segment_documents(text, ctx, out)?,
        Format::DaemonPayloads => xray::import_daemon_payloads(text, ctx, out)?,
        Format::OtelSpans => otel::import(text, ctx, out)?,
        Format::LogEvents => cwlogs::import(text, ctx, out)?,
        Format::LambdaLogText => lambda_logs::import_text(text, ctx, out)?,
        Format::MetricData => metrics::import(text, ctx, out)?,
        Format::FunctionConfigurations => lambda_functions::import(text, ctx, out)?,
        Format::Known(what) => {
            out.records += 1;
            out.reject(
                ctx,
                "file",
                format!(
                    "{what}: nothing to import from it ({})",
                    detect::known_hint(what)
                ),
            );
        }
        Format::InvalidJson => {
            out.records += 1;
            match detect::json_error(text) {
                Some(e) => out.reject(
                    ctx,
                    format_args!("line {} column {}", e.line(), e.column()),
                    format!("not valid JSON: {e}. The file starts like a JSON document and is read as one: fix it there (copies from documentation often lack a comma, a colon or a closing brace)"),
                ),
                None => out.reject(ctx, "file", "not valid JSON"),
            }
        }
        Format::Unsupported => {
            out.records += 1;
            out.reject(ctx, "file", detect::UNSUPPORTED_HINT);
        }
    }
    Ok(format)
}

#[cfg(test)]
mod tests {
    use arrow::array::RecordBatch;

    use super::*;

    /// AWS documentation's platform.logsDropped record, published with a missing colon.
    #[test]
    fn a_json_file_that_is_not_valid_is_rejected_at_its_error() {
        let text = "{     \n    \"time\": \"2020-08-20T12:31:32.123Z\",\n    \"type\": \"platform.logsDropped\",\n    \"record\": {\"droppedRecords\": 123,\n        \"droppedBytes\" 12345\n    }\n}\n";
        let mut sink: Vec<(&'static str, RecordBatch)> = Vec::new();
        let mut out = Output::new(&mut sink, 16);
        let ctx = FileCtx {
            path: "dropped.json",
            log_group: None,
            now: crate::output::TEST_NOW,
        };
        let format = import_bytes(text.as_bytes(), &ctx, &mut out).unwrap();
        assert_eq!(format, Format::InvalidJson);
        assert_eq!((out.records, out.rejected()), (1, 1));
        let r = &out.rejections()[0];
        assert_eq!(r.record, "line 5 column 24");
        assert!(
            r.reason
                .starts_with("not valid JSON: expected `:` at line 5 column 24."),
            "{r}"
        );
        assert!(!r.reason.contains("timestamp"), "{r}");
    }
}

//! Ingest throughput: X-Ray segment JSON -> Arrow, BatchGetTraces responses -> Arrow, and files ->
//! Parquet store. Run with `cargo bench --bench ingest`; see benches/README.md for the numbers.
//!
//! The input is generated once per run (every scenario, the same seed), so the figures are
//! comparable between commits. Only the import is timed: generation, reading files and extracting
//! documents happen in setup.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::RecordBatch;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hopscope_collector::import::{ImportOptions, import_files, list_files};
use hopscope_collector::output::{FileCtx, Output};
use hopscope_collector::xray::{import_batch_get_traces, import_segment_documents};
use hopscope_schema::spans;
use hopscope_store::Store;
use serde::Deserialize;
use serde_json::value::RawValue;

// The binary's allocator policy, the same file, so the figures are the binary's.
#[path = "../src/allocator.rs"]
#[allow(dead_code, reason = "the bench measures the ingest workload only")]
mod allocator;

/// Traces per scenario: 5 x 400 = 2,000 traces, about 25,000 spans and 10 MB of responses, big
/// enough to leave the caches and small enough for a 5 s measurement to take many samples.
const TRACES_PER_SCENARIO: usize = 400;
const SEED: u64 = 7;

type Batches = Vec<(&'static str, RecordBatch)>;

/// The generated data, in the forms the benches feed to the importer.
struct Input {
    /// Directory with one generated scenario per subdirectory; removed on drop.
    _dir: tempfile::TempDir,
    /// Every `traces/batch-NNNN.json` file.
    trace_files: Vec<PathBuf>,
    /// Their text.
    responses: Vec<String>,
    /// Every segment document, one per line: what X-Ray's daemon and `PutTraceSegments` carry.
    ndjson: String,
    /// Spans (segments and subsegments at every depth) in the documents.
    spans: u64,
}

fn input() -> Input {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spans = 0;
    for scenario in hopscope_scenarios::SCENARIOS {
        let summary = hopscope_scenarios::generate(
            scenario,
            TRACES_PER_SCENARIO,
            SEED,
            &dir.path().join(scenario),
        )
        .expect("generator runs");
        spans += summary.spans;
    }
    let trace_files: Vec<PathBuf> = list_files(&[dir.path().to_path_buf()])
        .expect("generated files")
        .into_iter()
        .filter(|p| {
            p.parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == "traces")
        })
        .collect();
    let responses: Vec<String> = trace_files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("generated file reads"))
        .collect();
    let mut ndjson = String::new();
    for response in &responses {
        let value: serde_json::Value =
            serde_json::from_str(response).expect("generated response parses");
        for trace in value["Traces"].as_array().expect("Traces") {
            for segment in trace["Segments"].as_array().expect("Segments") {
                ndjson.push_str(
                    segment["Document"]
                        .as_str()
                        .expect("Document is a JSON string"),
                );
                ndjson.push('\n');
            }
        }
    }
    Input {
        _dir: dir,
        trace_files,
        responses,
        ndjson,
        spans,
    }
}

const CTX: FileCtx<'static> = FileCtx {
    path: "bench",
    log_group: None,
    // 2027-01-01: after every timestamp the benches read (sample-traces/ is 2026-11-20).
    now: 1_798_761_600_000_000,
};

fn ndjson_to_arrow(ndjson: &str) -> Batches {
    let mut sink = Batches::new();
    let mut out = Output::new(&mut sink, ImportOptions::default().batch_rows);
    import_segment_documents(ndjson, &CTX, &mut out).expect("Vec sink never fails");
    out.flush_all().expect("Vec sink never fails");
    assert_eq!(out.rejected(), 0, "generated documents all import");
    sink
}

fn responses_to_arrow(responses: &[String]) -> Batches {
    let mut sink = Batches::new();
    let mut out = Output::new(&mut sink, ImportOptions::default().batch_rows);
    for response in responses {
        import_batch_get_traces(response, &CTX, &mut out).expect("Vec sink never fails");
        out.flush_full().expect("Vec sink never fails");
    }
    out.flush_all().expect("Vec sink never fails");
    assert_eq!(out.rejected(), 0, "generated responses all import");
    sink
}

fn span_rows(batches: &Batches) -> u64 {
    batches
        .iter()
        .filter(|(t, _)| *t == spans::TABLE)
        .map(|(_, b)| b.num_rows() as u64)
        .sum()
}

/// A nested object's fields, kept as raw JSON.
type RawFields<'a> = BTreeMap<Cow<'a, str>, &'a RawValue>;

/// The segment document as a typed tree, every level parsed once: the reference the issue's
/// target is set against ("typed serde_json parses such documents at ~400 MB/s per core").
/// It reads the same fields the importer reads, and builds no rows.
#[derive(Deserialize)]
#[allow(dead_code)] // Fields are parsed for their cost, never read.
struct ReferenceDoc<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    trace_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    parent_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    doc_type: Option<Cow<'a, str>>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    in_progress: Option<bool>,
    inferred: Option<bool>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow)]
    origin: Option<Cow<'a, str>>,
    #[serde(default)]
    error: bool,
    #[serde(default)]
    fault: bool,
    #[serde(default)]
    throttle: bool,
    #[serde(borrow)]
    http: Option<BTreeMap<Cow<'a, str>, RawFields<'a>>>,
    #[serde(borrow)]
    aws: Option<BTreeMap<Cow<'a, str>, &'a RawValue>>,
    #[serde(borrow)]
    sql: Option<BTreeMap<Cow<'a, str>, &'a RawValue>>,
    #[serde(borrow)]
    resource_arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow)]
    cause: Option<&'a RawValue>,
    #[serde(borrow)]
    annotations: Option<BTreeMap<Cow<'a, str>, &'a RawValue>>,
    #[serde(borrow)]
    metadata: Option<&'a RawValue>,
    #[serde(default, borrow)]
    subsegments: Vec<ReferenceDoc<'a>>,
}

fn reference_parse(ndjson: &str) -> usize {
    ndjson
        .lines()
        .map(|line| {
            serde_json::from_str::<ReferenceDoc<'_>>(line).expect("generated document parses")
        })
        .map(|doc| black_box(doc).subsegments.len())
        .sum()
}

#[allow(unsafe_code)]
fn benches(c: &mut Criterion) {
    // As the binary's main does for `import`, so the figures are the binary's.
    // SAFETY: no other thread allocates yet.
    unsafe { allocator::tune_allocator(allocator::Workload::Ingest) };
    let input = input();
    let bytes = input.ndjson.len() as u64;
    let response_bytes: u64 = input.responses.iter().map(|r| r.len() as u64).sum();
    // The bench measures what it claims: every generated span arrives as a row.
    assert_eq!(span_rows(&ndjson_to_arrow(&input.ndjson)), input.spans);
    assert_eq!(
        span_rows(&responses_to_arrow(&input.responses)),
        input.spans
    );
    eprintln!(
        "Input: {} spans; {:.1} MB of segment NDJSON; {:.1} MB of BatchGetTraces responses.",
        input.spans,
        bytes as f64 / 1e6,
        response_bytes as f64 / 1e6
    );

    // (a) Segment documents -> Arrow, in MB/s of JSON and in spans/s.
    let mut g = c.benchmark_group("segment_ndjson_to_arrow");
    g.throughput(Throughput::BytesDecimal(bytes));
    g.bench_function("import_segment_documents", |b| {
        b.iter(|| ndjson_to_arrow(black_box(&input.ndjson)));
    });
    g.bench_function("reference_typed_serde_json", |b| {
        b.iter(|| reference_parse(black_box(&input.ndjson)));
    });
    g.bench_function("reference_ignored_any", |b| {
        b.iter(|| {
            for line in black_box(&input.ndjson).lines() {
                serde_json::from_str::<serde::de::IgnoredAny>(line)
                    .expect("generated document parses");
            }
        });
    });
    g.finish();
    let mut g = c.benchmark_group("segment_ndjson_to_arrow_spans");
    g.throughput(Throughput::Elements(input.spans));
    g.bench_function("import_segment_documents", |b| {
        b.iter(|| ndjson_to_arrow(black_box(&input.ndjson)));
    });
    g.finish();

    // (b) BatchGetTraces responses -> Arrow: the API's form, each Document a JSON string in JSON.
    let mut g = c.benchmark_group("batch_get_traces_to_arrow");
    g.throughput(Throughput::BytesDecimal(response_bytes));
    g.bench_function("import_batch_get_traces", |b| {
        b.iter(|| responses_to_arrow(black_box(&input.responses)));
    });
    g.finish();

    // (c) The generated BatchGetTraces files -> a fresh store: reading files, format detection,
    // parsing, key hashing for dedupe, Parquet with zstd and fsync, and the rollups. Only the traces: the logs and
    // metrics importers are not built yet (they reject every file).
    let files = &input.trace_files;
    let file_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).expect("generated file").len())
        .sum();
    let mut g = c.benchmark_group("files_to_store");
    g.throughput(Throughput::BytesDecimal(file_bytes));
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    // Without rollups, and with the ones `hopscope import` writes (a summary per data file):
    // side by side, so their ratio is the cost of the rollups.
    let stores = [
        ("import_files", hopscope_store::Summarizers::default()),
        (
            "import_files_with_rollups",
            hopscope_analyzer::rollups::summarizers(),
        ),
    ];
    for (name, summarizers) in stores {
        g.bench_function(name, |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("temp dir"),
                |store_dir| {
                    let store = Store::open_or_create(store_dir.path())
                        .expect("fresh store")
                        .with_summarizers(summarizers.clone());
                    let mut writer = store.writer();
                    let summary =
                        import_files(files, &ImportOptions::default(), &mut writer, |_| {})
                            .expect("import");
                    assert_eq!(summary.rejected, 0, "generated files all import");
                    // Dropped outside the timing: removing the store is not part of the import.
                    store_dir
                },
                BatchSize::PerIteration,
            );
        });
    }
    g.finish();
}

criterion_group! {
    name = ingest;
    // Short runs: the whole bench stays under ~2 minutes on two busy cores.
    config = Criterion::default().warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(6)).sample_size(20);
    targets = benches
}
criterion_main!(ingest);

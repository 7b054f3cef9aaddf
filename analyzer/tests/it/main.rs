//! Integration tests of the analyzer over a store built from the committed sample scenarios.

mod alarms;
mod hdr;
mod hop_rule;
mod hops;
mod service_map;
mod sql;
mod trace_detail;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hopscope_analyzer::Session;
use hopscope_collector::import::{ImportOptions, import_files, list_files};
use hopscope_collector::store::Store;
use hopscope_scenarios::{SCENARIOS, Scenario, load_scenario};

fn samples() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-traces"))
}

/// A new store holding what `inputs` import.
fn import_store(inputs: &[PathBuf]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path()).unwrap();
    let files = list_files(inputs).unwrap();
    let mut writer = store.writer();
    let summary = import_files(&files, &ImportOptions::default(), &mut writer, |_| {}).unwrap();
    assert_eq!(
        summary.rejected, 0,
        "sample data must import cleanly: {:?}",
        summary.rejections
    );
    dir
}

/// A store holding all five sample scenarios, built once per test binary.
pub fn sample_store() -> &'static Path {
    static STORE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STORE.get_or_init(|| import_store(&[samples()])).path()
}

/// A store per sample scenario, built once per test binary; with its `scenario.toml`.
pub fn scenario_stores() -> &'static [(Scenario, tempfile::TempDir)] {
    static STORES: OnceLock<Vec<(Scenario, tempfile::TempDir)>> = OnceLock::new();
    STORES.get_or_init(|| {
        SCENARIOS
            .iter()
            .map(|name| {
                let dir = samples().join(name);
                let scenario = load_scenario(&dir.join("scenario.toml")).unwrap();
                (scenario, import_store(&[dir]))
            })
            .collect()
    })
}

pub async fn session() -> Session {
    Session::open(sample_store()).await.unwrap()
}

/// A query's result as CSV text, for snapshots.
pub async fn csv(session: &Session, sql: &str) -> String {
    let batches = session.collect(sql).await.unwrap();
    let mut out = Vec::new();
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out);
        for b in &batches {
            w.write(b).unwrap();
        }
    }
    String::from_utf8(out).unwrap()
}

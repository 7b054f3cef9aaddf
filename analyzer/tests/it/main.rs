//! Integration tests of the analyzer over a store built from the committed sample scenarios.

mod hdr;
mod hops;
mod sql;
mod trace_detail;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hopscope_analyzer::Session;
use hopscope_collector::import::{ImportOptions, import_files, list_files};
use hopscope_collector::store::Store;

/// A store holding all five sample scenarios, built once per test binary.
pub fn sample_store() -> &'static Path {
    static STORE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_or_create(dir.path()).unwrap();
            let samples = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-traces"));
            let files = list_files(&[samples]).unwrap();
            let mut writer = store.writer();
            let summary =
                import_files(&files, &ImportOptions::default(), &mut writer, |_| {}).unwrap();
            assert_eq!(
                summary.rejected, 0,
                "sample data must import cleanly: {:?}",
                summary.rejections
            );
            dir
        })
        .path()
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

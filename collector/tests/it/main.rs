//! Integration tests of the collector: one binary, one module per area.

mod collect;
mod corpus;
mod functions;
mod glue;
mod publish;
mod store;
mod worlds;

use std::path::PathBuf;

/// The shared conformance corpus: `HOPSCOPE_CORPUS`, else `../shared/corpus` beside the clone.
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("HOPSCOPE_CORPUS").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus")),
        PathBuf::from,
    );
    assert!(
        dir.join("MANIFEST.md").is_file(),
        "conformance corpus not found at {}: clone next to shared/ or set HOPSCOPE_CORPUS",
        dir.display()
    );
    dir
}

pub use hopscope_test_support::samples_dir;

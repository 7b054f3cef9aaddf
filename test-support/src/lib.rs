//! Fixtures shared by the workspace's integration tests and benches: stores imported from the
//! committed sample scenarios (`sample-traces/`), and the AWS test peer (`tests/aws_peer/`).

pub mod aws_peer;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hopscope_collector::import::{ImportOptions, import_files, list_files};
use hopscope_scenarios::{SCENARIOS, Scenario, load_scenario};
use hopscope_store::{Store, Summarizers};

/// The committed sample scenarios, one directory each.
pub fn samples_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-traces"))
}

/// A new store holding what `inputs` import; it lives as long as the returned directory.
///
/// Panics if anything is rejected: the sample data must import cleanly, or the tests built on
/// it would pass on less data than they claim.
pub fn import_store(inputs: &[PathBuf]) -> tempfile::TempDir {
    import_store_with(inputs, Summarizers::default())
}

/// [`import_store`] whose writer also writes the rollups of `summarizers` (the analyzer's, as
/// `hopscope import` installs them).
pub fn import_store_with(inputs: &[PathBuf], summarizers: Summarizers) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path())
        .unwrap()
        .with_summarizers(summarizers);
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

/// A store holding all the sample scenarios, built once per process: tests only read it.
pub fn sample_store() -> &'static Path {
    static STORE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STORE.get_or_init(|| import_store(&[samples_dir()])).path()
}

/// A store per sample scenario with its `scenario.toml`, built once per process.
pub fn scenario_stores() -> &'static [(Scenario, tempfile::TempDir)] {
    static STORES: OnceLock<Vec<(Scenario, tempfile::TempDir)>> = OnceLock::new();
    STORES.get_or_init(|| {
        SCENARIOS
            .iter()
            .map(|name| {
                let dir = samples_dir().join(name);
                let scenario = load_scenario(&dir.join("scenario.toml")).unwrap();
                (scenario, import_store(&[dir]))
            })
            .collect()
    })
}

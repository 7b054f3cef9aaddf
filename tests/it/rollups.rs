//! Per-minute rollups as users meet them: `import` writes them, a killed import leaves the map
//! exact (data files whose summary it did not write are read whole, with a notice), and
//! `store rebuild-rollups` writes what is missing.

use super::{hopscope, samples, stderr, stdout};

/// `map` over a store as printed (the table rounds what float sums could differ in).
fn map_table(store: &std::path::Path) -> (String, String) {
    let out = hopscope(store, &["map"]);
    assert!(out.status.success(), "{}", stderr(&out));
    (stdout(&out), stderr(&out))
}

#[cfg(unix)]
#[test]
fn a_killed_import_keeps_the_map_exact_and_rebuild_rollups_completes_it() {
    let (_input, generated) = super::generated("dragons", 6000);

    let complete = tempfile::tempdir().unwrap();
    let out = hopscope(complete.path(), &["import", generated.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (want, notice) = map_table(complete.path());
    assert!(
        notice.is_empty(),
        "an import writes every summary: {notice}"
    );

    let store = tempfile::tempdir().unwrap();
    let mut child = super::command(store.path(), &["import", generated.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let spans = store.path().join("spans");
    let some_spans = || {
        std::fs::read_dir(&spans).is_ok_and(|hours| {
            hours.flatten().any(|h| {
                std::fs::read_dir(h.path()).is_ok_and(|mut files| {
                    files.any(|f| {
                        f.is_ok_and(|f| f.file_name().to_string_lossy().ends_with(".parquet"))
                    })
                })
            })
        })
    };
    super::kill_once(&mut child, some_spans);

    let rerun = hopscope(store.path(), &["import", generated.to_str().unwrap()]);
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    let (after_rerun, _) = map_table(store.path());
    assert_eq!(
        after_rerun, want,
        "the map after a killed import and a rerun"
    );

    let rebuilt = hopscope(store.path(), &["store", "rebuild-rollups"]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    assert!(
        stdout(&rebuilt).starts_with("service_edges_1m: "),
        "{}",
        stdout(&rebuilt)
    );
    let (after_rebuild, notice) = map_table(store.path());
    assert_eq!(after_rebuild, want);
    assert!(
        notice.is_empty(),
        "every data file has its summary now: {notice}"
    );
}

#[test]
fn a_store_written_before_rollups_is_read_whole_with_a_notice_until_rebuilt() {
    let store = tempfile::tempdir().unwrap();
    let out = hopscope(
        store.path(),
        &["import", samples().join("users").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (want, notice) = map_table(store.path());
    assert!(notice.is_empty(), "{notice}");
    // As a store from before rollups: no summary at all.
    std::fs::remove_dir_all(store.path().join("service_edges_1m")).unwrap();
    let (map, notice) = map_table(store.path());
    assert_eq!(map, want);
    assert!(
        notice.contains("no per-minute rollup")
            && notice.contains("hopscope store rebuild-rollups"),
        "{notice}"
    );
    let rebuilt = stdout(&hopscope(store.path(), &["store", "rebuild-rollups"]));
    let written: usize = rebuilt
        .trim()
        .strip_prefix("service_edges_1m: ")
        .and_then(|r| r.strip_suffix(" summaries written"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{rebuilt}"));
    assert!(written > 0, "{rebuilt}");
    let (map, notice) = map_table(store.path());
    assert_eq!(map, want);
    assert!(notice.is_empty(), "{notice}");
    let missing = hopscope(
        tempfile::tempdir().unwrap().path(),
        &["store", "rebuild-rollups"],
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no hopscope store"),
        "{}",
        stderr(&missing)
    );
}

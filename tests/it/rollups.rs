//! Per-minute rollups as users meet them: `import` writes them, a killed import leaves `map`
//! and `hops` exact (data files whose summary it did not write are read whole, with a notice),
//! and `store rebuild-rollups` writes what is missing.

use super::{hopscope, samples, stderr, stdout};

/// `map` and `hops` over a store as printed (the tables round what float sums could differ
/// in), and what they said on stderr.
fn printed_reports(store: &std::path::Path) -> (String, String) {
    let (mut tables, mut notices) = (String::new(), String::new());
    for command in ["map", "hops"] {
        let out = hopscope(store, &[command]);
        assert!(out.status.success(), "{}", stderr(&out));
        tables.push_str(&stdout(&out));
        notices.push_str(&stderr(&out));
    }
    (tables, notices)
}

/// Minute summaries, hour summaries and hours of merged minutes written per rollup table, as
/// `store rebuild-rollups` printed them.
fn rebuilt_counts(printed: &str) -> Vec<(String, usize, usize, usize)> {
    printed
        .lines()
        .map(|line| {
            line.split_once(": ")
                .and_then(|(table, rest)| {
                    let (minutes, rest) = rest.split_once(" minute summaries, ")?;
                    let (hours, merged) = rest
                        .strip_suffix(" hours of merged minutes written")?
                        .split_once(" hour summaries, ")?;
                    Some((
                        table.to_string(),
                        minutes.parse().ok()?,
                        hours.parse().ok()?,
                        merged.parse().ok()?,
                    ))
                })
                .unwrap_or_else(|| panic!("{printed}"))
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn a_killed_import_keeps_the_map_exact_and_rebuild_rollups_completes_it() {
    let (_input, generated) = super::generated("dragons", 6000);

    let complete = tempfile::tempdir().unwrap();
    let out = hopscope(complete.path(), &["import", generated.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (want, notice) = printed_reports(complete.path());
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
    let (after_rerun, _) = printed_reports(store.path());
    assert_eq!(
        after_rerun, want,
        "the map after a killed import and a rerun"
    );

    let rebuilt = hopscope(store.path(), &["store", "rebuild-rollups"]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    let tables: Vec<String> = rebuilt_counts(&stdout(&rebuilt))
        .into_iter()
        .map(|(t, ..)| t)
        .collect();
    assert_eq!(
        tables,
        ["service_edges_1m", "hops_1m", "lambda_invocations_1m"]
    );
    let (after_rebuild, notice) = printed_reports(store.path());
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
    let (want, notice) = printed_reports(store.path());
    assert!(notice.is_empty(), "{notice}");
    // As a store from before rollups: no summary at all, by minute or by hour.
    for rollup in [
        "service_edges_1m",
        "hops_1m",
        "lambda_invocations_1m",
        "_hours",
    ] {
        std::fs::remove_dir_all(store.path().join(rollup)).unwrap();
    }
    // An hour of one data file has no merged minutes.
    assert!(!store.path().join("_minutes").exists());
    let (map, notice) = printed_reports(store.path());
    assert_eq!(map, want);
    assert_eq!(
        notice.matches("no per-minute rollup").count(),
        2,
        "map and hops say so: {notice}"
    );
    assert!(
        notice.contains("hopscope store rebuild-rollups"),
        "{notice}"
    );
    let rebuilt = rebuilt_counts(&stdout(&hopscope(
        store.path(),
        &["store", "rebuild-rollups"],
    )));
    assert_eq!(rebuilt.len(), 3, "{rebuilt:?}");
    // The samples' two hours have ended: each gets its hour summary back (and, holding one
    // data file, no merged minutes).
    assert!(
        rebuilt
            .iter()
            .all(|(_, minutes, hours, merged)| *minutes > 0 && *hours == 2 && *merged == 0),
        "{rebuilt:?}"
    );
    let (map, notice) = printed_reports(store.path());
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

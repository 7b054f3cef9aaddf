//! The store: atomic files, dedupe on natural keys, version checks.

use std::path::Path;

use arrow::array::RecordBatch;
use hopscope_collector::Error;
use hopscope_collector::import::{ImportOptions, import_files, list_files};
use hopscope_store::{Store, data_files, remove_leftovers};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn import(
    store: &Store,
    inputs: &[&Path],
) -> std::collections::BTreeMap<&'static str, (usize, usize)> {
    let files = list_files(&inputs.iter().map(|p| p.to_path_buf()).collect::<Vec<_>>()).unwrap();
    let mut writer = store.writer();
    import_files(&files, &ImportOptions::default(), &mut writer, |_| {}).unwrap();
    writer
        .stats()
        .iter()
        .map(|(t, s)| (*t, (s.rows, s.duplicates)))
        .collect()
}

/// Rows in every finished file of a table, read back from disk.
fn stored_rows(root: &Path, table: &str) -> usize {
    let mut rows = 0;
    for hour in std::fs::read_dir(root.join(table))
        .into_iter()
        .flatten()
        .flatten()
    {
        for file in data_files(&hour.path()).unwrap() {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            rows += reader
                .map(|b: Result<RecordBatch, _>| b.unwrap().num_rows())
                .sum::<usize>();
        }
    }
    rows
}

#[test]
fn importing_twice_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path()).unwrap();
    let traces = crate::samples_dir().join("users/traces");
    let first = import(&store, &[&traces]);
    let (spans, dups) = first["spans"];
    assert!(
        spans > 1000,
        "the users scenario has thousands of spans, got {spans}"
    );
    assert_eq!(dups, 0);
    assert_eq!(stored_rows(dir.path(), "spans"), spans);

    let second = import(&store, &[&traces]);
    assert_eq!(
        second["spans"],
        (0, spans),
        "a second import must only find duplicates"
    );
    assert_eq!(stored_rows(dir.path(), "spans"), spans);
}

#[test]
fn partitions_are_hive_style_hours() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path()).unwrap();
    import(
        &store,
        &[&crate::samples_dir().join("users/traces/batch-0001.json")],
    );
    let mut hours: Vec<String> = std::fs::read_dir(dir.path().join("spans"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    hours.sort();
    assert!(!hours.is_empty());
    for h in &hours {
        assert!(
            h.starts_with("hour=2026-11-20T"),
            "unexpected partition {h}"
        );
    }
}

#[test]
fn leftover_temp_files_are_never_read_and_are_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path()).unwrap();
    import(
        &store,
        &[&crate::samples_dir().join("users/traces/batch-0001.json")],
    );
    let before = stored_rows(dir.path(), "spans");
    // What a run killed mid-write leaves: a partial file under a temporary name.
    let hour = std::fs::read_dir(dir.path().join("spans"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(
        hour.join(".tmp-deadbeef.parquet.partial"),
        b"PAR1 truncated",
    )
    .unwrap();
    assert_eq!(stored_rows(dir.path(), "spans"), before);
    // A rerun still completes: nothing new, nothing doubled.
    let again = import(
        &store,
        &[&crate::samples_dir().join("users/traces/batch-0001.json")],
    );
    assert_eq!(again["spans"].0, 0);
    assert_eq!(remove_leftovers(&store).unwrap(), 1);
}

#[test]
fn a_newer_store_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hopscope-store.json"),
        br#"{"schema_version": 99}"#,
    )
    .unwrap();
    let err = Store::open_or_create(dir.path()).unwrap_err();
    assert!(
        matches!(err, hopscope_store::Error::NewerStore { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade hopscope"), "{err}");
}

#[test]
fn a_directory_with_other_files_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    let err = Store::open_or_create(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not a hopscope store"), "{err}");
}

/// A large NDJSON file is read in chunks: every line lands once, and a rejection still names its
/// line in the whole file.
#[test]
fn large_ndjson_is_streamed_with_file_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("segments.ndjson");
    let mut text = String::new();
    for i in 0..500 {
        if i == 321 {
            text.push_str("{\"trace_id\":\"1-6740a000-0123456789abcdef01234567\",\"id\":\"bad\",\"name\":\"x\"}\n");
            continue;
        }
        text.push_str(&format!(
            "{{\"trace_id\":\"1-6740a000-0123456789abcdef01234567\",\"id\":\"{i:016x}\",\"name\":\"svc\",\"start_time\":1732288000.{i:03},\"end_time\":1732288001.5}}\n"
        ));
    }
    std::fs::write(&input, &text).unwrap();
    let store = Store::open_or_create(&dir.path().join("store")).unwrap();
    let mut writer = store.writer();
    let opts = ImportOptions {
        stream_threshold: 1,
        chunk_bytes: 1000,
        ..Default::default()
    };
    let summary = import_files(&[input], &opts, &mut writer, |_| {}).unwrap();
    assert_eq!(writer.stats()["spans"].rows, 499);
    assert_eq!(summary.rejected, 1);
    assert_eq!(summary.rejections[0].record, "line 322");
}

/// Small batches keep the writer thread's channel full: every span still lands exactly once,
/// and importing again adds nothing.
#[test]
fn many_small_batches_all_land_and_reimport_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path()).unwrap();
    let files = list_files(&[crate::samples_dir().join("users/traces")]).unwrap();
    let opts = ImportOptions {
        batch_rows: 7,
        ..Default::default()
    };
    let mut writer = store.writer();
    let summary = import_files(&files, &opts, &mut writer, |_| {}).unwrap();
    let spans = writer.stats()["spans"].rows;
    assert!(writer.stats()["spans"].files > 100, "{:?}", writer.stats());
    assert_eq!(spans, summary.records - summary.rejected);
    assert_eq!(stored_rows(dir.path(), "spans"), spans);

    let mut again = store.writer();
    import_files(&files, &opts, &mut again, |_| {}).unwrap();
    assert_eq!(again.stats()["spans"].rows, 0);
    assert_eq!(again.stats()["spans"].duplicates, spans);
    assert_eq!(stored_rows(dir.path(), "spans"), spans);
}

/// A failure on the writer thread stops the import with that error, naming the path.
#[test]
fn a_store_write_error_stops_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path()).unwrap();
    // A file where the table's directory belongs: no partition can be created under it.
    std::fs::write(dir.path().join("spans"), "in the way").unwrap();
    let files = list_files(&[crate::samples_dir().join("users/traces")]).unwrap();
    let opts = ImportOptions {
        batch_rows: 50,
        ..Default::default()
    };
    let err = import_files(&files, &opts, &mut store.writer(), |_| {}).unwrap_err();
    // The writer's own error (reading the partition it dedupes against), not a stand-in.
    assert!(
        matches!(err, Error::Store(hopscope_store::Error::Read { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("spans/hour="), "{err}");
}

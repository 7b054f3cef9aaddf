//! Lambda function configurations from files: the dragons sample's ListVersionsByFunction
//! answers land in `lambda_functions` with the deploy storm's versions, once.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimestampMicrosecondType};
use hopscope_collector::import::{Format, ImportOptions, import_files, list_files};
use hopscope_schema::lambda_functions::{TABLE, col};
use hopscope_store::Store;
use serde_json::Value;

/// A text column of `batch` at row `i` (dictionary columns cast to strings).
fn text(batch: &RecordBatch, name: &str, i: usize) -> Option<String> {
    let column =
        arrow::compute::cast(batch.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
    let column = column.as_string::<i32>();
    column.is_valid(i).then(|| column.value(i).to_string())
}

#[test]
fn the_dragons_sample_imports_every_list_dragons_version_at_its_deploy_time_once() {
    let scenario = crate::samples_dir().join("dragons");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_or_create(dir.path()).unwrap();
    let files = list_files(&[scenario.join("functions")]).unwrap();
    let mut sink: Vec<(&'static str, RecordBatch)> = Vec::new();
    let summary = import_files(&files, &ImportOptions::default(), &mut sink, |_| {}).unwrap();
    assert_eq!(summary.rejected, 0, "{:?}", summary.rejections);
    assert_eq!(
        summary.formats,
        [(Format::FunctionConfigurations, files.len())]
    );

    // version -> (last_modified, account, region) of listDragons.
    let mut list_dragons = BTreeMap::new();
    let mut rows = 0;
    for (table, batch) in &sink {
        assert_eq!(*table, TABLE);
        rows += batch.num_rows();
        let modified = batch
            .column_by_name(col::LAST_MODIFIED)
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        for i in 0..batch.num_rows() {
            if text(batch, col::FUNCTION, i).as_deref() != Some("listDragons") {
                continue;
            }
            assert_eq!(text(batch, col::ALIASES, i).as_deref(), Some(""));
            list_dragons.insert(
                text(batch, col::VERSION, i).unwrap(),
                (
                    modified.value(i),
                    text(batch, col::ACCOUNT_ID, i).unwrap(),
                    text(batch, col::REGION, i).unwrap(),
                ),
            );
        }
    }

    // What the file says, read independently of the importer.
    let answer: Value = serde_json::from_slice(
        &std::fs::read(scenario.join("functions/listDragons.json")).unwrap(),
    )
    .unwrap();
    let expected: BTreeMap<String, i64> = answer["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let at = chrono::DateTime::parse_from_str(
                v["LastModified"].as_str().unwrap(),
                "%Y-%m-%dT%H:%M:%S%.3f%z",
            )
            .unwrap();
            (
                v["Version"].as_str().unwrap().to_string(),
                at.timestamp_micros(),
            )
        })
        .collect();
    let got: BTreeMap<String, i64> = list_dragons
        .iter()
        .map(|(v, (at, _, _))| (v.clone(), *at))
        .collect();
    assert_eq!(got, expected);
    assert!(
        list_dragons
            .values()
            .all(|(_, account, region)| account == "123456789012" && region == "us-east-1")
    );

    // Versions 7..=N, consecutive; 8 on is the deploy storm, published inside the incident.
    let mut published: Vec<u32> = got
        .keys()
        .filter(|v| *v != "$LATEST")
        .map(|v| v.parse().unwrap())
        .collect();
    published.sort_unstable();
    assert_eq!(published[0], 7);
    assert!(published.len() > 5, "{published:?}");
    assert!(
        published.windows(2).all(|w| w[1] == w[0] + 1),
        "{published:?}"
    );
    let incident = hopscope_scenarios::load_scenario(&scenario.join("scenario.toml"))
        .unwrap()
        .incident;
    for version in &published[1..] {
        let at = got[&version.to_string()];
        assert!(
            (incident.start.timestamp_micros()..incident.end.timestamp_micros()).contains(&at),
            "version {version} at {at}"
        );
    }
    assert!(got["7"] < incident.start.timestamp_micros());
    assert_eq!(got["$LATEST"], got[&published.last().unwrap().to_string()]);

    // Into the store twice: the second import finds only duplicates.
    let import = || {
        let mut writer = store.writer();
        import_files(&files, &ImportOptions::default(), &mut writer, |_| {}).unwrap();
        let stats = &writer.stats()[TABLE];
        (stats.rows, stats.duplicates)
    };
    assert_eq!(import(), (rows, 0));
    assert_eq!(import(), (0, rows));
}

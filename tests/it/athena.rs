//! `hopscope athena-ddl`: the DDL of the whole store, `--apply` against the AWS test peer's Glue
//! (moto), and DuckDB reading a local store with the types the DDL declares.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hopscope_schema::athena::{self, PARTITION_COLUMN, S3Location};
use hopscope_schema::stored_tables;
use hopscope_test_support::aws_peer;
use serde_json::Value;

use super::{hopscope, scenario_store, stderr, stdout};

/// A store on S3: `athena-ddl` only names it in the DDL, it never reads it.
fn nowhere() -> PathBuf {
    PathBuf::from("s3://team-bucket/hopscope/prod")
}

#[test]
fn ddl_of_the_whole_store() {
    let out = hopscope(&nowhere(), &["athena-ddl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn ddl_names_another_database() {
    let out = hopscope(&nowhere(), &["athena-ddl", "--database", "obs_prod"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("CREATE DATABASE IF NOT EXISTS `obs_prod`;"),
        "{text}"
    );
    assert_eq!(
        text.matches("CREATE EXTERNAL TABLE IF NOT EXISTS `obs_prod`.")
            .count(),
        stored_tables().len()
    );

    let out = hopscope(&nowhere(), &["athena-ddl", "--database", "Obs-Prod"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--database"), "{}", stderr(&out));
}

#[test]
fn a_store_that_is_not_on_s3_is_refused_with_how_to_name_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = hopscope(dir.path(), &["athena-ddl"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("Athena reads tables from S3 only"), "{err}");
    assert!(err.contains("--store s3://BUCKET/PREFIX"), "{err}");
    assert!(stdout(&out).is_empty());

    let out = hopscope(Path::new("s3://Team_Bucket/x"), &["athena-ddl"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bucket name"), "{}", stderr(&out));
}

/// `--apply` as a user runs it, against the peer: a table denied once is reported with its fix
/// while the others are applied and the exit code fails; the rerun creates it and updates the
/// rest. (The catalog's content is checked in the collector's tests, through the SDK.)
#[test]
fn apply_reports_each_table_and_a_rerun_updates() {
    let region = "ap-southeast-7";
    let endpoint = aws_peer::endpoint();
    // Of this run: a rerun against the same peer starts from a missing database too.
    let database = format!("hopscope_cli_{}", std::process::id());
    let apply = || {
        hopscope(
            &nowhere(),
            &[
                "athena-ddl",
                "--apply",
                "--database",
                &database,
                "--region",
                region,
                "--endpoint-url",
                &endpoint,
            ],
        )
    };
    let first_table = stored_tables()[0].name;
    aws_peer::control(
        "POST",
        "/_peer/faults",
        &format!(r#"{{"region": "{region}", "operation": "CreateTable", "denied": 1}}"#),
    );

    let out = apply();
    assert!(!out.status.success(), "one table was denied");
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(
        text.contains(&format!("Database {database}: created.")),
        "{text}"
    );
    assert!(
        err.contains(&format!("table {database}.{first_table}:"))
            && err.contains("allow glue:CreateTable"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "1 of {} tables not applied ({first_table})",
            stored_tables().len()
        )),
        "{err}"
    );
    for table in stored_tables().iter().skip(1) {
        assert!(
            text.contains(&format!("Table {database}.{}: created.", table.name)),
            "{text}"
        );
    }

    let out = apply();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("Database {database}: exists.")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Table {database}.{first_table}: created.")),
        "{text}"
    );
    for table in stored_tables().iter().skip(1) {
        assert!(
            text.contains(&format!("Table {database}.{}: updated.", table.name)),
            "{text}"
        );
    }
}

/// The Python interpreter with DuckDB that scripts/test installs: `HOPSCOPE_TEST_PYTHON`, else the
/// clone's `.venv`.
fn python() -> PathBuf {
    let python = std::env::var_os("HOPSCOPE_TEST_PYTHON").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python")),
        PathBuf::from,
    );
    assert!(
        python.exists(),
        "no Python at {} (HOPSCOPE_TEST_PYTHON): run the tests with scripts/test, which installs \
         DuckDB into .venv",
        python.display()
    );
    python
}

/// For each table given as `name=time_column`: DuckDB's type of every column, its row count and
/// the smallest event time in epoch microseconds, as JSON.
const DUCKDB_READ: &str = r#"
import json, sys
import duckdb

store, tables = sys.argv[1], sys.argv[2:]
con = duckdb.connect()
out = {}
for spec in tables:
    table, time = spec.split("=")
    scan = (f"read_parquet('{store}/{table}/*/*.parquet', hive_partitioning = true, "
            "hive_types_autocast = false)")
    types = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
    count, first = con.execute(f'SELECT count(*), epoch_us(min("{time}")) FROM {scan}').fetchone()
    out[table] = {"types": types, "count": count, "first": first}
print(json.dumps(out))
"#;

/// The DuckDB types of the store's files that a column declared with a Glue type may have: the
/// Parquet types Athena reads as that type without loss (unsigned 16-bit integers as `int`,
/// unsigned 32-bit as `bigint`, timestamps adjusted to UTC as `timestamp`). Only those the
/// store writes: another is a change to look at.
fn duckdb_types_for(glue: &str) -> &'static [&'static str] {
    match glue {
        "string" => &["VARCHAR"],
        "boolean" => &["BOOLEAN"],
        "int" => &["INTEGER", "USMALLINT"],
        "bigint" => &["BIGINT", "UINTEGER"],
        "decimal(20,0)" => &["UBIGINT"],
        "double" => &["DOUBLE"],
        "timestamp" => &["TIMESTAMP WITH TIME ZONE"],
        "map<string,string>" => &["MAP(VARCHAR, VARCHAR)"],
        "binary" => &["BLOB"],
        "array<struct<trace_id:string,critical_ms:double>>" => {
            &["STRUCT(trace_id VARCHAR, critical_ms DOUBLE)[]"]
        }
        other => panic!("no DuckDB type known for Glue type {other}: add it to this test"),
    }
}

#[test]
fn duckdb_reads_a_local_store_with_the_declared_types() {
    let (_dir, store) = scenario_store("dragons");
    let declared = athena::athena_tables(&S3Location::parse("s3://bucket").unwrap()).unwrap();
    let tables = stored_tables();
    let present: Vec<_> = tables
        .iter()
        .filter(|t| store.join(t.name).is_dir())
        .collect();
    // The sample's import fills every table but trace_coverage, which only `collect` writes.
    let names: Vec<_> = present.iter().map(|t| t.name).collect();
    let all_but_coverage: Vec<_> = tables
        .iter()
        .map(|t| t.name)
        .filter(|n| *n != hopscope_schema::trace_coverage::TABLE)
        .collect();
    assert_eq!(names, all_but_coverage);

    let out = Command::new(python())
        .arg("-c")
        .arg(DUCKDB_READ)
        .arg(&store)
        .args(present.iter().map(|t| format!("{}={}", t.name, t.time)))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "DuckDB could not read the store: {}",
        stderr(&out)
    );
    let duckdb: Value = serde_json::from_slice(&out.stdout).unwrap();

    let counts = present
        .iter()
        .map(|t| {
            format!(
                "SELECT '{0}' AS t, count(*) AS n, CAST(min({1}) AS BIGINT) AS first FROM {0}",
                t.name, t.time
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let out = hopscope(&store, &["sql", "--format", "json", &counts]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    let datafusion: BTreeMap<_, _> = rows
        .iter()
        .map(|r| {
            (
                r["t"].as_str().unwrap().to_string(),
                (r["n"].clone(), r["first"].clone()),
            )
        })
        .collect();

    for table in &present {
        let got = &duckdb[table.name];
        let athena = declared.iter().find(|a| a.name == table.name).unwrap();
        let types = got["types"].as_object().unwrap();
        for column in &athena.columns {
            let kind = types[&column.name]
                .as_str()
                .unwrap_or_else(|| panic!("DuckDB has no column {}.{}", table.name, column.name));
            assert!(
                duckdb_types_for(&column.glue_type).contains(&kind),
                "{}.{}: declared {}, DuckDB reads {kind}",
                table.name,
                column.name,
                column.glue_type
            );
        }
        assert_eq!(types[PARTITION_COLUMN], "VARCHAR", "{}", table.name);
        assert_eq!(
            types.len(),
            athena.columns.len() + 1,
            "{}: DuckDB sees other columns than declared: {types:?}",
            table.name
        );
        let (n, first) = &datafusion[table.name];
        assert!(n.as_u64().unwrap() > 0, "{}", table.name);
        assert_eq!(&got["count"], n, "{}: row count", table.name);
        assert_eq!(&got["first"], first, "{}: first event time", table.name);
    }
}

//! `athena-ddl --apply`'s Glue side against the AWS test peer (moto's Glue, through the real
//! SDK client): applied twice, the catalog holds each table once, as the schema crate declares it.

use std::collections::BTreeMap;

use hopscope_collector::aws::{self, AwsOptions};
use hopscope_collector::glue::{Applied, apply};
use hopscope_schema::athena::{self, HOUR_FORMAT, PROJECTION_START, S3Location};
use hopscope_schema::stored_tables;
use hopscope_test_support::aws_peer;

/// A Region no other test of this binary uses.
const REGION: &str = "ap-southeast-5";

async fn glue() -> aws_sdk_glue::Client {
    aws::glue(&AwsOptions {
        region: Some(REGION.into()),
        endpoint_url: Some(aws_peer::endpoint()),
        credentials: Some(aws_sdk_xray::config::Credentials::new(
            "testing", "testing", None, None, "test",
        )),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn apply_twice_creates_then_updates_each_table_once() {
    let client = glue().await;
    let location = S3Location::parse("s3://team-bucket/hopscope/prod").unwrap();
    let tables = athena::athena_tables(&location).unwrap();
    // Of this run: a rerun against the same peer starts from a missing database too.
    let database = &format!("hopscope_glue_{}", std::process::id());

    let first = apply(&client, database, &tables).await.unwrap();
    assert!(first.database_created);
    let second = apply(&client, database, &tables).await.unwrap();
    assert!(!second.database_created);
    for (report, expected) in [(first, Applied::Created), (second, Applied::Updated)] {
        let done: Vec<_> = report
            .tables
            .iter()
            .map(|(name, outcome)| (*name, *outcome.as_ref().unwrap()))
            .collect();
        let want: Vec<_> = stored_tables().iter().map(|t| (t.name, expected)).collect();
        assert_eq!(done, want);
    }

    let listed = client
        .get_tables()
        .database_name(database)
        .send()
        .await
        .unwrap();
    let mut names: Vec<_> = listed
        .table_list()
        .iter()
        .map(aws_sdk_glue::types::Table::name)
        .collect();
    names.sort_unstable();
    let mut want: Vec<_> = stored_tables().iter().map(|t| t.name).collect();
    want.sort_unstable();
    assert_eq!(names, want, "one table per stored table, nothing twice");

    for table in &tables {
        let got = client
            .get_table()
            .database_name(database)
            .name(table.name)
            .send()
            .await
            .unwrap();
        let got = got.table().unwrap();
        assert_eq!(got.table_type(), Some("EXTERNAL_TABLE"));
        let sd = got.storage_descriptor().unwrap();
        let columns: Vec<_> = sd
            .columns()
            .iter()
            .map(|c| (c.name(), c.r#type().unwrap_or_default()))
            .collect();
        let declared: Vec<_> = table
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.glue_type.as_str()))
            .collect();
        assert_eq!(columns, declared, "{}", table.name);
        assert_eq!(
            sd.location(),
            Some(format!("s3://team-bucket/hopscope/prod/{}/", table.name).as_str())
        );
        assert_eq!(
            sd.serde_info().and_then(|s| s.serialization_library()),
            Some(athena::PARQUET_SERDE)
        );
        let keys: Vec<_> = got
            .partition_keys()
            .iter()
            .map(|c| (c.name(), c.r#type().unwrap_or_default()))
            .collect();
        assert_eq!(keys, [("hour", "string")], "{}", table.name);

        let parameters: BTreeMap<_, _> = got
            .parameters()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let template = format!(
            "s3://team-bucket/hopscope/prod/{}/hour=${{hour}}/",
            table.name
        );
        let range = format!("{PROJECTION_START},NOW");
        for (key, value) in [
            ("projection.enabled", "true"),
            ("projection.hour.type", "date"),
            ("projection.hour.format", HOUR_FORMAT),
            ("projection.hour.range", &range),
            ("projection.hour.interval", "1"),
            ("projection.hour.interval.unit", "HOURS"),
            ("storage.location.template", &template),
            ("classification", "parquet"),
            ("EXTERNAL", "TRUE"),
        ] {
            assert_eq!(
                parameters.get(key).copied(),
                Some(value),
                "{}: {key}",
                table.name
            );
        }
    }
}

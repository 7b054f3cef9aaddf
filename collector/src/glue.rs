//! `hopscope athena-ddl --apply`: the store's tables in the Glue Data Catalog, exactly as
//! [`hopscope_schema::athena`] declares them for the printed DDL.
//!
//! Each table is created, or updated when it exists, so a rerun after a schema change brings the
//! catalog up to date (the printed `CREATE EXTERNAL TABLE IF NOT EXISTS` would leave an old table
//! as it is). A table that fails does not stop the others.

use std::collections::HashMap;

use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_glue::types::{Column, DatabaseInput, SerDeInfo, StorageDescriptor, TableInput};
use hopscope_schema::athena::{
    AthenaTable, PARQUET_INPUT_FORMAT, PARQUET_OUTPUT_FORMAT, PARQUET_SERDE, PARTITION_COLUMN,
};

use crate::error::{Error, Result};

/// What `apply` did to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
}

/// What `apply` did, database and table by table.
#[derive(Debug)]
pub struct ApplyReport {
    /// Whether the database was created (else it existed).
    pub database_created: bool,
    /// Every table in the order given, with what was done or why it failed.
    pub tables: Vec<(&'static str, Result<Applied>)>,
}

/// Creates `database` when missing, then creates or updates every table in it. Fails as a whole
/// only when the database can be neither found nor created.
pub async fn apply(
    client: &aws_sdk_glue::Client,
    database: &str,
    tables: &[AthenaTable],
) -> Result<ApplyReport> {
    let database_created = match client.get_database().name(database).send().await {
        Ok(_) => false,
        Err(e) if e.code() == Some("EntityNotFoundException") => {
            match client
                .create_database()
                .database_input(
                    DatabaseInput::builder()
                        .name(database)
                        .description("hopscope's store (hopscope athena-ddl --apply)")
                        .build()
                        .expect("the name is set"),
                )
                .send()
                .await
            {
                Ok(_) => true,
                // Created by another client since we looked.
                Err(e) if e.code() == Some("AlreadyExistsException") => false,
                Err(e) => return Err(failure("CreateDatabase", database, database, &e)),
            }
        }
        Err(e) => return Err(failure("GetDatabase", database, database, &e)),
    };
    let mut done = Vec::with_capacity(tables.len());
    for table in tables {
        done.push((table.name, apply_table(client, database, table).await));
    }
    Ok(ApplyReport {
        database_created,
        tables: done,
    })
}

async fn apply_table(
    client: &aws_sdk_glue::Client,
    database: &str,
    table: &AthenaTable,
) -> Result<Applied> {
    let input = table_input(table);
    let target = format!("{database}.{}", table.name);
    match client
        .create_table()
        .database_name(database)
        .table_input(input.clone())
        .send()
        .await
    {
        Ok(_) => Ok(Applied::Created),
        Err(e) if e.code() == Some("AlreadyExistsException") => client
            .update_table()
            .database_name(database)
            .table_input(input)
            .send()
            .await
            .map(|_| Applied::Updated)
            .map_err(|e| failure("UpdateTable", &target, database, &e)),
        Err(e) => Err(failure("CreateTable", &target, database, &e)),
    }
}

/// The Glue form of the table the DDL declares: what `CREATE EXTERNAL TABLE ... STORED AS
/// PARQUET` makes Athena store in the catalog.
fn table_input(table: &AthenaTable) -> TableInput {
    let column = |name: &str, glue_type: &str| {
        Column::builder()
            .name(name)
            .r#type(glue_type)
            .build()
            .expect("the name is set")
    };
    let mut parameters: HashMap<String, String> = table.properties.iter().cloned().collect();
    parameters.insert("EXTERNAL".into(), "TRUE".into());
    TableInput::builder()
        .name(table.name)
        .description("hopscope store table (hopscope athena-ddl --apply)")
        .table_type("EXTERNAL_TABLE")
        .set_parameters(Some(parameters))
        .partition_keys(column(PARTITION_COLUMN, "string"))
        .storage_descriptor(
            StorageDescriptor::builder()
                .set_columns(Some(
                    table
                        .columns
                        .iter()
                        .map(|c| column(&c.name, &c.glue_type))
                        .collect(),
                ))
                .location(&table.location)
                .input_format(PARQUET_INPUT_FORMAT)
                .output_format(PARQUET_OUTPUT_FORMAT)
                .serde_info(
                    SerDeInfo::builder()
                        .serialization_library(PARQUET_SERDE)
                        .build(),
                )
                .build(),
        )
        .build()
        .expect("the name is set")
}

/// A failed Glue call as an error that says what to do about it.
fn failure<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    target: &str,
    database: &str,
    err: &SdkError<E>,
) -> Error {
    let code = err.code().unwrap_or_default();
    let fix = match code {
        "AccessDenied" | "AccessDeniedException" => format!(
            "allow glue:{operation} on the catalog, database/{database} and \
             table/{database}/* (--apply calls glue:GetDatabase, glue:CreateDatabase when the \
             database is missing, glue:CreateTable and glue:UpdateTable), then rerun \
             athena-ddl --apply"
        ),
        "EntityNotFoundException" => format!(
            "create the database first (CREATE DATABASE {database} in Athena, or rerun with an \
             identity allowed glue:CreateDatabase)"
        ),
        "ConcurrentModificationException" => {
            "another client changed it at the same moment: rerun athena-ddl --apply".into()
        }
        "ResourceNumberLimitExceededException" => {
            "the Data Catalog is at its quota: raise it in Service Quotas or remove unused \
             tables, then rerun athena-ddl --apply"
                .into()
        }
        _ if matches!(err, SdkError::ServiceError(_)) => {
            "run the statement athena-ddl prints for it in Athena, which reports what it refuses, \
             or rerun athena-ddl --apply"
                .into()
        }
        _ => "check the Region, credentials and endpoint (--region, --profile, \
              --endpoint-url), then rerun athena-ddl --apply"
            .into(),
    };
    let message = match err.message() {
        Some(m) if !code.is_empty() => format!("{code}: {m}"),
        _ => aws_sdk_glue::error::DisplayErrorContext(err).to_string(),
    };
    Error::Glue {
        operation,
        target: target.to_string(),
        message,
        fix,
    }
}

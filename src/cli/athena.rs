//! `hopscope athena-ddl`: the store on S3 as Athena tables, printed as DDL or applied to the Glue
//! Data Catalog.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use hopscope_collector::aws::AwsOptions;
use hopscope_collector::glue::{self, Applied};
use hopscope_schema::athena::{self, AthenaError, DEFAULT_DATABASE, S3Location};
use hopscope_schema::s3_location::S3UrlError;

use crate::cli::terminal::for_stderr;

#[derive(Debug, Args)]
pub struct AthenaDdlArgs {
    /// Glue database of the tables (lowercase letters, digits and `_`)
    #[arg(long, default_value = DEFAULT_DATABASE, value_name = "NAME")]
    pub database: String,

    /// Instead of printing the DDL, create the database if missing and create or update every
    /// table through the AWS Glue API (a table that fails does not stop the others; the exit
    /// code says whether any failed)
    #[arg(long)]
    pub apply: bool,

    /// With --apply: AWS profile of the shared config files [default: AWS_PROFILE, else
    /// `default`]
    #[arg(long, value_name = "NAME", requires = "apply", help_heading = "AWS")]
    pub profile: Option<String>,

    /// With --apply: AWS Region of the Glue Data Catalog [default: AWS_REGION, else the
    /// profile's region]
    #[arg(long, value_name = "REGION", requires = "apply", help_heading = "AWS")]
    pub region: Option<String>,

    /// With --apply: endpoint for Glue, e.g. a local emulator
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        value_name = "URL",
        help_heading = "AWS"
    )]
    pub endpoint_url: Option<String>,
}

pub async fn run(store: &Path, args: AthenaDdlArgs) -> anyhow::Result<ExitCode> {
    let location = S3Location::parse(&store.to_string_lossy()).map_err(|e| match e {
        S3UrlError::NotS3 { url } => AthenaError::NotS3 { url },
        other @ S3UrlError::Bad { .. } => AthenaError::from(other),
    })?;
    athena::check_database(&args.database)?;
    let tables = athena::athena_tables(&location)?;
    if !args.apply {
        print!("{}", athena::ddl(&args.database, &location)?);
        return Ok(ExitCode::SUCCESS);
    }
    let client = hopscope_collector::aws::glue(&AwsOptions {
        region: args.region,
        profile: args.profile,
        endpoint_url: args.endpoint_url,
        credentials: None,
    })
    .await;
    let database = &args.database;
    let report = glue::apply(&client, database, &tables)
        .await
        .with_context(|| format!("no table applied: database {database} is not available"))?;
    let database_done = if report.database_created {
        "created"
    } else {
        "exists"
    };
    println!("Database {database}: {database_done}.");
    let mut failed = Vec::new();
    for (table, outcome) in &report.tables {
        match outcome {
            Ok(Applied::Created) => println!("Table {database}.{table}: created."),
            Ok(Applied::Updated) => println!("Table {database}.{table}: updated."),
            Err(e) => {
                eprintln!(
                    "error: table {database}.{table}: {}",
                    for_stderr(&e.to_string())
                );
                failed.push(*table);
            }
        }
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::bail!(
        "{} of {} tables not applied ({}); the others were",
        failed.len(),
        report.tables.len(),
        failed.join(", ")
    )
}

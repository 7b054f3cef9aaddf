//! Lambda discovery: ListFunctions (every published version) and ListAliases per function, into
//! `lambda_functions`, and the log group each function writes to. Since Lambda's `LoggingConfig`
//! a function may log to any group, shared by several functions: the groups come from here, not
//! from the `/aws/lambda/<name>` rule.

use std::collections::BTreeMap;

use aws_sdk_lambda::types::{FunctionConfiguration, FunctionVersion};
use chrono::DateTime;
use hopscope_schema::lambda_functions::LambdaFunctionRow;

use super::api::{Api, Caller};
use crate::error::Result;
use crate::output::Output;

/// A function as the collector uses it: its name and where it logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub log_group: String,
}

/// Every function (its `$LATEST` log group), and every version's configuration as a row in
/// `out`, counted in `configurations_seen`.
pub async fn discover(
    client: &aws_sdk_lambda::Client,
    caller: &Caller,
    observed_at: i64,
    out: &mut Output<'_>,
    configurations_seen: &mut usize,
) -> Result<Vec<Function>> {
    let mut configurations = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = caller
            .call(Api::ListFunctions, || {
                client
                    .list_functions()
                    .function_version(FunctionVersion::All)
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
        configurations.extend(page.functions().iter().cloned());
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let mut aliases: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let names: std::collections::BTreeSet<&str> = configurations
        .iter()
        .filter_map(FunctionConfiguration::function_name)
        .collect();
    for name in names {
        let by_version = aliases.entry(name.to_string()).or_default();
        let mut marker: Option<String> = None;
        loop {
            let page = caller
                .call(Api::ListAliases, || {
                    client
                        .list_aliases()
                        .function_name(name)
                        .set_marker(marker.clone())
                        .send()
                })
                .await?;
            for alias in page.aliases() {
                if let (Some(alias), Some(version)) = (alias.name(), alias.function_version()) {
                    by_version
                        .entry(version.to_string())
                        .or_default()
                        .push(alias.to_string());
                }
            }
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
    }
    let mut functions = Vec::new();
    for config in &configurations {
        let Some(row) = row(config, &aliases, observed_at) else {
            continue;
        };
        if row.version == LATEST {
            functions.push(Function {
                name: row.function.clone(),
                log_group: row.log_group.clone().unwrap_or_default(),
            });
        }
        out.functions.append(&row);
        *configurations_seen += 1;
    }
    out.flush_full()?;
    Ok(functions)
}

const LATEST: &str = "$LATEST";

/// The default log group of a function, where it logs unless its `LoggingConfig` names another.
pub fn default_log_group(function: &str) -> String {
    format!("{}{function}", super::LAMBDA_PREFIX)
}

/// One configuration row; `None` for an entry with no name or no parseable `LastModified`.
fn row(
    config: &FunctionConfiguration,
    aliases: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
    observed_at: i64,
) -> Option<LambdaFunctionRow> {
    let name = config.function_name()?;
    let version = config.version().unwrap_or(LATEST);
    let last_modified = last_modified_micros(config.last_modified()?)?;
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:VERSION]
    let arn = config.function_arn();
    let arn_part = |i: usize| arn.and_then(|a| a.split(':').nth(i)).map(str::to_string);
    let mut names = aliases
        .get(name)
        .and_then(|v| v.get(version))
        .cloned()
        .unwrap_or_default();
    names.sort();
    let logging = config.logging_config();
    Some(LambdaFunctionRow {
        account_id: arn_part(4),
        region: arn_part(3),
        function: name.to_string(),
        function_arn: arn.map(str::to_string),
        version: version.to_string(),
        aliases: names.join(","),
        last_modified,
        observed_at,
        runtime: config.runtime().map(|r| r.as_str().to_string()),
        architecture: config
            .architectures()
            .first()
            .map(|a| a.as_str().to_string()),
        package_type: config.package_type().map(|p| p.as_str().to_string()),
        handler: config.handler().map(str::to_string),
        memory_mb: config.memory_size(),
        timeout_s: config.timeout(),
        ephemeral_storage_mb: config
            .ephemeral_storage()
            .map(aws_sdk_lambda::types::EphemeralStorage::size),
        code_sha256: config.code_sha256().map(str::to_string),
        code_size: Some(config.code_size()),
        revision_id: config.revision_id().map(str::to_string),
        log_group: Some(
            logging
                .and_then(|l| l.log_group())
                .map_or_else(|| default_log_group(name), str::to_string),
        ),
        log_format: logging
            .and_then(|l| l.log_format())
            .map(|f| f.as_str().to_string()),
        tracing_mode: config
            .tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str().to_string()),
        snap_start: config
            .snap_start()
            .and_then(|s| s.apply_on())
            .map(|a| a.as_str().to_string()),
        state: config.state().map(|s| s.as_str().to_string()),
    })
}

/// Lambda's `LastModified` (`2024-03-01T12:30:45.123+0000`, ISO 8601 with a colon-less offset)
/// in epoch microseconds.
fn last_modified_micros(text: &str) -> Option<i64> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_modified_reads_lambdas_offset_form_and_rfc3339() {
        assert_eq!(
            last_modified_micros("2024-03-01T12:30:45.123+0000"),
            Some(1_709_296_245_123_000)
        );
        assert_eq!(
            last_modified_micros("2024-03-01T12:30:45.123Z"),
            Some(1_709_296_245_123_000)
        );
        assert_eq!(last_modified_micros("yesterday"), None);
    }
}

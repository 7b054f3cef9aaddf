//! Lambda discovery: ListFunctions (every published version) and ListAliases per function, into
//! `lambda_functions`, and the log group each function writes to. Since Lambda's `LoggingConfig`
//! a function may log to any group, shared by several functions: the groups come from here, not
//! from the `/aws/lambda/<name>` rule.

use std::collections::BTreeMap;

use aws_sdk_lambda::types::{FunctionConfiguration, FunctionVersion};

use super::api::{Api, Caller};
use crate::error::Result;
use crate::lambda_functions::{
    Configuration, EphemeralStorage, LATEST, LoggingConfig, SnapStart, TracingConfig,
};
use crate::output::{FileCtx, Output};

/// A function as the collector uses it: its name and where it logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub log_group: String,
}

/// Every function (its `$LATEST` log group), and every version's configuration as a row in
/// `out`, counted in `configurations_seen`; a configuration that gives no row is a rejection.
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
        configurations.extend(page.functions().iter().map(configuration));
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let mut aliases: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let names: std::collections::BTreeSet<&str> = configurations
        .iter()
        .filter_map(Configuration::name)
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
    let ctx = FileCtx {
        path: "ListFunctions",
        log_group: None,
        now: observed_at,
    };
    let mut functions = Vec::new();
    for (i, config) in configurations.iter().enumerate() {
        out.records += 1;
        let names = config
            .name()
            .and_then(|name| aliases.get(name)?.get(config.version()))
            .map_or(&[][..], Vec::as_slice);
        let row = match config.row(names, observed_at) {
            Ok(row) => row,
            Err(e) => {
                out.reject(&ctx, format_args!("Functions[{i}]"), e);
                continue;
            }
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

/// The SDK's configuration as the one [`Configuration`] rows are made from.
fn configuration(c: &FunctionConfiguration) -> Configuration {
    Configuration {
        function_name: c.function_name().map(str::to_string),
        function_arn: c.function_arn().map(str::to_string),
        runtime: c.runtime().map(|r| r.as_str().to_string()),
        handler: c.handler().map(str::to_string),
        code_size: Some(c.code_size()),
        timeout: c.timeout(),
        memory_size: c.memory_size(),
        last_modified: c.last_modified().map(str::to_string),
        code_sha256: c.code_sha256().map(str::to_string),
        version: c.version().map(str::to_string),
        tracing_config: c.tracing_config().map(|t| TracingConfig {
            mode: t.mode().map(|m| m.as_str().to_string()),
        }),
        revision_id: c.revision_id().map(str::to_string),
        architectures: c
            .architectures()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
        package_type: c.package_type().map(|p| p.as_str().to_string()),
        ephemeral_storage: c.ephemeral_storage().map(|e| EphemeralStorage {
            size: Some(e.size()),
        }),
        snap_start: c.snap_start().map(|s| SnapStart {
            apply_on: s.apply_on().map(|a| a.as_str().to_string()),
        }),
        logging_config: c.logging_config().map(|l| LoggingConfig {
            log_format: l.log_format().map(|f| f.as_str().to_string()),
            log_group: l.log_group().map(str::to_string),
        }),
        state: c.state().map(|s| s.as_str().to_string()),
    }
}

//! `functions/<function>.json`: each function's versions as ListVersionsByFunction answers them
//! once the window is over, so the configuration history (the deploy storm's versions) can be
//! lined up against the incident.
//!
//! A function is created some days before the window. One that its callers invoke by version
//! has that version published then; every deploy of a storm updates `$LATEST` and publishes the
//! next version at the deploy time, with new code. The versions are exactly those
//! [`Function::version_at`] gives the invocations, so every `START ... Version: N` line and
//! `[N]` log stream has a configuration dated no later than it. Versions before the first one
//! invoked count as deleted.

use std::path::Path;

use serde::Serialize;

use super::{Function, Runtime};
use crate::Error;
use crate::random::{Micros, Random, SEC};
use crate::sim::ACCOUNT;
use crate::xray::write_json;

const DAY: Micros = 86_400 * SEC;

/// How long before the window a function was created: between these many days.
const CREATED_DAYS_BEFORE: (Micros, Micros) = (2, 9);

const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// The 43rd character of 32 bytes in base64 carries their last 4 bits and two zero bits.
const BASE64_LAST_OF_32: &[u8] = b"AEIMQUYcgkosw048";

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Answer<'a> {
    versions: Vec<Configuration<'a>>,
}

/// The fields of a FunctionConfiguration that ListVersionsByFunction returns for a Zip function
/// without layers, VPC, environment or dead-letter queue.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Configuration<'a> {
    function_name: &'a str,
    function_arn: String,
    runtime: &'a str,
    role: String,
    handler: &'a str,
    code_size: u64,
    description: &'a str,
    timeout: u32,
    memory_size: u32,
    last_modified: String,
    code_sha256: String,
    version: String,
    tracing_config: TracingConfig,
    revision_id: String,
    package_type: &'a str,
    architectures: [&'a str; 1],
    ephemeral_storage: EphemeralStorage,
    snap_start: SnapStart,
    logging_config: LoggingConfig,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TracingConfig {
    mode: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EphemeralStorage {
    size: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SnapStart {
    apply_on: &'static str,
    optimization_status: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LoggingConfig {
    log_format: &'static str,
    log_group: String,
}

impl Runtime {
    /// The `Runtime` identifier of the Lambda API.
    fn id(self) -> &'static str {
        match self {
            Self::Python312 => "python3.12",
            Self::Nodejs20 => "nodejs20.x",
        }
    }

    /// The handler the function's tracebacks name (`/var/task/app.py`, `/var/task/index.js`).
    fn handler(self) -> &'static str {
        match self {
            Self::Python312 => "app.handler",
            Self::Nodejs20 => "index.handler",
        }
    }
}

/// One code package: what a deploy changes.
struct Code {
    sha256: String,
    size: u64,
}

impl Code {
    fn new(rnd: &mut Random) -> Self {
        let mut sha256 = rnd.token(BASE64, 42);
        sha256.push_str(&rnd.token(BASE64_LAST_OF_32, 1));
        sha256.push('=');
        Self {
            sha256,
            size: rnd.range(2_000, 60_000),
        }
    }
}

/// Writes `dir/<function>.json` for every function; returns the number of configurations.
pub(super) fn write(
    dir: &Path,
    rnd: &mut Random,
    window_start: Micros,
    functions: &[Function],
) -> Result<u64, Error> {
    let mut written = 0;
    for function in functions {
        let created =
            window_start - rnd.between(CREATED_DAYS_BEFORE.0 * DAY, CREATED_DAYS_BEFORE.1 * DAY);
        let versions = published(function, created);
        let mut configurations = Vec::with_capacity(versions.len() + 1);
        let mut code = Code::new(rnd);
        let mut latest_modified = created;
        for (version, at) in versions {
            if at > created {
                code = Code::new(rnd);
            }
            latest_modified = at;
            configurations.push(configuration(
                function,
                &version.to_string(),
                at,
                &code,
                rnd,
            ));
        }
        let latest = configuration(function, "$LATEST", latest_modified, &code, rnd);
        configurations.insert(0, latest);
        written += configurations.len() as u64;
        let path = dir.join(format!("{}.json", function.spec.name));
        write_json(
            &path,
            &Answer {
                versions: configurations,
            },
        )?;
    }
    Ok(written)
}

/// Every published version of `function` with when it was published: the version its callers
/// start on at `created`, then one per deploy, numbered as [`Function::version_at`] numbers them.
fn published(function: &Function, created: Micros) -> Vec<(u32, Micros)> {
    let first = function.spec.version;
    let base = first.unwrap_or(0);
    first
        .map(|v| (v, created))
        .into_iter()
        .chain(
            function
                .deploys
                .iter()
                .enumerate()
                .map(|(i, &at)| (base + i as u32 + 1, at)),
        )
        .collect()
}

fn configuration<'a>(
    function: &'a Function,
    version: &str,
    at: Micros,
    code: &Code,
    rnd: &mut Random,
) -> Configuration<'a> {
    let spec = &function.spec;
    Configuration {
        function_name: spec.name,
        function_arn: format!("{}:{version}", function.arn),
        runtime: spec.runtime.id(),
        role: format!("arn:aws:iam::{ACCOUNT}:role/{}-role", spec.name),
        handler: spec.runtime.handler(),
        code_size: code.size,
        description: "",
        timeout: spec.timeout_s,
        memory_size: spec.memory_mb,
        last_modified: last_modified(at),
        code_sha256: code.sha256.clone(),
        version: version.to_owned(),
        tracing_config: TracingConfig { mode: "Active" },
        revision_id: rnd.uuid(),
        package_type: "Zip",
        architectures: ["x86_64"],
        ephemeral_storage: EphemeralStorage { size: 512 },
        snap_start: SnapStart {
            apply_on: "None",
            optimization_status: "Off",
        },
        logging_config: LoggingConfig {
            log_format: "Text",
            log_group: format!("/aws/lambda/{}", spec.name),
        },
    }
}

/// `t` as Lambda writes `LastModified`: `2026-11-20T10:25:00.123+0000`. Truncated to the
/// millisecond, so never after the deploy it dates.
fn last_modified(t: Micros) -> String {
    chrono::DateTime::from_timestamp_micros(t)
        .expect("generated times are in range")
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_modified_is_lambdas_form_truncated_to_the_millisecond() {
        assert_eq!(
            last_modified(1_795_165_200_123_999),
            "2026-11-20T09:00:00.123+0000"
        );
    }
}

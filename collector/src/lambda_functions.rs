//! Lambda function configurations -> `lambda_functions` rows.
//!
//! Files hold ListFunctions answers (`{"Functions": [...]}`), ListVersionsByFunction answers
//! (`{"Versions": [...]}`) or one GetFunctionConfiguration answer; `collect` converts the SDK's
//! configurations into the same [`Configuration`], so [`Configuration::row`] alone decides what
//! a row holds. Files name no aliases (that takes ListAliases), so their rows have none.

use chrono::DateTime;
use hopscope_schema::lambda_functions::LambdaFunctionRow;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::Result;
use crate::output::{FileCtx, Output};

/// Where Lambda functions log unless their `LoggingConfig` names another group.
pub const LAMBDA_PREFIX: &str = "/aws/lambda/";

/// The unpublished version every function has.
pub const LATEST: &str = "$LATEST";

/// A `FunctionConfiguration` as the Lambda API writes it, reduced to what `lambda_functions`
/// keeps (no role, description, environment or VPC).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Configuration {
    pub function_name: Option<String>,
    pub function_arn: Option<String>,
    /// Absent for container images.
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub code_size: Option<i64>,
    pub timeout: Option<i32>,
    pub memory_size: Option<i32>,
    /// `2024-03-01T12:30:45.123+0000`.
    pub last_modified: Option<String>,
    pub code_sha256: Option<String>,
    /// `$LATEST` when absent.
    pub version: Option<String>,
    pub tracing_config: Option<TracingConfig>,
    pub revision_id: Option<String>,
    #[serde(default)]
    pub architectures: Vec<String>,
    pub package_type: Option<String>,
    pub ephemeral_storage: Option<EphemeralStorage>,
    pub snap_start: Option<SnapStart>,
    pub logging_config: Option<LoggingConfig>,
    /// Only GetFunction and GetFunctionConfiguration fill it, not the list calls.
    pub state: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingConfig {
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorage {
    pub size: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStart {
    pub apply_on: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    pub log_format: Option<String>,
    pub log_group: Option<String>,
}

/// Why a configuration gives no row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("no FunctionName: the configuration names no function")]
    NoName,
    #[error("{function}: no LastModified: it dates the configuration")]
    NoLastModified { function: String },
    #[error(
        "{function}: LastModified {text:?} is not a time like 2024-03-01T12:30:45.123+0000 (as Lambda writes it) or RFC 3339"
    )]
    LastModified { function: String, text: String },
}

impl Configuration {
    pub fn name(&self) -> Option<&str> {
        self.function_name.as_deref()
    }

    pub fn version(&self) -> &str {
        self.version.as_deref().unwrap_or(LATEST)
    }

    /// The row of this configuration, with `aliases` (any order) pointing at its version and
    /// `observed_at` (epoch microseconds) when it was read.
    pub fn row(&self, aliases: &[String], observed_at: i64) -> Result<LambdaFunctionRow, Unusable> {
        let name = self.name().ok_or(Unusable::NoName)?;
        let text = self
            .last_modified
            .as_deref()
            .ok_or_else(|| Unusable::NoLastModified {
                function: name.to_string(),
            })?;
        let last_modified = last_modified_micros(text).ok_or_else(|| Unusable::LastModified {
            function: name.to_string(),
            text: text.to_string(),
        })?;
        // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:VERSION]
        let arn = self.function_arn.as_deref();
        let arn_part = |i: usize| arn.and_then(|a| a.split(':').nth(i)).map(str::to_string);
        let mut aliases = aliases.to_vec();
        aliases.sort();
        let logging = self.logging_config.as_ref();
        Ok(LambdaFunctionRow {
            account_id: arn_part(4),
            region: arn_part(3),
            function: name.to_string(),
            function_arn: self.function_arn.clone(),
            version: self.version().to_string(),
            aliases: aliases.join(","),
            last_modified,
            observed_at,
            runtime: self.runtime.clone(),
            architecture: self.architectures.first().cloned(),
            package_type: self.package_type.clone(),
            handler: self.handler.clone(),
            memory_mb: self.memory_size,
            timeout_s: self.timeout,
            ephemeral_storage_mb: self.ephemeral_storage.as_ref().and_then(|e| e.size),
            code_sha256: self.code_sha256.clone(),
            code_size: self.code_size,
            revision_id: self.revision_id.clone(),
            log_group: Some(
                logging
                    .and_then(|l| l.log_group.clone())
                    .unwrap_or_else(|| default_log_group(name)),
            ),
            log_format: logging.and_then(|l| l.log_format.clone()),
            tracing_mode: self.tracing_config.as_ref().and_then(|t| t.mode.clone()),
            snap_start: self.snap_start.as_ref().and_then(|s| s.apply_on.clone()),
            state: self.state.clone(),
        })
    }
}

/// The default log group of a function, where it logs unless its `LoggingConfig` names another.
pub fn default_log_group(function: &str) -> String {
    format!("{LAMBDA_PREFIX}{function}")
}

/// Lambda's `LastModified` (`2024-03-01T12:30:45.123+0000`, ISO 8601 with a colon-less offset)
/// in epoch microseconds.
fn last_modified_micros(text: &str) -> Option<i64> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.timestamp_micros())
}

/// A ListFunctions or ListVersionsByFunction answer. Entries stay raw until each is read on its
/// own, so one malformed entry is rejected alone.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAnswer<'a> {
    #[serde(borrow, default)]
    functions: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    versions: Option<Vec<&'a RawValue>>,
}

/// Imports a ListFunctions, ListVersionsByFunction or GetFunctionConfiguration answer. Rows are
/// observed at the import's start ([`FileCtx::now`]).
pub fn import(text: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) -> Result<()> {
    let list = match serde_json::from_str::<ListAnswer>(text) {
        Ok(list) => list,
        Err(e) => {
            out.records += 1;
            out.reject(
                ctx,
                "file",
                format!("not a ListFunctions or ListVersionsByFunction answer: {e}"),
            );
            return Ok(());
        }
    };
    let (key, entries) = match (list.functions, list.versions) {
        (Some(entries), _) => ("Functions", entries),
        (None, Some(entries)) => ("Versions", entries),
        (None, None) => {
            import_entry(text, "file", ctx, out);
            return out.flush_full();
        }
    };
    for (i, entry) in entries.iter().enumerate() {
        import_entry(entry.get(), &format!("{key}[{i}]"), ctx, out);
    }
    out.flush_full()
}

/// One FunctionConfiguration: a row, or a rejection at `location`.
fn import_entry(text: &str, location: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) {
    out.records += 1;
    let row = serde_json::from_str::<Configuration>(text)
        .map_err(|e| format!("not a FunctionConfiguration: {e}"))
        .and_then(|config| config.row(&[], ctx.now).map_err(|e| e.to_string()));
    match row {
        Ok(row) => out.functions.append(&row),
        Err(reason) => out.reject(ctx, location, reason),
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray, RecordBatch};
    use arrow::datatypes::Int32Type;
    use hopscope_schema::lambda_functions::{TABLE, col};

    use super::*;
    use crate::output::TEST_NOW;

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

    fn import_str(text: &str) -> (Vec<LambdaFunctionRow>, usize, Vec<crate::Rejection>) {
        let mut sink: Vec<(&'static str, RecordBatch)> = Vec::new();
        let mut out = Output::new(&mut sink, 1024);
        let ctx = FileCtx {
            path: "functions.json",
            log_group: None,
            now: TEST_NOW,
        };
        import(text, &ctx, &mut out).unwrap();
        out.flush_all().unwrap();
        let (records, rejections) = (out.records, out.rejections().to_vec());
        drop(out);
        let rows = sink
            .iter()
            .filter(|(table, _)| *table == TABLE)
            .flat_map(|(_, batch)| rows_of(batch))
            .collect();
        (rows, records, rejections)
    }

    /// The columns a test checks, read back from a batch.
    fn rows_of(batch: &RecordBatch) -> Vec<LambdaFunctionRow> {
        let text = |name: &str, i: usize| {
            let column = batch.column_by_name(name).unwrap();
            let column = arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8).unwrap();
            let column = column.as_string::<i32>();
            column.is_valid(i).then(|| column.value(i).to_string())
        };
        let int = |name: &str, i: usize| {
            let column = batch
                .column_by_name(name)
                .unwrap()
                .as_primitive::<Int32Type>();
            column.is_valid(i).then(|| column.value(i))
        };
        let last_modified = batch
            .column_by_name(col::LAST_MODIFIED)
            .unwrap()
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        (0..batch.num_rows())
            .map(|i| LambdaFunctionRow {
                account_id: text(col::ACCOUNT_ID, i),
                region: text(col::REGION, i),
                function: text(col::FUNCTION, i).unwrap(),
                version: text(col::VERSION, i).unwrap(),
                last_modified: last_modified.value(i),
                memory_mb: int(col::MEMORY_MB, i),
                log_group: text(col::LOG_GROUP, i),
                tracing_mode: text(col::TRACING_MODE, i),
                architecture: text(col::ARCHITECTURE, i),
                ..LambdaFunctionRow::default()
            })
            .collect()
    }

    const GOOD: &str = r#"{"FunctionName": "orders", "FunctionArn": "arn:aws:lambda:eu-west-1:111122223333:function:orders:3",
        "Version": "3", "LastModified": "2024-03-01T12:30:45.123+0000", "MemorySize": 256,
        "TracingConfig": {"Mode": "Active"}, "Architectures": ["arm64"],
        "LoggingConfig": {"LogFormat": "JSON", "LogGroup": "/shared/logs"}}"#;

    #[test]
    fn a_configuration_becomes_one_row_with_its_account_and_region_from_the_arn() {
        let row = serde_json::from_str::<Configuration>(GOOD)
            .unwrap()
            .row(&["prod".into(), "live".into()], 7)
            .unwrap();
        assert_eq!(row.account_id.as_deref(), Some("111122223333"));
        assert_eq!(row.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            (row.function.as_str(), row.version.as_str()),
            ("orders", "3")
        );
        assert_eq!(row.aliases, "live,prod");
        assert_eq!(row.last_modified, 1_709_296_245_123_000);
        assert_eq!(row.observed_at, 7);
        assert_eq!(row.memory_mb, Some(256));
        assert_eq!(row.architecture.as_deref(), Some("arm64"));
        assert_eq!(row.log_group.as_deref(), Some("/shared/logs"));
        assert_eq!(row.log_format.as_deref(), Some("JSON"));
        assert_eq!(row.tracing_mode.as_deref(), Some("Active"));
    }

    #[test]
    fn a_configuration_without_logging_config_logs_to_its_default_group_as_latest() {
        let row = serde_json::from_str::<Configuration>(
            r#"{"FunctionName": "f", "LastModified": "2024-03-01T12:30:45Z"}"#,
        )
        .unwrap()
        .row(&[], 0)
        .unwrap();
        assert_eq!(row.version, LATEST);
        assert_eq!(row.log_group.as_deref(), Some("/aws/lambda/f"));
        assert_eq!((row.account_id, row.aliases.as_str()), (None, ""));
    }

    #[test]
    fn a_bad_entry_is_rejected_at_its_index_and_the_rest_imports() {
        let text = format!(
            r#"{{"Versions": [{GOOD},
                {{"FunctionName": "orders", "Version": "4", "LastModified": "last tuesday"}},
                {{"Version": "5", "LastModified": "2024-03-02T00:00:00.000+0000"}},
                {{"FunctionName": "orders", "MemorySize": "big"}},
                {{"FunctionName": "orders", "Version": "6"}},
                {GOOD}],
              "NextMarker": "abc"}}"#
        );
        let (rows, records, rejections) = import_str(&text);
        assert_eq!(records, 6);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].version, "3");
        let got: Vec<(&str, &str)> = rejections
            .iter()
            .map(|r| (r.record.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(
            got[0],
            (
                "Versions[1]",
                "orders: LastModified \"last tuesday\" is not a time like 2024-03-01T12:30:45.123+0000 (as Lambda writes it) or RFC 3339"
            )
        );
        assert_eq!(
            got[1],
            (
                "Versions[2]",
                "no FunctionName: the configuration names no function"
            )
        );
        assert_eq!(got[2].0, "Versions[3]");
        assert!(
            got[2]
                .1
                .starts_with("not a FunctionConfiguration: invalid type: string \"big\""),
            "{}",
            got[2].1
        );
        assert_eq!(
            got[3],
            (
                "Versions[4]",
                "orders: no LastModified: it dates the configuration"
            )
        );
        assert!(rejections.iter().all(|r| r.file == "functions.json"));
    }

    #[test]
    fn a_get_function_configuration_answer_is_one_row() {
        let (rows, records, rejections) = import_str(GOOD);
        assert_eq!((records, rejections.len()), (1, 0));
        assert_eq!(rows[0].function, "orders");
        assert_eq!(rows[0].version, "3");
    }

    #[test]
    fn a_list_that_is_not_one_is_rejected_as_the_file() {
        let (rows, records, rejections) = import_str(r#"{"Functions": {"FunctionName": "f"}}"#);
        assert_eq!((rows.len(), records), (0, 1));
        assert_eq!(rejections[0].record, "file");
        assert!(
            rejections[0].reason.starts_with(
                "not a ListFunctions or ListVersionsByFunction answer: invalid type: map"
            ),
            "{}",
            rejections[0].reason
        );
    }

    /// `aws lambda list-functions` as the AWS CLI reference shows it (tests/data/README.md).
    #[test]
    fn the_cli_references_list_functions_example_imports_whole() {
        let text = include_str!("../tests/data/list-functions.json");
        let (rows, records, rejections) = import_str(text);
        assert_eq!((records, rejections.len()), (3, 0), "{rejections:?}");
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.function.as_str(),
                    r.version.as_str(),
                    r.memory_mb,
                    r.last_modified,
                    r.log_group.as_deref(),
                    r.tracing_mode.as_deref(),
                    r.account_id.as_deref(),
                    r.region.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "helloworld",
                    "$LATEST",
                    Some(128),
                    1_758_652_353_857_000,
                    Some("/aws/lambda/helloworld"),
                    Some("PassThrough"),
                    Some("123456789012"),
                    Some("us-west-2")
                ),
                (
                    "my-function",
                    "$LATEST",
                    Some(256),
                    1_759_337_248_490_000,
                    Some("/aws/lambda/my-function"),
                    Some("PassThrough"),
                    Some("123456789012"),
                    Some("us-west-2")
                ),
                (
                    "my-python-function",
                    "$LATEST",
                    Some(128),
                    1_759_347_641_643_000,
                    Some("/aws/lambda/my-python-function"),
                    Some("PassThrough"),
                    Some("123456789012"),
                    Some("us-west-2")
                ),
            ]
        );
        assert!(rows.iter().all(|r| r.architecture.is_none()));
    }
}

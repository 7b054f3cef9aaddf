//! `lambda_functions`: one row per configuration of a Lambda function version, as ListFunctions
//! reported it. Every configuration change moves `last_modified`, so the table keeps the history
//! of each function (a new version, a new memory size or timeout, a moved alias) as separate rows
//! that a later incident can line up against its latency.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Int32Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::types::{DictBuilder, dict_type, timestamp_type};

pub const TABLE: &str = "lambda_functions";

/// Natural key: one row per configuration of a version in an account and Region. Lambda gives every
/// update a new `RevisionId` (and `LastModified`, at a second's precision); `aliases` is part of it
/// so that an alias moving to another version (a deployment that changes no configuration) is a
/// row too.
pub const KEY: &[&str] = &[
    col::ACCOUNT_ID,
    col::REGION,
    col::FUNCTION,
    col::VERSION,
    col::LAST_MODIFIED,
    col::CODE_SHA256,
    col::REVISION_ID,
    col::ALIASES,
];
/// A configuration lives in the hour it took effect: collecting it again never adds a row.
pub const TIME: &str = col::LAST_MODIFIED;
pub const UNIQUE_TEXT: &[&str] = &[col::FUNCTION_ARN, col::CODE_SHA256, col::REVISION_ID];

pub mod col {
    pub const ACCOUNT_ID: &str = "account_id";
    pub const REGION: &str = "region";
    pub const FUNCTION: &str = "function";
    pub const FUNCTION_ARN: &str = "function_arn";
    /// `$LATEST` or a published version number.
    pub const VERSION: &str = "version";
    /// Aliases pointing at this version, sorted, comma-separated (empty: none).
    pub const ALIASES: &str = "aliases";
    /// When this configuration took effect (the API's `LastModified`).
    pub const LAST_MODIFIED: &str = "last_modified";
    /// When a collection first saw this configuration.
    pub const OBSERVED_AT: &str = "observed_at";
    pub const RUNTIME: &str = "runtime";
    pub const ARCHITECTURE: &str = "architecture";
    pub const PACKAGE_TYPE: &str = "package_type";
    pub const HANDLER: &str = "handler";
    pub const MEMORY_MB: &str = "memory_mb";
    pub const TIMEOUT_S: &str = "timeout_s";
    pub const EPHEMERAL_STORAGE_MB: &str = "ephemeral_storage_mb";
    pub const CODE_SHA256: &str = "code_sha256";
    pub const CODE_SIZE: &str = "code_size";
    /// Changes with every update of the function's code or configuration.
    pub const REVISION_ID: &str = "revision_id";
    /// Where the function logs: its `LoggingConfig.LogGroup` (`/aws/lambda/<name>` by default).
    pub const LOG_GROUP: &str = "log_group";
    /// `Text` or `JSON`.
    pub const LOG_FORMAT: &str = "log_format";
    /// X-Ray tracing mode: `Active` or `PassThrough`.
    pub const TRACING_MODE: &str = "tracing_mode";
    /// `SnapStart` setting: `PublishedVersions` or `None`.
    pub const SNAP_START: &str = "snap_start";
    pub const STATE: &str = "state";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use col::*;
    Arc::new(Schema::new(vec![
        Field::new(ACCOUNT_ID, dict_type(), true),
        Field::new(REGION, dict_type(), true),
        Field::new(FUNCTION, dict_type(), false),
        Field::new(FUNCTION_ARN, DataType::Utf8, true),
        Field::new(VERSION, dict_type(), false),
        Field::new(ALIASES, DataType::Utf8, false),
        Field::new(LAST_MODIFIED, timestamp_type(), false),
        Field::new(OBSERVED_AT, timestamp_type(), false),
        Field::new(RUNTIME, dict_type(), true),
        Field::new(ARCHITECTURE, dict_type(), true),
        Field::new(PACKAGE_TYPE, dict_type(), true),
        Field::new(HANDLER, dict_type(), true),
        Field::new(MEMORY_MB, DataType::Int32, true),
        Field::new(TIMEOUT_S, DataType::Int32, true),
        Field::new(EPHEMERAL_STORAGE_MB, DataType::Int32, true),
        Field::new(CODE_SHA256, DataType::Utf8, true),
        Field::new(CODE_SIZE, DataType::Int64, true),
        Field::new(REVISION_ID, DataType::Utf8, true),
        Field::new(LOG_GROUP, dict_type(), true),
        Field::new(LOG_FORMAT, dict_type(), true),
        Field::new(TRACING_MODE, dict_type(), true),
        Field::new(SNAP_START, dict_type(), true),
        Field::new(STATE, dict_type(), true),
    ]))
});

pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

/// One configuration of one function version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LambdaFunctionRow {
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub function: String,
    pub function_arn: Option<String>,
    pub version: String,
    pub aliases: String,
    /// Epoch microseconds.
    pub last_modified: i64,
    /// Epoch microseconds.
    pub observed_at: i64,
    pub runtime: Option<String>,
    pub architecture: Option<String>,
    pub package_type: Option<String>,
    pub handler: Option<String>,
    pub memory_mb: Option<i32>,
    pub timeout_s: Option<i32>,
    pub ephemeral_storage_mb: Option<i32>,
    pub code_sha256: Option<String>,
    pub code_size: Option<i64>,
    pub revision_id: Option<String>,
    pub log_group: Option<String>,
    pub log_format: Option<String>,
    pub tracing_mode: Option<String>,
    pub snap_start: Option<String>,
    pub state: Option<String>,
}

#[derive(Default)]
pub struct LambdaFunctionBatchBuilder {
    account_id: DictBuilder,
    region: DictBuilder,
    function: DictBuilder,
    function_arn: StringBuilder,
    version: DictBuilder,
    aliases: StringBuilder,
    last_modified: TimestampMicrosecondBuilder,
    observed_at: TimestampMicrosecondBuilder,
    runtime: DictBuilder,
    architecture: DictBuilder,
    package_type: DictBuilder,
    handler: DictBuilder,
    memory_mb: Int32Builder,
    timeout_s: Int32Builder,
    ephemeral_storage_mb: Int32Builder,
    code_sha256: StringBuilder,
    code_size: arrow::array::Int64Builder,
    revision_id: StringBuilder,
    log_group: DictBuilder,
    log_format: DictBuilder,
    tracing_mode: DictBuilder,
    snap_start: DictBuilder,
    state: DictBuilder,
    rows: usize,
}

impl LambdaFunctionBatchBuilder {
    pub fn append(&mut self, r: &LambdaFunctionRow) {
        self.account_id.append_option(r.account_id.as_deref());
        self.region.append_option(r.region.as_deref());
        self.function.append_value(&r.function);
        self.function_arn.append_option(r.function_arn.as_deref());
        self.version.append_value(&r.version);
        self.aliases.append_value(&r.aliases);
        self.last_modified.append_value(r.last_modified);
        self.observed_at.append_value(r.observed_at);
        self.runtime.append_option(r.runtime.as_deref());
        self.architecture.append_option(r.architecture.as_deref());
        self.package_type.append_option(r.package_type.as_deref());
        self.handler.append_option(r.handler.as_deref());
        self.memory_mb.append_option(r.memory_mb);
        self.timeout_s.append_option(r.timeout_s);
        self.ephemeral_storage_mb
            .append_option(r.ephemeral_storage_mb);
        self.code_sha256.append_option(r.code_sha256.as_deref());
        self.code_size.append_option(r.code_size);
        self.revision_id.append_option(r.revision_id.as_deref());
        self.log_group.append_option(r.log_group.as_deref());
        self.log_format.append_option(r.log_format.as_deref());
        self.tracing_mode.append_option(r.tracing_mode.as_deref());
        self.snap_start.append_option(r.snap_start.as_deref());
        self.state.append_option(r.state.as_deref());
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.account_id.finish()),
            Arc::new(self.region.finish()),
            Arc::new(self.function.finish()),
            Arc::new(self.function_arn.finish()),
            Arc::new(self.version.finish()),
            Arc::new(self.aliases.finish()),
            Arc::new(self.last_modified.finish().with_timezone("UTC")),
            Arc::new(self.observed_at.finish().with_timezone("UTC")),
            Arc::new(self.runtime.finish()),
            Arc::new(self.architecture.finish()),
            Arc::new(self.package_type.finish()),
            Arc::new(self.handler.finish()),
            Arc::new(self.memory_mb.finish()),
            Arc::new(self.timeout_s.finish()),
            Arc::new(self.ephemeral_storage_mb.finish()),
            Arc::new(self.code_sha256.finish()),
            Arc::new(self.code_size.finish()),
            Arc::new(self.revision_id.finish()),
            Arc::new(self.log_group.finish()),
            Arc::new(self.log_format.finish()),
            Arc::new(self.tracing_mode.finish()),
            Arc::new(self.snap_start.finish()),
            Arc::new(self.state.finish()),
        ];
        self.rows = 0;
        RecordBatch::try_new(schema(), columns)
            .expect("builders follow the lambda_functions schema")
    }
}

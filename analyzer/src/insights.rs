//! CloudWatch Logs Insights queries, run locally over the store's `log_events` and
//! `lambda_invocations`: `fields @timestamp, @message | filter @message like /ERROR/`.
//!
//! The text is parsed by hand ([`parser`], with the line and column of every error) into a
//! [`ast::Query`], which [`plan`] turns into a DataFusion plan over the relation [`source`]
//! builds: one row per log event with the fields Logs Insights discovers (`@timestamp`,
//! `@message`, ..., and for Lambda REPORT lines `@duration`, `@memorySize`, ...). Other field
//! names read JSON log lines by dotted path (`level`, `record.status`). `pattern` and `diff`
//! cluster lines into templates with [`patterns::Drain`].

mod ast;
mod error;
mod lexer;
mod parser;
pub mod patterns;
mod plan;
mod source;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

pub use error::QueryError;
pub use plan::DEFAULT_LIMIT;
pub use source::field;

use crate::error::Result;
use crate::session::Session;
use crate::window::Window;

/// The fields `pattern` and `diff` output.
pub mod output {
    pub const PATTERN: &str = "@pattern";
    /// The share of the window's lines that fit the pattern.
    pub const RATIO: &str = "@ratio";
    /// Lines of the window that fit the pattern.
    pub const SAMPLE_COUNT: &str = "@sampleCount";
    pub const SEVERITY: &str = "@severityLabel";
    /// `diff`: lines of the baseline window that fit the pattern.
    pub const PREVIOUS_SAMPLE_COUNT: &str = "@previousSampleCount";
    /// `diff`: `@sampleCount - @previousSampleCount`.
    pub const CHANGE: &str = "@change";
    /// `diff`: the change in percent of the baseline's count (absent for new patterns).
    pub const CHANGE_PERCENT: &str = "@changePercent";
    /// `diff`: one of [`NEW`], [`GROWN`], [`UNCHANGED`], [`SHRUNK`], [`GONE`].
    pub const CHANGE_TYPE: &str = "@changeType";
    pub const NEW: &str = "new";
    pub const GROWN: &str = "grown";
    pub const UNCHANGED: &str = "unchanged";
    pub const SHRUNK: &str = "shrunk";
    pub const GONE: &str = "gone";
}

/// What a query runs over.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Events of this window; all stored events when `None` (`diff` needs one).
    pub window: Option<Window>,
    /// Log groups matching any of these globs (`/aws/lambda/orders-*`); all when empty.
    pub log_groups: Vec<String>,
}

/// A query's rows.
#[derive(Debug)]
pub struct Output {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// Runs a Logs Insights query. A query the language does not allow, or that names what is
/// not there, is an [`Error::Query`](crate::Error::Query) at its line and column.
pub async fn run(session: &Session, query: &str, scope: &Scope) -> Result<Output> {
    let parsed = parser::parse(query)?;
    let df = plan::Planner::new(session.context(), query, scope)
        .plan(&parsed)
        .await?;
    let schema = SchemaRef::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok(Output { schema, batches })
}

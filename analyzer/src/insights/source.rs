//! The relation a query starts from: one row per log event, with the fields Logs Insights
//! discovers, and for REPORT lines the numbers of their invocation (`lambda_invocations`).

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{JoinType, Like};
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, ident, lit, when};
use hopscope_schema::lambda_invocations::{TABLE as INVOCATIONS, col as inv};
use hopscope_schema::log_events::{TABLE as LOG_EVENTS, col as ev};

use crate::error::Result;
use crate::window::Window;

/// The discovered fields, as Logs Insights names them.
pub mod field {
    pub const TIMESTAMP: &str = "@timestamp";
    pub const MESSAGE: &str = "@message";
    pub const LOG_STREAM: &str = "@logStream";
    /// The log group's name (Logs Insights prefixes it with the account id, which the store
    /// does not keep).
    pub const LOG: &str = "@log";
    pub const INGESTION_TIME: &str = "@ingestionTime";
    pub const REQUEST_ID: &str = "@requestId";
    pub const XRAY_TRACE_ID: &str = "@xrayTraceId";
    /// `REPORT` on a Lambda REPORT line; absent on other events.
    pub const TYPE: &str = "@type";
    /// The REPORT line's numbers: milliseconds, and bytes for memory (Logs Insights reads
    /// `Memory Size: 128 MB` as 128,000,000).
    pub const DURATION: &str = "@duration";
    pub const BILLED_DURATION: &str = "@billedDuration";
    pub const INIT_DURATION: &str = "@initDuration";
    pub const MEMORY_SIZE: &str = "@memorySize";
    pub const MAX_MEMORY_USED: &str = "@maxMemoryUsed";

    pub const ALL: [&str; 13] = [
        TIMESTAMP,
        MESSAGE,
        LOG_STREAM,
        LOG,
        INGESTION_TIME,
        REQUEST_ID,
        XRAY_TRACE_ID,
        TYPE,
        DURATION,
        BILLED_DURATION,
        INIT_DURATION,
        MEMORY_SIZE,
        MAX_MEMORY_USED,
    ];
}

/// The `record_type` of the REPORT lines that carry an invocation's numbers.
const REPORT: &str = "REPORT";
const REPORT_KEY: &str = "__report_request_id";
const INVOCATION_KEY: &str = "__invocation_request_id";
const BYTES_PER_MB: i64 = 1_000_000;

/// A timestamp literal of the store's type.
pub fn timestamp(us: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(us),
        Some("UTC".into()),
    ))
}

/// The log events of `window` (all when `None`) in the log groups matching any of `groups`
/// (globs with `*` and `?`; all groups when empty), with their discovered fields.
pub async fn events(
    ctx: &SessionContext,
    window: Option<Window>,
    groups: &[String],
) -> Result<DataFrame> {
    let mut events = ctx.table(LOG_EVENTS).await?;
    if let Some(w) = window {
        events = events.filter(
            ident(ev::TIMESTAMP)
                .gt_eq(timestamp(w.start_us))
                .and(ident(ev::TIMESTAMP).lt(timestamp(w.end_us))),
        )?;
    }
    if let Some(any_group) = groups
        .iter()
        .map(|g| glob_like(ident(ev::LOG_GROUP), g))
        .reduce(Expr::or)
    {
        events = events.filter(any_group)?;
    }
    let events = events.with_column(
        REPORT_KEY,
        when(
            ident(ev::RECORD_TYPE).eq(lit(REPORT)),
            ident(ev::REQUEST_ID),
        )
        .end()?,
    )?;
    let invocations = ctx.table(INVOCATIONS).await?.select(vec![
        ident(inv::REQUEST_ID).alias(INVOCATION_KEY),
        ident(inv::DURATION_MS).alias(field::DURATION),
        ident(inv::BILLED_MS).alias(field::BILLED_DURATION),
        ident(inv::INIT_MS).alias(field::INIT_DURATION),
        megabytes(inv::MEMORY_MB).alias(field::MEMORY_SIZE),
        megabytes(inv::MAX_MEMORY_MB).alias(field::MAX_MEMORY_USED),
    ])?;
    let text = |c: &str| cast(ident(c), DataType::Utf8);
    let joined = events.join(
        invocations,
        JoinType::Left,
        &[REPORT_KEY],
        &[INVOCATION_KEY],
        None,
    )?;
    Ok(joined.select(vec![
        ident(ev::TIMESTAMP).alias(field::TIMESTAMP),
        ident(ev::MESSAGE).alias(field::MESSAGE),
        text(ev::LOG_STREAM).alias(field::LOG_STREAM),
        text(ev::LOG_GROUP).alias(field::LOG),
        cast(
            ident(ev::INGESTION_TIME),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )
        .alias(field::INGESTION_TIME),
        ident(ev::REQUEST_ID).alias(field::REQUEST_ID),
        ident(ev::TRACE_ID).alias(field::XRAY_TRACE_ID),
        when(ident(REPORT_KEY).is_not_null(), lit(REPORT))
            .end()?
            .alias(field::TYPE),
        ident(field::DURATION),
        ident(field::BILLED_DURATION),
        ident(field::INIT_DURATION),
        ident(field::MEMORY_SIZE),
        ident(field::MAX_MEMORY_USED),
    ])?)
}

fn megabytes(column: &str) -> Expr {
    cast(ident(column), DataType::Int64) * lit(BYTES_PER_MB)
}

/// `value LIKE pattern` for a glob: `*` any text, `?` one character, the rest literal.
fn glob_like(value: Expr, glob: &str) -> Expr {
    let mut pattern = String::with_capacity(glob.len());
    for c in glob.chars() {
        match c {
            '*' => pattern.push('%'),
            '?' => pattern.push('_'),
            '%' | '_' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
            }
            c => pattern.push(c),
        }
    }
    Expr::Like(Like::new(
        false,
        Box::new(value),
        Box::new(lit(pattern)),
        Some('\\'),
        false,
    ))
}

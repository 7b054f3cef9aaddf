//! A query error at a line and column of the query text.

/// What is wrong with a Logs Insights query, and where (1-based line and column, counted in
/// characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct QueryError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl QueryError {
    /// An error at byte offset `at` of `src`.
    pub fn at(src: &str, at: usize, message: impl Into<String>) -> QueryError {
        let before = &src[..at.min(src.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        QueryError {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            message: message.into(),
        }
    }
}

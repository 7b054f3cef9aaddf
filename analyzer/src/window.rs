//! Time windows of analysis.

use datafusion::common::ScalarValue;
use datafusion::prelude::{Expr, col, lit};
use serde::Serialize;

/// A half-open time range `[start_us, end_us)` in epoch microseconds (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start_us: i64,
    pub end_us: i64,
}

impl Window {
    pub fn len_us(&self) -> i64 {
        self.end_us - self.start_us
    }

    /// The window of the same length that ends where this one starts.
    pub fn preceding(&self) -> Window {
        Window {
            start_us: self.start_us - self.len_us(),
            end_us: self.start_us,
        }
    }

    pub fn overlaps(&self, other: &Window) -> bool {
        self.start_us < other.end_us && other.start_us < self.end_us
    }

    /// A SQL predicate: `column` falls in this window.
    pub(crate) fn predicate(&self, column: &str) -> String {
        let ts = |us: i64| format!("arrow_cast({us}, 'Timestamp(Microsecond, Some(\"UTC\"))')");
        format!(
            "{column} >= {} AND {column} < {}",
            ts(self.start_us),
            ts(self.end_us)
        )
    }
}

/// An expression: `column` falls in any of `windows` (false for none).
pub(crate) fn in_any(windows: &[Window], column: &str) -> Expr {
    let at = |us| {
        lit(ScalarValue::TimestampMicrosecond(
            Some(us),
            Some("UTC".into()),
        ))
    };
    windows
        .iter()
        .map(|w| {
            col(column)
                .gt_eq(at(w.start_us))
                .and(col(column).lt(at(w.end_us)))
        })
        .reduce(Expr::or)
        .unwrap_or(lit(false))
}

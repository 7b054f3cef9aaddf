//! Time windows of analysis, and how a range of time resolves to one.

use datafusion::common::ScalarValue;
use datafusion::prelude::{Expr, col, lit};
use hopscope_schema::spans::{TABLE as SPANS, col as s};
use serde::Serialize;

use crate::columns;
use crate::error::Result;
use crate::session::Session;

const MINUTE: i64 = 60_000_000;

/// A half-open time range `[start_us, end_us)` in epoch microseconds (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start_us: i64,
    pub end_us: i64,
}

impl Window {
    /// All time a store can hold (bounds far enough from `i64`'s that no arithmetic on them
    /// overflows).
    pub(crate) const EVERYTHING: Window = Window {
        start_us: i64::MIN / 4,
        end_us: i64::MAX / 4,
    };

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

    /// The whole minutes of this window, and the parts of minutes at its edges (none, one or
    /// two windows); `None` when it holds no whole minute.
    pub(crate) fn whole_minutes(&self) -> Option<(Window, Vec<Window>)> {
        let start = self.start_us.div_euclid(MINUTE) * MINUTE;
        let start = if start < self.start_us {
            start + MINUTE
        } else {
            start
        };
        let end = self.end_us.div_euclid(MINUTE) * MINUTE;
        if start >= end {
            return None;
        }
        let edges = [
            Window {
                start_us: self.start_us,
                end_us: start,
            },
            Window {
                start_us: end,
                end_us: self.end_us,
            },
        ];
        let inner = Window {
            start_us: start,
            end_us: end,
        };
        Some((
            inner,
            edges.into_iter().filter(|w| w.len_us() > 0).collect(),
        ))
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

/// Where a range of time ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// At the clock's now (`hopscope tui --since 1h`).
    Now,
    /// At the newest span in the store (`hopscope demo`, stores of past incidents), to the next
    /// whole minute.
    LatestData,
}

/// The window of `len_us` ending at `anchor`; `None` when it ends at the newest span and the
/// store holds none.
pub async fn resolve(
    session: &Session,
    len_us: i64,
    anchor: Anchor,
    now_us: i64,
) -> Result<Option<Window>> {
    let end_us = match anchor {
        Anchor::Now => now_us,
        Anchor::LatestData => match latest_span_us(session).await? {
            Some(t) => next_minute(t),
            None => return Ok(None),
        },
    };
    Ok(Some(Window {
        start_us: end_us - len_us,
        end_us,
    }))
}

/// `window`, or when none is given the last hour of data ([`last_hour`]).
pub async fn or_last_hour(session: &Session, window: Option<Window>) -> Result<Window> {
    match window {
        Some(w) => Ok(w),
        None => last_hour(session).await,
    }
}

/// The hour of data that ends with the newest span (to the next whole minute); the last hour
/// when there is no span at all.
pub(crate) async fn last_hour(session: &Session) -> Result<Window> {
    let newest = latest_span_us(session).await?.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64)
    });
    let end_us = next_minute(newest);
    Ok(Window {
        start_us: end_us - 60 * MINUTE,
        end_us,
    })
}

/// The end of the minute `us` falls in, so a window ending there includes `us`.
fn next_minute(us: i64) -> i64 {
    (us.div_euclid(MINUTE) + 1) * MINUTE
}

/// The start of the newest span in the store, `None` when it has none.
async fn latest_span_us(session: &Session) -> Result<Option<i64>> {
    let batches = session
        .collect(&format!("SELECT max({}) FROM {SPANS}", s::START_TIME))
        .await?;
    Ok(batches
        .first()
        .and_then(|b| columns::micros(b, 0).into_iter().next().flatten()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_minutes_and_the_edges_cover_the_window_once() {
        let w = |start_us, end_us| Window { start_us, end_us };
        let (inner, edges) = w(MINUTE + 5, 4 * MINUTE - 1).whole_minutes().unwrap();
        assert_eq!(inner, w(2 * MINUTE, 3 * MINUTE));
        assert_eq!(
            edges,
            [w(MINUTE + 5, 2 * MINUTE), w(3 * MINUTE, 4 * MINUTE - 1)]
        );
        let (inner, edges) = w(-MINUTE, MINUTE).whole_minutes().unwrap();
        assert_eq!((inner, edges), (w(-MINUTE, MINUTE), vec![]));
        assert_eq!(w(MINUTE + 1, 2 * MINUTE + 1).whole_minutes(), None);
    }

    #[test]
    fn next_minute_includes_the_instant() {
        assert_eq!(next_minute(0), MINUTE);
        assert_eq!(next_minute(MINUTE - 1), MINUTE);
        assert_eq!(next_minute(MINUTE), 2 * MINUTE);
        assert_eq!(next_minute(-1), 0);
    }
}

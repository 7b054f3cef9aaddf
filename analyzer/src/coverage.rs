//! How much of a window's traces the store holds, from the `trace_coverage` rows `collect`
//! writes. In the Transaction Search world a trace budget may leave traces out, chosen failed
//! first and slowest next: a count over such a window is of the traces held, not of all, and a
//! percentile leans towards the slow and failed calls. Every report whose numbers depend on it
//! carries its [`Coverage`] so that it can say so.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use hopscope_schema::trace_coverage::{TABLE, col};
use serde::Serialize;

use crate::error::Result;
use crate::session::Session;
use crate::window::Window;

/// The traces collections saw and held over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub traces_seen: i64,
    pub traces_held: i64,
    /// The trace worlds the windows were collected in (`xray`, `transaction_search`, `spans`).
    pub worlds: Vec<String>,
}

impl Coverage {
    /// Whether some traces seen were not stored.
    pub fn is_partial(&self) -> bool {
        self.traces_held < self.traces_seen
    }

    /// The line to show beside counts and percentiles of a partially held window.
    pub fn note(&self) -> Option<String> {
        self.is_partial().then(|| {
            format!(
                "the store holds {} of the {} traces collection saw here ({:.1}%, a trace budget's choice: failed first, then the slowest, then a sample): counts are of the traces held, and percentiles lean to the slow and failed calls",
                self.traces_held,
                self.traces_seen,
                100.0 * self.traces_held as f64 / self.traces_seen.max(1) as f64
            )
        })
    }

    /// What collections recorded for the windows overlapping `window` (everything for `None`);
    /// `None` when no collection recorded any (imported data, or a store from before coverage).
    pub async fn of(session: &Session, window: Option<Window>) -> Result<Option<Coverage>> {
        let filter = window.map_or_else(String::new, |w| {
            format!(
                "WHERE arrow_cast({end}, 'Int64') > {start_us} AND arrow_cast({start}, 'Int64') < {end_us}",
                start = col::WINDOW_START,
                end = col::WINDOW_END,
                start_us = w.start_us,
                end_us = w.end_us,
            )
        });
        let sql = format!(
            "SELECT CAST(sum({seen}) AS BIGINT), CAST(sum({held}) AS BIGINT), \
             array_to_string(array_sort(array_agg(DISTINCT CAST({world} AS VARCHAR))), ',') \
             FROM {TABLE} {filter}",
            seen = col::TRACES_SEEN,
            held = col::TRACES_HELD,
            world = col::WORLD,
        );
        let batches = session.collect(&sql).await?;
        let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let (seen, held) = (
            b.column(0).as_primitive::<Int64Type>(),
            b.column(1).as_primitive::<Int64Type>(),
        );
        if seen.is_null(0) {
            return Ok(None);
        }
        let worlds = b
            .column(2)
            .as_string_opt::<i32>()
            .map_or_else(Vec::new, |w| {
                w.value(0).split(',').map(str::to_string).collect()
            });
        Ok(Some(Coverage {
            traces_seen: seen.value(0),
            traces_held: held.value(0),
            worlds,
        }))
    }
}

//! When each version of a function ran first and last, from the REPORT lines
//! (`lambda_invocations`): a deployment shows there even when no collection saw its
//! configuration, and a version that stops running while a newer one takes over has been
//! replaced.

use hopscope_schema::lambda_invocations::{TABLE, col};

use super::{Change, ChangeKind, Window};
use crate::columns;
use crate::error::Result;
use crate::session::Session;

/// One version's invocations: all of them, and those in the range.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seen {
    pub function: String,
    pub version: String,
    pub first_us: i64,
    pub last_us: i64,
    pub in_range: i64,
}

pub(crate) async fn load(
    session: &Session,
    range: Window,
    wanted: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<Change>> {
    let ts = col::TIMESTAMP;
    let sql = format!(
        "SELECT CAST({f} AS VARCHAR), CAST({v} AS VARCHAR), min({ts}), max({ts}),
                sum(CASE WHEN {in_range} THEN 1 ELSE 0 END)
         FROM {TABLE} WHERE {f} IS NOT NULL AND {v} IS NOT NULL
           AND {ts} < arrow_cast({end}, 'Timestamp(Microsecond, Some(\"UTC\"))')
         GROUP BY 1, 2",
        f = col::FUNCTION,
        v = col::VERSION,
        in_range = range.predicate(ts),
        end = range.end_us,
    );
    let mut seen = Vec::new();
    for b in session.collect(&sql).await? {
        let (function, version) = (columns::strings(&b, 0), columns::strings(&b, 1));
        let (first, last, count) = (
            columns::micros(&b, 2),
            columns::micros(&b, 3),
            columns::ints(&b, 4),
        );
        for r in 0..b.num_rows() {
            let (Some(function), Some(version), Some(first_us), Some(last_us)) =
                (function[r].clone(), version[r].clone(), first[r], last[r])
            else {
                continue;
            };
            if wanted(&function) {
                seen.push(Seen {
                    function,
                    version,
                    first_us,
                    last_us,
                    in_range: count[r],
                });
            }
        }
    }
    Ok(changes(&seen, range))
}

/// First and last invocations of versions in `range` (pure). A version's last invocation is a
/// change of its own only when the version replacing it was already running (traffic shifted
/// over, as with weighted aliases); otherwise the next version's first invocation says it.
pub(crate) fn changes(seen: &[Seen], range: Window) -> Vec<Change> {
    let in_range = |t: i64| t >= range.start_us && t < range.end_us;
    let mut out = Vec::new();
    for s in seen {
        // The first version ever seen is not a deployment: the store starts there.
        let before = seen
            .iter()
            .filter(|o| o.function == s.function && o.first_us < s.first_us)
            .max_by_key(|o| o.first_us);
        if let Some(before) = before
            && in_range(s.first_us)
        {
            out.push(Change {
                at_us: s.first_us,
                kind: ChangeKind::FirstSeen,
                subject: s.function.clone(),
                detail: format!(
                    "version {} after {} ({} invocations in the range)",
                    s.version, before.version, s.in_range
                ),
                lead_up: false,
            });
        }
        let replaced_by = seen
            .iter()
            .filter(|o| {
                o.function == s.function && o.first_us > s.first_us && o.last_us > s.last_us
            })
            .min_by_key(|o| o.first_us);
        if let Some(next) = replaced_by
            && next.first_us < s.last_us
            && in_range(s.last_us)
        {
            out.push(Change {
                at_us: s.last_us,
                kind: ChangeKind::LastSeen,
                subject: s.function.clone(),
                detail: format!(
                    "version {} (version {} running since {})",
                    s.version,
                    next.version,
                    crate::alarms::rfc3339(next.first_us)
                ),
                lead_up: false,
            });
        }
    }
    out.sort_by_key(|c| c.at_us);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;

    fn seen(version: &str, first: i64, last: i64) -> Seen {
        Seen {
            function: "f".into(),
            version: version.into(),
            first_us: first * MIN,
            last_us: last * MIN,
            in_range: 5,
        }
    }

    #[test]
    fn versions_that_took_over_and_the_ones_they_replaced() {
        let range = Window {
            start_us: 100 * MIN,
            end_us: 200 * MIN,
        };
        let got = changes(
            // 8 takes over from 7 while 7 still runs; 9 replaces 8 once 8 stopped.
            &[seen("7", 0, 120), seen("8", 119, 130), seen("9", 131, 199)],
            range,
        );
        let got: Vec<(i64, ChangeKind, &str)> = got
            .iter()
            .map(|c| (c.at_us / MIN, c.kind, c.detail.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    119,
                    ChangeKind::FirstSeen,
                    "version 8 after 7 (5 invocations in the range)"
                ),
                (
                    120,
                    ChangeKind::LastSeen,
                    "version 7 (version 8 running since 1970-01-01T01:59:00Z)"
                ),
                (
                    131,
                    ChangeKind::FirstSeen,
                    "version 9 after 8 (5 invocations in the range)"
                ),
            ]
        );
    }
}

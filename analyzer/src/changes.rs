//! What changed: a time lane of the changes that can explain an incident, beside the lines of
//! the numbers that moved. Changes are new Lambda versions and configurations (the
//! `lambda_functions` snapshots), the first and last invocation of each version (REPORT lines),
//! alarm state changes (the recorded history, or the rules replayed over the window), and the
//! points where a function's cold-start rate, throttles, concurrency, errors or p99 shifted.
//!
//! At the first alarm of the window, the changes of the hour before it are what a responder
//! reads first, so they lead the list.

mod alarm_changes;
mod configurations;
mod lanes;
mod versions;

use hopscope_schema::lambda_invocations as li;
use hopscope_schema::metric_points as mp;
use serde::Serialize;

use crate::alarms::rule::{Rule, glob_match};
use crate::error::Result;
use crate::session::Session;
pub use crate::window::Window;

pub use lanes::{Lane, LaneMetric, Shift};

/// How far before the first alarm a change counts as its lead-up.
pub const LEAD_UP_US: i64 = 3_600_000_000;

/// What to look at.
#[derive(Debug, Clone, Default)]
pub struct ChangesQuery {
    /// `None`: the last hour of data.
    pub window: Option<Window>,
    /// Lambda functions (globs) whose changes, lanes and alarms to show (every alarm when none
    /// of theirs changed); empty: every function.
    pub functions: Vec<String>,
    /// Points of each lane across the window (at least one minute each).
    pub points: usize,
    /// Rules to replay when the store recorded no alarm change around the window.
    pub rules: Vec<Rule>,
}

/// The changes of a window and the lanes they sit beside.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangesReport {
    pub window: Window,
    /// Length of one lane point.
    pub period_secs: i64,
    /// Start of the first lane point (periods are aligned to the epoch, as CloudWatch's).
    pub first_point_us: i64,
    /// One per function and metric that has any point, by function then metric.
    pub lanes: Vec<Lane>,
    /// The lead-up to the first alarm first (oldest first), then the others oldest first.
    pub changes: Vec<Change>,
    /// The first change of an alarm to ALARM in the window.
    pub first_alarm: Option<FirstAlarm>,
    /// Where the alarm changes come from.
    pub alarms_from: AlarmsFrom,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub at_us: i64,
    pub kind: ChangeKind,
    /// The function, or the alarm's `rule key`.
    pub subject: String,
    /// What changed, in words (`memory 512 -> 1024 MB, code 3f2a… -> 9c01…`).
    pub detail: String,
    /// In the hour before the first alarm (and not after it).
    pub lead_up: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new published version.
    Published,
    /// `$LATEST` got new code or configuration.
    Updated,
    /// An alias moved to another version (seen when a collection recorded it).
    AliasMoved,
    /// A version's first invocation.
    FirstSeen,
    /// A version's last invocation, with a newer version running after it.
    LastSeen,
    /// An alarm changed state.
    Alarm,
    /// A lane's level shifted.
    Shift,
}

impl ChangeKind {
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Published => "published",
            ChangeKind::Updated => "updated",
            ChangeKind::AliasMoved => "alias",
            ChangeKind::FirstSeen => "first seen",
            ChangeKind::LastSeen => "last seen",
            ChangeKind::Alarm => "alarm",
            ChangeKind::Shift => "shift",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirstAlarm {
    pub at_us: i64,
    pub rule: String,
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmsFrom {
    /// `STORE/_alarms/history`, as `hopscope alarms` recorded it.
    Recorded,
    /// The rules replayed over the window (`alarms backtest`): nothing was recorded.
    Replayed,
    /// Nothing recorded and no rules given.
    Nothing,
}

impl ChangesReport {
    pub async fn load(session: &Session, query: &ChangesQuery) -> Result<ChangesReport> {
        let window = crate::window::or_last_hour(session, query.window).await?;
        // Changes from the hour before the window too: the lead-up of an alarm at its start.
        let range = Window {
            start_us: window.start_us - LEAD_UP_US,
            end_us: window.end_us,
        };
        let wanted = |function: &str| {
            query.functions.is_empty() || query.functions.iter().any(|g| glob_match(g, function))
        };
        let mut changes = configurations::load(session, range, &wanted).await?;
        changes.extend(versions::load(session, range, &wanted).await?);
        let (mut alarm_changes, alarms_from) =
            alarm_changes::load(session, range, &query.rules).await?;
        // With functions named, their own alarms (on the function, or an edge into or out of
        // it); the system's when none of theirs changed.
        if !query.functions.is_empty() {
            let theirs: Vec<_> = alarm_changes
                .iter()
                .filter(|a| a.key.split(" -> ").any(&wanted))
                .cloned()
                .collect();
            if !theirs.is_empty() {
                alarm_changes = theirs;
            }
        }
        let lanes = lanes::load(session, window, query.points, &wanted).await?;
        changes.extend(lanes.lanes.iter().filter_map(Lane::shift_change));
        let first_alarm = alarm_changes::first_alarm(&alarm_changes, window);
        changes.extend(alarm_changes.into_iter().map(|a| a.change));
        Ok(ChangesReport {
            window,
            period_secs: lanes.period_secs,
            first_point_us: lanes.first_point_us,
            lanes: lanes.lanes,
            changes: order(changes, first_alarm.as_ref()),
            first_alarm,
            alarms_from,
        })
    }
}

/// The first of `candidates` that is a Lambda function with invocations, or the throttle and
/// concurrency metrics its lanes read, in `window`: one whose report has lanes.
pub async fn first_function(
    session: &Session,
    candidates: &[String],
    window: Window,
) -> Result<Option<String>> {
    if candidates.is_empty() {
        return Ok(None);
    }
    let names = crate::sql_literal::list(candidates.iter().map(String::as_str));
    let dims = mp::col::DIMENSIONS;
    let sql = format!(
        "SELECT CAST({f} AS VARCHAR) FROM {invocations} WHERE {f} IN ({names}) AND {iw}
         UNION
         SELECT CAST({dims}['FunctionName'] AS VARCHAR) FROM {metrics}
         WHERE {ns} = 'AWS/Lambda' AND {dims}['FunctionName'] IN ({names}) AND {mw}
           AND {dims}['Resource'] IS NULL AND {dims}['ExecutedVersion'] IS NULL AND {v} IS NOT NULL
           AND (({m} = 'Throttles' AND {st} = 'Sum') OR ({m} = 'ConcurrentExecutions' AND {st} = 'Maximum'))",
        f = li::col::FUNCTION,
        invocations = li::TABLE,
        iw = window.predicate(li::col::TIMESTAMP),
        metrics = mp::TABLE,
        ns = mp::col::NAMESPACE,
        mw = window.predicate(mp::col::TIMESTAMP),
        m = mp::col::METRIC,
        st = mp::col::STATISTIC,
        v = mp::col::VALUE,
    );
    let mut known = Vec::new();
    for b in session.collect(&sql).await? {
        known.extend(crate::columns::strings(&b, 0).into_iter().flatten());
    }
    Ok(candidates.iter().find(|c| known.contains(c)).cloned())
}

/// The lead-up to the first alarm first, each part oldest first.
fn order(mut changes: Vec<Change>, first_alarm: Option<&FirstAlarm>) -> Vec<Change> {
    for c in &mut changes {
        c.lead_up = first_alarm
            .is_some_and(|a| c.at_us <= a.at_us && c.at_us >= a.at_us - LEAD_UP_US)
            && c.kind != ChangeKind::Alarm;
    }
    changes.sort_by(|a, b| {
        (!a.lead_up, a.at_us, a.kind, &a.subject).cmp(&(!b.lead_up, b.at_us, b.kind, &b.subject))
    });
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at_us: i64, kind: ChangeKind) -> Change {
        Change {
            at_us,
            kind,
            subject: "f".into(),
            detail: String::new(),
            lead_up: false,
        }
    }

    #[test]
    fn the_hour_before_the_first_alarm_leads() {
        let alarm = FirstAlarm {
            at_us: 10 * LEAD_UP_US,
            rule: "r".into(),
            key: "k".into(),
        };
        let changes = vec![
            change(8 * LEAD_UP_US, ChangeKind::Published),
            change(10 * LEAD_UP_US, ChangeKind::Alarm),
            change(10 * LEAD_UP_US - 60, ChangeKind::Published),
            change(10 * LEAD_UP_US - LEAD_UP_US / 2, ChangeKind::Shift),
            change(11 * LEAD_UP_US, ChangeKind::Updated),
        ];
        let ordered = order(changes, Some(&alarm));
        let got: Vec<(i64, bool)> = ordered.iter().map(|c| (c.at_us, c.lead_up)).collect();
        assert_eq!(
            got,
            vec![
                (10 * LEAD_UP_US - LEAD_UP_US / 2, true),
                (10 * LEAD_UP_US - 60, true),
                (8 * LEAD_UP_US, false),
                (10 * LEAD_UP_US, false),
                (11 * LEAD_UP_US, false),
            ]
        );
        let without = order(ordered, None);
        assert!(without.iter().all(|c| !c.lead_up));
        assert!(without.windows(2).all(|w| w[0].at_us <= w[1].at_us));
    }
}

//! Alarm state changes on the lane: the history `hopscope alarms` recorded, or, when it recorded
//! nothing around the window (a store of a past incident, alarms never run), the rules replayed
//! over it as `alarms backtest` does.

use super::{AlarmsFrom, Change, ChangeKind, FirstAlarm, Window};
use crate::alarms::state::AlarmStore;
use crate::alarms::{self, Rule, State, Transition};
use crate::error::{Error, Result};
use crate::session::Session;

/// A change of an alarm's state, and which alarm.
#[derive(Clone)]
pub(crate) struct AlarmChange {
    pub change: Change,
    pub rule: String,
    pub key: String,
    pub to_alarm: bool,
}

pub(crate) async fn load(
    session: &Session,
    range: Window,
    rules: &[Rule],
) -> Result<(Vec<AlarmChange>, AlarmsFrom)> {
    // Alarm history is kept beside a local store only; on S3 the rules are replayed.
    let history = match session.local_root() {
        Some(root) => {
            let store = AlarmStore::new(root);
            store.history().map_err(|error| Error::ReadAlarmState {
                path: store.dir().to_path_buf(),
                error,
            })?
        }
        None => Vec::new(),
    };
    let recorded = changes(history, range);
    if !recorded.is_empty() {
        return Ok((recorded, AlarmsFrom::Recorded));
    }
    if rules.is_empty() {
        return Ok((Vec::new(), AlarmsFrom::Nothing));
    }
    let replayed = alarms::backtest(session, rules, range.start_us, range.end_us).await?;
    // A replay starts every alarm from INSUFFICIENT_DATA: its first OK is no change.
    let replayed = replayed
        .into_iter()
        .filter(|t| t.from == State::Alarm || t.to == State::Alarm);
    Ok((changes(replayed, range), AlarmsFrom::Replayed))
}

/// The changes in `range` of alarms that notify: a rule with `actions_enabled = false` is a
/// building block of another, whose own change says it once.
fn changes(transitions: impl IntoIterator<Item = Transition>, range: Window) -> Vec<AlarmChange> {
    transitions
        .into_iter()
        .filter(|t| t.actions_enabled)
        .filter_map(|t| {
            let at_us = chrono::DateTime::parse_from_rfc3339(&t.at)
                .ok()?
                .timestamp_micros();
            // An evaluation at the range's end judges the periods before it: it belongs.
            (at_us >= range.start_us && at_us <= range.end_us).then(|| alarm_change(t, at_us))
        })
        .collect()
}

fn alarm_change(t: Transition, at_us: i64) -> AlarmChange {
    AlarmChange {
        change: Change {
            at_us,
            kind: ChangeKind::Alarm,
            subject: format!("{} {}", t.rule, t.key),
            detail: if t.reason.is_empty() {
                format!("{} -> {}", t.from, t.to)
            } else {
                format!("{} -> {}: {}", t.from, t.to, t.reason)
            },
            lead_up: false,
        },
        to_alarm: t.to == State::Alarm,
        rule: t.rule,
        key: t.key,
    }
}

/// The earliest change to ALARM inside `window`.
pub(crate) fn first_alarm(changes: &[AlarmChange], window: Window) -> Option<FirstAlarm> {
    changes
        .iter()
        .filter(|a| {
            a.to_alarm && a.change.at_us >= window.start_us && a.change.at_us <= window.end_us
        })
        .min_by_key(|a| a.change.at_us)
        .map(|a| FirstAlarm {
            at_us: a.change.at_us,
            rule: a.rule.clone(),
            key: a.key.clone(),
        })
}

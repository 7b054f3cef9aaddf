//! What changed: on each sample scenario, the incident's own change leads the lane, before the
//! first alarm; deployments are where the REPORT lines put them; recorded alarm history wins
//! over a replay.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use hopscope_analyzer::Session;
use hopscope_analyzer::alarms::{self, Evaluator, Rule};
use hopscope_analyzer::changes::{
    AlarmsFrom, ChangeKind, ChangesQuery, ChangesReport, LEAD_UP_US, LaneMetric,
};
use hopscope_analyzer::window::Window;
use hopscope_scenarios::Scenario;

use crate::scenario_stores;

fn rules() -> Vec<Rule> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../rules"));
    let (rules, problems) = alarms::load(&dir).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    rules
}

fn query(scenario: &Scenario, rules: Vec<Rule>) -> ChangesQuery {
    ChangesQuery {
        window: Some(Window {
            start_us: scenario.window.start.timestamp_micros(),
            end_us: scenario.window.end.timestamp_micros(),
        }),
        functions: Vec::new(),
        points: 60,
        rules,
    }
}

#[tokio::test]
async fn the_incident_s_shift_leads_up_to_the_first_alarm() {
    let rules = rules();
    for (scenario, store) in scenario_stores() {
        let s = Session::open(store.path()).await.unwrap();
        let r = ChangesReport::load(&s, &query(scenario, rules.clone()))
            .await
            .unwrap();
        assert_eq!(r.alarms_from, AlarmsFrom::Replayed, "{}", scenario.name);
        let first = r
            .first_alarm
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no alarm", scenario.name));
        assert!(
            scenario
                .alarms
                .iter()
                .any(|a| (&a.rule, &a.key) == (&first.rule, &first.key)),
            "{}: first alarm {first:?} is none of the scenario's",
            scenario.name
        );
        let lead = &r.changes[0];
        assert!(lead.lead_up, "{}: {:#?}", scenario.name, r.changes);
        // The level shift that starts the incident, in the minute it started.
        let incident = scenario.incident.start.timestamp_micros();
        assert_eq!(lead.kind, ChangeKind::Shift, "{}: {lead:?}", scenario.name);
        assert!(
            (lead.at_us - incident).abs() <= r.period_secs * 1_000_000,
            "{}: {lead:?} against {}",
            scenario.name,
            scenario.incident.start
        );
        // The lead-up is the hour before the first alarm, listed first, and holds no alarm.
        let lead_up: Vec<_> = r.changes.iter().take_while(|c| c.lead_up).collect();
        assert!(r.changes[lead_up.len()..].iter().all(|c| !c.lead_up));
        for c in &lead_up {
            assert!(c.at_us <= first.at_us && c.at_us >= first.at_us - LEAD_UP_US);
            assert_ne!(c.kind, ChangeKind::Alarm);
        }
        // The first alarm is on the lane itself.
        assert!(r.changes.iter().any(|c| c.kind == ChangeKind::Alarm
            && c.at_us == first.at_us
            && c.subject == format!("{} {}", first.rule, first.key)));
        // Before the incident nothing shifted.
        assert!(
            r.changes
                .iter()
                .filter(|c| c.kind == ChangeKind::Shift)
                .all(|c| c.at_us >= incident - r.period_secs * 1_000_000),
            "{}: {:#?}",
            scenario.name,
            r.changes
        );
    }
}

/// Dragons' deploy storm: every version the REPORT lines name after the first is a change at
/// its first invocation, and the cold-start lane steps up with it.
#[tokio::test]
async fn every_new_version_is_a_change_at_its_first_invocation() {
    let (scenario, store) = scenario_stores()
        .iter()
        .find(|(s, _)| s.name == "dragons")
        .unwrap();
    let s = Session::open(store.path()).await.unwrap();
    let mut q = query(scenario, Vec::new());
    q.functions = vec!["list*".into()];
    let r = ChangesReport::load(&s, &q).await.unwrap();
    assert_eq!(r.alarms_from, AlarmsFrom::Nothing);
    assert_eq!(r.first_alarm, None);
    let firsts: BTreeMap<String, i64> = crate::csv(
        &s,
        "SELECT CAST(version AS VARCHAR) AS v, arrow_cast(min(timestamp), 'Int64') AS t
         FROM lambda_invocations WHERE function = 'listDragons' GROUP BY 1 ORDER BY 1",
    )
    .await
    .lines()
    .skip(1)
    .map(|l| {
        let (v, t) = l.split_once(',').unwrap();
        (v.to_string(), t.parse().unwrap())
    })
    .collect();
    let seen: BTreeMap<String, i64> = r
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::FirstSeen)
        .map(|c| {
            assert_eq!(c.subject, "listDragons");
            let version = c.detail.split(' ').nth(1).unwrap().to_string();
            (version, c.at_us)
        })
        .collect();
    let mut expected = firsts.clone();
    expected.remove("7");
    assert_eq!(seen.len(), 21, "{seen:?}");
    for (v, t) in &expected {
        assert_eq!(seen[v], *t, "version {v}");
    }
    // Every publish of the storm is a change at its LastModified, against the version before:
    // 8 to 29 (29 was published too late for any invocation).
    let published: Vec<(String, i64)> = r
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Published)
        .map(|c| {
            (
                c.detail.split([' ', ':']).nth(1).unwrap().to_string(),
                c.at_us,
            )
        })
        .collect();
    let modified: Vec<(String, i64)> = crate::csv(
        &s,
        "SELECT CAST(version AS VARCHAR) AS v, arrow_cast(last_modified, 'Int64') AS t
         FROM lambda_functions WHERE function = 'listDragons' AND version NOT IN ('$LATEST', '7')
         ORDER BY 2",
    )
    .await
    .lines()
    .skip(1)
    .map(|l| {
        let (v, t) = l.split_once(',').unwrap();
        (v.to_string(), t.parse().unwrap())
    })
    .collect();
    assert_eq!(published.len(), 22, "{published:?}");
    assert_eq!(published, modified);
    assert!(
        r.changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Published)
            .all(|c| c.detail.contains(": code ")),
        "each publish brings new code"
    );
    // Only listDragons' lanes, and its cold starts rose from almost none.
    assert!(r.lanes.iter().all(|l| l.function == "listDragons"));
    let cold = r
        .lanes
        .iter()
        .find(|l| l.metric == LaneMetric::ColdStarts)
        .unwrap();
    let shift = cold.shift.unwrap();
    assert!(shift.before < 0.05 && shift.after > 0.25, "{shift:?}");
    // The concurrency lane is CloudWatch's ConcurrentExecutions Maximum, minute by minute.
    let concurrency = r
        .lanes
        .iter()
        .find(|l| l.metric == LaneMetric::Concurrency)
        .unwrap();
    assert_eq!(r.period_secs, 120);
    let peaks = crate::csv(
        &s,
        "SELECT max(value) AS v FROM metric_points
         WHERE metric = 'ConcurrentExecutions' AND statistic = 'Maximum'
           AND dimensions['FunctionName'] = 'listDragons'
         GROUP BY date_bin(INTERVAL '2 minutes', timestamp) ORDER BY date_bin(INTERVAL '2 minutes', timestamp)",
    )
    .await;
    // Minutes the function did not run have no datapoint, in either.
    let lane: Vec<String> = concurrency
        .points
        .iter()
        .flatten()
        .map(|p| format!("{p:.1}"))
        .collect();
    let expected: Vec<&str> = peaks.lines().skip(1).collect();
    assert_eq!(lane, expected);
}

/// With alarms evaluated and saved (`alarms watch` does it), the lane shows what they recorded,
/// not a replay.
#[tokio::test]
async fn recorded_alarm_history_is_used_over_a_replay() {
    let (scenario, store) = scenario_stores()
        .iter()
        .find(|(s, _)| s.name == "users")
        .unwrap();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(store.path(), copy.path());
    let evaluator = Evaluator::new(copy.path(), rules(), Vec::new());
    let lock = alarms::state::AlarmStore::new(copy.path())
        .try_lock("test")
        .unwrap();
    // Every five minutes from an hour into the window, as a scheduled check would.
    let mut at = scenario.window.start + chrono::TimeDelta::hours(1);
    let mut recorded_alarm: Option<DateTime<Utc>> = None;
    while at <= scenario.window.end {
        let e = evaluator.evaluate(at, Some(&lock)).await.unwrap();
        if recorded_alarm.is_none()
            && e.transitions
                .iter()
                .any(|t| t.actions_enabled && t.to == alarms::State::Alarm)
        {
            recorded_alarm = Some(at);
        }
        at += chrono::TimeDelta::minutes(5);
    }
    drop(lock);
    let s = Session::open(copy.path()).await.unwrap();
    let r = ChangesReport::load(&s, &query(scenario, rules()))
        .await
        .unwrap();
    assert_eq!(r.alarms_from, AlarmsFrom::Recorded);
    assert_eq!(
        r.first_alarm.map(|a| a.at_us),
        recorded_alarm.map(|t| t.timestamp_micros())
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The hop pane asks for the first of the callee and the caller that is a function with lanes:
/// the same one whose report has lanes.
#[tokio::test]
async fn the_first_function_is_the_first_with_lanes() {
    let (scenario, store) = scenario_stores()
        .iter()
        .find(|(s, _)| s.name == "etl")
        .unwrap();
    let s = Session::open(store.path()).await.unwrap();
    let window = query(scenario, Vec::new()).window.unwrap();
    let candidates = ["api.worldbank.org".to_string(), "worldbank-etl".to_string()];
    let first = hopscope_analyzer::changes::first_function(&s, &candidates, window)
        .await
        .unwrap();
    assert_eq!(first.as_deref(), Some("worldbank-etl"));
    for name in &candidates {
        let mut q = query(scenario, Vec::new());
        q.functions = vec![name.clone()];
        let lanes = ChangesReport::load(&s, &q).await.unwrap().lanes;
        assert_eq!(!lanes.is_empty(), first.as_ref() == Some(name), "{name}");
    }
    let none = hopscope_analyzer::changes::first_function(&s, &candidates[..1], window)
        .await
        .unwrap();
    assert_eq!(none, None);
}

//! The evaluator against CloudWatch's documentation, state by state.

use super::*;
use crate::alarms::rule::{Comparison, Condition, LowSample, MissingData};

const MIN: i64 = 60_000_000;
/// 2026-11-22T10:00:00Z
const T0: i64 = 1_795_341_600_000_000;

fn cond(m: u32, n: u32, mode: MissingData) -> Condition {
    Condition {
        comparison: Comparison::GreaterThan,
        threshold: 3.0,
        period_secs: 60,
        evaluation_periods: n,
        datapoints_to_alarm: m,
        treat_missing_data: mode,
        low_sample: LowSample::Evaluate,
        percentile: None,
    }
}

/// `0 - X - X` (oldest first): 0 = not breaching, X = breaching, - = missing.
fn slots(pattern: &str) -> Vec<Option<Datapoint>> {
    pattern
        .split_whitespace()
        .enumerate()
        .map(|(i, c)| {
            let value = match c {
                "0" => 1.0,
                "X" => 5.0,
                "-" => return None,
                other => panic!("bad slot {other}"),
            };
            Some(Datapoint {
                time: T0 + i as i64 * MIN,
                value,
                samples: 100,
            })
        })
        .collect()
}

/// `Retain` is the previous state: checked from both OK and ALARM.
#[derive(Debug, Clone, Copy)]
enum Want {
    S(State),
    Retain,
}
use State::{Alarm, InsufficientData as Insufficient, Ok};
use Want::{Retain, S};

const MODES: [MissingData; 4] = [
    MissingData::Missing,
    MissingData::Ignore,
    MissingData::Breaching,
    MissingData::NotBreaching,
];

fn check_row(m: u32, n: u32, pattern: &str, want: [Want; 4]) {
    for (mode, want) in MODES.into_iter().zip(want) {
        for previous in [State::Ok, State::Alarm, State::InsufficientData] {
            let got = evaluate_slots(&cond(m, n, mode), &slots(pattern), previous);
            let expected = match want {
                S(s) => s,
                Retain => previous,
            };
            assert_eq!(
                got.state, expected,
                "{m} of {n}, {pattern:?}, {mode:?}, previous {previous}: {}",
                got.reason
            );
        }
    }
}

/// "Configuring how CloudWatch alarms treat missing data", first table: Datapoints to Alarm and
/// Evaluation Periods both 3, 5 datapoints retrieved. Columns: MISSING, IGNORE, BREACHING,
/// NOT BREACHING.
#[test]
fn three_out_of_three() {
    let rows: [(&str, [Want; 4]); 6] = [
        ("0 - X - X", [S(Ok), S(Ok), S(Ok), S(Ok)]),
        ("0 - - - -", [S(Ok), S(Ok), S(Ok), S(Ok)]),
        ("- - - - -", [S(Insufficient), Retain, S(Alarm), S(Ok)]),
        ("0 X X - X", [S(Alarm), S(Alarm), S(Alarm), S(Alarm)]),
        ("- - - - X", [S(Insufficient), Retain, S(Alarm), S(Ok)]),
        ("X - - - -", [S(Alarm), Retain, S(Alarm), S(Ok)]),
    ];
    for (pattern, want) in rows {
        check_row(3, 3, pattern, want);
    }
}

/// The second table: 2 out of 3.
#[test]
fn two_out_of_three() {
    let rows: [(&str, [Want; 4]); 5] = [
        ("0 - X - X", [S(Alarm), S(Alarm), S(Alarm), S(Alarm)]),
        ("0 0 X 0 X", [S(Alarm), S(Alarm), S(Alarm), S(Alarm)]),
        ("0 - X - -", [S(Ok), S(Ok), S(Alarm), S(Ok)]),
        ("- - - - 0", [S(Ok), S(Ok), S(Alarm), S(Ok)]),
        ("- - - - X", [S(Insufficient), Retain, S(Alarm), S(Ok)]),
    ];
    for (pattern, want) in rows {
        check_row(2, 3, pattern, want);
    }
}

/// "Evaluating an alarm": threshold 3, 3 out of 3; ALARM from the 5th period (3rd to 5th
/// breach), OK at the 6th (one not breaching), still OK at the 9th (a single breach).
#[test]
fn the_documented_sequence() {
    let values = [1.0, 2.0, 4.0, 5.0, 4.5, 2.0, 1.0, 1.5, 4.0, 2.0];
    let c = cond(3, 3, MissingData::Missing);
    let points: Vec<Datapoint> = values
        .iter()
        .enumerate()
        .map(|(i, &value)| Datapoint {
            time: T0 + i as i64 * MIN,
            value,
            samples: 1,
        })
        .collect();
    let mut state = State::InsufficientData;
    let mut states = Vec::new();
    for i in 1..=values.len() {
        state = evaluate(&c, &points, T0 + i as i64 * MIN, state).state;
        states.push(state);
    }
    use State::*;
    assert_eq!(states, [Ok, Ok, Ok, Ok, Alarm, Ok, Ok, Ok, Ok, Ok]);
}

#[test]
fn reasons_are_worded_as_cloudwatch_words_them() {
    let c = Condition {
        threshold: 2000.0,
        ..cond(3, 3, MissingData::Missing)
    };
    // 2026-11-22 10:03, 10:04, 10:05.
    let points: Vec<Datapoint> = [2100.0, 2250.0, 2310.0]
        .iter()
        .enumerate()
        .map(|(i, &value)| Datapoint {
            time: T0 + (3 + i as i64) * MIN,
            value,
            samples: 40,
        })
        .collect();
    let e = evaluate(&c, &points, T0 + 6 * MIN, State::Ok);
    assert_eq!(e.state, State::Alarm);
    assert_eq!(
        e.reason,
        "Threshold Crossed: 3 out of the last 3 datapoints [2310.0 (22/11/26 10:05:00), 2250.0 (22/11/26 10:04:00), 2100.0 (22/11/26 10:03:00)] were greater than the threshold (2000.0) (minimum 3 datapoints for OK -> ALARM transition)."
    );

    let mut later = points.clone();
    later.push(Datapoint {
        time: T0 + 6 * MIN,
        value: 1500.5,
        samples: 40,
    });
    let e = evaluate(&c, &later, T0 + 7 * MIN, State::Alarm);
    assert_eq!(e.state, State::Ok);
    assert_eq!(
        e.reason,
        "Threshold Crossed: 1 out of the last 3 datapoints [1500.5 (22/11/26 10:06:00)] was not greater than the threshold (2000.0) (minimum 1 datapoint for ALARM -> OK transition)."
    );

    // No transition: no "minimum" clause.
    let e = evaluate(&c, &points, T0 + 6 * MIN, State::Alarm);
    assert!(!e.reason.contains("minimum"), "{}", e.reason);

    let e = evaluate_slots(
        &cond(3, 3, MissingData::Breaching),
        &slots("- - - - -"),
        State::Ok,
    );
    assert_eq!(
        e.reason,
        "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [Breaching]."
    );
    let e = evaluate_slots(
        &cond(3, 3, MissingData::Missing),
        &slots("- - - - -"),
        State::Ok,
    );
    assert_eq!(e.reason, "Insufficient Data: 3 datapoints were unknown.");
    let e = evaluate_slots(
        &cond(2, 3, MissingData::NotBreaching),
        &slots("0 - X - -"),
        State::Alarm,
    );
    assert!(
        e.reason
            .contains("and 1 missing datapoint was treated as [NonBreaching]"),
        "{}",
        e.reason
    );
}

#[test]
fn comparisons() {
    let at = |comparison, value| {
        Condition {
            comparison,
            ..cond(1, 1, MissingData::Missing)
        }
        .breaches(value)
    };
    assert!(at(Comparison::GreaterThan, 3.5) && !at(Comparison::GreaterThan, 3.0));
    assert!(at(Comparison::GreaterThanOrEqual, 3.0) && !at(Comparison::GreaterThanOrEqual, 2.9));
    assert!(at(Comparison::LessThan, 2.0) && !at(Comparison::LessThan, 3.0));
    assert!(at(Comparison::LessThanOrEqual, 3.0) && !at(Comparison::LessThanOrEqual, 3.1));
}

#[test]
fn low_sample_percentiles() {
    let p = |percentile: f64, low_sample| Condition {
        percentile: Some(percentile),
        low_sample,
        ..cond(1, 1, MissingData::Missing)
    };
    // 10 / (1 - p) at or above p50, 10 / p below.
    assert_eq!(p(99.0, LowSample::Ignore).min_samples(), Some(1000));
    assert_eq!(p(90.0, LowSample::Ignore).min_samples(), Some(100));
    assert_eq!(p(50.0, LowSample::Ignore).min_samples(), Some(20));
    assert_eq!(p(10.0, LowSample::Ignore).min_samples(), Some(100));
    assert_eq!(p(100.0, LowSample::Ignore).min_samples(), None);

    let point = |samples| Datapoint {
        time: T0,
        value: 10.0,
        samples,
    };
    // Too few samples, ignore: the state does not change, whatever it was.
    for previous in [State::Ok, State::Alarm, State::InsufficientData] {
        let e = evaluate(
            &p(90.0, LowSample::Ignore),
            &[point(99)],
            T0 + MIN,
            previous,
        );
        assert_eq!(e.state, previous, "{}", e.reason);
        assert!(e.reason.contains("fewer than 100 samples"), "{}", e.reason);
    }
    // Enough samples, or evaluate: evaluated.
    let e = evaluate(
        &p(90.0, LowSample::Ignore),
        &[point(100)],
        T0 + MIN,
        State::Ok,
    );
    assert_eq!(e.state, State::Alarm);
    let e = evaluate(
        &p(90.0, LowSample::Evaluate),
        &[point(3)],
        T0 + MIN,
        State::Ok,
    );
    assert_eq!(e.state, State::Alarm);
}

#[test]
fn points_outside_the_range_and_non_finite_values_are_not_read() {
    let c = cond(1, 1, MissingData::Missing);
    let old = Datapoint {
        time: T0 - 10 * MIN,
        value: 9.0,
        samples: 1,
    };
    let nan = Datapoint {
        time: T0,
        value: f64::NAN,
        samples: 1,
    };
    let e = evaluate(&c, &[old, nan], T0 + MIN, State::Ok);
    assert_eq!(e.state, State::InsufficientData);
}

#[test]
fn values_print_as_cloudwatch_prints_them() {
    assert_eq!(format_value(2310.0), "2310.0");
    assert_eq!(format_value(0.25), "0.25");
    assert_eq!(format_time(T0 + 5 * MIN), "22/11/26 10:05:00");
}

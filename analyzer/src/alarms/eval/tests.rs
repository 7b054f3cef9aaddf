//! The evaluator against CloudWatch's documentation, state by state.

use rstest::rstest;

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

/// The two tables of evaluation examples in the CloudWatch User Guide, "Alarm evaluation"
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html>
/// (formerly the "Configuring how CloudWatch alarms treat missing data" section of
/// AlarmThatSendsEmail.html; text read from awsdocs/amazon-cloudwatch-user-guide,
/// doc_source/AlarmThatSendsEmail.md), every row and column: Evaluation Periods 3, evaluation
/// range 5, newest datapoint last. Columns: the datapoints, how many must be filled, then the
/// state for MISSING, IGNORE, BREACHING, NOT BREACHING.
#[rstest]
// Table 1: Datapoints to Alarm 3.
#[case::three_of_three_1(3, "0 - X - X", 0, [S(Ok), S(Ok), S(Ok), S(Ok)])]
#[case::three_of_three_2(3, "0 - - - -", 2, [S(Ok), S(Ok), S(Ok), S(Ok)])]
#[case::three_of_three_3(3, "- - - - -", 3, [S(Insufficient), Retain, S(Alarm), S(Ok)])]
#[case::three_of_three_4(3, "0 X X - X", 0, [S(Alarm), S(Alarm), S(Alarm), S(Alarm)])]
#[case::three_of_three_5(3, "- - X - -", 2, [S(Alarm), Retain, S(Alarm), S(Ok)])]
// Table 2: Datapoints to Alarm 2 (2 out of 3).
#[case::two_of_three_1(2, "0 - X - X", 0, [S(Alarm), S(Alarm), S(Alarm), S(Alarm)])]
#[case::two_of_three_2(2, "0 0 X 0 X", 0, [S(Alarm), S(Alarm), S(Alarm), S(Alarm)])]
#[case::two_of_three_3(2, "0 - X - -", 1, [S(Ok), S(Ok), S(Alarm), S(Ok)])]
#[case::two_of_three_4(2, "- - - - 0", 2, [S(Ok), S(Ok), S(Alarm), S(Ok)])]
#[case::two_of_three_5(2, "- - - X -", 2, [S(Alarm), Retain, S(Alarm), S(Ok)])]
fn the_documented_tables(
    #[case] m: u32,
    #[case] pattern: &str,
    #[case] filled: usize,
    #[case] want: [Want; 4],
) {
    check_row(m, 3, pattern, want);
    // The filled count shows in the reasons of the modes that fill.
    for mode in [MissingData::Breaching, MissingData::NotBreaching] {
        let reason = evaluate_slots(&cond(m, 3, mode), &slots(pattern), State::Ok).reason;
        if filled == 0 {
            assert!(!reason.contains("missing datapoint"), "{mode:?}: {reason}");
        } else {
            let clause = format!(
                "{filled} missing datapoint{} {} treated as",
                plural(filled),
                if filled == 1 { "was" } else { "were" }
            );
            assert!(reason.contains(&clause), "{mode:?}: {reason}");
        }
    }
}

/// "Avoiding premature transitions to alarm state" (same page): with `missing`, only breaching
/// datapoints and fewer than M of them, ALARM once the oldest breaching one is at least M
/// periods old; before that a newer datapoint could still clear it, so INSUFFICIENT_DATA. The
/// last case is the 2019 table's sixth row, which the rule still gives.
#[rstest]
#[case::newest_of_three(3, "- - - - X", Insufficient)]
#[case::second_newest_of_three(3, "- - - X -", Insufficient)]
#[case::newest_of_two(2, "- - - - X", Insufficient)]
#[case::third_newest_of_three(3, "- - X - -", Alarm)]
#[case::second_newest_of_two(2, "- - - X -", Alarm)]
#[case::then_not_breaching(3, "- - - X 0", Ok)]
#[case::then_missing_then_not_breaching(3, "- - X - 0", Ok)]
#[case::two_breaching_of_three(3, "- - X X -", Alarm)]
#[case::oldest_of_the_range(3, "X - - - -", Alarm)]
fn premature_alarm(#[case] m: u32, #[case] pattern: &str, #[case] want: State) {
    for previous in [State::Ok, State::Alarm, State::InsufficientData] {
        let e = evaluate_slots(&cond(m, 3, MissingData::Missing), &slots(pattern), previous);
        assert_eq!(e.state, want, "previous {previous}: {}", e.reason);
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

/// `values` as consecutive one-minute datapoints from 10:00.
fn minutes(values: &[f64]) -> Vec<Datapoint> {
    values
        .iter()
        .enumerate()
        .map(|(i, &value)| Datapoint {
            time: T0 + i as i64 * MIN,
            value,
            samples: 40,
        })
        .collect()
}

#[test]
fn reasons_are_worded_as_cloudwatch_words_them() {
    let c = Condition {
        threshold: 2000.0,
        ..cond(3, 3, MissingData::Missing)
    };
    // 2026-11-22 10:03, 10:04, 10:05.
    let points = minutes(&[0.0, 0.0, 0.0, 2100.0, 2250.0, 2310.0]);
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

/// CloudWatch names the transition OK -> ALARM or ALARM -> OK whatever the previous state,
/// so the reason depends on the datapoints alone.
#[rstest]
#[case::alarm(
    "0 0 X X X",
    State::Alarm,
    "(minimum 3 datapoints for OK -> ALARM transition)."
)]
#[case::ok(
    "X X X X 0",
    State::Ok,
    "(minimum 1 datapoint for ALARM -> OK transition)."
)]
fn the_transition_clause_ignores_the_previous_state(
    #[case] pattern: &str,
    #[case] want: State,
    #[case] clause: &str,
) {
    let c = cond(3, 3, MissingData::Missing);
    for previous in [State::Ok, State::Alarm, State::InsufficientData] {
        let e = evaluate_slots(&c, &slots(pattern), previous);
        assert_eq!(e.state, want);
        assert!(
            e.reason.ends_with(clause),
            "previous {previous}: {}",
            e.reason
        );
    }
}

#[test]
fn one_datapoint_is_worded_in_the_singular() {
    let e = evaluate(
        &cond(1, 1, MissingData::Missing),
        &minutes(&[5.0]),
        T0 + MIN,
        State::InsufficientData,
    );
    assert_eq!(
        e.reason,
        "Threshold Crossed: 1 datapoint [5.0 (22/11/26 10:00:00)] was greater than the threshold (3.0) (minimum 1 datapoint for OK -> ALARM transition)."
    );
}

/// Up to five datapoints are listed in the sentence; past five, only the five most recent,
/// in a second sentence.
#[rstest]
#[case::five(
    5,
    "Threshold Crossed: 5 out of the last 5 datapoints [8.0 (22/11/26 10:05:00), 7.0 (22/11/26 10:04:00), 6.0 (22/11/26 10:03:00), 5.0 (22/11/26 10:02:00), 4.0 (22/11/26 10:01:00)] were greater than the threshold (3.0) (minimum 5 datapoints for OK -> ALARM transition)."
)]
#[case::six(
    6,
    "Threshold Crossed: 6 out of the last 6 datapoints were greater than the threshold (3.0). The most recent datapoints which crossed the threshold: [9.0 (22/11/26 10:06:00), 8.0 (22/11/26 10:05:00), 7.0 (22/11/26 10:04:00), 6.0 (22/11/26 10:03:00), 5.0 (22/11/26 10:02:00)] (minimum 6 datapoints for OK -> ALARM transition)."
)]
fn past_five_datapoints_only_the_most_recent_are_listed(#[case] n: u32, #[case] want: &str) {
    // 3.0 (not breaching) at 10:00, then 4.0, 5.0, ... one a minute.
    let values: Vec<f64> = (0..=n).map(|i| 3.0 + f64::from(i)).collect();
    let e = evaluate(
        &cond(n, n, MissingData::Missing),
        &minutes(&values),
        T0 + (i64::from(n) + 1) * MIN,
        State::Ok,
    );
    assert_eq!(e.reason, want);
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

/// 10 / (1 - p) samples at or above p50, 10 / p below, compared exactly: the bound is not a
/// whole number for p30 (33.3), p45 (22.2), p55 (22.2), p66 (29.4), p70 (33.3).
#[rstest]
#[case::p10(10.0, 100)]
#[case::p30(30.0, 34)]
#[case::p45(45.0, 23)]
#[case::p50(50.0, 20)]
#[case::p55(55.0, 23)]
#[case::p66(66.0, 30)]
#[case::p70(70.0, 34)]
#[case::p90(90.0, 100)]
#[case::p99(99.0, 1000)]
#[case::p99_9(99.9, 10_000)]
#[case::p99_99(99.99, 100_000)]
fn low_sample_percentiles(#[case] percentile: f64, #[case] enough: u64) {
    let c = Condition {
        percentile: Some(percentile),
        low_sample: LowSample::Ignore,
        ..cond(1, 1, MissingData::Missing)
    };
    let point = |samples| Datapoint {
        time: T0,
        value: 10.0,
        samples,
    };
    // Too few samples, ignore: the state does not change, whatever it was.
    for previous in [State::Ok, State::Alarm, State::InsufficientData] {
        let e = evaluate(&c, &[point(enough - 1)], T0 + MIN, previous);
        assert_eq!(e.state, previous, "{}", e.reason);
        assert!(
            e.reason.contains("computed from fewer than"),
            "{}",
            e.reason
        );
    }
    // Enough samples, or evaluate: evaluated.
    let e = evaluate(&c, &[point(enough)], T0 + MIN, State::Ok);
    assert_eq!(e.state, State::Alarm, "{}", e.reason);
    let evaluate_anyway = Condition {
        low_sample: LowSample::Evaluate,
        ..c
    };
    let e = evaluate(&evaluate_anyway, &[point(3)], T0 + MIN, State::Ok);
    assert_eq!(e.state, State::Alarm, "{}", e.reason);
}

#[rstest]
#[case::whole(90.0, "fewer than 100 samples")]
#[case::fraction(70.0, "fewer than 33.33 samples")]
fn the_low_sample_reason_names_the_bound(#[case] percentile: f64, #[case] words: &str) {
    let c = Condition {
        percentile: Some(percentile),
        low_sample: LowSample::Ignore,
        ..cond(1, 1, MissingData::Missing)
    };
    let point = Datapoint {
        time: T0,
        value: 10.0,
        samples: 3,
    };
    let e = evaluate(&c, &[point], T0 + MIN, State::Ok);
    assert!(e.reason.contains(words), "{}", e.reason);
}

#[rstest]
#[case::p0(Some(0.0))]
#[case::p100(Some(100.0))]
#[case::not_a_percentile(None)]
fn extreme_percentiles_have_no_bound(#[case] percentile: Option<f64>) {
    let c = Condition {
        percentile,
        ..cond(1, 1, MissingData::Missing)
    };
    assert_eq!(c.min_samples(), None);
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

//! The pure core: a rule's condition + the datapoints of its evaluation range + the previous
//! state -> the new state and its reason, with CloudWatch's semantics.
//!
//! CloudWatch ("Alarm evaluation", <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html>,
//! formerly the "Configuring how CloudWatch alarms treat missing data" section of
//! AlarmThatSendsEmail.html) retrieves more periods than `evaluation_periods` (N): the
//! *evaluation range*, here N + 2 periods, as in its documented examples (5 periods for N = 3).
//! Then:
//! - N or more real datapoints in the range: the N most recent real ones are evaluated; how
//!   missing data is treated does not matter.
//! - fewer than N: the missing periods are filled per `treat_missing_data` (as few as needed to
//!   make N), every real datapoint of the range included. `breaching` / `not_breaching` fill
//!   with breaching / non-breaching points. `missing` and `ignore` fill with nothing: ALARM if
//!   the real breaching points reach M; OK if a real point is not breaching; otherwise (only
//!   breaching points, fewer than M) `ignore` keeps the current state and `missing` goes to ALARM
//!   when the oldest breaching point is at least M periods old (CloudWatch's "premature alarm"
//!   rule: the newer periods are all missing, so no datapoint can come to contradict it), else to
//!   INSUFFICIENT_DATA.
//! - no real datapoint at all: `missing` -> INSUFFICIENT_DATA, `ignore` -> current state,
//!   `breaching` -> ALARM, `not_breaching` -> OK.
//!
//! Then ALARM if at least M (`datapoints_to_alarm`) of the N evaluated points breach, else OK.
//! A percentile datapoint computed from fewer samples than CloudWatch's significance bound
//! (10 / (1 - p) for p >= 0.5, 10 / p below, compared exactly: 33 samples are too few for p70's
//! 33.3) is, with `evaluate_low_sample_count_percentile = "ignore"`, not evaluated: the state
//! does not change.

use std::fmt::Write;

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use super::rule::{Comparison, Condition, LowSample, MissingData};
pub use crate::significance::SampleBound;

/// An alarm state, named as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Ok,
    Alarm,
    InsufficientData,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Alarm => "ALARM",
            State::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One period's value of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datapoint {
    /// Start of the period, epoch microseconds.
    pub time: i64,
    pub value: f64,
    /// How many samples the value was computed from (the low-sample rule of percentiles).
    pub samples: u64,
}

/// The outcome of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub state: State,
    pub reason: String,
}

/// The evaluation range: how many periods before the evaluation time are read.
pub fn evaluation_range(evaluation_periods: u32) -> u32 {
    evaluation_periods + 2
}

/// Evaluates `cond` at `end` (exclusive end of the newest complete period, epoch µs) over
/// `points` (any order; those outside the evaluation range are not read).
pub fn evaluate(cond: &Condition, points: &[Datapoint], end: i64, previous: State) -> Evaluation {
    let period = cond.period_secs * 1_000_000;
    let range = i64::from(evaluation_range(cond.evaluation_periods));
    let start = end - range * period;
    // Slots oldest -> newest; a later point for the same period replaces an earlier one.
    let mut slots: Vec<Option<Datapoint>> = vec![None; range as usize];
    for p in points {
        if p.time >= start && p.time < end && p.value.is_finite() {
            slots[((p.time - start) / period) as usize] = Some(*p);
        }
    }
    evaluate_slots(cond, &slots, previous)
}

/// Evaluates over the evaluation range given slot by slot, oldest first.
pub fn evaluate_slots(
    cond: &Condition,
    slots: &[Option<Datapoint>],
    previous: State,
) -> Evaluation {
    let n = cond.evaluation_periods as usize;
    let m = cond.datapoints_to_alarm as usize;
    let real: Vec<(usize, Datapoint)> = slots
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (i, p)))
        .collect();

    // The points the decision rests on, newest first.
    let evaluated: Vec<(usize, Datapoint)> = real.iter().rev().take(n).copied().collect();
    if let (LowSample::Ignore, Some(min)) = (cond.low_sample, cond.min_samples()) {
        let low = evaluated
            .iter()
            .filter(|(_, p)| min.is_low(p.samples))
            .count();
        if low > 0 {
            return Evaluation {
                state: previous,
                reason: format!(
                    "Not evaluated: {low} of the last {} datapoints {} computed from fewer than {min} samples (evaluate_low_sample_count_percentile = ignore).",
                    evaluated.len(),
                    if low == 1 { "was" } else { "were" }
                ),
            };
        }
    }
    let breaching: Vec<Datapoint> = evaluated
        .iter()
        .filter(|(_, p)| cond.breaches(p.value))
        .map(|(_, p)| *p)
        .collect();
    let clear: Vec<Datapoint> = evaluated
        .iter()
        .filter(|(_, p)| !cond.breaches(p.value))
        .map(|(_, p)| *p)
        .collect();

    if real.len() >= n {
        let state = if breaching.len() >= m {
            State::Alarm
        } else {
            State::Ok
        };
        return decided(cond, state, &breaching, &clear, 0);
    }

    let fill = n - real.len();
    if real.is_empty() {
        let state = match cond.treat_missing_data {
            MissingData::Missing => State::InsufficientData,
            MissingData::Ignore => previous,
            MissingData::Breaching => State::Alarm,
            MissingData::NotBreaching => State::Ok,
        };
        let reason = match cond.treat_missing_data {
            MissingData::Missing => format!(
                "Insufficient Data: {fill} datapoint{} {} unknown.",
                plural(fill),
                if fill == 1 { "was" } else { "were" }
            ),
            MissingData::Ignore => format!(
                "No datapoints were received for {fill} period{}: missing data is ignored and the state is kept.",
                plural(fill)
            ),
            MissingData::Breaching | MissingData::NotBreaching => format!(
                "Threshold Crossed: no datapoints were received for {fill} period{} and {fill} missing datapoint{} {} treated as [{}].",
                plural(fill),
                plural(fill),
                if fill == 1 { "was" } else { "were" },
                treated_as(cond.treat_missing_data)
            ),
        };
        return Evaluation { state, reason };
    }

    match cond.treat_missing_data {
        MissingData::Breaching | MissingData::NotBreaching => {
            let filled_breach = if cond.treat_missing_data == MissingData::Breaching {
                fill
            } else {
                0
            };
            let state = if breaching.len() + filled_breach >= m {
                State::Alarm
            } else {
                State::Ok
            };
            decided(cond, state, &breaching, &clear, fill)
        }
        MissingData::Missing | MissingData::Ignore => {
            if breaching.len() >= m {
                decided(cond, State::Alarm, &breaching, &clear, 0)
            } else if !clear.is_empty() {
                decided(cond, State::Ok, &breaching, &clear, 0)
            } else if cond.treat_missing_data == MissingData::Ignore {
                Evaluation {
                    state: previous,
                    reason: format!(
                        "{} of {n} datapoints {} missing: missing data is ignored and the state is kept.",
                        fill,
                        if fill == 1 { "was" } else { "were" }
                    ),
                }
            } else {
                // Premature alarm: only breaching points, fewer than M. CloudWatch alarms when
                // the oldest of them is at least M periods old (every newer period breaching or
                // missing), and waits while a newer datapoint could still clear it.
                let oldest = real.first().map_or(slots.len(), |(i, _)| *i);
                if slots.len() - oldest >= m {
                    decided(cond, State::Alarm, &breaching, &clear, 0)
                } else {
                    Evaluation {
                        state: State::InsufficientData,
                        reason: format!(
                            "Insufficient Data: {fill} datapoint{} {} unknown.",
                            plural(fill),
                            if fill == 1 { "was" } else { "were" }
                        ),
                    }
                }
            }
        }
    }
}

/// A decided OK or ALARM, worded as CloudWatch words it in its alarm history, so that reasons
/// can be diffed against it: "1 datapoint [..] was" alone, past five datapoints only the five
/// most recent listed, and the transition clause naming OK -> ALARM (or ALARM -> OK) whatever
/// the previous state was.
fn decided(
    cond: &Condition,
    state: State,
    breaching: &[Datapoint],
    clear: &[Datapoint],
    filled: usize,
) -> Evaluation {
    let n = cond.evaluation_periods as usize;
    let evaluated = breaching.len() + clear.len();
    let (shown, not, minimum, transition) = match state {
        State::Alarm => (
            breaching,
            "",
            cond.datapoints_to_alarm as usize,
            "OK -> ALARM",
        ),
        _ => (
            clear,
            "not ",
            n + 1 - cond.datapoints_to_alarm as usize,
            "ALARM -> OK",
        ),
    };
    let mut sorted = shown.to_vec();
    sorted.sort_by_key(|p| std::cmp::Reverse(p.time));
    let list = |points: &[Datapoint]| {
        let items: Vec<String> = points
            .iter()
            .map(|p| format!("{} ({})", format_value(p.value), format_time(p.time)))
            .collect();
        format!("[{}]", items.join(", "))
    };
    let mut reason = if evaluated == 1 && shown.len() == 1 {
        format!("Threshold Crossed: 1 datapoint {} was", list(&sorted))
    } else if shown.len() > MAX_LISTED {
        format!(
            "Threshold Crossed: {} out of the last {evaluated} datapoints were",
            shown.len()
        )
    } else {
        format!(
            "Threshold Crossed: {} out of the last {evaluated} datapoints {} {}",
            shown.len(),
            list(&sorted),
            if shown.len() == 1 { "was" } else { "were" }
        )
    };
    let _ = write!(
        reason,
        " {not}{} the threshold ({})",
        cond.comparison.words(),
        format_value(cond.threshold)
    );
    if filled > 0 {
        let _ = write!(
            reason,
            " and {filled} missing datapoint{} {} treated as [{}]",
            plural(filled),
            if filled == 1 { "was" } else { "were" },
            treated_as(cond.treat_missing_data)
        );
    }
    if shown.len() > MAX_LISTED {
        let _ = write!(
            reason,
            ". The most recent datapoints which crossed the threshold: {}",
            list(&sorted[..MAX_LISTED])
        );
    }
    let _ = write!(
        reason,
        " (minimum {minimum} datapoint{} for {transition} transition).",
        plural(minimum)
    );
    Evaluation { state, reason }
}

/// How many datapoints a reason lists before it lists only the most recent ones.
const MAX_LISTED: usize = 5;

fn treated_as(mode: MissingData) -> &'static str {
    match mode {
        MissingData::Breaching => "Breaching",
        _ => "NonBreaching",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A value as CloudWatch prints it: `2310.0`, `0.25`.
pub fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// A period start as CloudWatch prints it in reasons: `22/11/26 10:05:00` (UTC).
pub fn format_time(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros).map_or_else(
        || micros.to_string(),
        |t| t.format("%d/%m/%y %H:%M:%S").to_string(),
    )
}

impl Comparison {
    /// The words CloudWatch uses in reasons.
    pub fn words(self) -> &'static str {
        match self {
            Comparison::GreaterThan => "greater than",
            Comparison::GreaterThanOrEqual => "greater than or equal to",
            Comparison::LessThan => "less than",
            Comparison::LessThanOrEqual => "less than or equal to",
        }
    }
}

impl Condition {
    pub fn breaches(&self, value: f64) -> bool {
        match self.comparison {
            Comparison::GreaterThan => value > self.threshold,
            Comparison::GreaterThanOrEqual => value >= self.threshold,
            Comparison::LessThan => value < self.threshold,
            Comparison::LessThanOrEqual => value <= self.threshold,
        }
    }

    /// CloudWatch's bound below which a percentile is not statistically significant, `None`
    /// for a statistic that is not a percentile strictly between p0 and p100.
    pub fn min_samples(&self) -> Option<SampleBound> {
        self.percentile.and_then(SampleBound::of_percent)
    }
}

#[cfg(test)]
mod tests;

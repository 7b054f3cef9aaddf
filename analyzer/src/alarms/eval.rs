//! The pure core: a rule's condition + the datapoints of its evaluation range + the previous
//! state -> the new state and its reason, with CloudWatch's semantics.
//!
//! CloudWatch ("Configuring how CloudWatch alarms treat missing data") retrieves more periods than
//! `evaluation_periods` (N): the *evaluation range*, here N + 2 periods, as in its documented
//! examples (5 periods for N = 3). Then:
//! - N or more real datapoints in the range: the N most recent real ones are evaluated; how
//!   missing data is treated does not matter.
//! - fewer than N: the missing periods are filled per `treat_missing_data` (as few as needed to
//!   make N), every real datapoint of the range included. `breaching` / `not_breaching` fill
//!   with breaching / non-breaching points. `missing` and `ignore` fill with nothing: ALARM if
//!   the real breaching points reach M; OK if a real point is not breaching; otherwise (only
//!   breaching points, fewer than M) `ignore` keeps the current state and `missing` goes to ALARM
//!   when the missing periods all follow the breaching points (the metric stopped after breaching,
//!   the documentation's sixth example), else to INSUFFICIENT_DATA.
//! - no real datapoint at all: `missing` -> INSUFFICIENT_DATA, `ignore` -> current state,
//!   `breaching` -> ALARM, `not_breaching` -> OK.
//!
//! Then ALARM if at least M (`datapoints_to_alarm`) of the N evaluated points breach, else OK.
//! A percentile datapoint computed from fewer samples than CloudWatch's significance bound
//! (10 / (1 - p) for p >= 0.5, 10 / p below) is, with `evaluate_low_sample_count_percentile =
//! "ignore"`, not evaluated: the state does not change.

use std::fmt::Write;

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use super::rule::{Comparison, Condition, LowSample, MissingData};

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
    let range = evaluation_range(cond.evaluation_periods) as i64;
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
        let low = evaluated.iter().filter(|(_, p)| p.samples < min).count();
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
        return decided(cond, state, previous, &breaching, &clear, 0);
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
            decided(cond, state, previous, &breaching, &clear, fill)
        }
        MissingData::Missing | MissingData::Ignore => {
            if breaching.len() >= m {
                decided(cond, State::Alarm, previous, &breaching, &clear, 0)
            } else if !clear.is_empty() {
                decided(cond, State::Ok, previous, &breaching, &clear, 0)
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
                // Which missing periods would fill the window: the newest ones first. If they
                // all come after the newest real point, the metric stopped after breaching.
                let newest_real = real.last().map_or(0, |(i, _)| *i);
                let filled_after = slots.len() - 1 - newest_real;
                if filled_after >= fill {
                    decided(cond, State::Alarm, previous, &breaching, &clear, 0)
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

/// A decided OK or ALARM, with CloudWatch's wording.
fn decided(
    cond: &Condition,
    state: State,
    previous: State,
    breaching: &[Datapoint],
    clear: &[Datapoint],
    filled: usize,
) -> Evaluation {
    let n = cond.evaluation_periods as usize;
    let evaluated = breaching.len() + clear.len();
    let (shown, not, minimum) = match state {
        State::Alarm => (breaching, "", cond.datapoints_to_alarm as usize),
        _ => (clear, "not ", n + 1 - cond.datapoints_to_alarm as usize),
    };
    let mut reason = format!(
        "Threshold Crossed: {} out of the last {} datapoints [",
        shown.len(),
        evaluated
    );
    let mut sorted = shown.to_vec();
    sorted.sort_by(|a, b| b.time.cmp(&a.time));
    for (i, p) in sorted.iter().enumerate() {
        if i > 0 {
            reason.push_str(", ");
        }
        let _ = write!(
            reason,
            "{} ({})",
            format_value(p.value),
            format_time(p.time)
        );
    }
    let _ = write!(
        reason,
        "] {} {not}{} the threshold ({})",
        if shown.len() == 1 { "was" } else { "were" },
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
    if state != previous {
        let _ = write!(
            reason,
            " (minimum {minimum} datapoint{} for {previous} -> {state} transition)",
            plural(minimum)
        );
    }
    reason.push('.');
    Evaluation { state, reason }
}

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
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%d/%m/%y %H:%M:%S").to_string())
        .unwrap_or_else(|| micros.to_string())
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

    /// CloudWatch's bound below which a percentile is not statistically significant.
    pub fn min_samples(&self) -> Option<u64> {
        let p = self.percentile? / 100.0;
        if p <= 0.0 || p >= 1.0 {
            return None;
        }
        let bound = if p >= 0.5 { 10.0 / (1.0 - p) } else { 10.0 / p };
        Some(bound.round() as u64)
    }
}

#[cfg(test)]
mod tests;

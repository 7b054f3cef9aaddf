//! Each function's lines over the window (p99, errors, cold starts, throttles, concurrency),
//! computed with the alarm rules' own series queries so a lane and an alarm on it agree, and
//! the point where each line's level shifted, if it did.
//!
//! A shift is the single split of the line into a before and an after whose means differ most
//! against their spread (Welch's t, as binary segmentation's first step does), reported when the
//! difference is both clear (t of at least [`MIN_T`]) and large enough to matter.

use serde::Serialize;

use super::{Change, ChangeKind, Window};
use crate::alarms::rule::{
    Comparison, Condition, LowSample, MetricRule, MissingData, Source, Statistic, Target,
};
use crate::alarms::series;
use crate::error::Result;
use crate::session::Session;

/// How clear a shift must be: the difference of the means over its standard error.
pub const MIN_T: f64 = 4.0;
/// Points each side of a shift needs.
const MIN_SIDE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LaneMetric {
    P99,
    Errors,
    ColdStarts,
    Throttles,
    Concurrency,
}

impl LaneMetric {
    pub const ALL: [LaneMetric; 5] = [
        LaneMetric::P99,
        LaneMetric::Errors,
        LaneMetric::ColdStarts,
        LaneMetric::Throttles,
        LaneMetric::Concurrency,
    ];

    pub fn label(self) -> &'static str {
        match self {
            LaneMetric::P99 => "p99",
            LaneMetric::Errors => "errors",
            LaneMetric::ColdStarts => "cold starts",
            LaneMetric::Throttles => "throttles",
            LaneMetric::Concurrency => "concurrency",
        }
    }

    /// The alarm statistic that computes it, and where from: REPORT lines for what one
    /// invocation tells, CloudWatch's metrics for what no invocation records.
    fn statistic(self) -> (Statistic, Source) {
        match self {
            LaneMetric::P99 => (Statistic::Percentile(99.0), Source::Logs),
            LaneMetric::Errors => (Statistic::ErrorRate, Source::Logs),
            LaneMetric::ColdStarts => (Statistic::ColdStartRatio, Source::Logs),
            LaneMetric::Throttles => (Statistic::ThrottleCount, Source::Metrics),
            LaneMetric::Concurrency => (Statistic::Concurrency, Source::Metrics),
        }
    }

    /// A value as a change states it: `2.3 s`, `61%`, `12`.
    pub fn show(self, v: f64) -> String {
        match self {
            LaneMetric::P99 if v >= 1000.0 => format!("{:.1} s", v / 1000.0),
            LaneMetric::P99 => format!("{v:.0} ms"),
            LaneMetric::Errors | LaneMetric::ColdStarts => format!("{:.0}%", v * 100.0),
            LaneMetric::Throttles | LaneMetric::Concurrency => format!("{v:.0}"),
        }
    }

    /// Whether a move from `before` to `after` is large enough to matter: ten points of a
    /// rate, half again of a latency, a count that moved by at least one and by half.
    fn material(self, before: f64, after: f64) -> bool {
        let delta = (after - before).abs();
        match self {
            LaneMetric::Errors | LaneMetric::ColdStarts => delta >= 0.10,
            LaneMetric::P99 => delta >= 0.5 * before.min(after).max(1.0),
            LaneMetric::Throttles | LaneMetric::Concurrency => {
                delta >= 1.0 && delta >= 0.5 * before.min(after)
            }
        }
    }
}

/// One function's line of one metric: a value per period, `None` where there was no datapoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lane {
    pub function: String,
    pub metric: LaneMetric,
    pub points: Vec<Option<f64>>,
    pub shift: Option<Shift>,
}

/// Where a lane's level moved: the start of the first period after it, and the means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Shift {
    pub at_us: i64,
    pub before: f64,
    pub after: f64,
}

impl Lane {
    pub(crate) fn shift_change(&self) -> Option<Change> {
        let s = self.shift?;
        Some(Change {
            at_us: s.at_us,
            kind: ChangeKind::Shift,
            subject: self.function.clone(),
            detail: format!(
                "{} {} -> {}",
                self.metric.label(),
                self.metric.show(s.before),
                self.metric.show(s.after)
            ),
            lead_up: false,
        })
    }
}

pub(crate) struct Lanes {
    pub period_secs: i64,
    pub first_point_us: i64,
    pub lanes: Vec<Lane>,
}

pub(crate) async fn load(
    session: &Session,
    window: Window,
    points: usize,
    wanted: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Lanes> {
    let period_secs = period_secs(window, points);
    let period_us = period_secs * 1_000_000;
    let first_point_us = window.start_us.div_euclid(period_us) * period_us;
    let count = usize::try_from((window.end_us - first_point_us + period_us - 1) / period_us)
        .unwrap_or_default();
    let mut lanes = Vec::new();
    for metric in LaneMetric::ALL {
        let rule = lane_rule(metric, period_secs);
        let sql = series::series_sql(&rule, "lane", window.start_us, window.end_us, false);
        for (function, datapoints) in series::fetch(session, &sql).await? {
            if !wanted(&function) {
                continue;
            }
            let mut values = vec![None; count];
            for d in datapoints {
                if let Ok(i) = usize::try_from((d.time - first_point_us) / period_us)
                    && i < count
                {
                    values[i] = Some(d.value);
                }
            }
            let shift = shift(metric, &values).map(|(i, before, after)| Shift {
                at_us: first_point_us + i as i64 * period_us,
                before,
                after,
            });
            lanes.push(Lane {
                function,
                metric,
                points: values,
                shift,
            });
        }
    }
    lanes.sort_by(|a, b| (&a.function, a.metric).cmp(&(&b.function, b.metric)));
    Ok(Lanes {
        period_secs,
        first_point_us,
        lanes,
    })
}

/// Whole minutes, so that `points` of them cover the window (CloudWatch's smallest period for
/// Lambda's metrics is a minute).
fn period_secs(window: Window, points: usize) -> i64 {
    let secs = window.len_us() / 1_000_000;
    let per_point = secs / i64::try_from(points.max(1)).unwrap_or(1);
    ((per_point + 59) / 60).max(1) * 60
}

/// The rule whose series a lane is: `series_sql` reads its target, statistic, source and
/// period; the rest of the condition plays no part.
fn lane_rule(metric: LaneMetric, period_secs: i64) -> MetricRule {
    let (statistic, source) = metric.statistic();
    MetricRule {
        target: Target::Function { name: "*".into() },
        statistic,
        source,
        condition: Condition {
            comparison: Comparison::GreaterThan,
            threshold: 0.0,
            period_secs,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            treat_missing_data: MissingData::Missing,
            low_sample: LowSample::Evaluate,
            percentile: None,
        },
    }
}

/// The split of `values` (missing points left out) with the clearest material difference of
/// means: the index of the first point after it, and the two means.
pub(crate) fn shift(metric: LaneMetric, values: &[Option<f64>]) -> Option<(usize, f64, f64)> {
    let present: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    let n = present.len();
    if n < 2 * MIN_SIDE {
        return None;
    }
    let stats = |xs: &[(usize, f64)]| {
        let len = xs.len() as f64;
        let mean = xs.iter().map(|x| x.1).sum::<f64>() / len;
        let var = xs.iter().map(|x| (x.1 - mean).powi(2)).sum::<f64>() / (len - 1.0).max(1.0);
        (mean, var / len)
    };
    let mut best: Option<(f64, usize, f64, f64)> = None;
    for k in MIN_SIDE..=n - MIN_SIDE {
        let ((m1, e1), (m2, e2)) = (stats(&present[..k]), stats(&present[k..]));
        if !metric.material(m1, m2) {
            continue;
        }
        let se = (e1 + e2).sqrt();
        let t = if se > 0.0 {
            (m2 - m1).abs() / se
        } else {
            f64::INFINITY
        };
        if t >= MIN_T && best.is_none_or(|b| t > b.0) {
            best = Some((t, present[k].0, m1, m2));
        }
    }
    best.map(|(_, i, m1, m2)| (i, m1, m2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(xs: &[f64]) -> Vec<Option<f64>> {
        xs.iter().copied().map(Some).collect()
    }

    #[test]
    fn a_step_is_found_where_it_happened() {
        let mut xs = vec![0.02, 0.0, 0.05, 0.03, 0.0, 0.04, 0.02, 0.01];
        xs.extend([0.6, 0.7, 0.55, 0.65, 0.62]);
        let (i, before, after) = shift(LaneMetric::ColdStarts, &some(&xs)).unwrap();
        assert_eq!(i, 8);
        assert!(before < 0.05 && after > 0.6, "{before} {after}");
    }

    #[test]
    fn missing_points_are_skipped_and_the_index_is_the_lanes() {
        let xs = vec![
            Some(400.0),
            None,
            Some(410.0),
            Some(390.0),
            None,
            Some(2300.0),
            Some(2400.0),
            Some(2200.0),
        ];
        assert_eq!(shift(LaneMetric::P99, &xs).map(|s| s.0), Some(5));
    }

    #[test]
    fn noise_and_small_moves_are_no_shift() {
        let noise = [
            400.0, 430.0, 390.0, 415.0, 405.0, 398.0, 420.0, 410.0, 401.0,
        ];
        assert_eq!(shift(LaneMetric::P99, &some(&noise)), None);
        // A clear but small move: 2 points of cold starts.
        let small = [0.01, 0.01, 0.01, 0.01, 0.03, 0.03, 0.03, 0.03];
        assert_eq!(shift(LaneMetric::ColdStarts, &some(&small)), None);
        // Too few points either side.
        assert_eq!(
            shift(LaneMetric::Throttles, &some(&[0.0, 0.0, 9.0, 9.0])),
            None
        );
    }

    #[test]
    fn periods_are_whole_minutes() {
        let hour = Window {
            start_us: 0,
            end_us: 3_600_000_000,
        };
        assert_eq!(period_secs(hour, 60), 60);
        assert_eq!(period_secs(hour, 24), 180);
        assert_eq!(period_secs(hour, 1000), 60);
    }
}

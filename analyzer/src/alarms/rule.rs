//! The rule model: what a rule file says once parsed and checked.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::composite::Expr;

/// How a value is compared with the threshold (CloudWatch's `ComparisonOperator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
}

impl Comparison {
    /// `>` or CloudWatch's `GreaterThanThreshold`, and so on.
    pub fn parse(s: &str) -> Option<Comparison> {
        Some(match s {
            ">" | "GreaterThanThreshold" => Comparison::GreaterThan,
            ">=" | "GreaterThanOrEqualToThreshold" => Comparison::GreaterThanOrEqual,
            "<" | "LessThanThreshold" => Comparison::LessThan,
            "<=" | "LessThanOrEqualToThreshold" => Comparison::LessThanOrEqual,
            _ => return None,
        })
    }
}

/// `treat_missing_data`, with CloudWatch's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingData {
    Missing,
    NotBreaching,
    Breaching,
    Ignore,
}

impl MissingData {
    pub fn parse(s: &str) -> Option<MissingData> {
        Some(match s {
            "missing" => MissingData::Missing,
            "not_breaching" | "notBreaching" => MissingData::NotBreaching,
            "breaching" => MissingData::Breaching,
            "ignore" => MissingData::Ignore,
            _ => return None,
        })
    }
}

/// `evaluate_low_sample_count_percentile` (CloudWatch's `EvaluateLowSampleCountPercentile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowSample {
    Evaluate,
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What is measured per period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    /// `pNN`: the percentile NN (0..=100) of the values.
    Percentile(f64),
    /// `tmNN`: the mean of the values at or below the percentile NN (CloudWatch's trimmed mean).
    TrimmedMean(f64),
    ErrorRate,
    FaultRate,
    ThrottleCount,
    /// The peak of a function's concurrent executions in the period (metrics
    /// `ConcurrentExecutions`, statistic Maximum).
    Concurrency,
    TimeoutCount,
    ColdStartRatio,
    MemoryUsedRatio,
    /// max(duration / the configured timeout of the invocation's version, from
    /// `lambda_functions`): how close the function runs to being killed.
    TimeoutUsedRatio,
}

impl Statistic {
    pub fn parse(s: &str) -> Option<Statistic> {
        let number = |rest: &str| {
            rest.parse::<f64>()
                .ok()
                .filter(|p| p.is_finite() && (0.0..=100.0).contains(p))
        };
        Some(match s {
            "count" => Statistic::Count,
            "sum" => Statistic::Sum,
            "avg" => Statistic::Avg,
            "min" => Statistic::Min,
            "max" => Statistic::Max,
            "error_rate" => Statistic::ErrorRate,
            "fault_rate" => Statistic::FaultRate,
            "throttle_count" => Statistic::ThrottleCount,
            "concurrency" => Statistic::Concurrency,
            "timeout_count" => Statistic::TimeoutCount,
            "cold_start_ratio" => Statistic::ColdStartRatio,
            "memory_used_ratio" => Statistic::MemoryUsedRatio,
            "timeout_used_ratio" => Statistic::TimeoutUsedRatio,
            _ => {
                if let Some(rest) = s.strip_prefix("tm") {
                    Statistic::TrimmedMean(number(rest)?)
                } else if let Some(rest) = s.strip_prefix('p') {
                    Statistic::Percentile(number(rest)?)
                } else {
                    return None;
                }
            }
        })
    }

    pub fn name(self) -> String {
        match self {
            Statistic::Count => "count".into(),
            Statistic::Sum => "sum".into(),
            Statistic::Avg => "avg".into(),
            Statistic::Min => "min".into(),
            Statistic::Max => "max".into(),
            Statistic::Percentile(p) => format!("p{p}"),
            Statistic::TrimmedMean(p) => format!("tm{p}"),
            Statistic::ErrorRate => "error_rate".into(),
            Statistic::FaultRate => "fault_rate".into(),
            Statistic::ThrottleCount => "throttle_count".into(),
            Statistic::Concurrency => "concurrency".into(),
            Statistic::TimeoutCount => "timeout_count".into(),
            Statistic::ColdStartRatio => "cold_start_ratio".into(),
            Statistic::MemoryUsedRatio => "memory_used_ratio".into(),
            Statistic::TimeoutUsedRatio => "timeout_used_ratio".into(),
        }
    }
}

/// What a rule watches. Names are globs (`*` any run, `?` one character): a rule whose target
/// matches several functions, services or edges keeps one alarm per match.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A Lambda function, from `lambda_invocations` (REPORT lines) or `metric_points`
    /// (namespace `AWS/Lambda`).
    Function { name: String },
    /// A service-map node, measured on the spans that enter it.
    Service {
        name: String,
        service_type: Option<String>,
    },
    /// A caller -> callee hop of the service map.
    Edge { caller: String, callee: String },
    /// Any SQL returning `time` and `value` (and optionally `key`, one alarm per key).
    Query { sql: String },
}

/// Where a function's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `lambda_invocations`: one row per invocation (exact percentiles).
    Logs,
    /// `metric_points`: CloudWatch's AWS/Lambda metrics.
    Metrics,
}

/// The part of a rule the pure evaluator needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub comparison: Comparison,
    pub threshold: f64,
    pub period_secs: i64,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub treat_missing_data: MissingData,
    pub low_sample: LowSample,
    /// The percentile (0..=100) when the statistic is one.
    pub percentile: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricRule {
    pub target: Target,
    pub statistic: Statistic,
    pub source: Source,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    Metric(MetricRule),
    /// Combines other rules' states (CloudWatch's composite alarm rule syntax).
    Composite(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    /// With `false`, the rule is evaluated and its state kept, but its changes notify nobody and
    /// its ALARM does not make `check` exit 2 (a building block of composite rules).
    pub actions_enabled: bool,
    pub kind: RuleKind,
    /// Where it was defined, for messages.
    pub file: PathBuf,
    pub line: usize,
}

/// Glob match: `*` any run of characters, `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("orders-*", "orders-api"));
        assert!(!glob_match("orders-*", "users-api"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("*-api/*", "users-api/prod"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn statistics_parse() {
        assert_eq!(Statistic::parse("p99"), Some(Statistic::Percentile(99.0)));
        assert_eq!(Statistic::parse("p99.9"), Some(Statistic::Percentile(99.9)));
        assert_eq!(Statistic::parse("tm90"), Some(Statistic::TrimmedMean(90.0)));
        assert_eq!(Statistic::parse("p101"), None);
        assert_eq!(Statistic::parse("median"), None);
        assert_eq!(Statistic::Percentile(99.0).name(), "p99");
    }
}

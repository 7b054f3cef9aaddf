//! Rule files: what parses, and every problem lint reports, with its line and fix.

use super::*;

fn parse(text: &str) -> (Vec<Rule>, Vec<Problem>) {
    parse_file(Path::new("rules/test.toml"), text)
}

#[test]
fn a_full_metric_rule() {
    let (rules, problems) = parse(
        r#"
[[rule]]
name = "orders-p99"
description = "Orders API is slow"
severity = "critical"
labels = { team = "orders" }
function = "orders-*"
statistic = "p99"
comparison = ">="
threshold = 2000
period = "5m"
evaluation_periods = 5
datapoints_to_alarm = 3
treat_missing_data = "not_breaching"
evaluate_low_sample_count_percentile = "ignore"
"#,
    );
    assert!(problems.is_empty(), "{problems:?}");
    let r = &rules[0];
    assert_eq!(r.line, 2);
    assert_eq!(r.severity, Severity::Critical);
    assert_eq!(r.labels["team"], "orders");
    let RuleKind::Metric(m) = &r.kind else {
        panic!("metric rule")
    };
    assert_eq!(
        m.target,
        Target::Function {
            name: "orders-*".into()
        }
    );
    assert_eq!(m.source, Source::Logs);
    let c = &m.condition;
    assert_eq!(
        (c.period_secs, c.evaluation_periods, c.datapoints_to_alarm),
        (300, 5, 3)
    );
    assert_eq!(c.comparison, Comparison::GreaterThanOrEqual);
    assert_eq!(c.treat_missing_data, MissingData::NotBreaching);
    assert_eq!(c.low_sample, LowSample::Ignore);
    assert_eq!(c.percentile, Some(99.0));
}

#[test]
fn defaults_follow_cloudwatch() {
    let (rules, problems) = parse(
        r#"[[rule]]
name = "x"
function = "f"
statistic = "error_rate"
comparison = ">"
threshold = 0.05
period = 60
"#,
    );
    assert!(problems.is_empty(), "{problems:?}");
    let RuleKind::Metric(m) = &rules[0].kind else {
        panic!()
    };
    assert_eq!(m.source, Source::Metrics);
    assert_eq!(
        (
            m.condition.evaluation_periods,
            m.condition.datapoints_to_alarm
        ),
        (1, 1)
    );
    assert_eq!(m.condition.treat_missing_data, MissingData::Missing);
    assert!(rules[0].actions_enabled);
    assert_eq!(rules[0].severity, Severity::Warning);
}

#[test]
fn every_problem_has_its_line_and_a_fix() {
    let (rules, problems) = parse(
        r#"[[rule]]
name = "bad"
function = "f"
statistc = "p99"
comparison = "more"
threshold = "high"
period = "90s"
evaluation_periods = 3
datapoints_to_alarm = 4
treat_missing_data = "zero"
"#,
    );
    assert!(rules.is_empty());
    let got: Vec<(usize, &str)> = problems
        .iter()
        .map(|p| (p.line, p.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "the rule has no `statistic`"),
            (4, "unknown key `statistc`"),
            (5, "unknown comparison \"more\""),
            (6, "`threshold` is not a finite number"),
            (7, "`period` is not a whole number of minutes"),
            (
                9,
                "datapoints_to_alarm = 4 is not between 1 and evaluation_periods (3)"
            ),
            (10, "unknown treat_missing_data \"zero\""),
        ]
    );
    assert_eq!(problems[1].fix, "did you mean `statistic`?");
    assert!(problems.iter().all(|p| !p.fix.is_empty()));
}

#[test]
fn targets_and_statistics_must_fit() {
    let (_, problems) = parse(
        r#"[[rule]]
name = "a"
service = "api"
statistic = "cold_start_ratio"
comparison = ">"
threshold = 0.1
period = "1m"

[[rule]]
name = "b"
function = "f"
edge = "a -> b"
statistic = "count"
comparison = ">"
threshold = 1
period = "1m"

[[rule]]
name = "c"
edge = "just-one"
statistic = "count"
comparison = ">"
threshold = 1
period = "1m"
"#,
    );
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [4, 9, 20], "{problems:?}");
}

#[test]
fn syntax_errors_and_composites() {
    let (_, problems) = parse("[[rule]]\nname = \"x\"\nthreshold = = 3\n");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, 3);
    assert!(problems[0].message.starts_with("not valid TOML"));

    let (rules, problems) = parse(
        r#"[[rule]]
name = "both"
alarm_rule = "ALARM(a) AND NOT ALARM(b)"
severity = "critical"
"#,
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert!(matches!(rules[0].kind, RuleKind::Composite(_)));

    let (_, problems) =
        parse("[[rule]]\nname = \"c\"\nalarm_rule = \"ALARM(a) AND\"\nthreshold = 3\n");
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [3, 4], "{problems:?}");
}

#[test]
fn references_names_and_cycles_across_files() {
    let (mut rules, mut problems) = parse(
        r#"[[rule]]
name = "a"
alarm_rule = "ALARM(b)"

[[rule]]
name = "b"
alarm_rule = "ALARM(a)"

[[rule]]
name = "c"
alarm_rule = "ALARM(nope)"

[[rule]]
name = "c"
alarm_rule = "TRUE"
"#,
    );
    assert!(problems.is_empty());
    check_references(&mut rules, &mut problems);
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("depends on itself")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("\"nope\"")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("already used at rules/test.toml:9")),
        "{messages:?}"
    );
}

#[test]
fn periods() {
    assert_eq!(parse_period("5m"), Some(300));
    assert_eq!(parse_period("1h"), Some(3600));
    assert_eq!(parse_period("60"), Some(60));
    assert_eq!(parse_period("1d"), Some(86_400));
    assert_eq!(parse_period("5 parsecs"), None);
}

//! Rule files (TOML) -> rules, and every problem found on the way, each with its file, line and
//! a fix. The document is walked with its spans (`toml::de::DeTable`), so a problem is reported
//! at the line of the key or value at fault, and one problem never hides the next.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::composite::Expr;
use super::rule::{
    Comparison, Condition, LowSample, MetricRule, MissingData, Rule, RuleKind, Severity, Source,
    Statistic, Target,
};

/// A problem of a rule file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} (fix: {})",
            self.file.display(),
            self.line,
            self.message,
            self.fix
        )
    }
}

/// The keys a metric rule may have ("unknown key" messages; rules/README.md shows each).
pub const METRIC_KEYS: &[&str] = &[
    "name",
    "description",
    "severity",
    "labels",
    "actions_enabled",
    "function",
    "service",
    "service_type",
    "edge",
    "query",
    "source",
    "statistic",
    "comparison",
    "threshold",
    "period",
    "evaluation_periods",
    "datapoints_to_alarm",
    "treat_missing_data",
    "evaluate_low_sample_count_percentile",
];
/// The keys a composite rule may have.
pub const COMPOSITE_KEYS: &[&str] = &[
    "name",
    "description",
    "severity",
    "labels",
    "actions_enabled",
    "alarm_rule",
];
/// CloudWatch: evaluation_periods x period may not exceed one day.
const MAX_SPAN_SECS: i64 = 86_400;

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn problem(&mut self, span: &Range<usize>, message: impl Into<String>, fix: impl Into<String>) {
        let line = self.line(span);
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            message: message.into(),
            fix: fix.into(),
        });
    }
}

/// Parses one rule file. Rules with a problem are left out; the problems say why.
pub fn parse_file(file: &Path, text: &str) -> (Vec<Rule>, Vec<Problem>) {
    let mut cx = Ctx {
        file,
        text,
        problems: Vec::new(),
    };
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = format!("not valid TOML: {}", e.message().trim());
            cx.problem(&span, message, "correct the TOML syntax at this line");
            return (Vec::new(), cx.problems);
        }
    };
    let mut rules = Vec::new();
    for (key, value) in root.get_ref() {
        if key.get_ref().as_ref() != "rule" {
            cx.problem(
                &key.span(),
                format!("unknown top-level key {:?}", key.get_ref()),
                "rules are `[[rule]]` tables; remove this key or move it into a rule",
            );
            continue;
        }
        let DeValue::Array(array) = value.get_ref() else {
            cx.problem(
                &value.span(),
                "`rule` is not an array of tables",
                "write each rule as a `[[rule]]` table",
            );
            continue;
        };
        for item in array {
            match item.get_ref() {
                DeValue::Table(table) => {
                    if let Some(rule) = parse_rule(&mut cx, table, item.span()) {
                        rules.push(rule);
                    }
                }
                _ => cx.problem(
                    &item.span(),
                    "a rule is not a table",
                    "write each rule as a `[[rule]]` table",
                ),
            }
        }
    }
    if rules.is_empty() && cx.problems.is_empty() {
        cx.problem(&(0..0), "no rules in this file", "add a `[[rule]]` table");
    }
    cx.problems.sort();
    (rules, cx.problems)
}

type Table<'i> = DeTable<'i>;

fn get<'a, 'i>(table: &'a Table<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

fn string(cx: &mut Ctx, table: &Table, key: &str, fix: &str) -> Option<(String, Range<usize>)> {
    let v = get(table, key)?;
    match v.get_ref() {
        DeValue::String(s) => Some((s.to_string(), v.span())),
        other => {
            cx.problem(
                &v.span(),
                format!("`{key}` is a {}, not a string", other.type_str()),
                fix,
            );
            None
        }
    }
}

fn integer(cx: &mut Ctx, table: &Table, key: &str) -> Option<(i64, Range<usize>)> {
    let v = get(table, key)?;
    let parsed = match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok(),
        _ => None,
    };
    if parsed.is_none() {
        cx.problem(
            &v.span(),
            format!("`{key}` is not an integer"),
            format!("write `{key} = 3` (a whole number)"),
        );
    }
    parsed.map(|n| (n, v.span()))
}

fn number(cx: &mut Ctx, table: &Table, key: &str) -> Option<(f64, Range<usize>)> {
    let v = get(table, key)?;
    let parsed = match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
            .ok()
            .map(|n| n as f64),
        DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if n.is_finite() => Some((n, v.span())),
        _ => {
            cx.problem(
                &v.span(),
                format!("`{key}` is not a finite number"),
                format!("write `{key} = 0.05` (a number)"),
            );
            None
        }
    }
}

/// `5m`, `1h`, `90s`, `1d`, or a number of seconds.
pub fn parse_period(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: i64 = digits.parse().ok()?;
    let scale = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(scale)
}

fn parse_rule(cx: &mut Ctx, table: &Table, span: Range<usize>) -> Option<Rule> {
    let problems_before = cx.problems.len();
    let line = cx.line(&span);
    let name = match string(cx, table, "name", "write `name = \"lambda-errors\"`") {
        Some((n, s)) => {
            if n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                cx.problem(
                    &s,
                    format!(
                        "rule name {n:?} has characters other than letters, digits, `-`, `_`, `.`"
                    ),
                    "use a name like `lambda-p99-duration`",
                );
            }
            n
        }
        None => {
            cx.problem(
                &span,
                "a rule has no `name`",
                "add `name = \"...\"`, unique across the rule files",
            );
            String::new()
        }
    };
    let description =
        string(cx, table, "description", "write `description = \"...\"`").map(|d| d.0);
    let severity = match string(cx, table, "severity", "write `severity = \"warning\"`") {
        Some((s, sp)) => Severity::parse(&s).unwrap_or_else(|| {
            cx.problem(
                &sp,
                format!("unknown severity {s:?}"),
                "use one of `info`, `warning`, `critical`",
            );
            Severity::Warning
        }),
        None => Severity::Warning,
    };
    let mut labels = BTreeMap::new();
    if let Some(v) = get(table, "labels") {
        match v.get_ref() {
            DeValue::Table(t) => {
                for (k, lv) in t {
                    match lv.get_ref() {
                        DeValue::String(s) => {
                            labels.insert(k.get_ref().to_string(), s.to_string());
                        }
                        _ => cx.problem(
                            &lv.span(),
                            format!("label {:?} is not a string", k.get_ref()),
                            "write labels as strings: `labels = { team = \"payments\" }`",
                        ),
                    }
                }
            }
            _ => cx.problem(
                &v.span(),
                "`labels` is not a table",
                "write `labels = { team = \"payments\" }`",
            ),
        }
    }
    let actions_enabled = match get(table, "actions_enabled") {
        Some(v) => match v.get_ref() {
            DeValue::Boolean(b) => *b,
            _ => {
                cx.problem(
                    &v.span(),
                    "`actions_enabled` is not a boolean",
                    "write `actions_enabled = false` or `true`",
                );
                true
            }
        },
        None => true,
    };

    let composite = get(table, "alarm_rule").is_some();
    let allowed = if composite {
        COMPOSITE_KEYS
    } else {
        METRIC_KEYS
    };
    for (k, _) in table {
        let key = k.get_ref().as_ref();
        if !allowed.contains(&key) {
            let fix = if composite && METRIC_KEYS.contains(&key) {
                "a composite rule (`alarm_rule`) takes only name, description, severity, labels, actions_enabled: remove this key".to_string()
            } else {
                match closest(key, allowed) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("remove it; known keys: {}", allowed.join(", ")),
                }
            };
            cx.problem(&k.span(), format!("unknown key `{key}`"), fix);
        }
    }

    let kind = if composite {
        let (text, sp) = string(
            cx,
            table,
            "alarm_rule",
            "write `alarm_rule = \"ALARM(a) AND NOT ALARM(b)\"`",
        )?;
        match Expr::parse(&text) {
            Ok(e) => Some(RuleKind::Composite(e)),
            Err((_, message)) => {
                cx.problem(
                    &sp,
                    format!("alarm_rule: {message}"),
                    "write e.g. `ALARM(lambda-errors) AND NOT ALARM(lambda-timeouts)`",
                );
                None
            }
        }
    } else {
        parse_metric(cx, table, &span).map(RuleKind::Metric)
    };
    if cx.problems.len() > problems_before {
        return None;
    }
    Some(Rule {
        name,
        description,
        severity,
        labels,
        actions_enabled,
        kind: kind?,
        file: cx.file.to_path_buf(),
        line,
    })
}

fn parse_metric(cx: &mut Ctx, table: &Table, span: &Range<usize>) -> Option<MetricRule> {
    let targets: Vec<&str> = ["function", "service", "edge", "query"]
        .into_iter()
        .filter(|k| get(table, k).is_some())
        .collect();
    let target = match targets.as_slice() {
        [] => {
            cx.problem(
                span,
                "the rule has no target",
                "add one of `function = \"name\"`, `service = \"name\"`, `edge = \"caller -> callee\"`, `query = \"SELECT ...\"`, or `alarm_rule` for a composite",
            );
            None
        }
        [one] => {
            let fix = format!("write `{one} = \"...\"`");
            let (value, sp) = string(cx, table, one, &fix)?;
            match *one {
                "function" => Some(Target::Function { name: value }),
                "service" => Some(Target::Service {
                    name: value,
                    service_type: string(
                        cx,
                        table,
                        "service_type",
                        "write `service_type = \"AWS::ApiGateway::Stage\"`",
                    )
                    .map(|s| s.0),
                }),
                "edge" => match value.split_once("->") {
                    Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                        Some(Target::Edge {
                            caller: a.trim().to_string(),
                            callee: b.trim().to_string(),
                        })
                    }
                    _ => {
                        cx.problem(
                            &sp,
                            format!("edge {value:?} is not `caller -> callee`"),
                            "write `edge = \"orders-api -> DynamoDB:orders\"` (globs allowed)",
                        );
                        None
                    }
                },
                _ => Some(Target::Query { sql: value }),
            }
        }
        many => {
            cx.problem(
                span,
                format!("the rule has several targets: {}", many.join(", ")),
                "keep exactly one of function, service, edge, query (make one rule per target)",
            );
            None
        }
    };
    if let (Some(v), Some(t)) = (get(table, "service_type"), &target)
        && !matches!(t, Target::Service { .. })
    {
        cx.problem(
            &v.span(),
            "`service_type` applies to `service` targets only",
            "remove `service_type`",
        );
    }

    let statistic = match string(cx, table, "statistic", "write `statistic = \"p99\"`") {
        Some((s, sp)) => match Statistic::parse(&s) {
            Some(st) => Some((st, sp)),
            None => {
                cx.problem(&sp, format!("unknown statistic {s:?}"), "use count, sum, avg, min, max, pNN (p99, p99.9), tmNN (tm90), error_rate, fault_rate, throttle_count, concurrency, timeout_count, cold_start_ratio, memory_used_ratio or timeout_used_ratio");
                None
            }
        },
        None => {
            cx.problem(
                span,
                "the rule has no `statistic`",
                "add e.g. `statistic = \"p99\"`",
            );
            None
        }
    };
    let source = match string(
        cx,
        table,
        "source",
        "write `source = \"logs\"` or `\"metrics\"`",
    ) {
        Some((s, sp)) => {
            if !matches!(target, Some(Target::Function { .. })) {
                cx.problem(
                    &sp,
                    "`source` applies to `function` targets only",
                    "remove `source`",
                );
            }
            match s.as_str() {
                "logs" => Some(Source::Logs),
                "metrics" => Some(Source::Metrics),
                _ => {
                    cx.problem(
                        &sp,
                        format!("unknown source {s:?}"),
                        "use `logs` (lambda_invocations) or `metrics` (metric_points)",
                    );
                    None
                }
            }
        }
        None => None,
    };
    let source = match (source, &statistic) {
        (Some(s), _) => s,
        // CloudWatch's metrics are the only record of throttled invocations and count errors
        // the REPORT line does not show (an uncaught exception in Node.js ends with status success).
        (
            None,
            Some((Statistic::ThrottleCount | Statistic::ErrorRate | Statistic::Concurrency, _)),
        ) => Source::Metrics,
        _ => Source::Logs,
    };
    if let (Some(t), Some((st, sp))) = (&target, &statistic)
        && let Err(fix) = supported(t, *st, source)
    {
        cx.problem(
            sp,
            format!("statistic `{}` is not available for this target", st.name()),
            fix,
        );
    }

    let comparison = match string(cx, table, "comparison", "write `comparison = \">\"`") {
        Some((s, sp)) => Comparison::parse(&s).or_else(|| {
            cx.problem(
                &sp,
                format!("unknown comparison {s:?}"),
                "use `>`, `>=`, `<`, `<=` (or GreaterThanThreshold, ...)",
            );
            None
        }),
        None => {
            cx.problem(
                span,
                "the rule has no `comparison`",
                "add e.g. `comparison = \">\"`",
            );
            None
        }
    };
    let threshold = match number(cx, table, "threshold") {
        Some((t, _)) => Some(t),
        None if get(table, "threshold").is_none() => {
            cx.problem(
                span,
                "the rule has no `threshold`",
                "add e.g. `threshold = 0.05`",
            );
            None
        }
        None => None,
    };
    let period = match get(table, "period") {
        None => {
            cx.problem(
                span,
                "the rule has no `period`",
                "add e.g. `period = \"5m\"`",
            );
            None
        }
        Some(v) => {
            let secs = match v.get_ref() {
                DeValue::String(s) => parse_period(s),
                DeValue::Integer(i) => i.as_str().parse().ok(),
                _ => None,
            };
            match secs {
                Some(s) if s >= 60 && s % 60 == 0 => Some((s, v.span())),
                _ => {
                    cx.problem(&v.span(), "`period` is not a whole number of minutes", "write `period = \"1m\"`, `\"5m\"`, `\"1h\"` (or seconds: 300), a multiple of 60 s");
                    None
                }
            }
        }
    };
    let evaluation_periods = match integer(cx, table, "evaluation_periods") {
        Some((n, sp)) if !(1..=1440).contains(&n) => {
            cx.problem(
                &sp,
                format!("evaluation_periods = {n} is out of range"),
                "use 1 or more (and evaluation_periods x period at most one day)",
            );
            None
        }
        Some((n, sp)) => Some((n as u32, Some(sp))),
        None if get(table, "evaluation_periods").is_none() => Some((1, None)),
        None => None,
    };
    let datapoints_to_alarm = match (
        integer(cx, table, "datapoints_to_alarm"),
        &evaluation_periods,
    ) {
        (Some((m, sp)), Some((n, _))) if m < 1 || m > i64::from(*n) => {
            cx.problem(
                &sp,
                format!("datapoints_to_alarm = {m} is not between 1 and evaluation_periods ({n})"),
                format!("use a value from 1 to {n} (M out of N)"),
            );
            None
        }
        (Some((m, _)), _) => Some(m as u32),
        (None, Some((n, _))) if get(table, "datapoints_to_alarm").is_none() => Some(*n),
        _ => None,
    };
    if let (Some((p, psp)), Some((n, nsp))) = (&period, &evaluation_periods)
        && p * i64::from(*n) > MAX_SPAN_SECS
    {
        cx.problem(
            nsp.as_ref().unwrap_or(psp),
            format!(
                "evaluation_periods x period = {} s, more than one day",
                p * i64::from(*n)
            ),
            "shorten the period or evaluate fewer periods (CloudWatch's limit is one day)",
        );
    }
    let treat_missing_data = match string(
        cx,
        table,
        "treat_missing_data",
        "write `treat_missing_data = \"missing\"`",
    ) {
        Some((s, sp)) => MissingData::parse(&s).or_else(|| {
            cx.problem(
                &sp,
                format!("unknown treat_missing_data {s:?}"),
                "use `missing`, `not_breaching`, `breaching` or `ignore`",
            );
            None
        }),
        None => Some(MissingData::Missing),
    };
    let low_sample = match string(
        cx,
        table,
        "evaluate_low_sample_count_percentile",
        "write `evaluate_low_sample_count_percentile = \"ignore\"`",
    ) {
        Some((s, sp)) => {
            if !matches!(statistic, Some((Statistic::Percentile(_), _))) {
                cx.problem(&sp, "evaluate_low_sample_count_percentile applies to percentile statistics (pNN) only", "remove it, or use a pNN statistic");
            }
            match s.as_str() {
                "evaluate" => Some(LowSample::Evaluate),
                "ignore" => Some(LowSample::Ignore),
                _ => {
                    cx.problem(
                        &sp,
                        format!("unknown evaluate_low_sample_count_percentile {s:?}"),
                        "use `evaluate` or `ignore`",
                    );
                    None
                }
            }
        }
        None => Some(LowSample::Evaluate),
    };

    let (statistic, _) = statistic?;
    Some(MetricRule {
        target: target?,
        statistic,
        source,
        condition: Condition {
            comparison: comparison?,
            threshold: threshold?,
            period_secs: period?.0,
            evaluation_periods: evaluation_periods?.0,
            datapoints_to_alarm: datapoints_to_alarm?,
            treat_missing_data: treat_missing_data?,
            low_sample: low_sample?,
            percentile: match statistic {
                Statistic::Percentile(p) => Some(p),
                _ => None,
            },
        },
    })
}

/// Whether a target has the data for a statistic; the error is the fix.
fn supported(target: &Target, statistic: Statistic, source: Source) -> Result<(), String> {
    use Statistic::*;
    let values = matches!(
        statistic,
        Count | Sum | Avg | Min | Max | Percentile(_) | TrimmedMean(_)
    );
    match target {
        Target::Function { .. } => match source {
            Source::Logs => match statistic {
                ThrottleCount => Err("throttled invocations never run, so they are only in the metrics: use `source = \"metrics\"`".into()),
                Concurrency => Err("concurrent executions are only in the metrics: use `source = \"metrics\"`".into()),
                FaultRate => Err("Lambda has no fault/error distinction: use `error_rate`".into()),
                _ => Ok(()),
            },
            Source::Metrics => match statistic {
                Count | ErrorRate | ThrottleCount | Concurrency => Ok(()),
                _ => Err("from AWS/Lambda metrics only count, error_rate, throttle_count and concurrency are computed: use `source = \"logs\"` for this statistic".into()),
            },
        },
        Target::Service { .. } | Target::Edge { .. } => {
            if values || matches!(statistic, ErrorRate | FaultRate | ThrottleCount) {
                Ok(())
            } else {
                Err("services and edges have count, sum/avg/min/max/pNN/tmNN of duration_ms, error_rate, fault_rate and throttle_count; timeouts, cold starts and memory are function statistics".into())
            }
        }
        Target::Query { .. } => {
            if values {
                Ok(())
            } else {
                Err("a query's `value` column takes count, sum, avg, min, max, pNN or tmNN; compute rates in the query itself".into())
            }
        }
    }
}

fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    // A typo (a few edits away) or a truncated / extended name.
    known
        .iter()
        .map(|k| {
            let related = k.starts_with(key) || key.starts_with(k);
            (if related { 0 } else { edit_distance(key, k) }, *k)
        })
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j]))
                .min(row[j] + 1)
                .min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Every rule of `path` (a file, or a directory's `*.toml` files in name order) with the checks
/// that span files: unique names, composite references that exist, no cycles.
pub fn load(path: &Path) -> Result<(Vec<Rule>, Vec<Problem>), std::io::Error> {
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let (r, p) = parse_file(file, &text);
        rules.extend(r);
        problems.extend(p);
    }
    if files.is_empty() {
        problems.push(Problem {
            file: path.to_path_buf(),
            line: 0,
            message: "no .toml rule files here".into(),
            fix: "add rule files, or point --rules at a file or directory that has them".into(),
        });
    }
    check_references(&mut rules, &mut problems);
    Ok((rules, problems))
}

/// Cross-rule checks; offending rules are dropped.
pub fn check_references(rules: &mut Vec<Rule>, problems: &mut Vec<Problem>) {
    let mut seen: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    let mut bad = BTreeSet::new();
    for (i, r) in rules.iter().enumerate() {
        if let Some((file, line)) = seen.get(&r.name) {
            problems.push(Problem {
                file: r.file.clone(),
                line: r.line,
                message: format!(
                    "rule name {:?} is already used at {}:{}",
                    r.name,
                    file.display(),
                    line
                ),
                fix: "give each rule a unique name".into(),
            });
            bad.insert(i);
        } else {
            seen.insert(r.name.clone(), (r.file.clone(), r.line));
        }
    }
    let names: BTreeSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    for (i, r) in rules.iter().enumerate() {
        if let RuleKind::Composite(e) = &r.kind {
            for n in e.names() {
                if !names.contains(n) {
                    problems.push(Problem {
                        file: r.file.clone(),
                        line: r.line,
                        message: format!("alarm_rule refers to {n:?}, which no rule file defines"),
                        fix: "define that rule, or correct the name".into(),
                    });
                    bad.insert(i);
                }
            }
        }
    }
    if let Err(cycle) = super::evaluation_order(rules) {
        let r = rules
            .iter()
            .position(|r| r.name == cycle)
            .expect("a rule of the set");
        problems.push(Problem {
            file: rules[r].file.clone(),
            line: rules[r].line,
            message: format!("composite rule {cycle:?} depends on itself"),
            fix: "break the cycle of alarm_rule references".into(),
        });
        bad.insert(r);
    }
    let mut i = 0;
    rules.retain(|_| {
        i += 1;
        !bad.contains(&(i - 1))
    });
    problems.sort();
}

#[cfg(test)]
mod tests;

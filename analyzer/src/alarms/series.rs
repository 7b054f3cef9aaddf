//! A rule's series over the store: one SQL query per (target kind, statistic, period, window),
//! grouped by the target's key (function, service, `caller -> callee`, or a query's `key`), so
//! rules sharing a statistic share the query, whatever functions they name.

use std::collections::BTreeMap;

use chrono::DateTime;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::error::DataFusionError;
use hopscope_schema::lambda_functions as lf;
use hopscope_schema::lambda_invocations::{self as li, status};
use hopscope_schema::metric_points as mp;
use hopscope_schema::spans::{self, col as s};

use super::eval::Datapoint;
use super::rule::{MetricRule, Source, Statistic, Target};
use crate::Session;
use crate::error::Result;
use crate::hdr::{HDR_HISTOGRAM, HDR_QUANTILE};

/// Each key's datapoints, oldest first.
pub type Series = BTreeMap<String, Vec<Datapoint>>;

/// The SQL computing `rule`'s datapoints in [start, end) (epoch µs), columns `key`, `t` (period
/// start, epoch µs), `value`, `samples`. `has_key` says whether a query target returns `key`.
pub fn series_sql(rule: &MetricRule, name: &str, start: i64, end: i64, has_key: bool) -> String {
    let period = rule.condition.period_secs;
    let bin = |time: &str| {
        format!(
            "CAST(to_unixtime(date_bin(INTERVAL '{period} seconds', {time}, TIMESTAMP '1970-01-01T00:00:00Z')) AS BIGINT) * 1000000"
        )
    };
    let window = |time: &str| {
        format!(
            "{time} >= '{}' AND {time} < '{}'",
            rfc3339(start),
            rfc3339(end)
        )
    };
    if let (Target::Function { .. }, Source::Metrics) = (&rule.target, rule.source) {
        // Counts are summed per period; concurrency is a peak, CloudWatch's Maximum.
        let metric = |m: &str| {
            format!(
                "sum(CASE WHEN {} = '{m}' THEN {} END)",
                mp::col::METRIC,
                mp::col::VALUE
            )
        };
        let value = match rule.statistic {
            Statistic::ErrorRate => format!(
                "{} / nullif({}, 0)",
                metric("Errors"),
                metric("Invocations")
            ),
            Statistic::ThrottleCount => metric("Throttles"),
            Statistic::Concurrency => format!(
                "max(CASE WHEN {} = 'ConcurrentExecutions' THEN {} END)",
                mp::col::METRIC,
                mp::col::VALUE
            ),
            _ => metric("Invocations"),
        };
        let aggregate = match rule.statistic {
            Statistic::Concurrency => "Maximum",
            _ => "Sum",
        };
        let dims = mp::col::DIMENSIONS;
        return format!(
            "SELECT CAST({dims}['FunctionName'] AS VARCHAR) AS key, {t} AS t, {value} AS value, count(*) AS samples
             FROM {table}
             WHERE {ns} = 'AWS/Lambda' AND {stat} = '{aggregate}' AND {dims}['FunctionName'] IS NOT NULL
               AND {dims}['Resource'] IS NULL AND {dims}['ExecutedVersion'] IS NULL AND {w}
             GROUP BY 1, 2 HAVING {value} IS NOT NULL",
            t = bin(mp::col::TIMESTAMP),
            table = mp::TABLE,
            ns = mp::col::NAMESPACE,
            stat = mp::col::STATISTIC,
            w = window(mp::col::TIMESTAMP),
        );
    }
    if let (Target::Function { .. }, Statistic::TimeoutUsedRatio) = (&rule.target, rule.statistic) {
        // Each invocation against the timeout of its version's configuration in effect then
        // (the latest `lambda_functions` row before it): no configuration collected, no datapoint.
        return format!(
            "SELECT key, t, max(ratio) AS value, count(ratio) AS samples FROM (
               SELECT CAST(i.{f} AS VARCHAR) AS key, {t} AS t,
                      i.{d} / (1000.0 * c.{timeout}) AS ratio,
                      row_number() OVER (PARTITION BY i.{f}, i.{rid}, i.{ts}
                                         ORDER BY c.{modified} DESC) AS rn
               FROM {inv} i JOIN {cfg} c
                 ON CAST(c.{cf} AS VARCHAR) = CAST(i.{f} AS VARCHAR)
                AND CAST(c.{cv} AS VARCHAR) = coalesce(CAST(i.{v} AS VARCHAR), '$LATEST')
                AND c.{modified} <= i.{ts}
                AND (c.{creg} IS NULL OR i.{reg} IS NULL OR CAST(c.{creg} AS VARCHAR) = CAST(i.{reg} AS VARCHAR))
                AND (c.{cacc} IS NULL OR i.{acc} IS NULL OR CAST(c.{cacc} AS VARCHAR) = CAST(i.{acc} AS VARCHAR))
               WHERE i.{f} IS NOT NULL AND c.{timeout} > 0 AND {w})
             WHERE rn = 1 GROUP BY key, t",
            f = li::col::FUNCTION,
            v = li::col::VERSION,
            d = li::col::DURATION_MS,
            rid = li::col::REQUEST_ID,
            ts = li::col::TIMESTAMP,
            reg = li::col::REGION,
            acc = li::col::ACCOUNT_ID,
            t = bin(&format!("i.{}", li::col::TIMESTAMP)),
            w = window(&format!("i.{}", li::col::TIMESTAMP)),
            inv = li::TABLE,
            cfg = lf::TABLE,
            cf = lf::col::FUNCTION,
            cv = lf::col::VERSION,
            timeout = lf::col::TIMEOUT_S,
            modified = lf::col::LAST_MODIFIED,
            creg = lf::col::REGION,
            cacc = lf::col::ACCOUNT_ID,
        );
    }
    // Base rows: key, t, x (the value statistics aggregate) and the flags rates count.
    let base = match &rule.target {
        Target::Function { .. } => format!(
            "SELECT CAST({f} AS VARCHAR) AS key, {t} AS t, {d} AS x,
                    {st} IN ('{err}', '{tmo}') AS is_error, false AS is_fault, false AS is_throttle,
                    {st} = '{tmo}' AS is_timeout, {init} IS NOT NULL AS is_cold,
                    CAST({maxm} AS DOUBLE) / {mem} AS memory_ratio
             FROM {table} WHERE {f} IS NOT NULL AND {w}",
            f = li::col::FUNCTION,
            t = bin(li::col::TIMESTAMP),
            d = li::col::DURATION_MS,
            st = li::col::STATUS,
            err = status::ERROR,
            tmo = status::TIMEOUT,
            init = li::col::INIT_MS,
            maxm = li::col::MAX_MEMORY_MB,
            mem = li::col::MEMORY_MB,
            table = li::TABLE,
            w = window(li::col::TIMESTAMP),
        ),
        Target::Service { service_type, .. } => format!(
            "SELECT CAST({sv} AS VARCHAR) AS key, {t} AS t, {d} AS x, {e} AS is_error, {f} AS is_fault,
                    {th} AS is_throttle, false AS is_timeout, false AS is_cold, CAST(NULL AS DOUBLE) AS memory_ratio
             FROM {table} WHERE ({ps} IS NULL OR ({hop})) {ty} AND {w}",
            sv = s::SERVICE,
            t = bin(s::START_TIME),
            d = s::DURATION_MS,
            e = s::ERROR,
            f = s::FAULT,
            th = s::THROTTLE,
            ps = s::PARENT_SERVICE,
            hop = crate::views::hop_predicate(),
            ty = service_type.as_ref().map_or(String::new(), |ty| format!("AND {} = {}", s::SERVICE_TYPE, crate::sql_literal::string(ty))),
            table = spans::TABLE,
            w = window(s::START_TIME),
        ),
        Target::Edge { .. } => format!(
            "SELECT CAST({ps} AS VARCHAR) || ' -> ' || CAST({sv} AS VARCHAR) AS key, {t} AS t, {d} AS x,
                    {e} AS is_error, {f} AS is_fault, {th} AS is_throttle, false AS is_timeout,
                    false AS is_cold, CAST(NULL AS DOUBLE) AS memory_ratio
             FROM {table} WHERE {hop} AND {w}",
            ps = s::PARENT_SERVICE,
            sv = s::SERVICE,
            t = bin(s::START_TIME),
            d = s::DURATION_MS,
            e = s::ERROR,
            f = s::FAULT,
            th = s::THROTTLE,
            hop = crate::views::hop_predicate(),
            table = spans::TABLE,
            w = window(s::START_TIME),
        ),
        Target::Query { sql } => format!(
            "SELECT CAST({key} AS VARCHAR) AS key, {t} AS t, CAST(q.value AS DOUBLE) AS x
             FROM ({sql}) q WHERE {w}",
            key = if has_key { "q.key".to_string() } else { crate::sql_literal::string(name) },
            t = bin("q.time"),
            w = window("q.time"),
        ),
    };
    let rate = |flag: &str| format!("avg(CASE WHEN {flag} THEN 1.0 ELSE 0.0 END)");
    let count = |flag: &str| format!("sum(CASE WHEN {flag} THEN 1.0 ELSE 0.0 END)");
    let (value, samples) = match rule.statistic {
        Statistic::Count => ("CAST(count(*) AS DOUBLE)".to_string(), "count(*)"),
        Statistic::Sum => ("sum(x)".into(), "count(x)"),
        Statistic::Avg => ("avg(x)".into(), "count(x)"),
        Statistic::Min => ("min(x)".into(), "count(x)"),
        Statistic::Max => ("max(x)".into(), "count(x)"),
        Statistic::Percentile(p) => (
            format!("{HDR_QUANTILE}({HDR_HISTOGRAM}(x), {})", p / 100.0),
            "count(x)",
        ),
        Statistic::TrimmedMean(p) => {
            // The mean of the values at or below the period's percentile p.
            return format!(
                "WITH b AS ({base}),
                 q AS (SELECT key, t, {HDR_QUANTILE}({HDR_HISTOGRAM}(x), {p}) AS bound FROM b GROUP BY key, t)
                 SELECT b.key AS key, b.t AS t, avg(CASE WHEN b.x <= q.bound THEN b.x END) AS value, count(b.x) AS samples
                 FROM b JOIN q ON b.key = q.key AND b.t = q.t GROUP BY b.key, b.t",
                p = p / 100.0
            );
        }
        Statistic::ErrorRate => (rate("is_error"), "count(*)"),
        Statistic::FaultRate => (rate("is_fault"), "count(*)"),
        Statistic::ThrottleCount => (count("is_throttle"), "count(*)"),
        // Built above for functions; `supported` allows it for no other target.
        Statistic::Concurrency => ("CAST(NULL AS DOUBLE)".into(), "0"),
        Statistic::TimeoutCount => (count("is_timeout"), "count(*)"),
        Statistic::ColdStartRatio => (rate("is_cold"), "count(*)"),
        Statistic::MemoryUsedRatio => ("max(memory_ratio)".into(), "count(memory_ratio)"),
        // Built above for functions; `supported` allows it for no other target.
        Statistic::TimeoutUsedRatio => ("CAST(NULL AS DOUBLE)".into(), "0"),
    };
    format!("SELECT key, t, {value} AS value, {samples} AS samples FROM ({base}) b GROUP BY key, t")
}

fn rfc3339(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// Whether a query target's SQL returns a `key` column (then one alarm per key).
pub async fn query_has_key(session: &Session, sql: &str) -> Result<bool> {
    let df = session.query(sql).await?;
    Ok(df.schema().fields().iter().any(|f| f.name() == "key"))
}

/// Runs a series query; rows with no value (NULL, NaN) are no datapoint.
pub async fn fetch(session: &Session, sql: &str) -> Result<Series> {
    let mut out = Series::new();
    for batch in session.collect(sql).await? {
        let key = cast(batch.column(0), &DataType::Utf8).map_err(DataFusionError::from)?;
        let t = cast(batch.column(1), &DataType::Int64).map_err(DataFusionError::from)?;
        let value = cast(batch.column(2), &DataType::Float64).map_err(DataFusionError::from)?;
        let samples = cast(batch.column(3), &DataType::Int64).map_err(DataFusionError::from)?;
        let (key, t) = (key.as_string::<i32>(), t.as_primitive::<Int64Type>());
        let (value, samples) = (
            value.as_primitive::<Float64Type>(),
            samples.as_primitive::<Int64Type>(),
        );
        for i in 0..batch.num_rows() {
            if key.is_null(i) || t.is_null(i) || value.is_null(i) || !value.value(i).is_finite() {
                continue;
            }
            out.entry(key.value(i).to_string())
                .or_default()
                .push(Datapoint {
                    time: t.value(i),
                    value: value.value(i),
                    samples: if samples.is_null(i) {
                        0
                    } else {
                        samples.value(i).max(0) as u64
                    },
                });
        }
    }
    for points in out.values_mut() {
        points.sort_by_key(|p| p.time);
    }
    Ok(out)
}

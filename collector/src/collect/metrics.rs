//! CloudWatch metrics: GetMetricData for the Lambda metrics of every function seen, and for the
//! metrics of the other services an incident in a serverless system shows first in (API Gateway,
//! SQS, DynamoDB, Step Functions, RDS), whose series ListMetrics finds. Batched to the API's 500
//! queries per call, every page. Answers go to the importer as the combined request + answer
//! document it reads (`{"MetricDataQueries", "MetricDataResults"}`): one parser, and metric
//! volumes (a few series per resource per minute) make the JSON step negligible.

use std::collections::BTreeSet;

use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::Summary;
use super::api::{Api, Caller};
use crate::error::Result;
use crate::output::{FileCtx, Output};

/// GetMetricData takes at most 500 queries per call.
pub const MAX_QUERIES: usize = 500;
/// One-minute points: the finest standard resolution of every namespace here.
const PERIOD_SECONDS: i32 = 60;
const LAMBDA: &str = "AWS/Lambda";
/// Series of other services asked for per window at most; ListMetrics may list many more in a
/// large account, and the rest are reported rather than fetched.
pub const MAX_SERVICE_SERIES: usize = 4 * MAX_QUERIES;

/// (metric, statistic, unit) collected per Lambda function.
pub const SERIES: &[(&str, &str, &str)] = &[
    ("Invocations", "Sum", "Count"),
    ("Errors", "Sum", "Count"),
    ("Throttles", "Sum", "Count"),
    ("Duration", "p50", "Milliseconds"),
    ("Duration", "p90", "Milliseconds"),
    ("Duration", "p99", "Milliseconds"),
    ("Duration", "Maximum", "Milliseconds"),
    ("ConcurrentExecutions", "Maximum", "Count"),
    // Asynchronous invocations: how long events wait, and the ones dropped.
    ("AsyncEventAge", "Maximum", "Milliseconds"),
    ("AsyncEventsDropped", "Sum", "Count"),
    // Stream sources (Kinesis, DynamoDB streams): how far behind the function reads.
    ("IteratorAge", "Maximum", "Milliseconds"),
];

/// (namespace, metric, statistic, unit) of the other services, for every series ListMetrics
/// lists of them.
pub const SERVICE_SERIES: &[(&str, &str, &str, &str)] = &[
    ("AWS/ApiGateway", "5XXError", "Sum", "Count"),
    ("AWS/ApiGateway", "4XXError", "Sum", "Count"),
    ("AWS/ApiGateway", "Count", "Sum", "Count"),
    ("AWS/ApiGateway", "Latency", "p99", "Milliseconds"),
    (
        "AWS/ApiGateway",
        "IntegrationLatency",
        "p99",
        "Milliseconds",
    ),
    (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "Maximum",
        "Seconds",
    ),
    (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        "Count",
    ),
    ("AWS/DynamoDB", "ThrottledRequests", "Sum", "Count"),
    (
        "AWS/DynamoDB",
        "SuccessfulRequestLatency",
        "Average",
        "Milliseconds",
    ),
    ("AWS/DynamoDB", "SystemErrors", "Sum", "Count"),
    ("AWS/States", "ExecutionsFailed", "Sum", "Count"),
    ("AWS/States", "ExecutionsTimedOut", "Sum", "Count"),
    ("AWS/States", "ExecutionThrottled", "Sum", "Count"),
    ("AWS/States", "ExecutionTime", "Average", "Milliseconds"),
    ("AWS/RDS", "DatabaseConnections", "Maximum", "Count"),
    ("AWS/RDS", "CPUUtilization", "Average", "Percent"),
];

/// One series to fetch: a metric with its dimensions, a statistic and the unit it is stored with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Series {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub stat: String,
    pub unit: String,
}

/// The Lambda series of `functions`.
pub fn lambda_series(functions: &[String]) -> Vec<Series> {
    functions
        .iter()
        .flat_map(|f| {
            SERIES.iter().map(move |(metric, stat, unit)| Series {
                namespace: LAMBDA.into(),
                metric: (*metric).into(),
                dimensions: vec![("FunctionName".into(), f.clone())],
                stat: (*stat).into(),
                unit: (*unit).into(),
            })
        })
        .collect()
}

/// Every series ListMetrics lists of [`SERVICE_SERIES`]' metrics, each with its statistic.
pub async fn service_series(
    client: &aws_sdk_cloudwatch::Client,
    caller: &Caller,
) -> Result<Vec<Series>> {
    let mut found = BTreeSet::new();
    let metrics: BTreeSet<(&str, &str)> =
        SERVICE_SERIES.iter().map(|(n, m, ..)| (*n, *m)).collect();
    for (namespace, metric) in metrics {
        let mut token: Option<String> = None;
        loop {
            let page = caller
                .call(Api::ListMetrics, || {
                    client
                        .list_metrics()
                        .namespace(namespace)
                        .metric_name(metric)
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            for listed in page.metrics() {
                let mut dimensions: Vec<(String, String)> = listed
                    .dimensions()
                    .iter()
                    .filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string())))
                    .collect();
                dimensions.sort();
                for (n, m, stat, unit) in SERVICE_SERIES {
                    if (*n, *m) == (namespace, metric) {
                        found.insert(Series {
                            namespace: namespace.into(),
                            metric: metric.into(),
                            dimensions: dimensions.clone(),
                            stat: (*stat).into(),
                            unit: (*unit).into(),
                        });
                    }
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(found.into_iter().collect())
}

/// The queries for `series`, ids `m0`, `m1`, ... (ids must start with a lowercase letter).
pub fn queries(series: &[Series]) -> Vec<MetricDataQuery> {
    series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let dimensions = s
                .dimensions
                .iter()
                .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                .collect();
            let metric = Metric::builder()
                .namespace(&s.namespace)
                .metric_name(&s.metric)
                .set_dimensions(Some(dimensions))
                .build();
            let stat = MetricStat::builder()
                .metric(metric)
                .period(PERIOD_SECONDS)
                .stat(&s.stat)
                .build();
            MetricDataQuery::builder()
                .id(format!("m{i}"))
                .metric_stat(stat)
                .return_data(true)
                .build()
        })
        .collect()
}

/// The request + answer document the metrics importer reads.
fn document(
    queries: &[MetricDataQuery],
    series: &[Series],
    results: &[aws_sdk_cloudwatch::types::MetricDataResult],
) -> String {
    let queries: Vec<_> = queries
        .iter()
        .zip(series)
        .map(|(q, s)| {
            let stat = q.metric_stat();
            let metric = stat.and_then(|s| s.metric());
            let unit = &s.unit;
            json!({
                "Id": q.id(),
                "MetricStat": {
                    "Metric": {
                        "Namespace": metric.and_then(|m| m.namespace()),
                        "MetricName": metric.and_then(|m| m.metric_name()),
                        "Dimensions": metric.map(aws_sdk_cloudwatch::types::Metric::dimensions).unwrap_or_default().iter()
                            .map(|d| json!({"Name": d.name(), "Value": d.value()})).collect::<Vec<_>>(),
                    },
                    "Stat": stat.and_then(|s| s.stat()),
                    "Unit": unit,
                },
            })
        })
        .collect();
    let results: Vec<_> = results
        .iter()
        .map(|r| {
            json!({
                "Id": r.id(),
                "Label": r.label(),
                "Timestamps": r.timestamps().iter().map(aws_sdk_xray::primitives::DateTime::as_secs_f64).collect::<Vec<_>>(),
                "Values": r.values(),
                "StatusCode": r.status_code().map(aws_sdk_cloudwatch::types::StatusCode::as_str),
                "Messages": r.messages().iter().map(|m| json!({"Code": m.code(), "Value": m.value()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({"MetricDataQueries": queries, "MetricDataResults": results}).to_string()
}

/// Every point of `series` in `[start, end]`. Returns whether every answer was complete.
pub async fn collect(
    client: &aws_sdk_cloudwatch::Client,
    caller: &Caller,
    series: &[Series],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    out: &mut Output<'_>,
    summary: &mut Summary,
) -> Result<bool> {
    let ctx = FileCtx {
        path: "GetMetricData",
        log_group: None,
        now: crate::output::clock_micros(),
    };
    let all = queries(series);
    let mut complete = true;
    for (batch, series) in all.chunks(MAX_QUERIES).zip(series.chunks(MAX_QUERIES)) {
        let mut token: Option<String> = None;
        loop {
            let page = caller
                .call(Api::GetMetricData, || {
                    client
                        .get_metric_data()
                        .set_metric_data_queries(Some(batch.to_vec()))
                        .start_time(AwsTime::from_secs(start.timestamp()))
                        .end_time(AwsTime::from_secs(end.timestamp()))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            token = page.next_token().map(str::to_string);
            let results = page.metric_data_results();
            for r in results {
                match r.status_code() {
                    // More points on the next page: expected while a token is given.
                    Some(StatusCode::PartialData) if token.is_none() => {
                        complete = false;
                        summary.notes.push(format!(
                            "CloudWatch: query {} ({}) returned PartialData with no further page",
                            r.id().unwrap_or_default(),
                            r.label().unwrap_or_default()
                        ));
                    }
                    Some(StatusCode::Forbidden) => {
                        summary.notes.push(format!(
                            "CloudWatch: query {} ({}) is Forbidden: grant cloudwatch:GetMetricData on it",
                            r.id().unwrap_or_default(),
                            r.label().unwrap_or_default()
                        ));
                    }
                    _ => {}
                }
            }
            // The importer counts Forbidden and InternalError results as rejected records.
            crate::metrics::import(&document(batch, series, results), &ctx, out)?;
            for message in page.messages() {
                summary.notes.push(format!(
                    "CloudWatch: {}: {}",
                    message.code().unwrap_or_default(),
                    message.value().unwrap_or_default()
                ));
            }
            if token.is_none() {
                break;
            }
        }
    }
    Ok(complete)
}

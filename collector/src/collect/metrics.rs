//! CloudWatch metrics: GetMetricData for the Lambda metrics of every function seen, batched to
//! the API's 500 queries per call, every page. Answers go to the importer as the combined
//! request + answer document it reads (`{"MetricDataQueries", "MetricDataResults"}`): one parser,
//! and metric volumes (a few series per function per minute) make the JSON step negligible.

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
/// One-minute points: Lambda's finest standard resolution.
const PERIOD_SECONDS: i32 = 60;
const NAMESPACE: &str = "AWS/Lambda";

/// (metric, statistic, unit) collected per function.
pub const SERIES: &[(&str, &str, &str)] = &[
    ("Invocations", "Sum", "Count"),
    ("Errors", "Sum", "Count"),
    ("Throttles", "Sum", "Count"),
    ("Duration", "p50", "Milliseconds"),
    ("Duration", "p90", "Milliseconds"),
    ("Duration", "p99", "Milliseconds"),
    ("Duration", "Maximum", "Milliseconds"),
    ("ConcurrentExecutions", "Maximum", "Count"),
];

/// The queries for `functions`, ids `m0`, `m1`, ... (ids must start with a lowercase letter).
pub fn queries(functions: &[String]) -> Vec<MetricDataQuery> {
    functions
        .iter()
        .flat_map(|f| SERIES.iter().map(move |s| (f, s)))
        .enumerate()
        .map(|(i, (function, (metric, stat, _)))| {
            let dimension = Dimension::builder()
                .name("FunctionName")
                .value(function)
                .build();
            let metric = Metric::builder()
                .namespace(NAMESPACE)
                .metric_name(*metric)
                .dimensions(dimension)
                .build();
            let stat = MetricStat::builder()
                .metric(metric)
                .period(PERIOD_SECONDS)
                .stat(*stat)
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
    results: &[aws_sdk_cloudwatch::types::MetricDataResult],
) -> String {
    let queries: Vec<_> = queries
        .iter()
        .map(|q| {
            let stat = q.metric_stat();
            let metric = stat.and_then(|s| s.metric());
            let unit = SERIES
                .iter()
                .find(|(m, s, _)| metric.and_then(|m| m.metric_name()) == Some(*m) && stat.and_then(|s| s.stat()) == Some(*s))
                .map(|(_, _, u)| *u);
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

/// Every point of the Lambda series of `functions` in `[start, end]`. Returns whether every
/// answer was complete.
pub async fn collect(
    client: &aws_sdk_cloudwatch::Client,
    caller: &Caller,
    functions: &[String],
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
    let all = queries(functions);
    let mut complete = true;
    for batch in all.chunks(MAX_QUERIES) {
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
            crate::metrics::import(&document(batch, results), &ctx, out)?;
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

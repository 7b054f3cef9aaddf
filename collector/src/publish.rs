//! Alarm states as a CloudWatch custom metric (PutMetricData), so existing CloudWatch alarms and
//! their actions can route what hopscope evaluates.

use std::sync::Arc;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use crate::collect::{Api, Caller};
use crate::error::Result;

/// The metric's name: 1 while the alarm is in ALARM, 0 while OK.
pub const METRIC: &str = "AlarmState";
/// Dimension naming the rule.
pub const RULE_DIMENSION: &str = "Rule";
/// Dimension naming the alarm's key (function, service, `caller -> callee`).
pub const KEY_DIMENSION: &str = "Key";
/// PutMetricData accepts up to 1,000 datums per request.
pub const MAX_DATUMS: usize = 1000;

/// One alarm's state at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmDatum {
    pub rule: String,
    pub key: String,
    /// 1.0 for ALARM, 0.0 for OK.
    pub value: f64,
    /// Epoch seconds.
    pub timestamp: i64,
}

/// Publishes `data` under `namespace`, 1,000 datums per call; returns the calls made.
pub async fn put_alarm_states(
    client: &aws_sdk_cloudwatch::Client,
    caller: &Arc<Caller>,
    namespace: &str,
    data: &[AlarmDatum],
) -> Result<usize> {
    let mut calls = 0;
    for chunk in data.chunks(MAX_DATUMS) {
        let datums: Vec<MetricDatum> = chunk
            .iter()
            .map(|d| {
                MetricDatum::builder()
                    .metric_name(METRIC)
                    .dimensions(
                        Dimension::builder()
                            .name(RULE_DIMENSION)
                            .value(&d.rule)
                            .build(),
                    )
                    .dimensions(
                        Dimension::builder()
                            .name(KEY_DIMENSION)
                            .value(&d.key)
                            .build(),
                    )
                    .timestamp(DateTime::from_secs(d.timestamp))
                    .value(d.value)
                    .unit(StandardUnit::None)
                    .build()
            })
            .collect();
        caller
            .call(Api::PutMetricData, || {
                client
                    .put_metric_data()
                    .namespace(namespace)
                    .set_metric_data(Some(datums.clone()))
                    .send()
            })
            .await?;
        calls += 1;
    }
    Ok(calls)
}

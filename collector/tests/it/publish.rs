//! Alarm states published with PutMetricData against the AWS test peer, through the real SDK:
//! more datums than one call takes, a throttled call retried, and the values read back.

use std::sync::Arc;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use hopscope_collector::collect::{Api, Caller, RetryPolicy};
use hopscope_collector::publish::{self, AlarmDatum};
use hopscope_test_support::aws_peer;

use crate::collect::clients;

#[tokio::test(flavor = "multi_thread")]
async fn alarm_states_reach_cloudwatch() {
    let region = "ap-southeast-2";
    let c = clients(region).await;
    aws_peer::control(
        "POST",
        "/_peer/faults",
        &format!(r#"{{"region": "{region}", "operation": "PutMetricData", "throttle": 1}}"#),
    );
    let at = 1_795_172_400; // 2026-11-20T11:00:00Z
    let data: Vec<AlarmDatum> = (0..1500)
        .map(|i| AlarmDatum {
            rule: "lambda-timeouts".into(),
            key: format!("fn-{i:04}"),
            value: if i % 3 == 0 { 1.0 } else { 0.0 },
            timestamp: at,
        })
        .collect();
    let retry = RetryPolicy {
        initial_backoff: std::time::Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let caller = Arc::new(Caller::new(retry, &[]));
    let calls = publish::put_alarm_states(&c.cloudwatch, &caller, "hopscope/Alarms", &data)
        .await
        .unwrap();
    assert_eq!(calls, 2, "1,000 datums per call");
    let stats = caller.stats()[&Api::PutMetricData];
    assert_eq!((stats.calls, stats.throttles, stats.retries), (3, 1, 1));

    let query = |id: &str, key: &str| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("hopscope/Alarms")
                            .metric_name(publish::METRIC)
                            .dimensions(
                                Dimension::builder()
                                    .name(publish::RULE_DIMENSION)
                                    .value("lambda-timeouts")
                                    .build(),
                            )
                            .dimensions(
                                Dimension::builder()
                                    .name(publish::KEY_DIMENSION)
                                    .value(key)
                                    .build(),
                            )
                            .build(),
                    )
                    .period(60)
                    .stat("Maximum")
                    .build(),
            )
            .build()
    };
    let answer = c
        .cloudwatch
        .get_metric_data()
        .metric_data_queries(query("alarm", "fn-0003"))
        .metric_data_queries(query("ok", "fn-1499"))
        .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(at - 60))
        .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(at + 60))
        .send()
        .await
        .unwrap();
    let values = |id: &str| {
        answer
            .metric_data_results()
            .iter()
            .find(|r| r.id() == Some(id))
            .map(|r| r.values().to_vec())
            .unwrap()
    };
    assert_eq!(values("alarm"), [1.0]);
    assert_eq!(values("ok"), [0.0]);
}

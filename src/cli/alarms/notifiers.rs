//! Where `check` and `watch` tell changes of state: a webhook, and CloudWatch's `AlarmState`
//! metric. Their clients (HTTP, the AWS SDK) live in the binary; the evaluation loop that calls
//! them is the analyzer's.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hopscope_analyzer::alarms::{
    AlarmStatus, Notifier, NotifyError, NotifyFuture, State, Transition,
};
use hopscope_collector::aws::Clients;
use hopscope_collector::collect::Caller;
use hopscope_collector::publish::{self, AlarmDatum};
use hopscope_collector::retry::{GaveUp, RetryPolicy, retry};

use crate::cli::output::sanitize;

/// POSTs each change of state as JSON, retrying with exponential backoff from 1 s.
pub struct Webhook {
    url: String,
    retry: RetryPolicy,
    agent: ureq::Agent,
}

impl Webhook {
    pub fn new(url: String, attempts: u32) -> Webhook {
        Webhook {
            url,
            retry: RetryPolicy {
                max_attempts: attempts.max(1),
                initial_backoff: Duration::from_secs(1),
                max_backoff: Duration::MAX,
                // One receiver, one sender: nobody to spread out from.
                jitter: false,
            },
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .into(),
        }
    }

    async fn post(&self, t: &Transition) -> anyhow::Result<()> {
        let body = serde_json::to_string(t)?;
        let send = |_| {
            let (agent, url, body) = (self.agent.clone(), self.url.clone(), body.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    agent
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .send(body.as_bytes())
                        .map(|_calls| ())
                })
                .await
                .map_err(anyhow::Error::from)?
                .map_err(anyhow::Error::from)
            }
        };
        retry(&self.retry, "webhook", send, |_| true)
            .await
            .map_err(|GaveUp { error, attempts }| {
                anyhow::anyhow!("{error} (after {attempts} attempts)")
            })
    }
}

impl Notifier for Webhook {
    fn changed<'a>(&'a self, change: &'a Transition) -> NotifyFuture<'a> {
        Box::pin(async move {
            self.post(change).await.map_err(|e| {
                NotifyError::from(format!(
                    "webhook {} for {} {}: {e:#}",
                    sanitize(&self.url),
                    change.rule,
                    sanitize(&change.key)
                ))
            })
        })
    }
}

/// Publishes each alarm's state (1 = ALARM, 0 = OK) as the CloudWatch custom metric
/// `AlarmState` after every evaluation.
pub struct StateMetric {
    pub clients: Clients,
    pub caller: Arc<Caller>,
    pub namespace: String,
}

impl Notifier for StateMetric {
    fn evaluated<'a>(&'a self, statuses: &'a [AlarmStatus], at: DateTime<Utc>) -> NotifyFuture<'a> {
        Box::pin(async move {
            let data: Vec<AlarmDatum> = statuses
                .iter()
                .filter(|s| s.state != State::InsufficientData)
                .map(|s| AlarmDatum {
                    rule: s.rule.clone(),
                    key: s.key.clone(),
                    value: if s.state == State::Alarm { 1.0 } else { 0.0 },
                    timestamp: at.timestamp(),
                })
                .collect();
            publish::put_alarm_states(
                &self.clients.cloudwatch,
                &self.caller,
                &self.namespace,
                &data,
            )
            .await
            .map(|_calls| ())
            .map_err(|e| NotifyError::from(format!("publishing alarm states to CloudWatch: {e}")))
        })
    }
}

//! Every AWS call of a collection goes through [`Caller::call`]: a client-side rate limit per API
//! at its documented default quota, retries with exponential backoff and full jitter on throttling
//! and server errors, and counters for the run's summary.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_xray::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::retry::{GaveUp, RetryPolicy, retry};

/// The APIs the collector calls, each with its own quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Api {
    GetTraceSegmentDestination,
    GetTraceSummaries,
    BatchGetTraces,
    StartTraceRetrieval,
    ListRetrievedTraces,
    DescribeLogGroups,
    FilterLogEvents,
    GetMetricData,
    PutMetricData,
    ListMetrics,
    ListFunctions,
    ListAliases,
    GetCallerIdentity,
}

impl Api {
    pub const ALL: [Api; 13] = [
        Api::GetTraceSegmentDestination,
        Api::GetTraceSummaries,
        Api::BatchGetTraces,
        Api::StartTraceRetrieval,
        Api::ListRetrievedTraces,
        Api::DescribeLogGroups,
        Api::FilterLogEvents,
        Api::GetMetricData,
        Api::PutMetricData,
        Api::ListMetrics,
        Api::ListFunctions,
        Api::ListAliases,
        Api::GetCallerIdentity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Api::GetTraceSegmentDestination => "GetTraceSegmentDestination",
            Api::GetTraceSummaries => "GetTraceSummaries",
            Api::BatchGetTraces => "BatchGetTraces",
            Api::StartTraceRetrieval => "StartTraceRetrieval",
            Api::ListRetrievedTraces => "ListRetrievedTraces",
            Api::DescribeLogGroups => "DescribeLogGroups",
            Api::FilterLogEvents => "FilterLogEvents",
            Api::GetMetricData => "GetMetricData",
            Api::PutMetricData => "PutMetricData",
            Api::ListMetrics => "ListMetrics",
            Api::ListFunctions => "ListFunctions",
            Api::ListAliases => "ListAliases",
            Api::GetCallerIdentity => "GetCallerIdentity",
        }
    }

    /// The IAM action that allows the call, for messages about a denied one.
    pub fn iam_action(self) -> String {
        let service = match self {
            Api::GetTraceSegmentDestination
            | Api::GetTraceSummaries
            | Api::BatchGetTraces
            | Api::StartTraceRetrieval
            | Api::ListRetrievedTraces => "xray",
            Api::DescribeLogGroups | Api::FilterLogEvents => "logs",
            Api::GetMetricData | Api::PutMetricData | Api::ListMetrics => "cloudwatch",
            Api::ListFunctions | Api::ListAliases => "lambda",
            Api::GetCallerIdentity => "sts",
        };
        format!("{service}:{}", self.name())
    }

    /// Default per-account, per-Region quota in requests per second (the README lists sources).
    pub fn default_rate(self) -> f64 {
        match self {
            Api::GetTraceSegmentDestination => 1.0,
            Api::GetTraceSummaries => 5.0,
            Api::BatchGetTraces => 5.0,
            Api::StartTraceRetrieval | Api::ListRetrievedTraces => 5.0,
            Api::ListFunctions | Api::ListAliases => 15.0,
            Api::ListMetrics => 25.0,
            Api::GetCallerIdentity => 10.0,
            Api::DescribeLogGroups => 10.0,
            Api::FilterLogEvents => 5.0,
            Api::GetMetricData => 50.0,
            Api::PutMetricData => 500.0,
        }
    }
}

/// Counters of one API over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiStats {
    /// Requests sent, retries included.
    pub calls: u64,
    /// Answers that were throttling errors (ThrottlingException, 429, ...).
    pub throttles: u64,
    /// Requests that were retries of a failed one.
    pub retries: u64,
    /// Calls that failed for good.
    pub failures: u64,
}

/// A token bucket holding up to one second of requests, so bursts stay within the quota.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes a token; returns how long to wait before the request may go.
    fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate.max(1.0));
        self.at = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// Rate limits, retries and counters, shared by every call of a run.
#[derive(Debug)]
pub struct Caller {
    retry: RetryPolicy,
    buckets: Mutex<BTreeMap<Api, Bucket>>,
    stats: Mutex<BTreeMap<Api, ApiStats>>,
}

/// Error codes that mean "slow down" across X-Ray, CloudWatch Logs and CloudWatch.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
];

impl Caller {
    /// `rates` overrides the default quota of some APIs (requests per second).
    pub fn new(retry: RetryPolicy, rates: &[(Api, f64)]) -> Caller {
        let now = Instant::now();
        let buckets = Api::ALL
            .iter()
            .map(|&api| {
                let rate = rates
                    .iter()
                    .find(|(a, _)| *a == api)
                    .map_or(api.default_rate(), |(_, r)| *r)
                    .max(0.01);
                let tokens = rate.max(1.0);
                (
                    api,
                    Bucket {
                        rate,
                        tokens,
                        at: now,
                    },
                )
            })
            .collect();
        Caller {
            retry,
            buckets: Mutex::new(buckets),
            stats: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn stats(&self) -> BTreeMap<Api, ApiStats> {
        self.stats.lock().expect("stats lock").clone()
    }

    fn count(&self, api: Api, f: impl FnOnce(&mut ApiStats)) {
        f(self
            .stats
            .lock()
            .expect("stats lock")
            .entry(api)
            .or_default());
    }

    async fn acquire(&self, api: Api) {
        let wait = self
            .buckets
            .lock()
            .expect("bucket lock")
            .get_mut(&api)
            .expect("every API has a bucket")
            .reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends `request()` until it succeeds, fails for good, or runs out of attempts.
    pub async fn call<T, E, F, Fut>(&self, api: Api, mut request: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let sent = |attempt: u32| {
            // Futures are lazy: the request goes out when awaited, after the rate limit.
            let request = request();
            async move {
                self.acquire(api).await;
                self.count(api, |s| {
                    s.calls += 1;
                    if attempt > 1 {
                        s.retries += 1;
                    }
                });
                // Displayed with its causes when a retry is logged.
                request.await.map_err(DisplayErrorContext)
            }
        };
        let retryable = |err: &DisplayErrorContext<SdkError<E>>| {
            let class = classify(&err.0);
            if class == Class::Throttle {
                self.count(api, |s| s.throttles += 1);
            }
            class != Class::Fatal
        };
        retry(&self.retry, api.name(), sent, retryable)
            .await
            .map_err(|GaveUp { error, attempts }| {
                self.count(api, |s| s.failures += 1);
                if is_access_denied(&error.0) {
                    return Error::AccessDenied {
                        operation: api.name(),
                        action: api.iam_action(),
                        message: error.0.message().unwrap_or_default().to_string(),
                    };
                }
                Error::Aws {
                    operation: api.name(),
                    attempts,
                    source: Box::new(error.0),
                }
            })
    }
}

/// Error codes of a call the caller's identity may not make, across the services called.
const ACCESS_DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
];

fn is_access_denied<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    matches!(err, SdkError::ServiceError(_))
        && err
            .code()
            .is_some_and(|code| ACCESS_DENIED_CODES.contains(&code))
}

#[derive(Debug, PartialEq, Eq)]
enum Class {
    Throttle,
    Transient,
    Fatal,
}

fn classify<E: ProvideErrorMetadata>(err: &SdkError<E>) -> Class {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Class::Transient
        }
        SdkError::ServiceError(e) => {
            let status = e.raw().status().as_u16();
            let code = err.code().unwrap_or_default();
            if status == 429 || THROTTLING_CODES.contains(&code) {
                Class::Throttle
            } else if status >= 500 {
                Class::Transient
            } else {
                Class::Fatal
            }
        }
        _ => Class::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_second_of_burst_then_spaces_requests() {
        let start = Instant::now();
        let mut bucket = Bucket {
            rate: 5.0,
            tokens: 5.0,
            at: start,
        };
        for _ in 0..5 {
            assert_eq!(bucket.reserve(start), Duration::ZERO);
        }
        let wait = bucket.reserve(start);
        assert!((wait.as_secs_f64() - 0.2).abs() < 1e-9, "{wait:?}");
        let wait = bucket.reserve(start);
        assert!((wait.as_secs_f64() - 0.4).abs() < 1e-9, "{wait:?}");
    }
}

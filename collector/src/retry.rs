//! Retrying a failed operation with exponential backoff: one loop for every call the binary makes
//! to the outside world (AWS APIs through [`crate::collect::Caller`], the alarm webhook).
//!
//! Behind the `aws` feature: its timer (tokio) and jitter (rand) come with it, and its users,
//! the AWS calls and the binary, have it; the analyzer, which calls nothing outside, never
//! builds it.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use rand::Rng;

/// How a failed operation is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (one is always made).
    pub max_attempts: u32,
    /// Wait before the first retry (its ceiling, with jitter); doubles with each further one.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Full jitter: each wait uniform in [0, the doubled wait], so that clients throttled
    /// together do not all come back together.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// AWS calls. Generous: during an incident throttling is expected, and giving up loses a
    /// window.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first): min(max, initial * 2^retry),
    /// or uniform below it with jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_backoff);
        if self.jitter {
            ceiling.mul_f64(rand::rng().random::<f64>())
        } else {
            ceiling
        }
    }
}

/// An operation that failed for good: its last error and the attempts made.
#[derive(Debug)]
pub struct GaveUp<E> {
    pub error: E,
    pub attempts: u32,
}

/// Runs `attempt(n)` for n = 1, 2, ... until it succeeds, `should_retry` rejects its error (it
/// sees every error, the last included, so it may count them), or `policy` runs out of attempts.
pub async fn retry<T, E: Display, Fut: Future<Output = Result<T, E>>>(
    policy: &RetryPolicy,
    operation: &str,
    mut attempt: impl FnMut(u32) -> Fut,
    mut should_retry: impl FnMut(&E) -> bool,
) -> Result<T, GaveUp<E>> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let error = match attempt(attempts).await {
            Ok(out) => return Ok(out),
            Err(error) => error,
        };
        if !should_retry(&error) || attempts >= policy.max_attempts {
            return Err(GaveUp { error, attempts });
        }
        let wait = policy.backoff(attempts - 1);
        tracing::debug!(operation, attempt = attempts, ?wait, %error, "Retrying.");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: bool) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            jitter,
        }
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        for retry in 0..40 {
            let ceiling = Duration::from_millis((100u64 << retry.min(16)).min(1000));
            assert!(policy(true).backoff(retry) <= ceiling);
            assert_eq!(policy(false).backoff(retry), ceiling);
        }
    }

    #[test]
    fn backoff_without_a_ceiling_doubles_without_overflowing() {
        let unbounded = RetryPolicy {
            max_backoff: Duration::MAX,
            ..policy(false)
        };
        assert_eq!(unbounded.backoff(3), Duration::from_millis(800));
        assert!(unbounded.backoff(200) >= Duration::from_secs(1 << 20));
    }

    #[tokio::test]
    async fn retries_until_success_or_a_rejected_error_or_the_last_attempt() {
        let fast = RetryPolicy {
            initial_backoff: Duration::from_micros(1),
            ..policy(false)
        };
        let ok = retry(
            &fast,
            "test",
            |n| async move { if n < 3 { Err(n) } else { Ok(n) } },
            |_| true,
        );
        assert_eq!(ok.await.unwrap(), 3);

        let mut seen = Vec::new();
        let fatal = retry(
            &fast,
            "test",
            |n| async move { Err::<(), _>(n) },
            |e| {
                seen.push(*e);
                *e < 2
            },
        );
        let gave_up = fatal.await.unwrap_err();
        assert_eq!((gave_up.error, gave_up.attempts), (2, 2));
        assert_eq!(seen, [1, 2]);

        let out = retry(&fast, "test", |n| async move { Err::<(), _>(n) }, |_| true);
        assert_eq!(out.await.unwrap_err().attempts, 10);
    }
}

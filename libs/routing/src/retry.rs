//! When to retry the same deployment, when to fall over to the next, and how long to wait.

use std::time::Duration;

/// Retry, fallback and deadline settings of a route.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Upstream attempts per request across all deployments.
    pub max_attempts: u32,
    /// Extra attempts on the same deployment before falling over to the next.
    pub retries_per_deployment: u32,
    /// First backoff; doubles per retry, with jitter.
    pub backoff_base: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
    /// Overall time for a request to get an answer (for streams: its first byte).
    pub deadline: Duration,
    /// Longest time to wait for the same deployment after a 429's `Retry-After`; a longer wait
    /// moves on to the next deployment instead.
    pub max_retry_after: Duration,
    /// Longest wait for one attempt's answer (for streams: its first byte).
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            retries_per_deployment: 1,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            deadline: Duration::from_secs(120),
            max_retry_after: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Backoff before retry number `retry` (1-based): "equal jitter", uniformly within
    /// [half, full] of `base x 2^(retry-1)` capped at `backoff_max`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.backoff_max);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Why an upstream attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made.
    Connect,
    /// No answer (or first byte) within the attempt timeout.
    Timeout,
    /// 429, possibly with `Retry-After`.
    RateLimited {
        /// The provider's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// 5xx (and 408).
    Server(u16),
    /// The provider refused the gateway itself (401, 403) or does not know the model (404).
    Refused(u16),
    /// The request itself is wrong (other 4xx): the client's problem, not the deployment's.
    Client(u16),
    /// The connection broke or the stream ended before any byte reached the client.
    Broken,
}

impl Failure {
    /// Classifies an upstream status; `None` for success.
    pub fn from_status(status: u16, retry_after: Option<Duration>) -> Option<Self> {
        match status {
            200..=299 => None,
            429 => Some(Self::RateLimited { retry_after }),
            408 | 500..=599 => Some(Self::Server(status)),
            401 | 403 | 404 => Some(Self::Refused(status)),
            _ => Some(Self::Client(status)),
        }
    }

    /// Worth another attempt on the same deployment.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Refused(_) | Self::Client(_))
    }

    /// Worth trying the next deployment.
    pub fn fails_over(&self) -> bool {
        !matches!(self, Self::Client(_))
    }

    /// Counts against the deployment's breaker and latency.
    pub fn is_deployment_fault(&self) -> bool {
        self.fails_over()
    }

    /// Short label for events and logs.
    pub fn label(&self) -> String {
        match self {
            Self::Connect => "connect_error".into(),
            Self::Timeout => "timeout".into(),
            Self::RateLimited { .. } => "rate_limited".into(),
            Self::Server(s) | Self::Refused(s) | Self::Client(s) => format!("status_{s}"),
            Self::Broken => "stream_broken".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_within_bounds_and_capped() {
        let policy = RetryPolicy {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        let samples: Vec<Duration> = (0..200).map(|_| policy.backoff(1)).collect();
        assert!(
            samples
                .iter()
                .all(|d| *d >= Duration::from_millis(50) && *d <= Duration::from_millis(100))
        );
        assert!(samples.iter().any(|d| *d != samples[0]), "jittered");
        let third = policy.backoff(3);
        assert!(third >= Duration::from_millis(150) && third <= Duration::from_millis(300));
        assert!(policy.backoff(40) <= Duration::from_millis(300));
    }

    #[test]
    fn classifies_statuses() {
        assert_eq!(Failure::from_status(200, None), None);
        let rate =
            Failure::from_status(429, Some(Duration::from_secs(1))).unwrap_or(Failure::Broken);
        assert!(rate.is_retryable() && rate.fails_over());
        let server = Failure::from_status(503, None).unwrap_or(Failure::Broken);
        assert!(server.is_retryable() && server.fails_over());
        let refused = Failure::from_status(401, None).unwrap_or(Failure::Broken);
        assert!(!refused.is_retryable() && refused.fails_over());
        let client = Failure::from_status(400, None).unwrap_or(Failure::Broken);
        assert!(!client.is_retryable() && !client.fails_over() && !client.is_deployment_fault());
    }
}

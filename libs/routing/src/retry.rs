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

/// A 429 without `Retry-After` is read as asking for this long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why no further attempt may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// The route's `max_attempts` are used up.
    Attempts,
    /// Too little of the route's deadline is left for an attempt.
    Deadline,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Nothing else can succeed (the request itself is wrong): answer this failure.
    GiveUp,
    /// Move on to the plan's next deployment.
    NextDeployment,
    /// Try the same deployment again after this wait.
    RetryAfter(Duration),
}

impl RetryPolicy {
    /// An attempt with less time left than this before the deadline is not started.
    pub const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(5);

    /// Whether another attempt may start after `made` attempts with `time_left` before the
    /// deadline; if so, how long it may take.
    pub fn next_attempt(&self, made: u32, time_left: Duration) -> Result<Duration, Exhausted> {
        if made >= self.max_attempts {
            return Err(Exhausted::Attempts);
        }
        if time_left < Self::MIN_ATTEMPT_TIME {
            return Err(Exhausted::Deadline);
        }
        Ok(self.attempt_timeout.min(time_left))
    }

    /// What follows the `tries`-th failed attempt on a deployment (`last`: the plan has no
    /// other), with `time_left` before the deadline. A rate-limited deployment is left for the
    /// next one, or waited for as long as its `Retry-After` asks (up to `max_retry_after`) when
    /// it is the last; other retryable failures are retried `retries_per_deployment` times
    /// with backoff; a wait that would pass the deadline moves on instead.
    pub fn after_failure(
        &self,
        failure: &Failure,
        tries: u32,
        last: bool,
        time_left: Duration,
    ) -> NextStep {
        if !failure.fails_over() {
            return NextStep::GiveUp;
        }
        let mut wait = self.backoff(tries);
        if let Some(retry_after) = failure.cool_down() {
            if !last || retry_after > self.max_retry_after {
                return NextStep::NextDeployment;
            }
            wait = wait.max(retry_after);
        }
        if !failure.is_retryable() || tries > self.retries_per_deployment || wait >= time_left {
            return NextStep::NextDeployment;
        }
        NextStep::RetryAfter(wait)
    }

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

    /// How long the deployment should be left alone (a 429: its `Retry-After`, else 1 s).
    pub fn cool_down(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER)),
            _ => None,
        }
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
    fn an_attempt_starts_only_within_the_attempt_budget_and_the_deadline() {
        let policy = RetryPolicy {
            max_attempts: 2,
            attempt_timeout: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        assert_eq!(
            policy.next_attempt(0, Duration::from_secs(5)),
            Ok(Duration::from_secs(5))
        );
        assert_eq!(
            policy.next_attempt(1, Duration::from_secs(500)),
            Ok(Duration::from_secs(60))
        );
        assert_eq!(
            policy.next_attempt(2, Duration::from_secs(5)),
            Err(Exhausted::Attempts)
        );
        assert_eq!(
            policy.next_attempt(0, Duration::from_millis(1)),
            Err(Exhausted::Deadline)
        );
    }

    #[test]
    fn a_failure_is_retried_passed_on_or_answered() {
        let policy = RetryPolicy {
            retries_per_deployment: 1,
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(10),
            max_retry_after: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        let plenty = Duration::from_secs(60);
        let server = Failure::Server(503);
        assert!(matches!(
            policy.after_failure(&server, 1, false, plenty),
            NextStep::RetryAfter(_)
        ));
        // Retries per deployment used up, or no time to wait: the next deployment.
        assert_eq!(
            policy.after_failure(&server, 2, false, plenty),
            NextStep::NextDeployment
        );
        assert_eq!(
            policy.after_failure(&server, 1, false, Duration::from_millis(1)),
            NextStep::NextDeployment
        );
        // The client's own error is answered at once; the provider refusing us moves on.
        assert_eq!(
            policy.after_failure(&Failure::Client(400), 1, false, plenty),
            NextStep::GiveUp
        );
        assert_eq!(
            policy.after_failure(&Failure::Refused(401), 1, true, plenty),
            NextStep::NextDeployment
        );
        // A 429: another deployment rather than waiting, unless it is the last one and its
        // Retry-After is short; a long one is not waited for.
        let limited = |secs| Failure::RateLimited {
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            policy.after_failure(&limited(1), 1, false, plenty),
            NextStep::NextDeployment
        );
        assert_eq!(
            policy.after_failure(&limited(1), 1, true, plenty),
            NextStep::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(
            policy.after_failure(&limited(30), 1, true, plenty),
            NextStep::NextDeployment
        );
        assert_eq!(
            Failure::RateLimited { retry_after: None }.cool_down(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(server.cool_down(), None);
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

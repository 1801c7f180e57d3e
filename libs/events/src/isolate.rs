//! Applying a batch so that no single item can hold up the rest.
//!
//! A projection books a batch of events in one transaction. When the transaction fails for a
//! reason retrying cannot fix (the database refuses an item as data), the batch is split in
//! halves and each half applied on its own, down to the single item at fault, which is handed
//! back as poison while every other item is applied, in order. Transient failures (connection,
//! timeout) are retried with backoff, as before.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::time::Duration;

/// What became of a batch.
#[derive(Debug)]
pub struct Isolated<R, E> {
    /// The results of the parts that were applied, in the batch's order.
    pub applied: Vec<R>,
    /// Items that failed on their own, twice, for a permanent reason: index in the batch and
    /// the error.
    pub poisoned: Vec<(usize, E)>,
}

/// How an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Retrying the same items may succeed (connection lost, timeout, serialization).
    Transient,
    /// The same items will fail again (refused as data, a constraint, a decode failure).
    Permanent,
}

impl Failure {
    /// `Permanent` if `permanent`, else `Transient`.
    pub fn permanent_if(permanent: bool) -> Self {
        if permanent {
            Self::Permanent
        } else {
            Self::Transient
        }
    }
}

/// How many events in a row a consumer may find poisonous, with nothing applied in between,
/// before it stops parking them: so many refusals in a row mean the database or the code is
/// wrong (a migration, a schema mismatch), not the events, and parking them would take money
/// out of the projection. The consumer then retries with backoff, as for a transient failure,
/// until something applies again.
pub const MAX_POISON_STREAK: u32 = 8;

/// A consumer's count of poisonous events in a row (see [`MAX_POISON_STREAK`]); kept across
/// batches.
#[derive(Debug, Default)]
pub struct PoisonStreak(std::sync::atomic::AtomicU32);

impl PoisonStreak {
    fn applied(&self) {
        self.0.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts one more poisonous event; false once the streak is too long to believe.
    fn poisoned(&self) -> bool {
        let streak = self.0.load(std::sync::atomic::Ordering::Relaxed);
        if streak >= MAX_POISON_STREAK {
            return false;
        }
        self.0
            .store(streak + 1, std::sync::atomic::Ordering::Relaxed);
        true
    }
}

/// Backoff of transient failures: starts at `initial`, doubles up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(5),
        }
    }
}

/// Applies the `len` items of a batch with `apply`, isolating poison: see the module
/// documentation. `apply` gets a range of the batch's indices (it owns the items; a range
/// rather than a slice keeps its futures `Send`). `classify` tells a permanent failure from
/// a transient one; `on_failure` sees every failed attempt (for logs and metrics). A lone
/// item is tried twice before it counts as poison (a constraint race between two instances
/// fails once). Returns `None` if `stop` turned true while a transient failure was waiting
/// to be retried (nothing after that point was applied).
pub async fn apply_isolating<R, E, F, Fut>(
    len: usize,
    mut apply: F,
    classify: impl Fn(&E) -> Failure,
    mut on_failure: impl FnMut(&E, Failure, usize),
    (backoff, streak): (Backoff, &PoisonStreak),
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Option<Isolated<R, E>>
where
    F: FnMut(Range<usize>) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    let mut outcome = Isolated {
        applied: Vec::new(),
        poisoned: Vec::new(),
    };
    let mut parts: VecDeque<Range<usize>> = VecDeque::new();
    if len > 0 {
        parts.push_back(0..len);
    }
    let mut delay = backoff.initial;
    while let Some(part) = parts.pop_front() {
        let mut lone_failures = 0;
        loop {
            let error = match apply(part.clone()).await {
                Ok(result) => {
                    outcome.applied.push(result);
                    streak.applied();
                    delay = backoff.initial;
                    break;
                }
                Err(error) => error,
            };
            let failure = classify(&error);
            on_failure(&error, failure, part.len());
            if failure == Failure::Permanent {
                if part.len() > 1 {
                    let middle = part.start + part.len() / 2;
                    parts.push_front(middle..part.end);
                    parts.push_front(part.start..middle);
                    break;
                }
                lone_failures += 1;
                if lone_failures < 2 {
                    continue;
                }
                if streak.poisoned() {
                    outcome.poisoned.push((part.start, error));
                    break;
                }
                // Too many in a row to be the events' fault: wait, as for a transient
                // failure, instead of parking.
                tracing::error!(
                    streak = MAX_POISON_STREAK,
                    "every recent event was refused; parking no more until one applies"
                );
            }
            if *stop.borrow() {
                return None;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(backoff.max);
        }
    }
    Some(outcome)
}

/// [`apply_isolating`] as the projections use it: default backoff, every failed attempt logged
/// (as `what` failed) and counted in `failures`. Item `i` came from message `sources[i]`; the
/// poisoned items come back keyed by their message, with the reason for the dead-letter stream.
pub async fn apply_counted<R, E, F, Fut>(
    sources: &[usize],
    apply: F,
    is_permanent: impl Fn(&E) -> bool,
    (failures, streak): (&prometheus_client::metrics::counter::Counter, &PoisonStreak),
    what: &'static str,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Option<(Vec<R>, HashMap<usize, String>)>
where
    E: std::fmt::Display,
    F: FnMut(Range<usize>) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    let outcome = apply_isolating(
        sources.len(),
        apply,
        |err| Failure::permanent_if(is_permanent(err)),
        |err, failure, events| {
            failures.inc();
            tracing::warn!(error = %err, events, ?failure, "{what} failed");
        },
        (Backoff::default(), streak),
        stop,
    )
    .await?;
    let poisoned = outcome
        .poisoned
        .into_iter()
        .map(|(item, err)| (sources[item], format!("refused by the database: {err}")))
        .collect();
    Some((outcome.applied, poisoned))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// Items >= 100 are poison; `transient` failures happen first.
    async fn run(items: &[u32], transient: usize) -> (Isolated<Vec<u32>, String>, Vec<usize>) {
        let (_tx, stop) = tokio::sync::watch::channel(false);
        let attempts = RefCell::new(Vec::new());
        let transient = RefCell::new(transient);
        let outcome = apply_isolating(
            items.len(),
            |range| {
                let part = items[range].to_vec();
                let (attempts, transient) = (&attempts, &transient);
                async move {
                    attempts.borrow_mut().push(part.len());
                    if *transient.borrow() > 0 {
                        *transient.borrow_mut() -= 1;
                        return Err("connection reset".to_owned());
                    }
                    match part.iter().find(|i| **i >= 100) {
                        Some(bad) => Err(format!("refused {bad}")),
                        None => Ok(part),
                    }
                }
            },
            |e: &String| {
                if e.starts_with("refused") {
                    Failure::Permanent
                } else {
                    Failure::Transient
                }
            },
            |_, _, _| {},
            (
                Backoff {
                    initial: Duration::from_millis(1),
                    max: Duration::from_millis(2),
                },
                &PoisonStreak::default(),
            ),
            &stop,
        )
        .await
        .unwrap();
        (outcome, attempts.into_inner())
    }

    #[tokio::test]
    async fn a_clean_batch_is_applied_in_one_attempt() {
        let (outcome, attempts) = run(&[1, 2, 3], 0).await;
        assert_eq!(outcome.applied, vec![vec![1, 2, 3]]);
        assert!(outcome.poisoned.is_empty());
        assert_eq!(attempts, vec![3]);
    }

    #[tokio::test]
    async fn poison_is_isolated_and_everything_else_applied_in_order() {
        let items = [1, 2, 100, 4, 5, 6, 7, 200];
        let (outcome, attempts) = run(&items, 0).await;
        let applied: Vec<u32> = outcome.applied.into_iter().flatten().collect();
        assert_eq!(applied, vec![1, 2, 4, 5, 6, 7]);
        let poisoned: Vec<(usize, String)> = outcome.poisoned;
        assert_eq!(
            poisoned,
            vec![(2, "refused 100".to_owned()), (7, "refused 200".to_owned())]
        );
        // Bisection, plus one repeat per lone poison.
        assert_eq!(attempts.len(), 13, "{attempts:?}");
    }

    #[tokio::test]
    async fn transient_failures_are_retried_not_split() {
        let (outcome, attempts) = run(&[1, 2, 3, 4], 3).await;
        assert_eq!(outcome.applied, vec![vec![1, 2, 3, 4]]);
        assert_eq!(attempts, vec![4, 4, 4, 4]);
    }

    #[tokio::test]
    async fn an_empty_batch_applies_nothing() {
        let (outcome, attempts) = run(&[], 0).await;
        assert!(outcome.applied.is_empty() && attempts.is_empty());
    }

    #[tokio::test]
    async fn stop_ends_a_transient_retry() {
        let (tx, stop) = tokio::sync::watch::channel(false);
        tx.send(true).unwrap();
        let outcome = apply_isolating(
            1,
            |_| async { Err::<(), _>("down") },
            |_| Failure::Transient,
            |_, _, _| {},
            (Backoff::default(), &PoisonStreak::default()),
            &stop,
        )
        .await;
        assert!(outcome.is_none());
    }

    #[tokio::test]
    async fn a_long_run_of_refusals_stalls_instead_of_parking_everything() {
        // Asked to stop: the stall (the transient path) returns at once instead of waiting.
        let (_tx, stop) = tokio::sync::watch::channel(true);
        let streak = PoisonStreak::default();
        let outcome = apply_isolating(
            MAX_POISON_STREAK as usize + 4,
            |_| async { Err::<(), _>("refused") },
            |_| Failure::Permanent,
            |_, _, _| {},
            (Backoff::default(), &streak),
            &stop,
        )
        .await;
        assert!(
            outcome.is_none(),
            "the consumer stalls: nothing more is parked"
        );
        assert_eq!(
            streak.0.load(std::sync::atomic::Ordering::Relaxed),
            MAX_POISON_STREAK
        );
        // One success ends the streak.
        let (_tx, stop) = tokio::sync::watch::channel(false);
        let outcome = apply_isolating(
            1,
            |_| async { Ok::<_, &str>(()) },
            |_| Failure::Permanent,
            |_, _, _| {},
            (Backoff::default(), &streak),
            &stop,
        )
        .await;
        assert!(outcome.is_some());
        assert_eq!(streak.0.load(std::sync::atomic::Ordering::Relaxed), 0);
    }
}

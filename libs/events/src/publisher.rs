//! The publisher: a bounded queue in front of a task that publishes events to JetStream,
//! awaits their acknowledgements (pipelined) and retries failures with the same
//! `Nats-Msg-Id` until they are acknowledged.
//!
//! Request handlers only enqueue; when the queue is full they wait (back-pressure), never drop.
//! Each publish returns a [`Receipt`] that resolves once the event is safe. With
//! [`PublisherConfig::log_first`] every event is appended to the [`Spool`] first (group commit)
//! and its receipt resolves at the fsync; the spool is shipped to JetStream in windows.
//! Otherwise the receipt resolves when JetStream acknowledges the event, or when it is written
//! and fsync'd to the [`Spool`] because JetStream fails or is slower than `spool_after`. While JetStream is failing every new event goes straight to the spool; the
//! worker replays the spool in order (same `Nats-Msg-Id`) and, once a replay window is
//! acknowledged, publishes directly again. Without a spool a failed event waits in memory and
//! is retried.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::spool::{Cursor, Spool, SpooledEvent};
use crate::{Event, EventsError, subject_for};

/// Tuning of the publisher.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// Events that may wait in the queue before `publish` applies back-pressure.
    pub queue_capacity: usize,
    /// Publishes awaiting their JetStream ack at once.
    pub max_in_flight: usize,
    /// First retry delay after a failed publish; doubles up to `retry_max`.
    pub retry_initial: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long shutdown waits for queued and unacknowledged events (with a spool, what is
    /// still unacknowledged then is spooled).
    pub drain_timeout: Duration,
    /// With a spool: an ack slower than this counts as a failure and the event is spooled.
    pub spool_after: Duration,
    /// With a spool: events replayed per window (published pipelined, committed together).
    pub replay_window: usize,
    /// With a spool: every event is appended to it first (group commit: one fsync for all the
    /// events that arrived while the previous one ran), its receipt completes once it is on
    /// disk, and the spool is shipped to JetStream in windows. Without: events go to JetStream
    /// and only what it does not take in time is spooled.
    pub log_first: bool,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            max_in_flight: 1_024,
            retry_initial: Duration::from_millis(50),
            retry_max: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(10),
            spool_after: Duration::from_millis(500),
            replay_window: 512,
            log_first: false,
        }
    }
}

/// Prometheus metrics of the publisher (cheap to clone; all share the same counters).
#[derive(Debug, Clone, Default)]
pub struct PublisherMetrics {
    enqueued: Counter,
    acked: Counter,
    duplicates: Counter,
    failed_attempts: Counter,
    set_aside: Counter,
    backpressure_waits: Counter,
    queue_depth: Gauge,
    in_flight: Gauge,
    retry_backlog: Gauge,
}

impl PublisherMetrics {
    /// Registers the metrics under `tollgate_events_*`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("tollgate_events");
        r.register(
            "enqueued",
            "Events handed to the publisher",
            self.enqueued.clone(),
        );
        r.register(
            "acked",
            "Events acknowledged by JetStream",
            self.acked.clone(),
        );
        r.register(
            "duplicates",
            "Publishes JetStream recognised as duplicates (already stored)",
            self.duplicates.clone(),
        );
        r.register(
            "publish_failures",
            "Publish attempts that failed and will be retried",
            self.failed_attempts.clone(),
        );
        r.register(
            "set_aside",
            "Events JetStream refused for good (too large, invalid), set aside instead of retried",
            self.set_aside.clone(),
        );
        r.register(
            "backpressure_waits",
            "Times a request waited because the publish queue was full",
            self.backpressure_waits.clone(),
        );
        r.register(
            "queue_depth",
            "Events queued, not yet sent",
            self.queue_depth.clone(),
        );
        r.register(
            "in_flight",
            "Events sent, awaiting ack",
            self.in_flight.clone(),
        );
        r.register(
            "retry_backlog",
            "Events waiting to be retried after a failure",
            self.retry_backlog.clone(),
        );
    }

    /// Events acknowledged so far (including duplicates).
    pub fn acked(&self) -> u64 {
        self.acked.get()
    }

    /// Failed publish attempts so far.
    pub fn failed_attempts(&self) -> u64 {
        self.failed_attempts.get()
    }

    /// Events set aside so far (refused by JetStream for good).
    pub fn set_aside(&self) -> u64 {
        self.set_aside.get()
    }

    /// Events not yet acknowledged (queued, in flight or awaiting retry).
    pub fn unacknowledged(&self) -> i64 {
        self.queue_depth.get() + self.in_flight.get() + self.retry_backlog.get()
    }
}

/// Told the stream sequence of every acknowledged event (e.g. by admission control, which
/// stops counting its own usage once the ledger's balance covers that sequence).
pub trait AckObserver: Send + Sync {
    /// `event_id` is stored in the stream at `sequence` (also for a recognised duplicate).
    fn acked(&self, event_id: Uuid, sequence: u64);
}

/// Where an event was made safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Acknowledged by JetStream.
    Acked,
    /// Written and fsync'd to the spool; it will be replayed.
    Spooled,
    /// Refused by JetStream for good (too large, invalid): kept in the spool directory's
    /// set-aside file, never retried, so it blocks nothing behind it.
    SetAside,
}

/// Resolves once its event is acknowledged by JetStream or fsync'd to the spool. Dropping it
/// changes nothing: the event is published all the same.
#[derive(Debug)]
pub struct Receipt(oneshot::Receiver<Stored>);

impl Future for Receipt {
    type Output = Result<Stored, EventsError>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.map_err(|_| EventsError::PublisherClosed))
    }
}

type Queued = (Event, oneshot::Sender<Stored>);

/// Enqueues events for publishing. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Queued>,
    metrics: PublisherMetrics,
}

/// Owns the publisher task; [`PublisherHandle::shutdown`] drains it.
#[derive(Debug)]
pub struct PublisherHandle {
    stop: oneshot::Sender<()>,
    task: JoinHandle<u64>,
}

impl Publisher {
    /// Starts the publisher task on the current runtime.
    pub fn start(
        js: jetstream::Context,
        subject_prefix: String,
        config: PublisherConfig,
        metrics: PublisherMetrics,
    ) -> (Self, PublisherHandle) {
        Self::start_observed(js, subject_prefix, config, metrics, None, None)
    }

    /// Starts the publisher, telling `observer` the sequence of every acknowledged event and
    /// spooling to `spool` what JetStream does not take in time.
    pub fn start_observed(
        js: jetstream::Context,
        subject_prefix: String,
        config: PublisherConfig,
        metrics: PublisherMetrics,
        observer: Option<Arc<dyn AckObserver>>,
        spool: Option<Spool>,
    ) -> (Self, PublisherHandle) {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let (stop, stop_rx) = oneshot::channel();
        let worker = Worker {
            js,
            subject_prefix,
            config,
            metrics: metrics.clone(),
            rx,
            observer,
            spool,
            taken: 0,
            healthy: true,
        };
        let task = tokio::spawn(worker.run(stop_rx));
        (Self { tx, metrics }, PublisherHandle { stop, task })
    }

    /// Enqueues an event; waits while the queue is full (back-pressure, never drop). The
    /// receipt tells when the event is safe.
    pub async fn publish(&self, event: Event) -> Result<Receipt, EventsError> {
        let permit = match self.tx.try_reserve() {
            Ok(permit) => permit,
            Err(mpsc::error::TrySendError::Full(())) => {
                self.metrics.backpressure_waits.inc();
                self.tx
                    .reserve()
                    .await
                    .map_err(|_| EventsError::PublisherClosed)?
            }
            Err(mpsc::error::TrySendError::Closed(())) => return Err(EventsError::PublisherClosed),
        };
        self.metrics.enqueued.inc();
        self.metrics.queue_depth.inc();
        let (done, receipt) = oneshot::channel();
        permit.send((event, done));
        Ok(Receipt(receipt))
    }

    /// Enqueues from a context that cannot await (e.g. `Drop`): sends at once when there is
    /// room (the common case), otherwise hands the wait to a task on the current runtime.
    pub fn publish_detached(&self, event: Event) {
        match self.tx.try_reserve() {
            Ok(permit) => {
                self.metrics.enqueued.inc();
                self.metrics.queue_depth.inc();
                permit.send((event, oneshot::channel().0));
            }
            Err(mpsc::error::TrySendError::Full(())) => {
                let publisher = self.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => {
                        runtime.spawn(async move {
                            if let Err(err) = publisher.publish(event).await {
                                tracing::error!(error = %err, "event could not be enqueued");
                            }
                        });
                    }
                    Err(_) => {
                        tracing::error!(event_id = %event.event_id, "event dropped: queue full and no runtime")
                    }
                }
            }
            Err(mpsc::error::TrySendError::Closed(())) => {
                tracing::error!(event_id = %event.event_id, "event dropped: publisher closed");
            }
        }
    }

    /// The publisher's metrics.
    pub fn metrics(&self) -> &PublisherMetrics {
        &self.metrics
    }
}

impl PublisherHandle {
    /// Stops taking events, publishes everything queued and waits for the acks (bounded by
    /// the drain timeout). Returns how many events were left unacknowledged.
    pub async fn shutdown(self) -> u64 {
        let _ = self.stop.send(());
        self.task.await.unwrap_or(u64::MAX)
    }
}

/// An encoded event on its way to JetStream.
struct Outgoing {
    event_id: Uuid,
    subject: String,
    payload: Bytes,
    attempts: u32,
    /// Order in which the worker took the event (spool appends keep it).
    seq: u64,
    done: Option<oneshot::Sender<Stored>>,
}

impl Outgoing {
    fn confirm(&mut self, stored: Stored) {
        if let Some(done) = self.done.take() {
            let _ = done.send(stored);
        }
    }

    fn spooled(&self) -> SpooledEvent {
        SpooledEvent {
            event_id: self.event_id,
            subject: self.subject.clone(),
            payload: self.payload.clone(),
            spooled_at_ms: chrono::Utc::now().timestamp_millis(),
        }
    }
}

/// Result of one publish: (duplicate, stream sequence) or how it failed.
type AckResult = Result<(bool, u64), PublishFailure>;

/// A failed publish: the error, and whether JetStream refused the message for good.
struct PublishFailure {
    error: String,
    refused: bool,
}

impl PublishFailure {
    fn of(err: &jetstream::context::PublishError) -> Self {
        use jetstream::ErrorCode;
        use jetstream::context::PublishErrorKind;
        let refused = match err.kind() {
            // The message (payload and headers) is over the server's max_payload.
            PublishErrorKind::MaxPayloadExceeded => true,
            PublishErrorKind::Other => std::error::Error::source(err)
                .and_then(|source| source.downcast_ref::<jetstream::Error>())
                .is_some_and(|js| {
                    matches!(
                        js.error_code(),
                        ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM
                            | ErrorCode::STREAM_HEADER_EXCEEDS_MAXIMUM
                    )
                }),
            _ => false,
        };
        Self {
            error: err.to_string(),
            refused,
        }
    }
}
type AckFuture = Pin<Box<dyn Future<Output = (Outgoing, AckResult)> + Send>>;
/// A spool append in progress: the events it holds and how it went.
type SpoolWrite = JoinHandle<(Vec<Outgoing>, Result<(), crate::SpoolError>)>;
/// A replay window in progress: the acknowledged (event id, sequence) pairs, or the error.
type ReplayFuture = Pin<Box<dyn Future<Output = Result<Vec<(Uuid, u64)>, ReplayError>> + Send>>;

/// Why a replay window of the spool stopped (it is tried again after a backoff).
#[derive(Debug, thiserror::Error)]
enum ReplayError {
    /// The spool could not be read, set aside into or committed.
    #[error("spool: {0}")]
    Spool(#[from] crate::SpoolError),
    /// A blocking spool task did not finish.
    #[error("spool task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// JetStream took no publish within the ack timeout.
    #[error("replay publish timed out")]
    PublishTimeout,
    /// JetStream acknowledged no publish within the ack timeout.
    #[error("replay ack timed out")]
    AckTimeout,
    /// JetStream failed a publish (not a refusal of the message: that is set aside).
    #[error("replay publish: {0}")]
    Publish(#[from] jetstream::context::PublishError),
}

struct Worker {
    js: jetstream::Context,
    subject_prefix: String,
    config: PublisherConfig,
    metrics: PublisherMetrics,
    rx: mpsc::Receiver<Queued>,
    observer: Option<Arc<dyn AckObserver>>,
    spool: Option<Spool>,
    /// Events taken so far.
    taken: u64,
    /// False from a failed publish until a replay window is acknowledged: meanwhile new
    /// events go to the spool (keeping their order) instead of to JetStream.
    healthy: bool,
}

/// What the worker loop holds besides the queue.
#[derive(Default)]
struct Flight {
    pending: FuturesUnordered<AckFuture>,
    retries: VecDeque<(Instant, Outgoing)>,
    to_spool: Vec<Outgoing>,
    spool_write: Option<SpoolWrite>,
    replay: Option<ReplayFuture>,
    replay_failures: u32,
    replay_after: Option<Instant>,
}

impl Flight {
    fn idle(&self) -> bool {
        self.pending.is_empty()
            && self.retries.is_empty()
            && self.to_spool.is_empty()
            && self.spool_write.is_none()
    }
}

impl Worker {
    async fn run(mut self, mut stop: oneshot::Receiver<()>) -> u64 {
        let mut f = Flight::default();
        let mut deadline: Option<Instant> = None;
        let mut receiving = true;
        let mut age_tick = tokio::time::interval(Duration::from_secs(1));

        loop {
            let stopping = deadline.is_some();
            // Shipping the log first, a stop ships what it holds, retrying until the drain
            // deadline (what is left then waits in the log for the next start).
            let shipping = self.config.log_first
                && (f.replay.is_some() || self.spool.as_ref().is_some_and(|s| s.depth() > 0));
            if !receiving && f.idle() && (self.spool.is_none() || (stopping && !shipping)) {
                break;
            }
            self.start_spool_write(&mut f);
            if !stopping || shipping {
                self.start_replay(&mut f);
            }
            let next_retry = f.retries.front().map(|(at, _)| *at);
            let room = f.pending.len() < self.config.max_in_flight;
            tokio::select! {
                biased;
                Some((outgoing, result)) = f.pending.next(), if !f.pending.is_empty() => {
                    self.metrics.in_flight.dec();
                    self.on_ack(outgoing, result, &mut f);
                }
                written = join_opt(&mut f.spool_write) => {
                    f.spool_write = None;
                    self.on_spooled(written, &mut f);
                }
                replayed = poll_opt(&mut f.replay) => {
                    f.replay = None;
                    self.on_replayed(replayed, &mut f);
                }
                _ = &mut stop, if deadline.is_none() => {
                    self.rx.close();
                    deadline = Some(Instant::now() + self.config.drain_timeout);
                    if self.spool.is_some() {
                        // Nothing waits in memory through a shutdown: the spool keeps it.
                        while let Some((_, outgoing)) = f.retries.pop_front() {
                            self.metrics.retry_backlog.dec();
                            f.to_spool.push(outgoing);
                        }
                    }
                }
                _ = sleep_until_opt(deadline) => break,
                _ = sleep_until_opt(next_retry), if room => {
                    if let Some((_, outgoing)) = f.retries.pop_front() {
                        self.metrics.retry_backlog.dec();
                        self.send(outgoing, &mut f).await;
                    }
                }
                received = self.rx.recv(), if receiving && room => match received {
                    Some((event, done)) => {
                        self.metrics.queue_depth.dec();
                        if let Some(outgoing) = self.encode(&event, done) {
                            self.route(outgoing, &mut f).await;
                        }
                    }
                    None => receiving = false,
                },
                _ = age_tick.tick(), if self.spool.is_some() => {
                    if let Some(spool) = &self.spool {
                        spool.refresh_age(chrono::Utc::now().timestamp_millis());
                        spool.probe_if_failing();
                    }
                }
            }
        }
        let left = self.rx.len() + f.pending.len() + f.retries.len() + f.to_spool.len();
        if left > 0 {
            tracing::error!(
                unacknowledged = left,
                "publisher stopped with events neither acknowledged nor spooled"
            );
        }
        u64::try_from(left).unwrap_or(u64::MAX)
    }

    fn encode(&mut self, event: &Event, done: oneshot::Sender<Stored>) -> Option<Outgoing> {
        self.taken += 1;
        match event.encode() {
            Ok(payload) => Some(Outgoing {
                event_id: event.event_id,
                subject: subject_for(&self.subject_prefix, event.tenant_id, event.body.kind()),
                payload: Bytes::from(payload),
                attempts: 0,
                seq: self.taken,
                done: Some(done),
            }),
            Err(err) => {
                tracing::error!(event_id = %event.event_id, error = %err, "event not encodable");
                None
            }
        }
    }

    /// A new event: to the spool first ([`PublisherConfig::log_first`]), else to JetStream, or
    /// to the spool while JetStream is failing.
    async fn route(&mut self, outgoing: Outgoing, f: &mut Flight) {
        if self.spool.is_some() && (self.config.log_first || !self.healthy) {
            f.to_spool.push(outgoing);
        } else {
            self.send(outgoing, f).await;
        }
    }

    async fn send(&mut self, mut outgoing: Outgoing, f: &mut Flight) {
        outgoing.attempts += 1;
        let message = PublishMessage::build()
            .payload(outgoing.payload.clone())
            .message_id(outgoing.event_id.to_string());
        // With a spool, a disconnected client's full send buffer must not stall the worker.
        let limit = self.spool.as_ref().map(|_| self.config.spool_after);
        let publish = self.js.send_publish(outgoing.subject.clone(), message);
        let sent = match limit {
            Some(limit) => tokio::time::timeout(limit, publish)
                .await
                .unwrap_or_else(|_| Err(slow_ack())),
            None => publish.await,
        };
        match sent {
            Ok(ack) => {
                self.metrics.in_flight.inc();
                f.pending.push(Box::pin(async move {
                    let result = match limit {
                        Some(limit) => tokio::time::timeout(limit, ack)
                            .await
                            .unwrap_or_else(|_| Err(slow_ack())),
                        None => ack.await,
                    };
                    let result = result
                        .map(|ack| (ack.duplicate, ack.sequence))
                        .map_err(|err| PublishFailure::of(&err));
                    (outgoing, result)
                }));
            }
            Err(err) => {
                let failure = PublishFailure::of(&err);
                if failure.refused {
                    self.set_aside(outgoing, &failure.error);
                } else {
                    self.failed(outgoing, failure.error, f);
                }
            }
        }
    }

    /// Keeps an event JetStream refused for good (see [`Stored::SetAside`]) and completes its
    /// receipt, off this task (the write is fsync'd); without a spool, or if the disk refuses
    /// too, it is logged and its receipt fails.
    fn set_aside(&self, mut outgoing: Outgoing, reason: &str) {
        self.metrics.set_aside.inc();
        let lost = |outgoing: &Outgoing, reason: &str, error: &str| {
            tracing::error!(
                event_id = %outgoing.event_id,
                subject = %outgoing.subject,
                bytes = outgoing.payload.len(),
                reason,
                error,
                "JetStream refused the event for good and it could not be set aside: lost"
            );
        };
        let Some(spool) = self.spool.clone() else {
            lost(&outgoing, reason, "no spool to keep it in");
            return;
        };
        let reason = reason.to_owned();
        tokio::task::spawn_blocking(
            move || match spool.set_aside(&outgoing.spooled(), &reason) {
                Ok(()) => outgoing.confirm(Stored::SetAside),
                Err(err) => lost(&outgoing, &reason, &err.to_string()),
            },
        );
    }

    fn on_ack(&mut self, mut outgoing: Outgoing, result: AckResult, f: &mut Flight) {
        match result {
            Ok((duplicate, sequence)) => {
                self.metrics.acked.inc();
                if duplicate {
                    self.metrics.duplicates.inc();
                }
                if let Some(observer) = &self.observer {
                    observer.acked(outgoing.event_id, sequence);
                }
                outgoing.confirm(Stored::Acked);
            }
            Err(failure) if failure.refused => self.set_aside(outgoing, &failure.error),
            Err(failure) => self.failed(outgoing, failure.error, f),
        }
    }

    /// A publish failed or was too slow: spool it (and what follows), or retry it in memory.
    fn failed(&mut self, outgoing: Outgoing, error: String, f: &mut Flight) {
        self.metrics.failed_attempts.inc();
        if self.spool.is_some() {
            if self.healthy {
                tracing::warn!(error = %error, "JetStream publish failed; spooling events until it answers");
            }
            f.to_spool.push(outgoing);
            self.healthy = false;
        } else {
            self.schedule_retry(outgoing, &error, f);
        }
    }

    /// Starts a group commit of everything waiting for the spool, unless one is running.
    fn start_spool_write(&self, f: &mut Flight) {
        let Some(spool) = &self.spool else { return };
        if f.spool_write.is_some() || f.to_spool.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut f.to_spool);
        // Events in flight when JetStream failed come back out of order; the spool keeps the
        // order they were taken in.
        batch.sort_by_key(|o| o.seq);
        let spool = spool.clone();
        f.spool_write = Some(tokio::task::spawn_blocking(move || {
            let records: Vec<SpooledEvent> = batch.iter().map(Outgoing::spooled).collect();
            let result = spool.append(&records).map(|_| ());
            (batch, result)
        }));
    }

    fn on_spooled(
        &self,
        written: Result<(Vec<Outgoing>, Result<(), crate::SpoolError>), tokio::task::JoinError>,
        f: &mut Flight,
    ) {
        match written {
            Ok((batch, Ok(()))) => {
                for mut outgoing in batch {
                    outgoing.confirm(Stored::Spooled);
                }
            }
            Ok((batch, Err(err))) => {
                tracing::error!(error = %err, events = batch.len(), "spool append failed; events wait in memory");
                let err = err.to_string();
                for outgoing in batch {
                    self.schedule_retry(outgoing, &err, f);
                }
            }
            Err(err) => tracing::error!(error = %err, "spool append task failed"),
        }
    }

    /// Starts replaying the next window of the spool when it holds events and no replay is
    /// running or backing off.
    fn start_replay(&self, f: &mut Flight) {
        let Some(spool) = &self.spool else { return };
        if f.replay.is_some() || f.replay_after.is_some_and(|at| Instant::now() < at) {
            return;
        }
        if spool.depth() == 0 {
            return;
        }
        f.replay = Some(Box::pin(replay_window(
            self.js.clone(),
            spool.clone(),
            self.config.replay_window,
            self.config.spool_after.max(Duration::from_secs(2)),
            self.metrics.clone(),
        )));
    }

    fn on_replayed(&mut self, result: Result<Vec<(Uuid, u64)>, ReplayError>, f: &mut Flight) {
        match result {
            Ok(acked) => {
                self.metrics.acked.inc_by(acked.len() as u64);
                if let Some(observer) = &self.observer {
                    for (event_id, sequence) in &acked {
                        observer.acked(*event_id, *sequence);
                    }
                }
                if !self.healthy {
                    tracing::info!("JetStream answers again; publishing directly");
                }
                self.healthy = true;
                f.replay_failures = 0;
                f.replay_after = None;
            }
            Err(err) => {
                f.replay_failures += 1;
                let delay = self.backoff(f.replay_failures);
                tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "spool replay failed");
                self.healthy = false;
                f.replay_after = Some(Instant::now() + delay);
            }
        }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(16);
        self.config
            .retry_initial
            .saturating_mul(1 << exponent)
            .min(self.config.retry_max)
    }

    fn schedule_retry(&self, outgoing: Outgoing, error: &str, f: &mut Flight) {
        self.metrics.retry_backlog.inc();
        let delay = self.backoff(outgoing.attempts);
        tracing::warn!(
            message_id = %outgoing.event_id,
            attempts = outgoing.attempts,
            retry_in_ms = delay.as_millis() as u64,
            error = %error,
            "event publish failed; will retry with the same message id"
        );
        // Retries keep their order; a later failure never jumps ahead of an earlier one.
        let at = f
            .retries
            .back()
            .map_or(Instant::now() + delay, |(last, _)| {
                (*last).max(Instant::now() + delay)
            });
        f.retries.push_back((at, outgoing));
    }
}

/// Publishes one window of the spool, pipelined and in order, and commits it once every event
/// in it is acknowledged.
async fn replay_window(
    js: jetstream::Context,
    spool: Spool,
    max: usize,
    ack_timeout: Duration,
    metrics: PublisherMetrics,
) -> Result<Vec<(Uuid, u64)>, ReplayError> {
    let reader = spool.clone();
    let window = tokio::task::spawn_blocking(move || reader.read(max)).await??;
    let mut acks = Vec::with_capacity(window.events.len());
    // Events JetStream refuses for good are set aside, so the rest of the spool drains.
    let mut refused = Vec::new();
    for event in &window.events {
        let message = PublishMessage::build()
            .payload(event.payload.clone())
            .message_id(event.event_id.to_string());
        let sent =
            tokio::time::timeout(ack_timeout, js.send_publish(event.subject.clone(), message))
                .await
                .map_err(|_| ReplayError::PublishTimeout)?;
        match sent {
            Ok(ack) => acks.push((event, ack)),
            Err(err) => match PublishFailure::of(&err) {
                failure if failure.refused => refused.push((event.clone(), failure.error)),
                _ => return Err(err.into()),
            },
        }
    }
    let mut acked = Vec::with_capacity(acks.len());
    for (event, ack) in acks {
        let ack = tokio::time::timeout(ack_timeout, ack)
            .await
            .map_err(|_| ReplayError::AckTimeout)?;
        match ack {
            Ok(ack) => acked.push((event.event_id, ack.sequence)),
            Err(err) => match PublishFailure::of(&err) {
                failure if failure.refused => refused.push((event.clone(), failure.error)),
                _ => return Err(err.into()),
            },
        }
    }
    let set_aside = refused.len();
    if set_aside > 0 {
        let keeper = spool.clone();
        tokio::task::spawn_blocking(move || {
            for (event, reason) in &refused {
                keeper.set_aside(event, reason)?;
            }
            Ok::<(), crate::SpoolError>(())
        })
        .await??;
        metrics.set_aside.inc_by(set_aside as u64);
    }
    commit(spool, window.end, acked.len() + set_aside).await?;
    Ok(acked)
}

async fn commit(spool: Spool, end: Cursor, replayed: usize) -> Result<(), ReplayError> {
    Ok(tokio::task::spawn_blocking(move || spool.commit(end, replayed)).await??)
}

fn slow_ack() -> async_nats::jetstream::context::PublishError {
    async_nats::jetstream::context::PublishError::new(
        async_nats::jetstream::context::PublishErrorKind::TimedOut,
    )
}

async fn join_opt(
    write: &mut Option<SpoolWrite>,
) -> Result<(Vec<Outgoing>, Result<(), crate::SpoolError>), tokio::task::JoinError> {
    match write {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

async fn poll_opt(replay: &mut Option<ReplayFuture>) -> Result<Vec<(Uuid, u64)>, ReplayError> {
    match replay {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

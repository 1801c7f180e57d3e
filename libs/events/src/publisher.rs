//! The publisher: a bounded queue in front of a task that publishes events to JetStream,
//! awaits their acknowledgements (pipelined) and retries failures with the same
//! `Nats-Msg-Id` until they are acknowledged.
//!
//! Request handlers only enqueue; when the queue is full they wait (back-pressure), never drop.
//! The durable on-disk spool (a later issue) plugs in where a publish fails: today a failed
//! event waits in memory and is retried.

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
    /// How long shutdown waits for queued and unacknowledged events.
    pub drain_timeout: Duration,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            max_in_flight: 1_024,
            retry_initial: Duration::from_millis(50),
            retry_max: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(10),
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

/// Enqueues events for publishing. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Event>,
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
        Self::start_observed(js, subject_prefix, config, metrics, None)
    }

    /// Starts the publisher, telling `observer` the sequence of every acknowledged event.
    pub fn start_observed(
        js: jetstream::Context,
        subject_prefix: String,
        config: PublisherConfig,
        metrics: PublisherMetrics,
        observer: Option<Arc<dyn AckObserver>>,
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
        };
        let task = tokio::spawn(worker.run(stop_rx));
        (Self { tx, metrics }, PublisherHandle { stop, task })
    }

    /// Enqueues an event; waits while the queue is full (back-pressure, never drop).
    pub async fn publish(&self, event: Event) -> Result<(), EventsError> {
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
        permit.send(event);
        Ok(())
    }

    /// Enqueues from a context that cannot await (e.g. `Drop`): sends at once when there is
    /// room (the common case), otherwise hands the wait to a task on the current runtime.
    pub fn publish_detached(&self, event: Event) {
        match self.tx.try_reserve() {
            Ok(permit) => {
                self.metrics.enqueued.inc();
                self.metrics.queue_depth.inc();
                permit.send(event);
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
    message_id: String,
    payload: Bytes,
    attempts: u32,
}

/// Result of one publish: (duplicate, stream sequence) or the error.
type AckResult = Result<(bool, u64), String>;
type AckFuture = Pin<Box<dyn Future<Output = (Outgoing, AckResult)> + Send>>;

struct Worker {
    js: jetstream::Context,
    subject_prefix: String,
    config: PublisherConfig,
    metrics: PublisherMetrics,
    rx: mpsc::Receiver<Event>,
    observer: Option<Arc<dyn AckObserver>>,
}

impl Worker {
    async fn run(mut self, mut stop: oneshot::Receiver<()>) -> u64 {
        let mut pending: FuturesUnordered<AckFuture> = FuturesUnordered::new();
        let mut retries: VecDeque<(Instant, Outgoing)> = VecDeque::new();
        let mut deadline: Option<Instant> = None;
        let mut receiving = true;

        loop {
            if !receiving && pending.is_empty() && retries.is_empty() {
                break;
            }
            let next_retry = retries.front().map(|(at, _)| *at);
            let room = pending.len() < self.config.max_in_flight;
            tokio::select! {
                biased;
                Some((outgoing, result)) = pending.next(), if !pending.is_empty() => {
                    self.metrics.in_flight.dec();
                    self.on_ack(outgoing, result, &mut retries);
                }
                _ = &mut stop, if deadline.is_none() => {
                    self.rx.close();
                    deadline = Some(Instant::now() + self.config.drain_timeout);
                }
                _ = sleep_until_opt(deadline) => break,
                _ = sleep_until_opt(next_retry), if room => {
                    if let Some((_, outgoing)) = retries.pop_front() {
                        self.metrics.retry_backlog.dec();
                        self.send(outgoing, &mut pending, &mut retries).await;
                    }
                }
                received = self.rx.recv(), if receiving && room => match received {
                    Some(event) => {
                        self.metrics.queue_depth.dec();
                        match self.encode(&event) {
                            Some(outgoing) => self.send(outgoing, &mut pending, &mut retries).await,
                            None => continue,
                        }
                    }
                    None => receiving = false,
                },
            }
        }
        let left = self.rx.len() + pending.len() + retries.len();
        if left > 0 {
            tracing::error!(
                unacknowledged = left,
                "publisher stopped with events unacknowledged"
            );
        }
        u64::try_from(left).unwrap_or(u64::MAX)
    }

    fn encode(&self, event: &Event) -> Option<Outgoing> {
        match event.encode() {
            Ok(payload) => Some(Outgoing {
                event_id: event.event_id,
                subject: subject_for(&self.subject_prefix, event.tenant_id, event.body.kind()),
                message_id: event.event_id.to_string(),
                payload: Bytes::from(payload),
                attempts: 0,
            }),
            Err(err) => {
                tracing::error!(event_id = %event.event_id, error = %err, "event not encodable");
                None
            }
        }
    }

    async fn send(
        &self,
        mut outgoing: Outgoing,
        pending: &mut FuturesUnordered<AckFuture>,
        retries: &mut VecDeque<(Instant, Outgoing)>,
    ) {
        outgoing.attempts += 1;
        let message = PublishMessage::build()
            .payload(outgoing.payload.clone())
            .message_id(&outgoing.message_id);
        match self
            .js
            .send_publish(outgoing.subject.clone(), message)
            .await
        {
            Ok(ack) => {
                self.metrics.in_flight.inc();
                pending.push(Box::pin(async move {
                    let result = ack
                        .await
                        .map(|ack| (ack.duplicate, ack.sequence))
                        .map_err(|err| err.to_string());
                    (outgoing, result)
                }));
            }
            Err(err) => self.schedule_retry(outgoing, err.to_string(), retries),
        }
    }

    fn on_ack(
        &self,
        outgoing: Outgoing,
        result: AckResult,
        retries: &mut VecDeque<(Instant, Outgoing)>,
    ) {
        match result {
            Ok((duplicate, sequence)) => {
                self.metrics.acked.inc();
                if duplicate {
                    self.metrics.duplicates.inc();
                }
                if let Some(observer) = &self.observer {
                    observer.acked(outgoing.event_id, sequence);
                }
            }
            Err(err) => self.schedule_retry(outgoing, err, retries),
        }
    }

    fn schedule_retry(
        &self,
        outgoing: Outgoing,
        error: String,
        retries: &mut VecDeque<(Instant, Outgoing)>,
    ) {
        self.metrics.failed_attempts.inc();
        self.metrics.retry_backlog.inc();
        let exponent = outgoing.attempts.saturating_sub(1).min(16);
        let delay = self
            .config
            .retry_initial
            .saturating_mul(1 << exponent)
            .min(self.config.retry_max);
        tracing::warn!(
            message_id = %outgoing.message_id,
            attempts = outgoing.attempts,
            retry_in_ms = delay.as_millis() as u64,
            error = %error,
            "event publish failed; will retry with the same message id"
        );
        // Retries keep their order; a later failure never jumps ahead of an earlier one.
        let at = retries.back().map_or(Instant::now() + delay, |(last, _)| {
            (*last).max(Instant::now() + delay)
        });
        retries.push_back((at, outgoing));
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

//! The skeleton every consumer service of the event stream shares (ledger, analytics, alerting
//! and any added later): its settings ([`ConsumerConfig`]), its start-up and shutdown
//! ([`ConsumerService`]: Postgres, NATS, the `/healthz` + `/metrics` listener) and the batch loop
//! of its durable consumer ([`consume`]), restarted when the subscription breaks. A service
//! supplies only what it does with a batch: a [`Projection`]; one that is a single projection
//! (ledger, analytics) is a [`ProjectionService`] of it.

mod config;
mod ops;
mod projection_service;
mod service;

pub use config::{ConsumerConfig, ConsumerDefaults};
pub use projection_service::{ProjectionService, SingleProjection};
pub use service::{ConsumerService, ServiceError};

use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::watch;
use tollgate_events::{
    Batches, ConsumerSettings, DeadLetters, EventsError, StreamSettings, durable_consumer,
    keep_consuming, open_stream,
};

/// What a consumer service does with its events; [`consume`] does the rest.
pub trait Projection: Send + Sync {
    /// What a subscription uses besides its consumer, opened each time it is made (again).
    type Session: Send + Sync + Default;

    /// Opens the session of a new subscription (by default: nothing to open).
    fn open(&self) -> impl Future<Output = Self::Session> + Send {
        async { Self::Session::default() }
    }

    /// Handles one batch: commits it, then acks it and parks what the store refused for good
    /// on `dead_letters`. False if asked to stop before the batch was committed (it is then
    /// redelivered to whoever consumes next).
    fn handle(
        &self,
        session: &Self::Session,
        batch: Vec<jetstream::Message>,
        dead_letters: &DeadLetters,
        stop: &watch::Receiver<bool>,
    ) -> impl Future<Output = bool> + Send;
}

/// Where a [`Projection`] reads from and how it batches.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The consumer's name in log lines and on what it parks (`ledger`).
    pub name: &'static str,
    /// The event stream (created with these settings if it is missing).
    pub stream: StreamSettings,
    /// The durable consumer.
    pub consumer: ConsumerSettings,
    /// Most events in one batch.
    pub batch_size: usize,
    /// How long a batch waits for more after its first event.
    pub linger: Duration,
}

/// Feeds `projection` batches of its subscription until `stop` turns true; a broken
/// subscription (NATS restarted, the stream gone) is made again after a pause.
pub async fn consume<P: Projection>(
    js: &jetstream::Context,
    subscription: &Subscription,
    projection: &P,
    stop: watch::Receiver<bool>,
) {
    keep_consuming(subscription.name, stop, |mut stop| async move {
        subscribe(js, subscription, projection, &mut stop).await
    })
    .await;
}

/// One subscription's life: opened, then fed batch after batch until it breaks or `stop`.
async fn subscribe<P: Projection>(
    js: &jetstream::Context,
    subscription: &Subscription,
    projection: &P,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), EventsError> {
    let stream = open_stream(js, &subscription.stream).await?;
    let dead_letters = DeadLetters::open(js, &subscription.stream, subscription.name).await?;
    let consumer = durable_consumer(&stream, &subscription.consumer).await?;
    let session = projection.open().await;
    let mut batches =
        Batches::open(&consumer, subscription.batch_size, subscription.linger).await?;
    while let Some(batch) = batches.next(stop).await? {
        if !projection
            .handle(&session, batch, &dead_letters, stop)
            .await
        {
            return Ok(());
        }
    }
    Ok(())
}

//! What every projection of the stream (ledger, analytics, alerting) does the same way: open the
//! stream, create its durable pull consumer, and gather messages into batches.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures_util::StreamExt;

use crate::{EventsError, StreamSettings};

/// The event stream, created with `settings` if it does not exist yet (never reconfigured here:
/// the gateway owns the stream's settings).
pub async fn open_stream(
    js: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<stream::Stream, EventsError> {
    match js.get_stream(&settings.name).await {
        Ok(stream) => Ok(stream),
        Err(_) => {
            crate::ensure_stream(js, settings).await?;
            js.get_stream(&settings.name)
                .await
                .map_err(|e| EventsError::Consumer(e.to_string()))
        }
    }
}

/// A projection's durable pull consumer, shared by all of its instances.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Durable name.
    pub durable: String,
    /// Shown in `nats consumer info`.
    pub description: String,
    /// Subjects it receives (`<prefix>.v1.>` for everything).
    pub filter_subject: String,
    /// How long JetStream waits for an ack before redelivering.
    pub ack_wait: Duration,
}

/// Gets or creates the durable consumer (explicit acks, from the first event).
pub async fn durable_consumer(
    stream: &stream::Stream,
    settings: &ConsumerSettings,
) -> Result<jetstream::consumer::Consumer<pull::Config>, EventsError> {
    stream
        .get_or_create_consumer(
            &settings.durable,
            pull::Config {
                durable_name: Some(settings.durable.clone()),
                description: Some(settings.description.clone()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: settings.ack_wait,
                max_ack_pending: 50_000,
                filter_subject: settings.filter_subject.clone(),
                deliver_policy: jetstream::consumer::DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| EventsError::Consumer(e.to_string()))
}

/// Runs `consume` until `stop` turns true, starting it again a second after it fails (a broken
/// subscription, the stream gone), so a projection outlives NATS restarts.
pub async fn keep_consuming<F, Fut, E>(
    what: &str,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut consume: F,
) where
    F: FnMut(tokio::sync::watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    while !*stop.borrow() {
        if let Err(err) = consume(stop.clone()).await {
            tracing::warn!(error = %err, "{what} consumer interrupted; restarting");
            tokio::select! {
                _ = stop.changed() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

/// A consumer's messages gathered into batches: one transaction per batch instead of one per
/// event.
pub struct Batches {
    messages: pull::Stream,
    max: usize,
    linger: Duration,
}

impl Batches {
    /// Starts pulling from `consumer`, at most `max` messages a batch; a batch waits up to
    /// `linger` after its first message for more.
    pub async fn open(
        consumer: &jetstream::consumer::Consumer<pull::Config>,
        max: usize,
        linger: Duration,
    ) -> Result<Self, EventsError> {
        let messages = consumer
            .stream()
            .max_messages_per_batch(max)
            .messages()
            .await
            .map_err(|e| EventsError::Consumer(e.to_string()))?;
        Ok(Self {
            messages,
            max,
            linger,
        })
    }

    /// The next batch; `None` once `stop` turns true. Pull errors inside a batch are logged and
    /// skipped (the messages are redelivered); a closed subscription is an error.
    pub async fn next(
        &mut self,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<Option<Vec<jetstream::Message>>, EventsError> {
        let first = tokio::select! {
            _ = stop.changed() => return Ok(None),
            next = self.messages.next() => match next {
                Some(next) => next,
                None => return Err(EventsError::Consumer("message stream ended".into())),
            },
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + self.linger;
        while batch.len() < self.max {
            match tokio::time::timeout_at(deadline, self.messages.next()).await {
                Ok(Some(next)) => batch.push(next),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(Some(
            batch
                .into_iter()
                .filter_map(|m| m.map_err(|e| tracing::warn!(error = %e, "pull error")).ok())
                .collect(),
        ))
    }
}

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
                .map_err(EventsError::consumer)
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
        .map_err(EventsError::consumer)
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
            .map_err(EventsError::consumer)?;
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
                None => return Err(EventsError::SubscriptionEnded),
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

/// Where a projection parks the events it cannot apply: the subject `<prefix>.dlq.<consumer>`
/// of the stream `<STREAM>_DLQ` (outside `<prefix>.v1.>`, so no projection reads a parked
/// event back as an event). Each parked message keeps the payload and carries the headers
/// `Tollgate-Original-Subject`, `Tollgate-Original-Seq`, `Tollgate-Consumer` and
/// `Tollgate-Reason`; alerting raises a platform alert for each.
#[derive(Clone)]
pub struct DeadLetters {
    js: jetstream::Context,
    subject: String,
    consumer: String,
}

impl DeadLetters {
    /// Name of the dead-letter stream of `settings`' event stream.
    pub fn stream_name(settings: &StreamSettings) -> String {
        format!("{}_DLQ", settings.name)
    }

    /// Subjects of the dead-letter stream: `<prefix>.dlq.>`.
    pub fn stream_subjects(settings: &StreamSettings) -> String {
        format!("{}.dlq.>", settings.subject_prefix)
    }

    /// Opens (creating it if missing; never changing it) the dead-letter stream and returns the
    /// parking place of `consumer`.
    pub async fn open(
        js: &jetstream::Context,
        settings: &StreamSettings,
        consumer: &str,
    ) -> Result<Self, EventsError> {
        js.get_or_create_stream(stream::Config {
            name: Self::stream_name(settings),
            subjects: vec![Self::stream_subjects(settings)],
            storage: stream::StorageType::File,
            num_replicas: settings.replicas,
            ..Default::default()
        })
        .await
        .map_err(EventsError::stream)?;
        Ok(Self {
            js: js.clone(),
            subject: format!("{}.dlq.{consumer}", settings.subject_prefix),
            consumer: consumer.to_owned(),
        })
    }

    /// Settles a batch after its good part was committed: acks every message except those in
    /// `dead` (index in `messages` -> reason), which it parks. Returns how many were parked;
    /// a message whose parking failed is left unacked and comes back after the ack wait.
    pub async fn settle(
        &self,
        messages: &[jetstream::Message],
        dead: &std::collections::HashMap<usize, String>,
    ) -> u64 {
        let mut parked = 0;
        for (index, message) in messages.iter().enumerate() {
            match dead.get(&index) {
                Some(reason) => match self.park(message, reason).await {
                    Ok(()) => parked += 1,
                    Err(err) => tracing::error!(error = %err, "dead-letter publish failed"),
                },
                None => {
                    if let Err(err) = message.ack().await {
                        // A crash or a lost ack only causes a harmless redelivery.
                        tracing::warn!(error = %err, "ack failed; the event will be redelivered and skipped");
                    }
                }
            }
        }
        parked
    }

    /// Parks `message` with `reason` (made printable and bounded: it becomes a header), then
    /// terminates it so it is never redelivered. If parking fails the message is left unacked
    /// and comes back after the consumer's ack wait.
    pub async fn park(
        &self,
        message: &jetstream::Message,
        reason: &str,
    ) -> Result<(), EventsError> {
        let seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
        let reason = crate::text::recorded(reason, 1024);
        tracing::error!(
            seq,
            subject = %message.subject,
            consumer = %self.consumer,
            reason = %reason,
            "event sent to the dead-letter stream"
        );
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Tollgate-Original-Subject", message.subject.as_str());
        headers.insert("Tollgate-Original-Seq", seq.to_string().as_str());
        headers.insert("Tollgate-Consumer", self.consumer.as_str());
        headers.insert("Tollgate-Reason", reason.as_ref());
        // Parked once per (consumer, sequence), even if the park is retried.
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("dlq:{}:{seq}", self.consumer).as_str(),
        );
        self.js
            .publish_with_headers(self.subject.clone(), headers, message.payload.clone())
            .await
            .map_err(EventsError::publish)?
            .await
            .map_err(EventsError::publish)?;
        if let Err(err) = message.ack_with(jetstream::AckKind::Term).await {
            tracing::warn!(error = %err, "could not terminate a dead-lettered event");
        }
        Ok(())
    }
}

use thiserror::Error;

/// The client error behind a JetStream failure, kept whole (kind, server error code, source).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

impl EventsError {
    /// A stream set-up failure caused by `err`.
    pub fn stream(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Stream(Box::new(err))
    }

    /// A publish failure caused by `err`.
    pub fn publish(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Publish(Box::new(err))
    }

    /// A consumer failure caused by `err`.
    pub fn consumer(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Consumer(Box::new(err))
    }
}

/// Errors of the events crate.
#[derive(Debug, Error)]
pub enum EventsError {
    /// The event could not be encoded or decoded.
    #[error("event JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JetStream refused to create or update the stream.
    #[error("JetStream stream set-up failed: {0}")]
    Stream(#[source] Cause),
    /// JetStream did not acknowledge a publish.
    #[error("JetStream publish failed: {0}")]
    Publish(#[source] Cause),
    /// A consumer could not be created or its subscription broke.
    #[error("JetStream consumer: {0}")]
    Consumer(#[source] Cause),
    /// A consumer's message stream ended (the subscription is gone).
    #[error("JetStream consumer: message stream ended")]
    SubscriptionEnded,
    /// A consumer that should have had messages got none for this long.
    #[error("JetStream consumer: no message for {0:?}")]
    Silent(std::time::Duration),
    /// The publisher has shut down and takes no more events.
    #[error("the event publisher is closed")]
    PublisherClosed,
}

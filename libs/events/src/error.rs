use thiserror::Error;

/// Errors of the events crate.
#[derive(Debug, Error)]
pub enum EventsError {
    /// The event could not be encoded or decoded.
    #[error("event JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JetStream refused to create or update the stream.
    #[error("JetStream stream set-up failed: {0}")]
    Stream(String),
    /// JetStream did not acknowledge a publish.
    #[error("JetStream publish failed: {0}")]
    Publish(String),
    /// A consumer could not be created or its subscription broke.
    #[error("JetStream consumer: {0}")]
    Consumer(String),
    /// The publisher has shut down and takes no more events.
    #[error("the event publisher is closed")]
    PublisherClosed,
}

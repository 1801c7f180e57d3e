use std::time::Duration;

use async_nats::jetstream::{self, stream};
use uuid::Uuid;

use crate::{EnvError, EventsError};

/// Where events go: the stream name and the subject prefix (`<prefix>.v1.<tenant>.<kind>`).
///
/// Production uses `TOLLGATE` / `tollgate`; tests use their own pair so they run in parallel.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// JetStream stream name.
    pub name: String,
    /// First subject token.
    pub subject_prefix: String,
    /// JetStream duplicate window (must cover the longest republish delay).
    pub duplicate_window: Duration,
    /// How long events are kept (zero: forever).
    pub max_age: Duration,
    /// Stream replicas (1 on a single node, 3 in a cluster).
    pub replicas: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            name: "TOLLGATE".into(),
            subject_prefix: "tollgate".into(),
            duplicate_window: Duration::from_secs(2 * 60 * 60),
            max_age: Duration::ZERO,
            replicas: 1,
        }
    }
}

impl StreamSettings {
    /// The defaults with `TOLLGATE_STREAM`, `TOLLGATE_SUBJECT_PREFIX` and
    /// `TOLLGATE_STREAM_REPLICAS` (1..=5, the replicas of the stream and the KV buckets) from
    /// `env`: how every consumer service (ledger, analytics, alerting) names the stream it reads.
    pub fn from_env(env: &std::collections::HashMap<String, String>) -> Result<Self, EnvError> {
        let defaults = Self::default();
        let replicas = match env.get("TOLLGATE_STREAM_REPLICAS") {
            Some(v) => parse_replicas(v).map_err(|reason| EnvError {
                key: "TOLLGATE_STREAM_REPLICAS",
                reason,
            })?,
            None => defaults.replicas,
        };
        Ok(Self {
            name: env
                .get("TOLLGATE_STREAM")
                .cloned()
                .unwrap_or(defaults.name.clone()),
            subject_prefix: env
                .get("TOLLGATE_SUBJECT_PREFIX")
                .cloned()
                .unwrap_or(defaults.subject_prefix.clone()),
            replicas,
            ..defaults
        })
    }
}

/// A JetStream replica count: 1 to 5 (JetStream's own limit).
pub fn parse_replicas(value: &str) -> Result<usize, String> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| check_replicas(n).ok())
        .ok_or_else(|| format!("{value:?}: must be a number from 1 to 5"))
}

/// `replicas` if JetStream accepts it (1 to 5).
pub fn check_replicas(replicas: usize) -> Result<usize, String> {
    match replicas {
        1..=5 => Ok(replicas),
        n => Err(format!("{n}: must be a number from 1 to 5")),
    }
}

/// The subject of an event: `<prefix>.v1.<tenant_id>.<kind>`.
pub fn subject_for(prefix: &str, tenant_id: Uuid, kind: &str) -> String {
    format!("{prefix}.v1.{tenant_id}.{kind}")
}

/// How long [`ensure_stream`] keeps retrying while JetStream is electing leaders.
const STREAM_SETUP_PATIENCE: Duration = Duration::from_secs(30);

/// Creates the stream if it does not exist (file storage, dedup window); an existing stream is
/// left as it is: services hold no permission to change it (a changed stream could republish
/// into money subjects), so a configuration that differs from `settings` is only logged, for
/// the operator to apply with the operator's credentials. While the cluster cannot answer yet (a restarted cluster electing its stream leaders: the
/// request times out or JetStream says it is unavailable) it retries for up to 30 s.
pub async fn ensure_stream(
    js: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<stream::Info, EventsError> {
    let deadline = tokio::time::Instant::now() + STREAM_SETUP_PATIENCE;
    loop {
        match open_or_create(js, settings).await {
            Err(err) if is_transient(&err) && tokio::time::Instant::now() < deadline => {
                tracing::warn!(stream = %settings.name, error = %err, "JetStream not answering yet; retrying stream set-up");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            outcome => return outcome.map_err(EventsError::stream),
        }
    }
}

/// Errors a cluster gives while it has no leader for the stream (or no meta leader).
fn is_transient(err: &jetstream::context::CreateStreamError) -> bool {
    use jetstream::context::CreateStreamErrorKind as Kind;
    match err.kind() {
        Kind::TimedOut | Kind::JetStreamUnavailable => true,
        Kind::JetStream(api) => api.code() == 503,
        _ => false,
    }
}

async fn open_or_create(
    js: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<stream::Info, jetstream::context::CreateStreamError> {
    let config = stream::Config {
        name: settings.name.clone(),
        subjects: vec![format!("{}.v1.>", settings.subject_prefix)],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: settings.duplicate_window,
        max_age: settings.max_age,
        num_replicas: settings.replicas,
        ..Default::default()
    };
    let info = js
        .get_or_create_stream(config.clone())
        .await?
        .cached_info()
        .clone();
    let found = &info.config;
    if found.subjects != config.subjects
        || found.duplicate_window != config.duplicate_window
        || found.num_replicas != config.num_replicas
        || found.max_age != config.max_age
    {
        tracing::warn!(
            stream = %settings.name,
            subjects = ?found.subjects,
            duplicate_window = ?found.duplicate_window,
            replicas = found.num_replicas,
            "the stream's settings differ from this service's; left as they are (change them with the operator's NATS credentials)"
        );
    }
    Ok(info)
}

/// What JetStream said of a confirmed publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmed {
    /// The message id was already stored (within the duplicate window): this publish was
    /// dropped, and `sequence` is the earlier message's.
    pub duplicate: bool,
    /// Stream sequence of the stored message.
    pub sequence: u64,
}

/// Publishes one event and waits for JetStream's acknowledgement (for operator actions that
/// must be durable before they are answered).
pub async fn publish_confirmed(
    js: &jetstream::Context,
    subject_prefix: &str,
    event: &crate::Event,
) -> Result<Confirmed, EventsError> {
    let subject = subject_for(subject_prefix, event.tenant_id, event.body.kind());
    let message = jetstream::message::PublishMessage::build()
        .payload(event.encode()?.into())
        .message_id(event.event_id.to_string());
    let ack = js
        .send_publish(subject, message)
        .await
        .map_err(EventsError::publish)?
        .await
        .map_err(EventsError::publish)?;
    Ok(Confirmed {
        duplicate: ack.duplicate,
        sequence: ack.sequence,
    })
}

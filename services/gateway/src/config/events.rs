//! `[events]`: when a response may complete relative to its usage event, and the spool that
//! keeps events JetStream has not taken.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::base::{ConfigError, Env, env_or};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    durability: Option<String>,
    spool_dir: Option<String>,
    spool_max_mb: Option<u64>,
    spool_after_ms: Option<u64>,
    receipt_timeout_ms: Option<u64>,
}

/// When a data-plane response completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Only once its usage event is on the gateway's own disk (the default): appended to the
    /// spool with group commit and fsync'd, then shipped to JetStream in windows. A crash of
    /// the gateway or of NATS after the response cannot lose its bill.
    Ack,
    /// Only once JetStream acknowledged the event (or, when JetStream is slower than
    /// `spool_after`, the spool fsync'd it): the behaviour before the log came first.
    Broker,
    /// At once; the event is published after. A gateway crash loses the events in flight.
    Async,
}

impl Durability {
    /// Whether a response waits for its event to be safe.
    pub fn waits(self) -> bool {
        self != Self::Async
    }
}

/// The validated `[events]` section.
#[derive(Debug, Clone)]
pub struct EventsSettings {
    /// When a response completes.
    pub durability: Durability,
    /// Directory of the spool's segment files (default `.tollgate/spool`).
    pub spool_dir: PathBuf,
    /// Most bytes the spool holds; when nearly full, readiness fails and data-plane requests
    /// get 503.
    pub spool_max_bytes: u64,
    /// A JetStream ack slower than this sends the event to the spool.
    pub spool_after: Duration,
    /// With `ack` durability, the longest a response waits for its event to be made safe
    /// (a stuck disk must not hold responses forever); past it the response completes and
    /// the event is counted as unbilled, though it may still be published.
    pub receipt_timeout: Duration,
}

pub(super) fn normalize_events(
    raw: RawEvents,
    src: &str,
    env: &Env,
) -> Result<EventsSettings, ConfigError> {
    let durability = match env_or(env, "TOLLGATE_EVENTS_DURABILITY", raw.durability).as_deref() {
        None | Some("ack") => Durability::Ack,
        Some("broker") => Durability::Broker,
        Some("async") => Durability::Async,
        Some(other) => {
            return Err(ConfigError::new(
                src,
                "events.durability",
                format!("'{other}': expected ack, broker or async"),
            ));
        }
    };
    let spool_max_mb = match env.get("TOLLGATE_SPOOL_MAX_MB") {
        Some(mb) => mb
            .parse()
            .map_err(|_| ConfigError::new(src, "TOLLGATE_SPOOL_MAX_MB", "not a number"))?,
        None => raw.spool_max_mb.unwrap_or(1024),
    };
    if spool_max_mb == 0 {
        return Err(ConfigError::new(
            src,
            "events.spool_max_mb",
            "must be at least 1",
        ));
    }
    let spool_after = Duration::from_millis(raw.spool_after_ms.unwrap_or(500));
    if spool_after.is_zero() {
        return Err(ConfigError::new(
            src,
            "events.spool_after_ms",
            "must be at least 1",
        ));
    }
    let receipt_timeout = Duration::from_millis(raw.receipt_timeout_ms.unwrap_or(10_000));
    if receipt_timeout <= spool_after {
        return Err(ConfigError::new(
            src,
            "events.receipt_timeout_ms",
            "must be longer than events.spool_after_ms",
        ));
    }
    Ok(EventsSettings {
        durability,
        spool_dir: PathBuf::from(
            env_or(env, "TOLLGATE_SPOOL_DIR", raw.spool_dir)
                .unwrap_or_else(|| ".tollgate/spool".into()),
        ),
        spool_max_bytes: spool_max_mb.saturating_mul(1024 * 1024),
        spool_after,
        receipt_timeout,
    })
}

//! Tollgate's event stream: versioned event types, subjects, the JetStream stream set-up and
//! the publisher that gets every event acknowledged without blocking the request path.
//!
//! Knows nothing of Postgres or HTTP. Consumers decode with [`Event::decode`], which skips
//! kinds they do not know, so producers can add kinds without breaking older consumers.

mod access;
pub mod balances;
mod consumer;
mod error;
mod event;
pub mod isolate;
mod publisher;
mod servers;
pub mod spool;
mod stream;
pub mod text;

pub use access::{NatsAccess, inbox_prefix};
pub use consumer::{
    Batches, ConsumerSettings, DeadLetters, durable_consumer, keep_consuming, open_stream,
};
pub use error::EventsError;
pub use event::{
    AlertRaised, AuditRecorded, BreakerChanged, CacheHit, CreditSource, CreditsAdjusted,
    CreditsGranted, Event, EventBody, SCHEMA_VERSION, UpstreamAttempt, UsageOutcome, UsageRecorded,
    UsageSource,
};
pub use publisher::{
    AckObserver, Publisher, PublisherConfig, PublisherHandle, PublisherMetrics, Receipt, Stored,
};
pub use servers::{
    ConnectError, DEFAULT_NATS_URL, EnvError, ServerListError, connect_any, nats_urls_from_env,
    server_addrs,
};
pub use spool::{Appended, Cursor, Spool, SpoolConfig, SpoolError, SpoolMetrics, SpooledEvent};
pub use stream::{
    Confirmed, StreamSettings, check_replicas, ensure_stream, parse_replicas, publish_confirmed,
    subject_for,
};

//! Shared state of the handlers, built once at start.

use std::sync::Arc;

use actix_web::HttpRequest;
use async_nats::jetstream;
use prometheus_client::registry::Registry;
use tollgate_events::{Event, Publisher, Stored};
use tollgate_store::PgPool;
use tracing::Instrument;

use crate::admission::{Admission, Reservation};
use crate::auth::{AdminToken, AuthenticatedKey, KeyCache, presented_credential};
use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::metrics::GatewayMetrics;
use crate::request::{Ending, RequestRecord};
use crate::spans::{failed_with, stage_span};
use crate::upstream::Upstream;

/// Everything a handler needs.
pub struct AppState {
    /// Validated configuration.
    pub config: GatewayConfig,
    /// Postgres.
    pub pool: PgPool,
    /// NATS connection (for readiness).
    pub nats: async_nats::Client,
    /// JetStream context (for confirmed management publishes).
    pub jetstream: jetstream::Context,
    /// Authenticated keys.
    pub keys: Arc<KeyCache>,
    /// The root operator token.
    pub admin: AdminToken,
    /// Scoped operator tokens.
    pub operators: crate::auth::OperatorTokens,
    /// Upstream HTTP client, providers and keys.
    pub upstream: Upstream,
    /// Routes and their deployments' live health.
    pub router: tollgate_routing::Router,
    /// Usage event publisher.
    pub publisher: Publisher,
    /// Where events JetStream has not taken are kept.
    pub spool: tollgate_events::Spool,
    /// Credit and budget enforcement.
    pub admission: Arc<Admission>,
    /// Metrics.
    pub metrics: GatewayMetrics,
    /// Registry rendered on `/metrics`.
    pub registry: Registry,
    /// The response cache (`None`: no `[cache]` section).
    pub cache: Option<crate::cache::Cache>,
    /// Rate limits of keys and tenants.
    pub limiter: Arc<crate::limits::Limiter>,
}

impl AppState {
    /// Authenticates a tenant API key.
    pub async fn authenticate(&self, req: &HttpRequest) -> Result<Arc<AuthenticatedKey>, ApiError> {
        self.throttled(req, async {
            let presented = presented_credential(req).ok_or(ApiError::Unauthenticated(
                "missing API key: send 'Authorization: Bearer <key>'",
            ))?;
            self.keys.authenticate(presented).await
        })
        .await
    }

    /// Runs the credential check `check` for `req`'s source address: refused (429) before any
    /// lookup once the address failed too often lately, and its failure counted.
    pub async fn throttled<T>(
        &self,
        req: &HttpRequest,
        check: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let address = req.peer_addr().map(|peer| peer.ip());
        if let Some(address) = address {
            self.limiter
                .may_authenticate(address)
                .map_err(|limited| ApiError::LimitReached(Box::new(limited)))?;
        }
        let checked = check.await;
        if let (Err(ApiError::Unauthenticated(_)), Some(address)) = (&checked, address) {
            self.limiter.failed_authentication(address);
        }
        checked
    }

    /// Records upstream latency and the gateway's overhead for a finished request.
    pub fn observe_upstream(&self, record: &RequestRecord) {
        let total = record.started.elapsed();
        self.metrics
            .upstream_latency(&record.provider, record.upstream_time.as_secs_f64());
        self.metrics
            .overhead(total.saturating_sub(record.upstream_time).as_secs_f64());
    }

    /// Refuses data-plane work that could not be billed: the spool is nearly full (JetStream
    /// has been away for long), so a new request's event might have nowhere to go.
    pub fn ensure_billable(&self) -> Result<(), ApiError> {
        if self.spool.is_full() {
            return Err(ApiError::Unavailable(
                "the gateway cannot record usage right now (event spool full); retry later".into(),
            ));
        }
        Ok(())
    }

    /// Publishes `event`. With `events.durability = ack` (or `broker`) it returns once the event
    /// is safe: on disk in the gateway's log (or acknowledged by JetStream); with `async`, once
    /// it is queued (waits only if the queue is full). `Err` names why it is not safe.
    pub async fn publish_safely(&self, event: Event) -> Result<(), &'static str> {
        let event_id = event.event_id;
        let receipt = self.publisher.publish(event).await.map_err(|err| {
            tracing::error!(%event_id, error = %err, "event not enqueued");
            "not_enqueued"
        })?;
        if !self.config.events.durability.waits() {
            return Ok(());
        }
        match tokio::time::timeout(self.config.events.receipt_timeout, receipt).await {
            Ok(Ok(Stored::Acked | Stored::Spooled)) => Ok(()),
            // Durable in the spool directory's set-aside file, but not delivered until an
            // operator publishes it again.
            Ok(Ok(Stored::SetAside)) => Err("set_aside"),
            Ok(Err(err)) => {
                tracing::error!(%event_id, error = %err, "event neither acknowledged nor spooled");
                Err("not_acknowledged")
            }
            Err(_) => {
                tracing::error!(%event_id, "event not made safe in time; answering anyway");
                Err("receipt_timeout")
            }
        }
    }

    /// Settles the request's reservation to its exact cost and publishes its usage event,
    /// returning once it is safe as [`Self::publish_safely`] says.
    pub async fn bill(
        &self,
        record: RequestRecord,
        ending: Ending,
        reservation: Option<Reservation>,
    ) {
        let span = publish_span(&record);
        let event = settled_event(record, ending, reservation);
        span.record("event_id", tracing::field::display(event.event_id));
        let in_publish = span.clone();
        async {
            if let Err(unbilled) = self.publish_safely(event).await {
                self.metrics.unbilled();
                failed_with(&span, unbilled);
            }
        }
        .instrument(in_publish)
        .await;
    }

    /// Settles and publishes from a context that cannot wait (a dropped stream).
    pub fn bill_detached(
        &self,
        record: RequestRecord,
        ending: Ending,
        reservation: Option<Reservation>,
    ) {
        let span = publish_span(&record);
        let event = settled_event(record, ending, reservation);
        span.record("event_id", tracing::field::display(event.event_id));
        span.in_scope(|| self.publisher.publish_detached(event));
    }
}

/// The `publish` span of a request's usage event.
fn publish_span(record: &RequestRecord) -> tracing::Span {
    stage_span!(
        "publish",
        record.request_id,
        event_id = tracing::field::Empty
    )
}

/// The usage event of a finished request, its reservation settled to the event's exact cost
/// (before publishing, so the publish ack finds the charge).
fn settled_event(
    mut record: RequestRecord,
    ending: Ending,
    reservation: Option<Reservation>,
) -> Event {
    if let Some(permit) = record.limit_permit.take() {
        let usage = ending.usage;
        permit.settle(u64::from(usage.prompt_tokens) + u64::from(usage.completion_tokens));
    }
    let cost = record.cost(ending.usage);
    let event = record.into_event(ending);
    if let Some(reservation) = reservation {
        reservation.settle(event.event_id, cost);
    }
    event
}

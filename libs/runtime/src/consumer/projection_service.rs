//! The common shape of a consumer service: one projection on one subscription.

use std::net::SocketAddr;

use prometheus_client::registry::Registry;

use super::{ConsumerConfig, ConsumerService, Projection, ServiceError, Subscription, consume};

/// A consumer service that is one [`Projection`]: how it is configured, counted and built.
pub trait SingleProjection: Projection + Sized + 'static {
    /// Its validated settings.
    type Config;
    /// Its metrics.
    type Metrics;
    /// Postgres connections it needs.
    const POOL_SIZE: u32;
    /// The subjects it consumes, under the stream's prefix (`v1.>` for every event).
    const SUBJECTS: &'static str;

    /// The consumer settings within `config`.
    fn consumer_config(config: &Self::Config) -> &ConsumerConfig;
    /// Creates its metrics in `registry`.
    fn register(registry: &mut Registry) -> Self::Metrics;
    /// Builds the projection on the connected `service`.
    fn build(config: Self::Config, service: &ConsumerService, metrics: Self::Metrics) -> Self;
}

/// A started single-projection service: connected and bound, consuming once
/// [`ProjectionService::run`] is awaited.
pub struct ProjectionService<P> {
    service: ConsumerService,
    subscription: Subscription,
    projection: P,
}

impl<P: SingleProjection> ProjectionService<P> {
    /// Connects to Postgres (applying migrations) and NATS, binds `/healthz` + `/metrics`.
    pub async fn bind(config: P::Config) -> Result<Self, ServiceError> {
        let settings = P::consumer_config(&config);
        let subscription = settings.subscription(P::SUBJECTS);
        let (service, metrics) =
            ConsumerService::start(settings, P::POOL_SIZE, P::register).await?;
        let projection = P::build(config, &service, metrics);
        Ok(Self {
            service,
            subscription,
            projection,
        })
    }

    /// Address of `/healthz` and `/metrics`.
    pub fn local_addr(&self) -> SocketAddr {
        self.service.local_addr()
    }

    /// Consumes until `shutdown` resolves; the batch in hand is committed and acked first.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServiceError> {
        let Self {
            service,
            subscription,
            projection,
        } = self;
        let js = service.js.clone();
        service
            .run(shutdown, move |stop| {
                vec![tokio::spawn(async move {
                    consume(&js, &subscription, &projection, stop).await;
                })]
            })
            .await;
        Ok(())
    }
}

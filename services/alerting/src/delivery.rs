//! Webhook delivery: every pending alert is POSTed (at once: a firing wakes the workers) to its
//! rule's URL, signed, until a 2xx answer, with exponential backoff, giving up after the
//! configured time. Each attempt is recorded.
//!
//! No database lock or transaction is held across the HTTP call: a worker claims an alert by
//! moving its next attempt a lease (the timeout plus a margin) into the future in one statement
//! (`FOR UPDATE SKIP LOCKED` inside it), calls the receiver, then records the outcome in a short
//! transaction. At most `per_tenant` deliveries of one tenant are in flight on an instance, so a
//! receiver that hangs holds that many workers, never all of them. A receiver sees
//! `x-tollgate-alert-id` to drop a repeat (a crash between its 2xx and our record, or a lease
//! that ran out). Every address connected to must be allowed by the egress policy (public, or
//! in a range the operator allows), checked on the resolved address itself, so a name that
//! resolves inward later (DNS rebinding) is refused too; redirects are not followed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tollgate_runtime::egress::{EgressPolicy, Refused};
use tollgate_store::alerts::Alert;
use uuid::Uuid;

use crate::config::DeliverySettings;
use crate::engine::Engine;
use crate::metrics::AlertingMetrics;
use crate::signature;

/// Concurrent delivery workers per instance.
const WORKERS: usize = 8;
/// How long past the timeout a claimed alert stays with its worker.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Resolves webhook hosts, keeping only the addresses the egress policy allows.
struct GuardedResolver {
    policy: EgressPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| match policy.check(address.ip()) {
                    Ok(()) => true,
                    Err(refused) => {
                        refusal = Some(refused);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(refused)) => Err(Box::new(refused) as Box<_>),
                _ => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// Deliveries in flight per tenant on this instance (platform alerts: `None`, unbounded), and
/// the one claim at a time that keeps the count exact.
#[derive(Default)]
struct InFlight {
    counts: Mutex<HashMap<Uuid, usize>>,
    claiming: tokio::sync::Mutex<()>,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tenants at `bound` deliveries in flight (their alerts wait).
    fn saturated(&self, bound: usize) -> Vec<Uuid> {
        self.lock()
            .iter()
            .filter(|(_, n)| **n >= bound)
            .map(|(t, _)| *t)
            .collect()
    }

    fn start(&self, tenant: Option<Uuid>) {
        if let Some(tenant) = tenant {
            *self.lock().entry(tenant).or_default() += 1;
        }
    }

    fn end(&self, tenant: Option<Uuid>) {
        if let Some(tenant) = tenant {
            let mut map = self.lock();
            if let Some(n) = map.get_mut(&tenant) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(&tenant);
                }
            }
        }
    }
}

/// Runs `WORKERS` delivery loops until `stop` turns true.
pub async fn run(
    engine: Arc<Engine>,
    settings: DeliverySettings,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let http = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would resolve and connect past the egress check.
        .no_proxy()
        .dns_resolver(GuardedResolver {
            policy: settings.egress.clone(),
        })
        .build()
    {
        Ok(http) => http,
        Err(err) => {
            tracing::error!(error = %err, "no HTTP client: webhooks are not delivered");
            return;
        }
    };
    let in_flight = Arc::new(InFlight::default());
    let workers = (0..WORKERS).map(|_| {
        let (engine, http, settings, in_flight, mut stop) = (
            engine.clone(),
            http.clone(),
            settings.clone(),
            in_flight.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            while !*stop.borrow() {
                // A stop does not wait for a receiver that hangs (the claim's lease runs out).
                let delivered = tokio::select! {
                    delivered = deliver_one(&engine, &http, &settings, &in_flight) => delivered,
                    _ = stop.changed() => break,
                };
                if !matches!(delivered, Ok(true)) {
                    if let Err(err) = delivered {
                        engine.metrics.failures.inc();
                        tracing::warn!(error = %err, "webhook delivery step failed");
                    }
                    tokio::select! {
                        _ = stop.changed() => {}
                        () = engine.delivery_due.notified() => {}
                        () = tokio::time::sleep(settings.poll) => {}
                    }
                }
            }
        })
    });
    for worker in workers.collect::<Vec<_>>() {
        let _ = worker.await;
    }
}

/// The webhook body of an alert.
pub fn payload(alert: &Alert) -> serde_json::Value {
    json!({
        "type": "alert.raised",
        "id": alert.id,
        "rule_id": alert.rule_id,
        "tenant_id": alert.tenant_id,
        "kind": alert.kind,
        "subject": alert.subject,
        "message": alert.message,
        "value": alert.value,
        "threshold": alert.threshold,
        "raised_at": alert.raised_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// Delivers the most overdue pending alert of a tenant with room, if any; true if there was
/// one.
async fn deliver_one(
    engine: &Engine,
    http: &reqwest::Client,
    settings: &DeliverySettings,
    in_flight: &InFlight,
) -> Result<bool, sqlx::Error> {
    let lease = settings.timeout + LEASE_MARGIN;
    let claiming = in_flight.claiming.lock().await;
    let due: Option<Alert> = sqlx::query_as(
        "UPDATE alerts SET next_attempt_at = now() + make_interval(secs => $1) \
         WHERE id = (SELECT id FROM alerts WHERE delivery = 'pending' AND next_attempt_at <= now() \
                     AND (tenant_id IS NULL OR tenant_id <> ALL($2)) \
                     ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, rule_id, tenant_id, kind, subject, message, value, threshold, raised_at, delivery",
    )
    .bind(lease.as_secs_f64())
    .bind(in_flight.saturated(settings.per_tenant))
    .fetch_optional(&engine.pool)
    .await?;
    let Some(alert) = due else {
        return Ok(false);
    };
    in_flight.start(alert.tenant_id);
    drop(claiming);
    let delivered = attempt(engine, http, settings, &alert).await;
    in_flight.end(alert.tenant_id);
    delivered.map(|()| true)
}

/// One attempt at `alert` (claimed by this worker): the call, then its record.
async fn attempt(
    engine: &Engine,
    http: &reqwest::Client,
    settings: &DeliverySettings,
    alert: &Alert,
) -> Result<(), sqlx::Error> {
    let (url, secret, deleted): (Option<String>, String, bool) = sqlx::query_as(
        "SELECT webhook_url, webhook_secret, deleted_at IS NOT NULL FROM alert_rules WHERE id = $1",
    )
    .bind(alert.rule_id)
    .fetch_one(&engine.pool)
    .await?;
    // A deleted rule's pending alerts are never delivered (its owner asked for no more).
    let Some(url) = url.filter(|_| !deleted) else {
        sqlx::query("UPDATE alerts SET delivery = 'none', next_attempt_at = NULL WHERE id = $1")
            .bind(alert.id)
            .execute(&engine.pool)
            .await?;
        return Ok(());
    };
    let stored_secret = secret;
    let secret = match settings.secrets.open(&stored_secret) {
        Ok((secret, stale)) => {
            if stale {
                reseal(engine, settings, alert.rule_id, (&stored_secret, &secret)).await;
            }
            secret
        }
        Err(err) => {
            // Without the key that sealed it nothing can be signed: retried after the backoff
            // (an operator who restores the key gets the deliveries through).
            tracing::error!(rule_id = %alert.rule_id, error = %err, "webhook secret does not open");
            String::new()
        }
    };
    let (attempts,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM alert_deliveries WHERE alert_id = $1")
            .bind(alert.id)
            .fetch_one(&engine.pool)
            .await?;
    let attempt = attempts + 1;

    let started = Instant::now();
    let (status, error) = match literal_refusal(&url, &settings.egress) {
        Some(refused) => (None, Some(coarse_refusal(refused))),
        None if secret.is_empty() => (None, Some("signing secret unavailable".to_owned())),
        None => call(http, alert, &url, &secret, attempt).await,
    };
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);

    let mut tx = engine.pool.begin().await?;
    sqlx::query(
        "INSERT INTO alert_deliveries (alert_id, attempt, url, status, error, duration_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(alert.id)
    .bind(i32::try_from(attempt).unwrap_or(i32::MAX))
    .bind(&url)
    .bind(status.map(i32::from))
    .bind(&error)
    .bind(duration_ms)
    .execute(&mut *tx)
    .await?;
    let age = (Utc::now() - alert.raised_at).to_std().unwrap_or_default();
    if error.is_none() {
        sqlx::query(
            "UPDATE alerts SET delivery = 'delivered', next_attempt_at = NULL \
             WHERE id = $1 AND delivery = 'pending'",
        )
        .bind(alert.id)
        .execute(&mut *tx)
        .await?;
        AlertingMetrics::inc(&engine.metrics.deliveries, "ok");
        engine.metrics.delivery_latency.observe(age.as_secs_f64());
    } else if age >= settings.give_up_after {
        sqlx::query(
            "UPDATE alerts SET delivery = 'failed', next_attempt_at = NULL \
             WHERE id = $1 AND delivery = 'pending'",
        )
        .bind(alert.id)
        .execute(&mut *tx)
        .await?;
        AlertingMetrics::inc(&engine.metrics.deliveries, "gave_up");
        tracing::warn!(alert_id = %alert.id, attempts = attempt, "webhook delivery given up");
    } else {
        let wait = retry_after(settings, attempt);
        sqlx::query(
            "UPDATE alerts SET next_attempt_at = now() + make_interval(secs => $2) \
             WHERE id = $1 AND delivery = 'pending'",
        )
        .bind(alert.id)
        .bind(wait.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        AlertingMetrics::inc(&engine.metrics.deliveries, "error");
        tracing::info!(alert_id = %alert.id, attempt, error = ?error, retry_in_ms = wait.as_millis() as u64, "webhook delivery failed; retrying");
    }
    tx.commit().await?;
    Ok(())
}

/// Stores a rule's secret sealed with the current key (after a key rotation, or plaintext
/// from before sealing); a failure only means it is tried again next time.
/// Only the value read is replaced (a concurrent re-seal wins once).
async fn reseal(
    engine: &Engine,
    settings: &DeliverySettings,
    rule: Uuid,
    (stored, secret): (&str, &str),
) {
    let Ok(sealed) = settings.secrets.seal(secret) else {
        return;
    };
    let stored = sqlx::query(
        "UPDATE alert_rules SET webhook_secret = $2 WHERE id = $1 AND webhook_secret = $3",
    )
    .bind(rule)
    .bind(sealed)
    .bind(stored)
    .execute(&engine.pool)
    .await;
    if let Err(err) = stored {
        tracing::warn!(rule_id = %rule, error = %err, "webhook secret not re-sealed");
    }
}

/// The POST of one attempt: the status and, unless 2xx, a coarse error kind (nothing about the
/// network beyond it).
async fn call(
    http: &reqwest::Client,
    alert: &Alert,
    url: &str,
    secret: &str,
    attempt: i64,
) -> (Option<u16>, Option<String>) {
    let body = serde_json::to_vec(&payload(alert)).unwrap_or_default();
    let timestamp = Utc::now().timestamp();
    let answer = http
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "tollgate-alerting")
        .header("x-tollgate-alert-id", alert.id.to_string())
        .header("x-tollgate-delivery-attempt", attempt.to_string())
        .header("x-tollgate-timestamp", timestamp.to_string())
        .header(
            "x-tollgate-signature",
            signature::sign(secret, timestamp, &body),
        )
        .body(body)
        .send()
        .await;
    match &answer {
        Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
        Ok(response) => (
            Some(response.status().as_u16()),
            Some(format!("status {}", response.status().as_u16())),
        ),
        Err(err) => match refusal_in(err) {
            Some(refused) => (None, Some(coarse_refusal(refused))),
            None if err.is_timeout() => (None, Some("timeout".to_owned())),
            None if err.is_connect() => (None, Some("connect error".to_owned())),
            None => (None, Some("request failed".to_owned())),
        },
    }
}

/// The egress refusal of a URL whose host is an address (names are checked when resolved).
fn literal_refusal(url: &str, policy: &EgressPolicy) -> Option<Refused> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    policy.check(ip).err()
}

/// The egress refusal somewhere in a failed request's causes, if that is why it failed.
fn refusal_in(err: &reqwest::Error) -> Option<Refused> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = cause {
        if let Some(refused) = current.downcast_ref::<Refused>() {
            return Some(*refused);
        }
        cause = current.source();
    }
    None
}

/// What the tenant sees of a refused address: that it was refused, not which network it is in.
fn coarse_refusal(_refused: Refused) -> String {
    "address not allowed".to_owned()
}

/// The wait after failed attempt number `attempt` (1-based): doubling from `first_retry`,
/// capped at `max_retry`.
pub fn retry_after(settings: &DeliverySettings, attempt: i64) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(30);
    settings
        .first_retry
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(settings.max_retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_that_resolves_inward_is_refused_when_connecting() {
        use reqwest::dns::Resolve;
        let strict = GuardedResolver {
            policy: EgressPolicy::default(),
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let refused = strict
            .resolve(name)
            .await
            .err()
            .expect("localhost is refused");
        assert!(refused.downcast_ref::<Refused>().is_some(), "{refused}");
        let loopback = GuardedResolver {
            policy: EgressPolicy::parse("127.0.0.0/8,::1").unwrap(),
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let found: Vec<SocketAddr> = loopback.resolve(name).await.unwrap().collect();
        assert!(!found.is_empty() && found.iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn retries_double_up_to_the_cap() {
        let settings = DeliverySettings {
            first_retry: Duration::from_millis(100),
            max_retry: Duration::from_secs(1),
            give_up_after: Duration::from_secs(60),
            timeout: Duration::from_secs(1),
            poll: Duration::from_millis(10),
            egress: EgressPolicy::default(),
            per_tenant: 2,
            secrets: tollgate_runtime::sealed::Sealer::default(),
        };
        let waits: Vec<u128> = (1..=6)
            .map(|a| retry_after(&settings, a).as_millis())
            .collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
    }
}

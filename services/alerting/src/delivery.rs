//! Webhook delivery: every pending alert is POSTed (at once: a firing wakes the workers) to its rule's URL, signed, until a 2xx
//! answer, with exponential backoff, giving up after the configured time. Each attempt is
//! recorded; the alert row is locked while it is being delivered (`FOR UPDATE SKIP LOCKED`), so
//! concurrent workers or instances never deliver one alert twice at once, and a receiver sees
//! `x-tollgate-alert-id` to drop any repeat (e.g. after a crash between its 2xx and our commit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tollgate_store::alerts::Alert;

use crate::config::DeliverySettings;
use crate::engine::Engine;
use crate::metrics::AlertingMetrics;
use crate::signature;

/// Concurrent delivery workers per instance.
const WORKERS: usize = 4;

/// Runs `WORKERS` delivery loops until `stop` turns true.
pub async fn run(
    engine: Arc<Engine>,
    settings: DeliverySettings,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let http = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(err) => {
            tracing::error!(error = %err, "no HTTP client: webhooks are not delivered");
            return;
        }
    };
    let workers = (0..WORKERS).map(|_| {
        let (engine, http, settings, mut stop) =
            (engine.clone(), http.clone(), settings.clone(), stop.clone());
        tokio::spawn(async move {
            while !*stop.borrow() {
                let delivered = deliver_one(&engine, &http, &settings).await;
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

/// Delivers the most overdue pending alert, if any; true if there was one.
async fn deliver_one(
    engine: &Engine,
    http: &reqwest::Client,
    settings: &DeliverySettings,
) -> Result<bool, sqlx::Error> {
    let mut tx = engine.pool.begin().await?;
    let due: Option<Alert> = sqlx::query_as(
        "SELECT id, rule_id, tenant_id, kind, subject, message, value, threshold, raised_at, \
         delivery FROM alerts WHERE delivery = 'pending' AND next_attempt_at <= now() \
         ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(alert) = due else {
        return Ok(false);
    };
    let (url, secret, deleted): (Option<String>, String, bool) = sqlx::query_as(
        "SELECT webhook_url, webhook_secret, deleted_at IS NOT NULL FROM alert_rules WHERE id = $1",
    )
    .bind(alert.rule_id)
    .fetch_one(&mut *tx)
    .await?;
    // A deleted rule's pending alerts are never delivered (its owner asked for no more).
    let url = url.filter(|_| !deleted);
    let (attempts,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM alert_deliveries WHERE alert_id = $1")
            .bind(alert.id)
            .fetch_one(&mut *tx)
            .await?;
    let attempt = attempts + 1;
    let Some(url) = url else {
        sqlx::query("UPDATE alerts SET delivery = 'none', next_attempt_at = NULL WHERE id = $1")
            .bind(alert.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(true);
    };

    let body = serde_json::to_vec(&payload(&alert)).unwrap_or_default();
    let timestamp = Utc::now().timestamp();
    let started = Instant::now();
    let answer = http
        .post(&url)
        .header("content-type", "application/json")
        .header("user-agent", "tollgate-alerting")
        .header("x-tollgate-alert-id", alert.id.to_string())
        .header("x-tollgate-delivery-attempt", attempt.to_string())
        .header("x-tollgate-timestamp", timestamp.to_string())
        .header(
            "x-tollgate-signature",
            signature::sign(&secret, timestamp, &body),
        )
        .body(body)
        .send()
        .await;
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let (status, error) = match &answer {
        Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
        Ok(response) => (
            Some(response.status().as_u16()),
            Some(format!("status {}", response.status().as_u16())),
        ),
        Err(err) if err.is_timeout() => (None, Some("timeout".to_owned())),
        Err(err) if err.is_connect() => (None, Some("connect error".to_owned())),
        Err(_) => (None, Some("request failed".to_owned())),
    };
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
            "UPDATE alerts SET delivery = 'delivered', next_attempt_at = NULL WHERE id = $1",
        )
        .bind(alert.id)
        .execute(&mut *tx)
        .await?;
        AlertingMetrics::inc(&engine.metrics.deliveries, "ok");
        engine.metrics.delivery_latency.observe(age.as_secs_f64());
    } else if age >= settings.give_up_after {
        sqlx::query("UPDATE alerts SET delivery = 'failed', next_attempt_at = NULL WHERE id = $1")
            .bind(alert.id)
            .execute(&mut *tx)
            .await?;
        AlertingMetrics::inc(&engine.metrics.deliveries, "gave_up");
        tracing::warn!(alert_id = %alert.id, attempts = attempt, "webhook delivery given up");
    } else {
        let wait = retry_after(settings, attempt);
        sqlx::query(
            "UPDATE alerts SET next_attempt_at = now() + make_interval(secs => $2) WHERE id = $1",
        )
        .bind(alert.id)
        .bind(wait.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        AlertingMetrics::inc(&engine.metrics.deliveries, "error");
        tracing::info!(alert_id = %alert.id, attempt, error = ?error, retry_in_ms = wait.as_millis() as u64, "webhook delivery failed; retrying");
    }
    tx.commit().await?;
    Ok(true)
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

    #[test]
    fn retries_double_up_to_the_cap() {
        let settings = DeliverySettings {
            first_retry: Duration::from_millis(100),
            max_retry: Duration::from_secs(1),
            give_up_after: Duration::from_secs(60),
            timeout: Duration::from_secs(1),
            poll: Duration::from_millis(10),
        };
        let waits: Vec<u128> = (1..=6)
            .map(|a| retry_after(&settings, a).as_millis())
            .collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
    }
}

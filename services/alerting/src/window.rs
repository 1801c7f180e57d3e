//! Per-tenant minute counts (requests, errors, cost) for the window rules, each usage event
//! counted once by its id, and the evaluation of `spend_above` and `error_rate_above`.

use std::collections::HashMap;

use chrono::{DateTime, DurationRound, Utc};
use rust_decimal::Decimal;
use sqlx::PgPool;
use tollgate_store::alerts::{RuleKind, RuleWithSecret};
use uuid::Uuid;

use crate::engine::{Engine, Observation};

/// One usage event as the windows need it.
#[derive(Debug, Clone)]
pub struct WindowFact {
    /// Event id.
    pub event_id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Whether the client got an error status.
    pub error: bool,
    /// What it cost.
    pub cost_usd: Decimal,
}

/// Counts `facts` (skipping ids counted before) in one transaction; returns how many were new.
pub async fn count(pool: &PgPool, facts: &[WindowFact]) -> Result<usize, sqlx::Error> {
    if facts.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    let ids: Vec<Uuid> = facts.iter().map(|f| f.event_id).collect();
    let times: Vec<DateTime<Utc>> = facts.iter().map(|f| f.occurred_at).collect();
    let fresh: Vec<(Uuid,)> = sqlx::query_as(
        "INSERT INTO alerting_events (event_id, occurred_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[]) \
         ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    )
    .bind(&ids)
    .bind(&times)
    .fetch_all(&mut *tx)
    .await?;
    let mut fresh: std::collections::HashSet<Uuid> = fresh.into_iter().map(|(id,)| id).collect();
    let mut minutes: HashMap<(Uuid, DateTime<Utc>), (i64, i64, Decimal)> = HashMap::new();
    let mut counted = 0;
    for fact in facts.iter().filter(|f| fresh.remove(&f.event_id)) {
        counted += 1;
        let minute = fact
            .occurred_at
            .duration_trunc(chrono::Duration::minutes(1))
            .unwrap_or(fact.occurred_at);
        let entry = minutes.entry((fact.tenant_id, minute)).or_default();
        entry.0 += 1;
        entry.1 += i64::from(fact.error);
        entry.2 += fact.cost_usd;
    }
    let (keys, totals): (Vec<_>, Vec<_>) = minutes.into_iter().unzip();
    sqlx::query(
        "INSERT INTO alerting_window AS w (tenant_id, minute, requests, errors, cost_usd) \
         SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::bigint[], $4::bigint[], $5::numeric[]) \
         ON CONFLICT (tenant_id, minute) DO UPDATE SET requests = w.requests + EXCLUDED.requests, \
         errors = w.errors + EXCLUDED.errors, cost_usd = w.cost_usd + EXCLUDED.cost_usd",
    )
    .bind(keys.iter().map(|(t, _)| *t).collect::<Vec<_>>())
    .bind(keys.iter().map(|(_, m)| *m).collect::<Vec<_>>())
    .bind(totals.iter().map(|t| t.0).collect::<Vec<_>>())
    .bind(totals.iter().map(|t| t.1).collect::<Vec<_>>())
    .bind(totals.iter().map(|t| t.2).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(counted)
}

/// Drops counts older than any window can reach (31 days) and seen ids older than 8 days
/// (past JetStream's duplicate window and any redelivery).
pub async fn prune(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM alerting_window WHERE minute < now() - interval '31 days'")
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM alerting_events WHERE occurred_at < now() - interval '8 days'")
        .execute(pool)
        .await?;
    Ok(())
}

/// Requests, errors and cost of `tenant` in the last `seconds` (whole minutes: the current
/// minute and the ones that started within the window).
async fn totals(
    pool: &PgPool,
    tenant: Uuid,
    seconds: i32,
) -> Result<(i64, i64, Decimal), sqlx::Error> {
    sqlx::query_as(
        "SELECT coalesce(sum(requests), 0)::bigint, coalesce(sum(errors), 0)::bigint, \
         coalesce(sum(cost_usd), 0) FROM alerting_window WHERE tenant_id = $1 \
         AND minute > now() - make_interval(secs => $2) - interval '1 minute'",
    )
    .bind(tenant)
    .bind(f64::from(seconds))
    .fetch_one(pool)
    .await
}

/// Evaluates the window rules of `tenant` (after new usage, and on every tick).
pub async fn evaluate_tenant(engine: &Engine, tenant: Uuid) {
    for kind in [RuleKind::SpendAbove, RuleKind::ErrorRateAbove] {
        let rules = match engine.rules(Some(tenant), kind).await {
            Ok(rules) => rules,
            Err(err) => {
                engine.metrics.failures.inc();
                tracing::warn!(error = %err, "alert rules unreadable");
                continue;
            }
        };
        for rule in rules {
            evaluate_rule(engine, tenant, &rule).await;
        }
    }
}

/// Evaluates every window rule (the periodic tick: windows also clear as time passes).
pub async fn evaluate_all(engine: &Engine) {
    for kind in [RuleKind::SpendAbove, RuleKind::ErrorRateAbove] {
        match tollgate_store::alerts::rules_of_kind(&engine.pool, kind).await {
            Ok(rules) => {
                for rule in rules {
                    if let Some(tenant) = rule.rule.tenant_id {
                        evaluate_rule(engine, tenant, &rule).await;
                    }
                }
            }
            Err(err) => {
                engine.metrics.failures.inc();
                tracing::warn!(error = %err, "alert rules unreadable");
            }
        }
    }
}

async fn evaluate_rule(engine: &Engine, tenant: Uuid, rule: &RuleWithSecret) {
    let (Some(threshold), Some(window)) = (rule.rule.threshold, rule.rule.window_seconds) else {
        return;
    };
    let (requests, errors, cost) = match totals(&engine.pool, tenant, window).await {
        Ok(totals) => totals,
        Err(err) => {
            engine.metrics.failures.inc();
            tracing::warn!(error = %err, "alert window unreadable");
            return;
        }
    };
    let observation = match rule.rule.kind {
        RuleKind::SpendAbove => Observation {
            subject: String::new(),
            holds: cost > threshold,
            value: format!("{} USD", cost.normalize()),
            threshold: format!("{} USD", threshold.normalize()),
            message: format!(
                "spent {} USD in the last {window} s, above {} USD",
                cost.normalize(),
                threshold.normalize()
            ),
        },
        _ => {
            let rate = if requests == 0 {
                Decimal::ZERO
            } else {
                (Decimal::from(errors) * Decimal::ONE_HUNDRED / Decimal::from(requests)).round_dp(2)
            };
            Observation {
                subject: String::new(),
                holds: requests >= i64::from(rule.rule.min_requests) && rate > threshold,
                value: format!("{rate}%"),
                threshold: format!("{}%", threshold.normalize()),
                message: format!(
                    "{errors} of {requests} requests failed in the last {window} s ({rate}%), above {}%",
                    threshold.normalize()
                ),
            }
        }
    };
    if let Err(err) = engine.observe(rule, observation).await {
        engine.metrics.failures.inc();
        tracing::warn!(rule_id = %rule.rule.id, error = %err, "alert evaluation failed");
    }
}

//! Rule evaluation and firing.
//!
//! Each (rule, subject) is armed until its condition holds; then it fires once and stays fired
//! until the condition clears, which re-arms it. Both transitions are conditional updates of
//! `alert_state` in Postgres, so concurrent evaluations (or two alerting instances) fire a
//! crossing once. The alert's id derives from (rule, subject, crossing number): the alert row,
//! the `alert.raised` event (its `Nats-Msg-Id`) and the webhook's `x-tollgate-alert-id` all
//! carry it, so every retry along the way is deduplicated.

use async_nats::jetstream;
use rust_decimal::Decimal;
use sqlx::PgPool;
use tollgate_events::{AlertRaised, Event, EventBody};
use tollgate_store::alerts::{RuleKind, RuleWithSecret};
use uuid::Uuid;

use crate::metrics::AlertingMetrics;

/// Namespace of alert ids: `UUIDv5(namespace, "<rule>:<subject>:<crossing>")`.
pub const ALERT_NAMESPACE: Uuid = Uuid::from_u128(0x3c5e_71a2_9d4b_4f08_b6e1_0a2d_7c9f_5e13);

/// What an observation found.
#[derive(Debug, Clone)]
pub struct Observation {
    /// `""`, `"<key>:<percent>"` or a deployment.
    pub subject: String,
    /// Whether the rule's condition holds now.
    pub holds: bool,
    /// The observed value, for the alert.
    pub value: String,
    /// The threshold crossed, for the alert.
    pub threshold: String,
    /// A one-line summary, for the alert.
    pub message: String,
}

/// An event a projection parked on the dead-letter stream, as its headers describe it.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Sequence in the dead-letter stream.
    pub seq: u64,
    /// The projection that parked it.
    pub consumer: String,
    /// Its subject in the event stream.
    pub subject: String,
    /// Its sequence in the event stream.
    pub original_seq: String,
    /// Why it could not be applied.
    pub reason: String,
}

/// Days audit log entries are kept unless `TOLLGATE_AUDIT_RETENTION_DAYS` says otherwise.
pub const DEFAULT_AUDIT_RETENTION_DAYS: i64 = 400;

/// Shared by every task of the service.
pub struct Engine {
    pub pool: PgPool,
    pub js: jetstream::Context,
    pub subject_prefix: String,
    pub metrics: AlertingMetrics,
    /// Wakes the delivery workers when an alert with a webhook was raised.
    pub delivery_due: tokio::sync::Notify,
    /// Poisonous usage events in a row (see `isolate::MAX_POISON_STREAK`).
    pub poison_streak: tollgate_events::isolate::PoisonStreak,
    /// How long audit log entries are kept.
    pub audit_retention: chrono::TimeDelta,
}

impl Engine {
    /// An engine over `pool`, publishing `alert.raised` under `subject_prefix`.
    pub fn new(
        pool: PgPool,
        js: jetstream::Context,
        subject_prefix: String,
        metrics: AlertingMetrics,
    ) -> Self {
        Self {
            pool,
            js,
            subject_prefix,
            metrics,
            delivery_due: tokio::sync::Notify::new(),
            poison_streak: Default::default(),
            audit_retention: chrono::TimeDelta::days(DEFAULT_AUDIT_RETENTION_DAYS),
        }
    }

    /// The live rules of `tenant` (`None`: the platform's) of `kind`. Read at every evaluation:
    /// a cached empty list would miss the crossings of a rule created just after it.
    pub async fn rules(
        &self,
        tenant: Option<Uuid>,
        kind: RuleKind,
    ) -> Result<Vec<RuleWithSecret>, tollgate_store::StoreError> {
        let rules = tollgate_store::alerts::rules_with_secrets(&self.pool, tenant).await?;
        Ok(rules.into_iter().filter(|r| r.rule.kind == kind).collect())
    }

    /// Applies `observation` to `rule`: fires if armed and the condition holds, re-arms if fired
    /// and it cleared. Returns the id of an alert raised now.
    pub async fn observe(
        &self,
        rule: &RuleWithSecret,
        observation: Observation,
    ) -> Result<Option<Uuid>, sqlx::Error> {
        let rule_id = rule.rule.id;
        if !observation.holds {
            sqlx::query(
                "UPDATE alert_state SET armed = true, changed_at = now() \
                 WHERE rule_id = $1 AND subject = $2 AND NOT armed",
            )
            .bind(rule_id)
            .bind(&observation.subject)
            .execute(&self.pool)
            .await?;
            return Ok(None);
        }
        let mut tx = self.pool.begin().await?;
        let crossing: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO alert_state (rule_id, subject, armed, crossings) VALUES ($1, $2, false, 1) \
             ON CONFLICT (rule_id, subject) DO UPDATE SET armed = false, \
             crossings = alert_state.crossings + 1, changed_at = now() \
             WHERE alert_state.armed RETURNING crossings",
        )
        .bind(rule_id)
        .bind(&observation.subject)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((crossing,)) = crossing else {
            return Ok(None); // already fired for this crossing
        };
        let alert_id = Uuid::new_v5(
            &ALERT_NAMESPACE,
            format!("{rule_id}:{}:{crossing}", observation.subject).as_bytes(),
        );
        let delivery = if rule.rule.webhook_url.is_some() {
            "pending"
        } else {
            "none"
        };
        sqlx::query(
            "INSERT INTO alerts (id, rule_id, tenant_id, kind, subject, message, value, threshold, \
             delivery, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             CASE WHEN $9 = 'pending' THEN now() END) ON CONFLICT (id) DO NOTHING",
        )
        .bind(alert_id)
        .bind(rule_id)
        .bind(rule.rule.tenant_id)
        .bind(rule.rule.kind.as_str())
        .bind(&observation.subject)
        .bind(&observation.message)
        .bind(&observation.value)
        .bind(&observation.threshold)
        .bind(delivery)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if delivery == "pending" {
            self.delivery_due.notify_waiters();
        }
        AlertingMetrics::inc(&self.metrics.raised, rule.rule.kind.as_str());
        tracing::info!(
            alert_id = %alert_id,
            rule_id = %rule_id,
            tenant_id = ?rule.rule.tenant_id,
            kind = rule.rule.kind.as_str(),
            subject = %observation.subject,
            value = %observation.value,
            threshold = %observation.threshold,
            "alert raised"
        );
        self.publish_pending().await;
        Ok(Some(alert_id))
    }

    /// Publishes `alert.raised` for every stored alert not yet confirmed by JetStream (an
    /// outbox: a failed publish is retried by the next call, and the event id dedups).
    pub async fn publish_pending(&self) {
        let pending: Result<Vec<tollgate_store::alerts::Alert>, sqlx::Error> = sqlx::query_as(
            "SELECT id, rule_id, tenant_id, kind, subject, message, value, threshold, raised_at, \
             delivery FROM alerts WHERE NOT published ORDER BY raised_at LIMIT 100",
        )
        .fetch_all(&self.pool)
        .await;
        let pending = match pending {
            Ok(pending) => pending,
            Err(err) => {
                self.metrics.failures.inc();
                tracing::warn!(error = %err, "unpublished alerts unreadable");
                return;
            }
        };
        for alert in pending {
            let event = Event::with_id(
                alert.id,
                alert.tenant_id.unwrap_or(Uuid::nil()),
                EventBody::AlertRaised(AlertRaised {
                    alert_id: alert.id,
                    rule_id: alert.rule_id,
                    rule_kind: alert.kind.clone(),
                    subject: alert.subject.clone(),
                    message: alert.message.clone(),
                    value: alert.value.clone(),
                    threshold: alert.threshold.clone(),
                }),
            );
            let published =
                tollgate_events::publish_confirmed(&self.js, &self.subject_prefix, &event).await;
            match published {
                Ok(_) => {
                    let marked = sqlx::query("UPDATE alerts SET published = true WHERE id = $1")
                        .bind(alert.id)
                        .execute(&self.pool)
                        .await;
                    if let Err(err) = marked {
                        tracing::warn!(error = %err, "alert published but not marked; it will be republished (deduplicated)");
                    }
                }
                Err(err) => {
                    self.metrics.failures.inc();
                    tracing::warn!(alert_id = %alert.id, error = %err, "alert.raised not published; retrying later");
                    return;
                }
            }
        }
    }

    /// Evaluates the tenant's `balance_below` rules against a booked balance.
    pub async fn balance(&self, tenant: Uuid, balance: Decimal) {
        self.evaluate(Some(tenant), RuleKind::BalanceBelow, |rule| {
            let threshold = rule.rule.threshold?;
            Some(vec![Observation {
                subject: String::new(),
                holds: balance < threshold,
                value: format!("{} USD", balance.normalize()),
                threshold: format!("{} USD", threshold.normalize()),
                message: format!(
                    "balance {} USD is below {} USD",
                    balance.normalize(),
                    threshold.normalize()
                ),
            }])
        })
        .await;
    }

    /// Evaluates the tenant's `key_budget` rules against a key's booked spend of its budget's
    /// period (begun at `period_start`; `None`: all time) and the budget. Each period is a
    /// subject of its own, so a budget that resets alerts again in its next period.
    pub async fn key_spend(
        &self,
        tenant: Uuid,
        key: Uuid,
        spent: Decimal,
        budget: Decimal,
        period_start: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let period = period_start.map_or(String::new(), |at| format!(":{}", at.date_naive()));
        self.evaluate(Some(tenant), RuleKind::KeyBudget, |rule| {
            if rule.rule.api_key_id.is_some_and(|k| k != key) || budget <= Decimal::ZERO {
                return None;
            }
            let used = (spent / budget * Decimal::ONE_HUNDRED).round_dp(2);
            Some(
                rule.rule
                    .percents
                    .iter()
                    .flatten()
                    .map(|percent| Observation {
                        subject: format!("{key}:{percent}{period}"),
                        holds: used >= Decimal::from(*percent),
                        value: format!("{used}%"),
                        threshold: format!("{percent}%"),
                        message: format!(
                            "key {key} spent {used}% of its {} USD budget (alert at {percent}%)",
                            budget.normalize()
                        ),
                    })
                    .collect(),
            )
        })
        .await;
    }

    /// Evaluates the platform's `breaker_open` rules against a breaker change.
    pub async fn breaker(&self, deployment: &str, provider: &str, open: bool, error_rate: f64) {
        self.evaluate(None, RuleKind::BreakerOpen, |_| {
            Some(vec![Observation {
                subject: deployment.to_owned(),
                holds: open,
                value: format!("{:.1}% errors", error_rate * 100.0),
                threshold: "open".into(),
                message: format!(
                    "circuit breaker of deployment {deployment} ({provider}) opened at {:.1}% errors",
                    error_rate * 100.0
                ),
            }])
        })
        .await;
    }

    /// Evaluates the platform's `dead_letter` rules for one parked event: each parked event is
    /// its own subject, so every one raises one alert. An error is returned, not swallowed:
    /// the caller leaves the parked event unacknowledged so it is seen again.
    pub async fn dead_letter(&self, parked: DeadLetter) -> Result<(), tollgate_store::StoreError> {
        let observation = Observation {
            subject: format!("dead-letter:{}", parked.seq),
            holds: true,
            value: parked.reason.clone(),
            threshold: "none".into(),
            message: format!(
                "{} parked event {} #{} on the dead-letter stream: {}",
                parked.consumer, parked.subject, parked.original_seq, parked.reason
            ),
        };
        for rule in &self.rules(None, RuleKind::DeadLetter).await? {
            // Raised once per (rule, parked event) however often this is retried.
            self.observe(rule, observation.clone()).await?;
        }
        Ok(())
    }

    /// Runs `observe` for each observation `check` makes of each of the rules; failures are
    /// logged and counted (the next update or tick evaluates again).
    pub async fn evaluate(
        &self,
        tenant: Option<Uuid>,
        kind: RuleKind,
        check: impl Fn(&RuleWithSecret) -> Option<Vec<Observation>>,
    ) {
        let rules = match self.rules(tenant, kind).await {
            Ok(rules) => rules,
            Err(err) => {
                self.metrics.failures.inc();
                tracing::warn!(error = %err, "alert rules unreadable");
                return;
            }
        };
        for rule in &rules {
            for observation in check(rule).into_iter().flatten() {
                if let Err(err) = self.observe(rule, observation).await {
                    self.metrics.failures.inc();
                    tracing::warn!(rule_id = %rule.rule.id, error = %err, "alert evaluation failed");
                }
            }
        }
    }
}

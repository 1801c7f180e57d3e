//! Watches the ledger's balance feed (the JetStream KV bucket of booked balances and key spend)
//! and evaluates `balance_below` and `key_budget` rules on every update. The watch starts with
//! every key's latest value, so a restart re-evaluates the current state (a fired rule whose
//! condition still holds stays fired: nothing is raised twice).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tollgate_events::balances::{KeySpendSnapshot, TenantBalanceSnapshot, open_balance_store};
use uuid::Uuid;

use crate::engine::Engine;

/// Runs until `stop` turns true; a broken watch is reopened after a pause.
pub async fn run(
    engine: Arc<Engine>,
    stream: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        tokio::select! {
            _ = stop.changed() => return,
            ended = watch(&engine, &stream) => {
                tracing::warn!(reason = %ended, "balance feed watch ended; reopening");
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn watch(engine: &Engine, stream: &str) -> String {
    // The ledger creates the bucket; until it has, this fails and is retried.
    let store = match open_balance_store(&engine.js, stream).await {
        Ok(store) => store,
        Err(err) => return err.to_string(),
    };
    // Every key's latest value first (`watch_all` would start with the next change only).
    let mut updates = match store.watch_with_history(">").await {
        Ok(updates) => updates,
        Err(err) => return err.to_string(),
    };
    while let Some(entry) = updates.next().await {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => return err.to_string(),
        };
        if entry.key.starts_with("tenant.") {
            if let Ok(balance) = serde_json::from_slice::<TenantBalanceSnapshot>(&entry.value) {
                engine.balance(balance.tenant_id, balance.balance_usd).await;
            }
        } else if entry.key.starts_with("key.")
            && let Ok(spend) = serde_json::from_slice::<KeySpendSnapshot>(&entry.value)
        {
            key_spend(engine, spend.tenant_id, spend.api_key_id, spend).await;
        }
    }
    "the watch closed".into()
}

/// Evaluates a key's budget rules on its spend of the budget's current period.
async fn key_spend(engine: &Engine, tenant: Uuid, key: Uuid, spend: KeySpendSnapshot) {
    use tollgate_store::budget::{BudgetPeriod, SpendOwner, period_spend};
    let found = match tollgate_store::keys::budget(&engine.pool, key).await {
        Ok(Some((budget, BudgetPeriod::Total))) => Ok(Some((budget, spend.spent_usd, None))),
        Ok(Some((budget, period))) => period_spend(
            &engine.pool,
            SpendOwner::Key(key),
            period,
            chrono::Utc::now(),
        )
        .await
        .map(|p| Some((budget, p.period_spent_usd, p.period_started_at))),
        Ok(None) => Ok(None),
        Err(err) => Err(err),
    };
    match found {
        Ok(Some((budget, spent, period_start))) => {
            engine
                .key_spend(tenant, key, spent, budget, period_start)
                .await
        }
        Ok(None) => {}
        Err(err) => {
            engine.metrics.failures.inc();
            tracing::warn!(error = %err, "key budget unreadable");
        }
    }
}

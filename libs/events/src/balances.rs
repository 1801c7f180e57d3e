//! The balance feed: the ledger's latest balance per tenant and spend per key, in a JetStream
//! key-value bucket (`<STREAM>_BALANCES`) that gateways watch for admission control.
//!
//! Each value carries the stream sequence it reflects, so a gateway can subtract only its own
//! usage published after that point.

use async_nats::jetstream::{self, kv};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::EventsError;

/// A tenant's balance as booked by the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantBalanceSnapshot {
    /// Tenant.
    pub tenant_id: Uuid,
    /// credited + adjusted - spent.
    pub balance_usd: Decimal,
    /// All usage cost booked.
    pub spent_usd: Decimal,
    /// Highest stream sequence of this tenant's booked events.
    pub seq: u64,
}

/// A key's total spend as booked by the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeySpendSnapshot {
    /// Key.
    pub api_key_id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// All usage cost booked for the key.
    pub spent_usd: Decimal,
    /// Highest stream sequence of this key's booked events.
    pub seq: u64,
}

/// Name of the balance bucket of `stream`.
pub fn balance_bucket(stream: &str) -> String {
    format!("{stream}_BALANCES")
}

/// KV key of a tenant's balance.
pub fn tenant_balance_key(tenant_id: Uuid) -> String {
    format!("tenant.{tenant_id}")
}

/// KV key of a key's spend.
pub fn key_spend_key(api_key_id: Uuid) -> String {
    format!("key.{api_key_id}")
}

/// Opens the balance bucket, which the ledger creates (services that only read it, the gateway
/// and alerting, may not create it: whoever creates it chooses its settings).
pub async fn open_balance_store(
    js: &jetstream::Context,
    stream: &str,
) -> Result<kv::Store, EventsError> {
    js.get_key_value(balance_bucket(stream))
        .await
        .map_err(EventsError::consumer)
}

/// Creates (or opens) the balance bucket: latest value only, file storage (the ledger).
pub async fn balance_store(
    js: &jetstream::Context,
    stream: &str,
    replicas: usize,
) -> Result<kv::Store, EventsError> {
    let bucket = balance_bucket(stream);
    if let Ok(store) = js.get_key_value(&bucket).await {
        return Ok(store);
    }
    js.create_key_value(kv::Config {
        bucket,
        description: "Tollgate: ledger balances per tenant and spend per key".into(),
        history: 1,
        storage: jetstream::stream::StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .map_err(EventsError::stream)
}

//! Applying a batch of entries to the money tables in one transaction.
//!
//! Entries are inserted keyed by `event_id` (`ON CONFLICT DO NOTHING`); only the rows that were
//! actually inserted are added to balances, per-key spend and daily and monthly spend. A redelivered or
//! republished event therefore changes nothing.

use std::collections::{BTreeMap, HashSet};

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use sqlx::{Postgres, Transaction};
use tollgate_events::balances::{KeySpendSnapshot, TenantBalanceSnapshot};
use uuid::Uuid;

use crate::entry::LedgerEntry;

/// What one batch changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Applied {
    /// Entries newly booked.
    pub booked: usize,
    /// Entries already booked before (duplicates).
    pub duplicates: usize,
    /// The new balances of the tenants this batch touched.
    pub tenants: Vec<TenantBalanceSnapshot>,
    /// The new spend of the keys this batch touched.
    pub keys: Vec<KeySpendSnapshot>,
    /// Net change of each touched tenant's balance in this batch.
    pub balance_changes: BTreeMap<Uuid, Decimal>,
}

impl Applied {
    /// Adds what a later part of the same batch changed: counts and balance changes add up,
    /// a tenant's or key's later snapshot replaces its earlier one.
    pub fn absorb(&mut self, later: Applied) {
        self.booked += later.booked;
        self.duplicates += later.duplicates;
        for tenant in later.tenants {
            self.tenants.retain(|t| t.tenant_id != tenant.tenant_id);
            self.tenants.push(tenant);
        }
        for key in later.keys {
            self.keys.retain(|k| k.api_key_id != key.api_key_id);
            self.keys.push(key);
        }
        for (tenant, change) in later.balance_changes {
            *self.balance_changes.entry(tenant).or_default() += change;
        }
    }
}

#[derive(Default)]
struct TenantDelta {
    credited: Decimal,
    adjusted: Decimal,
    spent: Decimal,
    entries: i64,
    last_seq: i64,
}

#[derive(Default)]
struct SpendDelta {
    spent: Decimal,
    requests: i64,
    last_seq: i64,
}

/// Books `entries` inside `tx` (the caller commits).
pub async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    entries: &[LedgerEntry],
) -> Result<Applied, sqlx::Error> {
    if entries.is_empty() {
        return Ok(Applied::default());
    }
    let inserted = insert_entries(tx, entries).await?;
    let mut seen = HashSet::new();
    let new: Vec<&LedgerEntry> = entries
        .iter()
        .filter(|e| inserted.contains(&e.event_id) && seen.insert(e.event_id))
        .collect();

    // BTreeMaps: rows are locked in key order, so concurrent ledgers cannot deadlock.
    let mut tenants: BTreeMap<Uuid, TenantDelta> = BTreeMap::new();
    let mut keys: BTreeMap<Uuid, (Uuid, SpendDelta)> = BTreeMap::new();
    let mut months: BTreeMap<(Uuid, Uuid, NaiveDate), SpendDelta> = BTreeMap::new();
    let mut days: BTreeMap<(Uuid, Uuid, NaiveDate), SpendDelta> = BTreeMap::new();
    for entry in &new {
        let tenant = tenants.entry(entry.tenant_id).or_default();
        tenant.entries += 1;
        tenant.last_seq = tenant.last_seq.max(entry.stream_seq);
        match entry.kind {
            "credits.granted" => tenant.credited += entry.amount_usd,
            "credits.adjusted" => tenant.adjusted += entry.amount_usd,
            _ => tenant.spent -= entry.amount_usd,
        }
        if let (true, Some(key)) = (entry.is_usage(), entry.api_key_id) {
            let (_, spend) = keys
                .entry(key)
                .or_insert_with(|| (entry.tenant_id, SpendDelta::default()));
            spend.spent -= entry.amount_usd;
            spend.requests += 1;
            spend.last_seq = spend.last_seq.max(entry.stream_seq);
            let month =
                NaiveDate::from_ymd_opt(entry.occurred_at.year(), entry.occurred_at.month(), 1)
                    .unwrap_or_default();
            let day = entry.occurred_at.date_naive();
            for bucket in [
                months.entry((entry.tenant_id, key, month)).or_default(),
                days.entry((entry.tenant_id, key, day)).or_default(),
            ] {
                bucket.spent -= entry.amount_usd;
                bucket.requests += 1;
            }
        }
    }
    let balance_changes = tenants
        .iter()
        .map(|(id, d)| (*id, d.credited + d.adjusted - d.spent))
        .collect();
    let tenants = upsert_tenants(tx, &tenants).await?;
    let keys = upsert_keys(tx, &keys).await?;
    upsert_calendar(tx, Calendar::Months, &months).await?;
    upsert_calendar(tx, Calendar::Days, &days).await?;
    Ok(Applied {
        booked: new.len(),
        duplicates: entries.len() - new.len(),
        tenants,
        keys,
        balance_changes,
    })
}

async fn insert_entries(
    tx: &mut Transaction<'_, Postgres>,
    entries: &[LedgerEntry],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let col = |f: fn(&LedgerEntry) -> Option<String>| entries.iter().map(f).collect::<Vec<_>>();
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "INSERT INTO ledger_entries (event_id, tenant_id, kind, amount_usd, occurred_at, stream_seq, \
         api_key_id, request_id, model, prompt_tokens, completion_tokens, idempotency_key, note) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::numeric[], $5::timestamptz[], \
         $6::bigint[], $7::uuid[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::text[], \
         $13::text[]) ORDER BY 6 \
         ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    )
    .bind(entries.iter().map(|e| e.event_id).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.tenant_id).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.kind.to_owned()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.amount_usd).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.occurred_at).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.stream_seq).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.api_key_id).collect::<Vec<_>>())
    .bind(col(|e| e.request_id.clone()))
    .bind(col(|e| e.model.clone()))
    .bind(entries.iter().map(|e| e.prompt_tokens).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.completion_tokens).collect::<Vec<_>>())
    .bind(col(|e| e.idempotency_key.clone()))
    .bind(col(|e| e.note.clone()))
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

async fn upsert_tenants(
    tx: &mut Transaction<'_, Postgres>,
    tenants: &BTreeMap<Uuid, TenantDelta>,
) -> Result<Vec<TenantBalanceSnapshot>, sqlx::Error> {
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    let deltas: Vec<&TenantDelta> = tenants.values().collect();
    let rows: Vec<(Uuid, Decimal, Decimal, i64)> = sqlx::query_as(
        "INSERT INTO tenant_balances AS b (tenant_id, credited_usd, adjusted_usd, spent_usd, balance_usd, entries, last_seq) \
         SELECT * FROM UNNEST($1::uuid[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[], $6::bigint[], $7::bigint[]) \
         ORDER BY 1 \
         ON CONFLICT (tenant_id) DO UPDATE SET \
           credited_usd = b.credited_usd + EXCLUDED.credited_usd, \
           adjusted_usd = b.adjusted_usd + EXCLUDED.adjusted_usd, \
           spent_usd = b.spent_usd + EXCLUDED.spent_usd, \
           balance_usd = b.balance_usd + EXCLUDED.balance_usd, \
           entries = b.entries + EXCLUDED.entries, \
           last_seq = GREATEST(b.last_seq, EXCLUDED.last_seq), \
           updated_at = now() \
         RETURNING tenant_id, balance_usd, spent_usd, last_seq",
    )
    .bind(tenants.keys().copied().collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.credited).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.adjusted).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.spent).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.credited + d.adjusted - d.spent).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.entries).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.last_seq).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(tenant_id, balance_usd, spent_usd, seq)| TenantBalanceSnapshot {
                tenant_id,
                balance_usd: balance_usd.normalize(),
                spent_usd: spent_usd.normalize(),
                seq: u64::try_from(seq).unwrap_or(0),
            },
        )
        .collect())
}

async fn upsert_keys(
    tx: &mut Transaction<'_, Postgres>,
    keys: &BTreeMap<Uuid, (Uuid, SpendDelta)>,
) -> Result<Vec<KeySpendSnapshot>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(Uuid, Uuid, Decimal, i64)> = sqlx::query_as(
        "INSERT INTO key_spend AS k (api_key_id, tenant_id, spent_usd, requests, last_seq) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::numeric[], $4::bigint[], $5::bigint[]) ORDER BY 1 \
         ON CONFLICT (api_key_id) DO UPDATE SET \
           spent_usd = k.spent_usd + EXCLUDED.spent_usd, requests = k.requests + EXCLUDED.requests, \
           last_seq = GREATEST(k.last_seq, EXCLUDED.last_seq) \
         RETURNING api_key_id, tenant_id, spent_usd, last_seq",
    )
    .bind(keys.keys().copied().collect::<Vec<_>>())
    .bind(keys.values().map(|(t, _)| *t).collect::<Vec<_>>())
    .bind(keys.values().map(|(_, d)| d.spent).collect::<Vec<_>>())
    .bind(keys.values().map(|(_, d)| d.requests).collect::<Vec<_>>())
    .bind(keys.values().map(|(_, d)| d.last_seq).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(api_key_id, tenant_id, spent_usd, seq)| KeySpendSnapshot {
            api_key_id,
            tenant_id,
            spent_usd: spent_usd.normalize(),
            seq: u64::try_from(seq).unwrap_or(0),
        })
        .collect())
}

/// The calendar tables of spend per tenant, key and period.
#[derive(Clone, Copy)]
enum Calendar {
    /// `monthly_spend` (analytics and reports).
    Months,
    /// `daily_spend` (budgets that reset: any period is a sum of days).
    Days,
}

async fn upsert_calendar(
    tx: &mut Transaction<'_, Postgres>,
    calendar: Calendar,
    buckets: &BTreeMap<(Uuid, Uuid, NaiveDate), SpendDelta>,
) -> Result<(), sqlx::Error> {
    if buckets.is_empty() {
        return Ok(());
    }
    let (table, period) = match calendar {
        Calendar::Months => ("monthly_spend", "month"),
        Calendar::Days => ("daily_spend", "day"),
    };
    let sql = format!(
        "INSERT INTO {table} AS m (tenant_id, api_key_id, {period}, spent_usd, requests) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::date[], $4::numeric[], $5::bigint[]) ORDER BY 1, 2, 3 \
         ON CONFLICT (tenant_id, api_key_id, {period}) DO UPDATE SET \
           spent_usd = m.spent_usd + EXCLUDED.spent_usd, requests = m.requests + EXCLUDED.requests"
    );
    sqlx::query(&sql)
        .bind(buckets.keys().map(|(t, _, _)| *t).collect::<Vec<_>>())
        .bind(buckets.keys().map(|(_, k, _)| *k).collect::<Vec<_>>())
        .bind(buckets.keys().map(|(_, _, m)| *m).collect::<Vec<_>>())
        .bind(buckets.values().map(|d| d.spent).collect::<Vec<_>>())
        .bind(buckets.values().map(|d| d.requests).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(tenant_id: Uuid, balance: i64, seq: u64) -> TenantBalanceSnapshot {
        TenantBalanceSnapshot {
            tenant_id,
            balance_usd: Decimal::from(balance),
            spent_usd: Decimal::ZERO,
            seq,
        }
    }

    #[test]
    fn parts_of_a_batch_absorb_into_one_with_the_latest_snapshots() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut all = Applied {
            booked: 2,
            tenants: vec![snapshot(a, 90, 1), snapshot(b, 50, 2)],
            balance_changes: BTreeMap::from([(a, Decimal::from(-10)), (b, Decimal::from(5))]),
            ..Applied::default()
        };
        all.absorb(Applied {
            booked: 1,
            duplicates: 1,
            tenants: vec![snapshot(a, 85, 3)],
            balance_changes: BTreeMap::from([(a, Decimal::from(-5))]),
            ..Applied::default()
        });
        assert_eq!((all.booked, all.duplicates), (3, 1));
        assert_eq!(all.tenants.len(), 2);
        let a_now = all.tenants.iter().find(|t| t.tenant_id == a).unwrap();
        assert_eq!((a_now.balance_usd, a_now.seq), (Decimal::from(85), 3));
        assert_eq!(all.balance_changes[&a], Decimal::from(-15));
        assert_eq!(all.balance_changes[&b], Decimal::from(5));
    }
}

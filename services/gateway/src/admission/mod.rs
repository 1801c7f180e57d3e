//! Admission control: before a request goes upstream, its estimated cost is reserved against
//! the tenant's balance (and the tenant's and the key's budgets); after it, the reservation
//! becomes the exact charge. No room for the estimate -> 402.
//!
//! A budget caps the ledger's spend within its period (a UTC day, week or month, or all time):
//! the period's spend = the ledger's total spend - what it had booked with an event time before
//! the period began (read from Postgres when the period begins, so budgets reset without a
//! restart).
//!
//! A tenant's effective balance on this gateway = the ledger's balance (from Postgres at first
//! sight, then from the ledger's KV feed) - this gateway's charges the ledger has not booked yet
//! (by stream sequence) - its open reservations. If the feed stalls, enforcement continues
//! from this gateway's own accounting, and `/readyz` and `/metrics` say the feed is stale.

mod account;
mod peers;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::jetstream;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use futures_util::StreamExt;
use rust_decimal::Decimal;
use tollgate_events::AckObserver;
use tollgate_events::balances::{KeySpendSnapshot, TenantBalanceSnapshot, open_balance_store};
use tollgate_store::PgPool;
use tollgate_store::budget::{BudgetPeriod, SpendOwner, booked_spend};
use uuid::Uuid;

pub use account::{Account, Window};
pub use peers::Peers;

use crate::auth::AuthenticatedKey;
use crate::error::ApiError;
use crate::request::Estimate;
use tollgate_billing::ModelPrice;

/// Reservations are announced to the other gateways only when the remaining room is within
/// this many estimates: far from exhaustion, what peers cannot see yet (at most a ledger lag's
/// worth of requests) cannot exhaust the balance, and the hot path skips the broadcast.
const ANNOUNCE_WITHIN_ESTIMATES: i64 = 1000;

/// The feed is stale when a charge acknowledged this long ago is still not in the ledger's figure.
const STALE_AFTER: Duration = Duration::from_secs(10);

type Shared = Arc<Mutex<Account>>;

fn lock(account: &Shared) -> MutexGuard<'_, Account> {
    account
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Pending {
    reservation_id: Uuid,
    announced: bool,
    tenant_id: Uuid,
    tenant: Shared,
    key: Option<Shared>,
    cost: Decimal,
}

/// A spending cap over a budget period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// USD per period.
    pub usd: Decimal,
    /// The period.
    pub period: BudgetPeriod,
}

/// What a reservation must fit within.
#[derive(Clone, Copy)]
enum Cap {
    /// The tenant's balance.
    Credit,
    /// A budget's room in its current period.
    Budget(Budget),
}

/// Whose budget refused a request.
#[derive(Clone, Copy)]
enum Owner {
    Tenant,
    Key,
}

/// 402 `budget_exceeded`, naming the budget, its period and when it resets.
fn budget_exceeded(owner: Owner, budget: Budget, now: DateTime<Utc>) -> ApiError {
    let whose = match owner {
        Owner::Tenant => "The tenant's",
        Owner::Key => "This API key's",
    };
    let resets = match budget.period.resets_at(now) {
        Some(at) => format!(
            "; it resets at {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => " (it does not reset)".into(),
    };
    ApiError::InsufficientQuota {
        message: format!(
            "{whose} {} budget of {} USD is used up{resets}.",
            budget.period.adjective(),
            budget.usd.normalize()
        ),
        code: "budget_exceeded",
    }
}

/// Per-gateway admission state.
pub struct Admission {
    pool: PgPool,
    tenants: DashMap<Uuid, Shared>,
    keys: DashMap<Uuid, Shared>,
    pending: DashMap<Uuid, Pending>,
    /// One budget-window read at a time per account.
    window_reads: DashMap<Uuid, Arc<tokio::sync::Mutex<()>>>,
    peers: Arc<Peers>,
    feed_connected: AtomicBool,
    stale: AtomicBool,
}

/// An estimate held for one request; released on drop unless settled.
pub struct Reservation {
    admission: Arc<Admission>,
    id: Uuid,
    announced: bool,
    tenant_id: Uuid,
    tenant: Shared,
    key: Option<Shared>,
    amount: Decimal,
    open: bool,
}

impl Admission {
    /// Empty state; accounts load lazily from Postgres.
    pub fn new(pool: PgPool, peers: Arc<Peers>) -> Arc<Self> {
        Arc::new(Self {
            pool,
            peers,
            tenants: DashMap::new(),
            keys: DashMap::new(),
            pending: DashMap::new(),
            window_reads: DashMap::new(),
            feed_connected: AtomicBool::new(false),
            stale: AtomicBool::new(false),
        })
    }

    async fn tenant_account(&self, tenant_id: Uuid) -> Result<Shared, ApiError> {
        if let Some(account) = self.tenants.get(&tenant_id) {
            return Ok(account.clone());
        }
        let balance = tollgate_store::ledger::balance(&self.pool, tenant_id).await?;
        let seq = u64::try_from(balance.last_seq).unwrap_or(0);
        let account = Arc::new(Mutex::new(Account::new(
            balance.balance_usd,
            balance.spent_usd,
            seq,
        )));
        Ok(self.tenants.entry(tenant_id).or_insert(account).clone())
    }

    async fn key_account(&self, key_id: Uuid) -> Result<Shared, ApiError> {
        if let Some(account) = self.keys.get(&key_id) {
            return Ok(account.clone());
        }
        let (spent, seq) = tollgate_store::ledger::key_spend(&self.pool, key_id).await?;
        let account = Arc::new(Mutex::new(Account::new(
            spent,
            spent,
            u64::try_from(seq).unwrap_or(0),
        )));
        Ok(self.keys.entry(key_id).or_insert(account).clone())
    }

    /// Puts the budget period containing `now` in force on `account`, reading from Postgres
    /// what `owner` spent before it began, unless the window in force still holds.
    async fn ensure_window(
        &self,
        account: &Shared,
        owner: SpendOwner,
        period: BudgetPeriod,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        if !lock(account).needs_window(period, now) {
            return Ok(());
        }
        // One read per account and period change, however many requests arrive at midnight.
        let gate = self.window_reads.entry(owner.id()).or_default().clone();
        let _reading = gate.lock().await;
        if !lock(account).needs_window(period, now) {
            return Ok(());
        }
        match booked_spend(&self.pool, owner, period.first_day(now)).await {
            Ok(booked) => {
                let window = Window::new(period, now, booked.total, booked.in_period);
                lock(account).set_window(window);
                Ok(())
            }
            // Without Postgres, an old window of the same period stays: it counts the ended
            // period's spend in the new one (refusing early, never overspending).
            Err(err) if lock(account).has_window_of(period) => {
                tracing::warn!(error = %err, "budget period not re-read; keeping the previous one");
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Reserves the request's estimated cost: prompt tokens x input price + `max_tokens` (or the
    /// configured default) x output price. The prompt is counted exactly only when the cheap
    /// upper bound (one token per byte at most) does not fit.
    pub async fn admit(
        self: &Arc<Self>,
        key: &AuthenticatedKey,
        price: &ModelPrice,
        request: &Estimate<'_>,
    ) -> Result<Reservation, ApiError> {
        let now = Utc::now();
        let tenant = self.tenant_account(key.tenant_id).await?;
        if let Some(budget) = key.tenant_budget {
            let owner = SpendOwner::Tenant(key.tenant_id);
            self.ensure_window(&tenant, owner, budget.period, now)
                .await?;
        }
        let key_account = match key.budget {
            Some(budget) => {
                let account = self.key_account(key.key_id).await?;
                let owner = SpendOwner::Key(key.key_id);
                self.ensure_window(&account, owner, budget.period, now)
                    .await?;
                Some(account)
            }
            None => None,
        };
        let upper = request.upper_cost(price);
        let estimate = if self.fits(key, &tenant, key_account.as_ref(), upper) {
            upper
        } else {
            request.counted_cost(price)
        };

        let near = estimate * Decimal::from(ANNOUNCE_WITHIN_ESTIMATES);
        let mut tenant_guard = lock(&tenant);
        let tenant_room = self.room(&tenant_guard, key.tenant_id, Cap::Credit);
        let mut announce = tenant_room - estimate < near;
        if tenant_room < estimate {
            return Err(ApiError::InsufficientQuota {
                message: "You exceeded your current quota: the tenant's credit does not cover this request's estimated cost.".into(),
                code: "insufficient_quota",
            });
        }
        if let Some(budget) = key.tenant_budget {
            let room = self.room(&tenant_guard, key.tenant_id, Cap::Budget(budget));
            announce |= room - estimate < near;
            if room < estimate {
                return Err(budget_exceeded(Owner::Tenant, budget, now));
            }
        }
        if let (Some(account), Some(budget)) = (&key_account, key.budget) {
            let mut key_guard = lock(account);
            let key_room = self.room(&key_guard, key.key_id, Cap::Budget(budget));
            announce |= key_room - estimate < near;
            if key_room < estimate {
                return Err(budget_exceeded(Owner::Key, budget, now));
            }
            key_guard.reserve(estimate);
        }
        tenant_guard.reserve(estimate);
        drop(tenant_guard);
        let id = Uuid::now_v7();
        let budgeted_key = key_account.as_ref().map(|_| key.key_id);
        if announce {
            self.peers
                .announce_reserve(id, key.tenant_id, budgeted_key, estimate);
        }
        Ok(Reservation {
            announced: announce,
            admission: self.clone(),
            id,
            tenant_id: key.tenant_id,
            tenant,
            key: key_account,
            amount: estimate,
            open: true,
        })
    }

    /// Room left for new reservations: a tenant's balance, or a budget minus the booked spend
    /// of its period, less what this gateway and its peers have charged or reserved beyond the
    /// ledger's figure.
    fn room(&self, account: &Account, owner: Uuid, cap: Cap) -> Decimal {
        let pending = account.outstanding() + self.peers.outstanding(owner, account.seq());
        match cap {
            Cap::Credit => account.base() - pending,
            Cap::Budget(budget) => budget.usd - account.period_spent(budget.period) - pending,
        }
    }

    /// Whether `estimate` fits the tenant's credit and every budget (without reserving).
    fn fits(
        &self,
        key: &AuthenticatedKey,
        tenant: &Shared,
        key_account: Option<&Shared>,
        estimate: Decimal,
    ) -> bool {
        let tenant_fits = {
            let tenant = lock(tenant);
            let fits = |cap| self.room(&tenant, key.tenant_id, cap) >= estimate;
            fits(Cap::Credit) && key.tenant_budget.is_none_or(|b| fits(Cap::Budget(b)))
        };
        let key_fits = match (key_account, key.budget) {
            (Some(account), Some(budget)) => {
                self.room(&lock(account), key.key_id, Cap::Budget(budget)) >= estimate
            }
            _ => true,
        };
        tenant_fits && key_fits
    }

    /// Follows the ledger's balance feed until the task is aborted; reconnects on failure
    /// (and waits for the ledger to create the bucket).
    pub fn spawn_feed(
        self: &Arc<Self>,
        js: jetstream::Context,
        stream: String,
    ) -> tokio::task::JoinHandle<()> {
        let admission = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(err) = admission.follow_feed(&js, &stream).await {
                    tracing::warn!(error = %err, "balance feed lost; enforcing from own accounting");
                }
                admission.feed_connected.store(false, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    async fn follow_feed(
        &self,
        js: &jetstream::Context,
        stream: &str,
    ) -> Result<(), tollgate_events::EventsError> {
        use tollgate_events::EventsError;
        // The ledger creates the bucket; until it has, this fails and is retried.
        let store = open_balance_store(js, stream).await?;
        // Every key's latest value first, then each change (`watch_all` starts with the next
        // change only: a gateway started after the ledger's last update would not see it).
        let mut watch = store
            .watch_with_history(">")
            .await
            .map_err(EventsError::consumer)?;
        self.feed_connected.store(true, Ordering::Relaxed);
        while let Some(entry) = watch.next().await {
            let entry = entry.map_err(EventsError::consumer)?;
            if let Some(id) = entry.key.strip_prefix("tenant.") {
                if let (Ok(id), Ok(value)) = (
                    Uuid::parse_str(id),
                    serde_json::from_slice::<TenantBalanceSnapshot>(&entry.value),
                ) && let Some(account) = self.tenants.get(&id)
                {
                    lock(&account).ledger_update(value.balance_usd, value.spent_usd, value.seq);
                }
            } else if let Some(id) = entry.key.strip_prefix("key.")
                && let (Ok(id), Ok(value)) = (
                    Uuid::parse_str(id),
                    serde_json::from_slice::<KeySpendSnapshot>(&entry.value),
                )
                && let Some(account) = self.keys.get(&id)
            {
                lock(&account).ledger_update(value.spent_usd, value.spent_usd, value.seq);
            }
        }
        Err(EventsError::SubscriptionEnded)
    }

    /// Recomputes whether the feed is stale (no feed, or an own charge uncovered for 10 s).
    pub fn check_staleness(&self) -> bool {
        let now = tokio::time::Instant::now();
        let lagging = self.tenants.iter().any(|entry| {
            lock(entry.value())
                .oldest_uncovered()
                .is_some_and(|at| now.duration_since(at) > STALE_AFTER)
        });
        self.peers.expire();
        let stale = lagging || !self.feed_connected.load(Ordering::Relaxed);
        self.stale.store(stale, Ordering::Relaxed);
        stale
    }

    /// The last staleness verdict.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }
}

impl AckObserver for Admission {
    fn acked(&self, event_id: Uuid, sequence: u64) {
        if let Some((_, pending)) = self.pending.remove(&event_id) {
            lock(&pending.tenant).charge_acked(pending.cost, sequence);
            if let Some(key) = &pending.key {
                lock(key).charge_acked(pending.cost, sequence);
            }
            if !pending.announced {
                return;
            }
            self.peers.announce_settle(
                pending.reservation_id,
                pending.tenant_id,
                pending.cost,
                sequence,
            );
        }
    }
}

impl Reservation {
    /// Replaces the estimate with the exact cost of the request's usage event `event_id`
    /// (call before the event is published, so its ack finds the charge).
    pub fn settle(mut self, event_id: Uuid, cost: Decimal) {
        self.release_locally();
        if cost <= Decimal::ZERO {
            if self.announced {
                self.admission
                    .peers
                    .announce_release(self.id, self.tenant_id);
            }
        } else {
            lock(&self.tenant).charge(cost);
            if let Some(key) = &self.key {
                lock(key).charge(cost);
            }
            self.admission.pending.insert(
                event_id,
                Pending {
                    reservation_id: self.id,
                    announced: self.announced,
                    tenant_id: self.tenant_id,
                    tenant: self.tenant.clone(),
                    key: self.key.clone(),
                    cost,
                },
            );
        }
    }

    /// Releases the estimate here; returns whether it was still open.
    fn release_locally(&mut self) -> bool {
        let was_open = self.open;
        if std::mem::take(&mut self.open) {
            lock(&self.tenant).release(self.amount);
            if let Some(key) = &self.key {
                lock(key).release(self.amount);
            }
        }
        was_open
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.release_locally() && self.announced {
            self.admission
                .peers
                .announce_release(self.id, self.tenant_id);
        }
    }
}

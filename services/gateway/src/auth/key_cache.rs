//! In-memory cache of authenticated keys in front of Postgres.
//!
//! Hits cost one SHA-256 and one sharded-map lookup. Revocations and settings changes (of a key
//! or its tenant) reach every gateway within about one poll interval: a background task asks
//! Postgres what changed recently and evicts what it cached before; the instance that made the
//! change evicts at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use subtle::ConstantTimeEq;
use tollgate_semcache::{Mode, Precision};
use tollgate_store::PgPool;
use uuid::Uuid;

use super::secret::{hash_key, looks_like_key};
use crate::admission::Budget;
use crate::error::ApiError;
use crate::limits::LimitSettings;

/// What the request path needs to know about a valid key.
#[derive(Debug, Clone)]
pub struct AuthenticatedKey {
    /// Key id.
    pub key_id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Models the key may use; `None`: all.
    pub allowed_models: Option<Vec<String>>,
    /// The key's spending cap per period, if any.
    pub budget: Option<Budget>,
    /// Its tenant's spending cap per period (all keys together), if any.
    pub tenant_budget: Option<Budget>,
    /// Output limit of a request that sets none (`None`: the route's, then the gateway's).
    pub default_max_tokens: Option<u32>,
    /// Most output tokens (`max_tokens x n`) one request may ask for (`None`: no key ceiling).
    pub max_output_tokens: Option<u32>,
    /// How the key may use the response cache.
    pub cache: KeyCachePolicy,
    /// The key's own rate limits (unset ones: the gateway's key defaults).
    pub limits: LimitSettings,
    /// Its tenant's rate limits, all keys together (unset: the tenant defaults).
    pub tenant_limits: LimitSettings,
}

/// A key's cache settings, its tenant's filled in where the key sets none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyCachePolicy {
    /// Tiers in use.
    pub mode: Mode,
    /// Similarity threshold (`None`: the gateway's).
    pub threshold: Option<f32>,
    /// How long stored answers are served (`None`: the gateway's).
    pub ttl: Option<Duration>,
    /// Semantic hits whatever the temperature.
    pub any_temperature: bool,
    /// Checks a semantic candidate must pass.
    pub precision: Precision,
}

impl KeyCachePolicy {
    fn of(found: &tollgate_store::keys::KeyByHash) -> Self {
        let key = &found.key;
        let seconds = |s: i32| Duration::from_secs(u64::try_from(s).unwrap_or(0));
        Self {
            mode: key
                .cache
                .as_deref()
                .unwrap_or(&found.tenant_cache_mode)
                .parse::<Mode>()
                .unwrap_or(Mode::Off),
            threshold: key.cache_threshold,
            ttl: key
                .cache_ttl_seconds
                .or(found.tenant_cache_ttl_seconds)
                .map(seconds),
            any_temperature: key.cache_any_temperature,
            precision: key.cache_precision.parse().unwrap_or_default(),
        }
    }
}

/// Stored limits as the limiter takes them (the store only holds positive values).
fn limit_settings(
    rpm: Option<i32>,
    tpm: Option<i32>,
    max_concurrent: Option<i32>,
) -> LimitSettings {
    let positive =
        |value: Option<i32>| value.and_then(|v| u32::try_from(v).ok()).filter(|v| *v > 0);
    LimitSettings {
        rpm: positive(rpm),
        tpm: positive(tpm),
        max_concurrent: positive(max_concurrent),
    }
}

impl AuthenticatedKey {
    /// Whether this key may use `model`.
    pub fn may_use(&self, model: &str) -> bool {
        self.allowed_models
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|m| m == model))
    }
}

#[derive(Clone)]
enum Entry {
    Valid {
        key: Arc<AuthenticatedKey>,
        stored_hash: [u8; 32],
        fetched: Instant,
    },
    Invalid {
        fetched: Instant,
    },
}

/// How long cache entries live.
#[derive(Debug, Clone, Copy)]
pub struct CacheTtl {
    /// A valid key is re-read after this long (picks up edits).
    pub valid: Duration,
    /// An unknown or revoked key is re-checked after this long.
    pub invalid: Duration,
}

/// Keys by SHA-256.
pub struct KeyCache {
    pool: PgPool,
    entries: DashMap<[u8; 32], Entry>,
    ttl: CacheTtl,
    max_entries: usize,
}

const UNAUTHENTICATED: ApiError = ApiError::Unauthenticated("invalid or revoked API key");

impl KeyCache {
    /// An empty cache over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            entries: DashMap::new(),
            ttl: CacheTtl {
                valid: Duration::from_secs(60),
                invalid: Duration::from_secs(2),
            },
            max_entries: 200_000,
        }
    }

    /// Resolves a presented key, from memory when possible.
    pub async fn authenticate(&self, presented: &str) -> Result<Arc<AuthenticatedKey>, ApiError> {
        if !looks_like_key(presented) {
            return Err(UNAUTHENTICATED);
        }
        let hash = hash_key(presented);
        if let Some(entry) = self.entries.get(&hash).map(|e| e.value().clone()) {
            match entry {
                Entry::Valid {
                    key,
                    stored_hash,
                    fetched,
                } if fetched.elapsed() < self.ttl.valid => {
                    return if bool::from(stored_hash.ct_eq(&hash)) {
                        Ok(key)
                    } else {
                        Err(UNAUTHENTICATED)
                    };
                }
                Entry::Invalid { fetched } if fetched.elapsed() < self.ttl.invalid => {
                    return Err(UNAUTHENTICATED);
                }
                _ => {}
            }
        }
        self.load(hash).await
    }

    async fn load(&self, hash: [u8; 32]) -> Result<Arc<AuthenticatedKey>, ApiError> {
        // Taken before the read: an entry read while a change commits counts as older than it.
        let now = Instant::now();
        let found = tollgate_store::keys::find_by_hash(&self.pool, &hash).await?;
        self.make_room();
        let valid = found.filter(|f| f.key.revoked_at.is_none()).and_then(|f| {
            let stored: [u8; 32] = f.key_hash.as_slice().try_into().ok()?;
            bool::from(stored.ct_eq(&hash)).then_some((f, stored))
        });
        match valid {
            Some((found, stored_hash)) => {
                let cache = KeyCachePolicy::of(&found);
                let tenant = found.tenant_limits;
                let tenant_limits = limit_settings(tenant.rpm, tenant.tpm, tenant.max_concurrent);
                let key = found.key;
                let key = Arc::new(AuthenticatedKey {
                    key_id: key.id,
                    tenant_id: key.tenant_id,
                    allowed_models: key.allowed_models,
                    budget: key.budget_usd.map(|usd| Budget {
                        usd,
                        period: key.budget_period,
                    }),
                    tenant_budget: found
                        .tenant_budget
                        .map(|(usd, period)| Budget { usd, period }),
                    default_max_tokens: key.default_max_tokens.and_then(|t| t.try_into().ok()),
                    max_output_tokens: key.max_output_tokens.and_then(|t| t.try_into().ok()),
                    cache,
                    limits: limit_settings(key.rpm, key.tpm, key.max_concurrent),
                    tenant_limits,
                });
                self.entries.insert(
                    hash,
                    Entry::Valid {
                        key: key.clone(),
                        stored_hash,
                        fetched: now,
                    },
                );
                Ok(key)
            }
            None => {
                self.entries.insert(hash, Entry::Invalid { fetched: now });
                Err(UNAUTHENTICATED)
            }
        }
    }

    /// Bounds memory under a flood of random keys: drop negative entries first, then all.
    fn make_room(&self) {
        if self.entries.len() < self.max_entries {
            return;
        }
        self.entries.retain(|_, e| matches!(e, Entry::Valid { .. }));
        if self.entries.len() >= self.max_entries {
            self.entries.clear();
        }
    }

    /// Forgets every key of `tenant` (after its settings changed), so the next request reloads.
    pub fn forget_tenant(&self, tenant: Uuid) {
        self.forget_tenant_fetched_before(tenant, Duration::ZERO);
    }

    /// Forgets the keys of `tenant` fetched longer than `age` ago.
    fn forget_tenant_fetched_before(&self, tenant: Uuid, age: Duration) {
        self.entries.retain(|_, e| {
            !matches!(e, Entry::Valid { key, fetched, .. }
                if key.tenant_id == tenant && fetched.elapsed() >= age)
        });
    }

    /// Forgets a key (after a revocation).
    pub fn evict(&self, hash: &[u8]) {
        if let Ok(hash) = <[u8; 32]>::try_from(hash) {
            self.entries.insert(
                hash,
                Entry::Invalid {
                    fetched: Instant::now(),
                },
            );
        }
    }

    /// Forgets a key whose settings changed, so the next request reloads them.
    pub fn reload(&self, hash: &[u8]) {
        if let Ok(hash) = <[u8; 32]>::try_from(hash) {
            self.entries.remove(&hash);
        }
    }

    /// Evicts what changed (on any gateway) within the last `window`: revoked keys, and keys
    /// cached before their own or their tenant's settings changed. Returns how many were evicted.
    pub async fn evict_recently_changed(
        &self,
        window: Duration,
    ) -> Result<usize, tollgate_store::StoreError> {
        let seconds = window.as_secs_f64();
        let keys = tollgate_store::keys::changed_within(&self.pool, seconds).await?;
        let tenants = tollgate_store::tenants::changed_within(&self.pool, seconds).await?;
        let mut evicted = 0;
        for change in keys {
            let Ok(hash) = <[u8; 32]>::try_from(change.key_hash.as_slice()) else {
                continue;
            };
            // Read, release the shard lock, then write.
            let fetched = match self.entries.get(&hash).as_deref() {
                Some(Entry::Valid { fetched, .. }) => *fetched,
                _ => continue,
            };
            if change.revoked {
                self.evict(&hash);
                evicted += 1;
            } else if fetched.elapsed() >= age_with_margin(change.seconds_ago) {
                self.reload(&hash);
                evicted += 1;
            }
        }
        for (tenant, seconds_ago) in tenants {
            let before = self.entries.len();
            self.forget_tenant_fetched_before(tenant, age_with_margin(seconds_ago));
            evicted += before.saturating_sub(self.entries.len());
        }
        Ok(evicted)
    }

    /// Polls revocations and settings changes every `interval` until the task is aborted.
    pub fn spawn_change_watch(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let cache = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // The window is wide enough to survive a few failed polls.
                if let Err(err) = cache.evict_recently_changed(interval * 20).await {
                    tracing::warn!(error = %err, "key change poll failed");
                }
            }
        })
    }
}

/// How long ago a change is taken to be, one second earlier than the database says: a key read
/// while the change was committing is then reloaded too (harmless), never kept stale.
fn age_with_margin(seconds_ago: f64) -> Duration {
    Duration::from_secs_f64((seconds_ago - 1.0).max(0.0))
}

//! Scoped operator tokens: besides the root admin token, named tokens with a [`Role`], minted
//! through the API (shown once, stored as SHA-256 hashes) and revocable. A revoked token stops
//! working on this gateway at once and on every other within [`CACHE_TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tollgate_store::PgPool;
use uuid::Uuid;

use super::secret::hash_key;
use tollgate_store::StoreError;

/// Every operator token starts with this.
pub const OPERATOR_TOKEN_PREFIX: &str = "tgo_";
/// How long a verified (or refused) token is trusted without asking the database again.
pub const CACHE_TTL: Duration = Duration::from_secs(2);
/// Tokens remembered at most (the cache starts over when full).
const CACHE_CAPACITY: usize = 4096;

/// Whether `token` has the shape of a minted token (`tgo_` + 43 base62 digits): anything else
/// is refused without a database lookup.
fn looks_like_operator_token(token: &str) -> bool {
    token
        .strip_prefix(OPERATOR_TOKEN_PREFIX)
        .is_some_and(|rest| rest.len() == 43 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// What an operator token may do. Each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read-only: every `GET` of the management API.
    Viewer,
    /// Viewer, plus credits, adjustments and auto top-ups.
    Billing,
    /// Everything the root admin token may do.
    Admin,
}

impl Role {
    /// `admin`, `billing` or `viewer`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Self::Admin),
            "billing" => Some(Self::Billing),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Billing => "billing",
            Self::Viewer => "viewer",
        }
    }

    /// Whether this role may call a route that needs `needed`.
    pub fn allows(self, needed: Self) -> bool {
        self >= needed
    }
}

/// A live operator token, as verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedOperator {
    /// The token's id (its actor id in the audit log).
    pub id: Uuid,
    /// What it may do.
    pub role: Role,
}

/// Token hash -> what it was found to be, and when.
type Answers = HashMap<[u8; 32], (Option<VerifiedOperator>, Instant)>;

/// Verifies operator tokens against Postgres, remembering answers for [`CACHE_TTL`].
pub struct OperatorTokens {
    pool: PgPool,
    cache: Mutex<Answers>,
}

impl OperatorTokens {
    /// Tokens of `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The live token `presented` is, or `None` (unknown, revoked or not a token's shape).
    pub async fn verify(&self, presented: &str) -> Result<Option<VerifiedOperator>, StoreError> {
        if !looks_like_operator_token(presented) {
            return Ok(None);
        }
        let hash = hash_key(presented);
        if let Some((known, at)) = self.lock().get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(*known);
        }
        let row = tollgate_store::operators::live_by_hash(&self.pool, &hash).await?;
        let verified = row.and_then(|row| {
            Some(VerifiedOperator {
                id: row.id,
                role: Role::parse(&row.role)?,
            })
        });
        let mut cache = self.lock();
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(hash, (verified, Instant::now()));
        Ok(verified)
    }

    /// Forgets every remembered answer (after a revoke on this gateway).
    pub fn forget_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Answers> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.allows(Role::Billing) && Role::Admin.allows(Role::Viewer));
        assert!(Role::Billing.allows(Role::Viewer) && !Role::Billing.allows(Role::Admin));
        assert!(!Role::Viewer.allows(Role::Billing));
        for role in [Role::Admin, Role::Billing, Role::Viewer] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}

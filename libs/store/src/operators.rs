//! Scoped operator tokens: named, with a role, stored as SHA-256 hashes, revocable.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::StoreError;

/// An operator token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OperatorToken {
    /// Id (the actor id in the audit log).
    pub id: Uuid,
    /// Name given at creation.
    pub name: String,
    /// `admin`, `billing` or `viewer`.
    pub role: String,
    /// The token's first characters, to recognise it.
    pub token_prefix: String,
    /// Who minted it (`root` or an operator token id).
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked token authenticates nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, name, role, token_prefix, created_by, created_at, revoked_at";

/// What a new token is stored as.
pub struct NewOperatorToken<'a> {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: &'a str,
    /// Role.
    pub role: &'a str,
    /// SHA-256 of the token.
    pub hash: &'a [u8; 32],
    /// The token's first characters.
    pub prefix: &'a str,
    /// Who mints it.
    pub created_by: &'a str,
}

/// Stores a new token.
pub async fn create(
    pool: &PgPool,
    token: &NewOperatorToken<'_>,
) -> Result<OperatorToken, StoreError> {
    Ok(sqlx::query_as::<_, OperatorToken>(&format!(
        "INSERT INTO operator_tokens (id, name, role, token_hash, token_prefix, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(token.id)
    .bind(token.name)
    .bind(token.role)
    .bind(token.hash.as_slice())
    .bind(token.prefix)
    .bind(token.created_by)
    .fetch_one(pool)
    .await?)
}

/// The live (not revoked) token with this hash.
pub async fn live_by_hash(
    pool: &PgPool,
    hash: &[u8; 32],
) -> Result<Option<OperatorToken>, StoreError> {
    Ok(sqlx::query_as::<_, OperatorToken>(&format!(
        "SELECT {COLUMNS} FROM operator_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
    ))
    .bind(hash.as_slice())
    .fetch_optional(pool)
    .await?)
}

/// Every token, newest first.
pub async fn list(pool: &PgPool) -> Result<Vec<OperatorToken>, StoreError> {
    Ok(sqlx::query_as::<_, OperatorToken>(&format!(
        "SELECT {COLUMNS} FROM operator_tokens ORDER BY created_at DESC, id DESC"
    ))
    .fetch_all(pool)
    .await?)
}

/// Revokes a token and every token minted with it, transitively (a second revoke keeps the
/// first time); the token as revoked, `None` if there is no such token.
pub async fn revoke(pool: &PgPool, id: Uuid) -> Result<Option<OperatorToken>, StoreError> {
    let revoked = sqlx::query_as::<_, OperatorToken>(&format!(
        "WITH RECURSIVE minted(id) AS ( \
             SELECT id FROM operator_tokens WHERE id = $1 \
             UNION SELECT t.id FROM operator_tokens t JOIN minted m ON t.created_by = m.id::text) \
         UPDATE operator_tokens SET revoked_at = coalesce(revoked_at, now()) \
         WHERE id IN (SELECT id FROM minted) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(revoked.into_iter().find(|token| token.id == id))
}

//! Postgres access for Tollgate: the pool, the migration runner and the repositories.
//!
//! Every function takes the pool (or a transaction) explicitly: no global state. Queries on
//! tenant data are scoped by tenant id.

pub mod alerts;
pub mod analytics;
pub mod audit;
pub mod budget;
mod error;
pub mod keys;
pub mod ledger;
pub mod operators;
pub mod tenants;
pub mod topup;

pub use error::{StoreError, is_permanent};
pub use sqlx::PgPool;

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

/// Opens a connection pool.
pub async fn connect(database_url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(database_url)
        .await?;
    Ok(pool)
}

/// Applies pending migrations from `migrations/` (safe to run concurrently: sqlx takes an
/// advisory lock).
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::migrate!("../../migrations").run(pool).await?;
    Ok(())
}

/// Cheap liveness query for readiness checks.
pub async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

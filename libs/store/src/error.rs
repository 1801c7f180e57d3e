use thiserror::Error;

/// Errors of the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A query or connection failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// True when the error is a violated foreign key (e.g. the tenant does not exist).
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, Self::Database(sqlx::Error::Database(db)) if db.is_foreign_key_violation())
    }

    /// True when Postgres refused a value itself (SQLSTATE class 22, "data exception": a NUL
    /// character in text, a number out of its column's range...): the input was bad, the
    /// database is fine.
    pub fn is_invalid_data(&self) -> bool {
        matches!(self, Self::Database(err) if sqlstate_class_in(err, &["22"]))
    }
}

/// Whether `err` is a Postgres error whose SQLSTATE is in one of `classes`.
fn sqlstate_class_in(err: &sqlx::Error, classes: &[&str]) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.code().is_some_and(|code| classes.iter().any(|class| code.starts_with(class))))
}

/// Whether `err` will happen again for the same rows, whatever the database's health: Postgres
/// refused a value (SQLSTATE class 22, data exception), a constraint (23) or a limit such as an
/// index row size (54), or a value could not be encoded. Everything else (connection, pool
/// timeout, serialization failure, shutdown, and a result our code cannot decode, which is our
/// bug or a schema mismatch, not the data's) may pass on a retry or a fix.
pub fn is_permanent(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Encode(_)) || sqlstate_class_in(err, &["22", "23", "54"])
}

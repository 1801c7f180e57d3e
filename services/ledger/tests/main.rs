//! The ledger's integration tests, one binary, against real NATS JetStream and Postgres.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ledger;
mod migrate;

//! The events crate's integration tests, one binary, against real nats-servers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod publisher;
mod servers;

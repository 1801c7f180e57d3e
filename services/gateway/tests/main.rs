//! The gateway's integration tests, one binary (each extra test binary links the whole
//! dependency graph again): a module per area, against real NATS JetStream, Postgres and the
//! mock provider.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admission;
mod anthropic;
mod anthropic_sdk;
mod auth;
mod budgets;
mod cache;
mod chat;
mod gemini;
mod isolation;
mod limits;
mod management;
mod nats_auth;
mod openai_sdk;
mod operators;
mod poison;
mod rate_limits;
mod routing;
mod self_service;
mod spool;
mod support;
mod traces;

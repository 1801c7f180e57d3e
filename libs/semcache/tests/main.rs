//! The semantic cache's integration tests, one binary: the real model and the real vector
//! stores.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod embedder;
mod evaluation;
mod memo;
mod store;

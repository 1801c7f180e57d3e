//! The Tollgate gateway: an OpenAI-compatible data plane that authenticates tenant keys,
//! relays requests to upstream providers (streams chunk by chunk), prices every request
//! exactly and publishes it as a `usage.recorded` event; plus the management API.

pub mod admission;
pub mod api;
pub mod auth;
mod breaker_watch;
pub mod cache;
pub mod chat;
pub mod client_text;
pub mod config;
pub mod console;
pub mod dispatch;
pub mod error;
pub mod headers;
pub mod limits;
pub mod messages;
pub mod metrics;
mod probe;
pub mod request;
mod server;
mod spans;
pub mod state;
pub mod upstream;

pub use config::{ConfigError, GatewayConfig};
pub use server::{Gateway, StartError, run};

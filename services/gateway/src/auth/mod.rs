//! Authentication: API keys (generated, hashed, cached, revoked) and the operator token.

mod key_cache;
mod secret;

pub use key_cache::{AuthenticatedKey, KeyCache, KeyCachePolicy};
pub use secret::{AdminToken, generate_api_key, hash_key, presented_credential};

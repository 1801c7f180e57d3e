//! Authentication: API keys (generated, hashed, cached, revoked), the root operator token and
//! scoped operator tokens.

mod key_cache;
mod operators;
mod secret;

pub use key_cache::{AuthenticatedKey, KeyCache, KeyCachePolicy};
pub use operators::{OPERATOR_TOKEN_PREFIX, OperatorTokens, Role, VerifiedOperator};
pub use secret::{AdminToken, generate_api_key, generate_secret, hash_key, presented_credential};

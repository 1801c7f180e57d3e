//! Key material: generation, hashing and constant-time comparison.

use actix_web::HttpRequest;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every Tollgate API key starts with this.
pub const KEY_PREFIX: &str = "tg_";
/// Random bytes in a key (256 bits).
const KEY_RANDOM_BYTES: usize = 32;
/// Base62 digits needed for 32 bytes (62^43 > 2^256).
const KEY_BASE62_LEN: usize = 43;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new API key: `tg_` + 32 random bytes from the OS as 43 base62 digits.
pub fn generate_api_key() -> Result<String, getrandom::Error> {
    generate_secret(KEY_PREFIX)
}

/// `prefix` + 32 random bytes from the OS as 43 base62 digits.
pub fn generate_secret(prefix: &str) -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; KEY_RANDOM_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{prefix}{}", base62(&bytes)))
}

/// Big-endian base62 of `bytes`, left-padded with `0` to [`KEY_BASE62_LEN`] digits.
fn base62(bytes: &[u8]) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::with_capacity(KEY_BASE62_LEN);
    while number.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in &mut number {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = u8::try_from(value / 62).unwrap_or(0);
            remainder = value % 62;
        }
        digits.push(BASE62[remainder as usize]);
    }
    while digits.len() < KEY_BASE62_LEN {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// Whether `key` has the shape of a Tollgate key (cheap pre-check before hashing).
pub fn looks_like_key(key: &str) -> bool {
    key.len() == KEY_PREFIX.len() + KEY_BASE62_LEN
        && key.starts_with(KEY_PREFIX)
        && key[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

/// SHA-256 of a key, as stored.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The credential a client presented: `Authorization: Bearer <x>` or `x-api-key: <x>`
/// (the header Anthropic's SDK sends).
pub fn presented_credential(req: &HttpRequest) -> Option<&str> {
    let headers = req.headers();
    if let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The platform operator's token, kept only as a hash and compared in constant time.
#[derive(Clone)]
pub struct AdminToken {
    hash: [u8; 32],
}

impl AdminToken {
    /// Wraps the configured token.
    pub fn new(token: &str) -> Self {
        Self {
            hash: hash_key(token),
        }
    }

    /// Constant-time check of a presented token (hashing first makes it length-independent).
    pub fn verify(&self, presented: &str) -> bool {
        hash_key(presented).ct_eq(&self.hash).into()
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_well_formed_and_long() -> Result<(), getrandom::Error> {
        let a = generate_api_key()?;
        let b = generate_api_key()?;
        assert_ne!(a, b);
        assert!(looks_like_key(&a) && looks_like_key(&b), "{a}");
        assert_eq!(a.len(), 46);
        Ok(())
    }

    #[test]
    fn base62_encodes_extremes() {
        assert_eq!(base62(&[0; 32]), "0".repeat(43));
        let max = base62(&[0xff; 32]);
        assert_eq!(max.len(), 43);
        // 2^256 - 1 needs all 43 digits (62^42 < 2^256 < 62^43).
        assert!(!max.starts_with('0'), "{max}");
        assert_eq!(base62(&[0, 61]), format!("{}z", "0".repeat(42)));
        assert_eq!(base62(&[0, 62]), format!("{}10", "0".repeat(41)));
    }

    #[test]
    fn admin_token_checks_exactly() {
        let token = AdminToken::new("s3cret-operator-token");
        assert!(token.verify("s3cret-operator-token"));
        assert!(!token.verify("s3cret-operator-toke"));
        assert!(!token.verify(""));
        assert!(!format!("{token:?}").contains("s3cret"));
    }

    #[test]
    fn shape_check_rejects_wrong_keys() {
        assert!(!looks_like_key("sk-abc"));
        assert!(!looks_like_key(&format!("tg_{}", "a".repeat(42))));
        assert!(!looks_like_key(&format!("tg_{}!", "a".repeat(42))));
    }
}

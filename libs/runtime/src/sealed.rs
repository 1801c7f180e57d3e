//! Secrets at rest (webhook signing secrets): sealed with AES-256-GCM under a key from the
//! environment before they are stored, opened where they are used.
//!
//! `TOLLGATE_SECRETS_KEY` is the current key (64 hex characters): new secrets are sealed with
//! it. `TOLLGATE_SECRETS_OLD_KEYS` (comma-separated) are earlier keys, used only to open what
//! they sealed; a reader re-seals such a value with the current key. A stored value reads
//! `v1:<key id>:<hex of nonce, ciphertext and tag>`, the key id being the first 8 hex digits of
//! the key's SHA-256; a value without the prefix is a plaintext from before sealing (or from a
//! deployment without a key) and is opened as it is.

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const PREFIX: &str = "v1:";

/// One key and its id.
#[derive(Clone)]
struct SealingKey {
    id: String,
    key: LessSafeKey,
}

impl SealingKey {
    fn from_hex(hex_key: &str) -> Result<Self, String> {
        let bytes = hex::decode(hex_key.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or("a secrets key is 64 hex characters (32 random bytes)")?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let unbound =
            UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| "not an AES-256 key".to_owned())?;
        Ok(Self {
            id: hex::encode(&digest.as_ref()[..4]),
            key: LessSafeKey::new(unbound),
        })
    }
}

/// Why a stored secret could not be opened or sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Sealed with a key that is neither the current nor an old one.
    #[error("sealed with key {0}, which is not configured (TOLLGATE_SECRETS_KEY / _OLD_KEYS)")]
    UnknownKey(String),
    /// Damaged, or not sealed by us.
    #[error("a sealed secret does not open (damaged, or the key id is wrong)")]
    Corrupt,
    /// No randomness for a nonce.
    #[error("no randomness for a nonce")]
    Randomness,
}

/// The keys that seal and open secrets.
#[derive(Clone, Default)]
pub struct Sealer {
    current: Option<SealingKey>,
    old: Vec<SealingKey>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("current", &self.current.as_ref().map(|k| &k.id))
            .field("old", &self.old.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

impl Sealer {
    /// From the current key and the old ones (`None` or empty: none).
    pub fn new(current: Option<&str>, old: Option<&str>) -> Result<Self, String> {
        let current = current
            .filter(|k| !k.trim().is_empty())
            .map(SealingKey::from_hex)
            .transpose()?;
        let old = old
            .unwrap_or_default()
            .split(',')
            .filter(|k| !k.trim().is_empty())
            .map(SealingKey::from_hex)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { current, old })
    }

    /// Whether new secrets are sealed (a current key is set).
    pub fn seals(&self) -> bool {
        self.current.is_some()
    }

    /// The stored form of `secret`: sealed with the current key, or as it is without one.
    pub fn seal(&self, secret: &str) -> Result<String, SealError> {
        let Some(key) = &self.current else {
            return Ok(secret.to_owned());
        };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Randomness)?;
        let mut data = secret.as_bytes().to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.id.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Corrupt)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}:{}", key.id, hex::encode(sealed)))
    }

    /// The secret in `stored`, and whether it should be stored again (sealed with an old key,
    /// or plaintext while a current key is set).
    pub fn open(&self, stored: &str) -> Result<(String, bool), SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok((stored.to_owned(), self.seals()));
        };
        let (id, sealed) = rest.split_once(':').ok_or(SealError::Corrupt)?;
        let key = self
            .current
            .iter()
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let mut data = hex::decode(sealed).map_err(|_| SealError::Corrupt)?;
        if data.len() < NONCE_LEN {
            return Err(SealError::Corrupt);
        }
        let mut ciphertext = data.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&data).map_err(|_| SealError::Corrupt)?;
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(id.as_bytes()), &mut ciphertext)
            .map_err(|_| SealError::Corrupt)?;
        let secret = String::from_utf8(plain.to_vec()).map_err(|_| SealError::Corrupt)?;
        let stale = self.current.as_ref().is_some_and(|c| c.id != id);
        Ok((secret, stale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const KEY_B: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_reveals_nothing_stored() {
        let sealer = Sealer::new(Some(KEY_A), None).unwrap();
        let stored = sealer.seal("whsec_abc").unwrap();
        assert!(
            stored.starts_with("v1:") && !stored.contains("whsec"),
            "{stored}"
        );
        assert_ne!(
            stored,
            sealer.seal("whsec_abc").unwrap(),
            "a new nonce each time"
        );
        assert_eq!(
            sealer.open(&stored).unwrap(),
            ("whsec_abc".to_owned(), false)
        );
        // A changed byte does not open.
        let mut damaged = stored.clone();
        let last = damaged.pop().unwrap();
        damaged.push(if last == '0' { '1' } else { '0' });
        assert_eq!(sealer.open(&damaged), Err(SealError::Corrupt));
    }

    #[test]
    fn after_a_rotation_old_secrets_open_and_ask_to_be_sealed_again() {
        let before = Sealer::new(Some(KEY_A), None).unwrap();
        let stored = before.seal("whsec_old").unwrap();
        let after = Sealer::new(Some(KEY_B), Some(KEY_A)).unwrap();
        assert_eq!(after.open(&stored).unwrap(), ("whsec_old".to_owned(), true));
        let without_old = Sealer::new(Some(KEY_B), None).unwrap();
        assert!(matches!(
            without_old.open(&stored),
            Err(SealError::UnknownKey(_))
        ));
        // Plaintext from before sealing opens as it is and is sealed at the next chance.
        assert_eq!(
            after.open("whsec_plain").unwrap(),
            ("whsec_plain".to_owned(), true)
        );
        let none = Sealer::default();
        assert_eq!(none.seal("whsec_x").unwrap(), "whsec_x");
        assert_eq!(none.open("whsec_x").unwrap(), ("whsec_x".to_owned(), false));
        assert!(Sealer::new(Some("abcd"), None).is_err());
        assert!(!format!("{after:?}").contains(KEY_B));
    }
}

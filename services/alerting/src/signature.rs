//! Webhook signatures: `x-tollgate-signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `"<t>.<body>"` with the rule's secret (the Stripe scheme). A receiver recomputes it, compares
//! in constant time and refuses timestamps older than its tolerance (replays).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature header's value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Whether `header` is a valid signature of `body` by `secret` (constant-time comparison),
/// sent within `tolerance_secs` of `now`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signature = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return false;
    };
    if (now - timestamp).abs() > tolerance_secs {
        return false;
    }
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return false,
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let header = sign("whsec_test", 1_700_000_000, b"{\"id\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify(
            "whsec_test",
            &header,
            b"{\"id\":1}",
            1_700_000_010,
            300
        ));
        assert!(!verify(
            "whsec_other",
            &header,
            b"{\"id\":1}",
            1_700_000_010,
            300
        ));
        assert!(!verify(
            "whsec_test",
            &header,
            b"{\"id\":2}",
            1_700_000_010,
            300
        ));
        assert!(!verify(
            "whsec_test",
            &header,
            b"{\"id\":1}",
            1_700_001_000,
            300
        ));
        assert!(!verify(
            "whsec_test",
            "v1=00",
            b"{\"id\":1}",
            1_700_000_010,
            300
        ));
    }
}

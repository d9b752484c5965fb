//! QR pickup tokens: the claims (locker, compartment, package, not-after,
//! nonce) signed with HMAC-SHA256 under the locker's token key, so a
//! controller verifies them offline. Format: `base64url(payload).base64url(tag)`
//! with a JSON payload.

use super::keys::{hex, LockerKeys};
use crate::engine::Millis;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QrClaims {
    /// Format version.
    pub v: u8,
    pub locker: String,
    pub compartment: u32,
    pub package: u64,
    /// Milliseconds on the service clock after which the token is void.
    pub not_after: Millis,
    /// Hex; makes every token unique even for the same package.
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("token is not of the form payload.signature")]
    Malformed,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token is for locker `{0}`")]
    WrongLocker(String),
    #[error("token expired")]
    Expired,
    #[error("token version {0} is not supported")]
    Version(u8),
}

pub const VERSION: u8 = 1;

/// Signs claims into a token string.
pub fn sign(keys: &LockerKeys, claims: &QrClaims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let tag = keys.sign_token(&payload);
    format!("{}.{}", B64.encode(&payload), B64.encode(tag))
}

/// Makes claims with a fresh nonce from `rng`.
pub fn claims(
    rng: &mut dyn rand::RngCore,
    locker: &str,
    compartment: u32,
    package: u64,
    not_after: Millis,
) -> QrClaims {
    let mut nonce = [0u8; 16];
    rng.fill_bytes(&mut nonce);
    QrClaims {
        v: VERSION,
        locker: locker.to_string(),
        compartment,
        package,
        not_after,
        nonce: hex(&nonce),
    }
}

/// Verifies signature (in constant time), version, locker and validity time.
/// Binding to the compartment's current package is the controller's check.
pub fn verify(
    keys: &LockerKeys,
    token: &str,
    locker: &str,
    now: Millis,
) -> Result<QrClaims, QrError> {
    let (p, t) = token.trim().split_once('.').ok_or(QrError::Malformed)?;
    let payload = B64.decode(p).map_err(|_| QrError::Malformed)?;
    let tag = B64.decode(t).map_err(|_| QrError::Malformed)?;
    if !keys.verify_token(&payload, &tag) {
        return Err(QrError::BadSignature);
    }
    let claims: QrClaims = serde_json::from_slice(&payload).map_err(|_| QrError::Malformed)?;
    if claims.v != VERSION {
        return Err(QrError::Version(claims.v));
    }
    if claims.locker != locker {
        return Err(QrError::WrongLocker(claims.locker));
    }
    if now > claims.not_after {
        return Err(QrError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn setup() -> (LockerKeys, String) {
        let keys = LockerKeys::from_master(&[9; 32]);
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let c = claims(&mut rng, "L1", 4, 77, 1_000);
        (keys.clone(), sign(&keys, &c))
    }

    #[test]
    fn valid_token_verifies() {
        let (keys, token) = setup();
        let c = verify(&keys, &token, "L1", 500).unwrap();
        assert_eq!((c.compartment, c.package), (4, 77));
    }

    #[test]
    fn wrong_locker_expired_or_forged_tokens_fail() {
        let (keys, token) = setup();
        assert_eq!(
            verify(&keys, &token, "L2", 500),
            Err(QrError::WrongLocker("L1".into()))
        );
        assert_eq!(verify(&keys, &token, "L1", 1_001), Err(QrError::Expired));
        let other = LockerKeys::from_master(&[8; 32]);
        assert_eq!(
            verify(&other, &token, "L1", 500),
            Err(QrError::BadSignature)
        );
        // Change the compartment in the payload, keep the tag.
        let (p, t) = token.split_once('.').unwrap();
        let mut claims: QrClaims = serde_json::from_slice(&B64.decode(p).unwrap()).unwrap();
        claims.compartment = 5;
        let forged = format!("{}.{t}", B64.encode(serde_json::to_vec(&claims).unwrap()));
        assert_eq!(
            verify(&keys, &forged, "L1", 500),
            Err(QrError::BadSignature)
        );
        for junk in ["", ".", "abc", "a.b.c", "!!!.???"] {
            assert!(verify(&keys, junk, "L1", 0).is_err());
        }
    }
}

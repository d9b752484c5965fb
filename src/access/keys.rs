//! Per-locker secrets. A controller caches codes only as keyed hashes, so its
//! storage reveals no codes to someone who does not also hold the key. The key
//! belongs in the controller's secure element (the HAL), not in its database:
//! with the key, 10⁶ codes are quickly enumerated.
//!
//! The code hash is AES-128 under a key derived for that purpose only,
//! applied to one block holding a domain tag and the six digits: a keyed
//! pseudorandom function on a fixed-length input (single-block CBC-MAC),
//! computed with the processor's AES instructions in a few nanoseconds. It runs
//! for every code issued and every code typed, in the simulator as on a
//! locker, so its cost matters; SHA-256-based MACs cost 5–10 times more.
//! QR tokens, whose payload length varies, use HMAC-SHA256.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A truncated HMAC of a pickup code: 128 bits, far beyond the 20 bits of the
/// code itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub struct CodeHash(pub [u8; 16]);

/// The bytes are already a keyed pseudorandom value: feed 64 of them to the
/// table's hasher instead of hashing all 16 again.
impl std::hash::Hash for CodeHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

impl CodeHash {
    /// Constant-time equality, for the final check of a matched credential.
    pub fn ct_eq(&self, other: &CodeHash) -> bool {
        // Two 64-bit words: constant time, without a barrier per byte.
        let words = |h: &CodeHash| {
            let (a, b) = h.0.split_at(8);
            (
                u64::from_le_bytes(a.try_into().expect("8 bytes")),
                u64::from_le_bytes(b.try_into().expect("8 bytes")),
            )
        };
        let (a0, a1) = words(self);
        let (b0, b1) = words(other);
        (a0.ct_eq(&b0) & a1.ct_eq(&b1)).into()
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub fn from_hex(s: &str) -> Option<CodeHash> {
        let bytes = unhex(s)?;
        Some(CodeHash(bytes.try_into().ok()?))
    }
}

impl serde::Serialize for CodeHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for CodeHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CodeHash::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("a code hash is 32 hex digits"))
    }
}

/// The secrets of one locker, derived from a 32-byte master secret shared
/// with the capacity service.
#[derive(Clone)]
pub struct LockerKeys {
    code: aes::Aes128,
    token: HmacSha256,
    pass: HmacSha256,
    audit: AuditKey,
    /// During a key rotation, the keys being retired: what they signed or
    /// hashed (codes, QR tokens, staff passes already handed out) still
    /// opens until the rotation ends and the locker restarts without them.
    previous: Option<std::sync::Arc<LockerKeys>>,
}

/// Domain tag in the first ten bytes of every code block.
const CODE_TAG: &[u8; 10] = b"llab-code1";

impl fmt::Debug for LockerKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockerKeys(<secret>)")
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(master).expect("HMAC takes any key length");
    m.update(label);
    m.finalize().into_bytes().into()
}

/// HMAC of `payload` under the keyed state `key`.
fn mac(key: &HmacSha256, payload: &[u8]) -> [u8; 32] {
    let mut m = key.clone();
    m.update(payload);
    m.finalize().into_bytes().into()
}

/// Constant-time: is `tag` the HMAC of `payload` under `key`?
fn mac_matches(key: &HmacSha256, payload: &[u8], tag: &[u8]) -> bool {
    let mut m = key.clone();
    m.update(payload);
    m.verify_slice(tag).is_ok()
}

/// The master secret of locker `locker_id`: HMAC-SHA256(region secret,
/// "lockerlab/locker/v1/" ‖ id). It is what a locker is provisioned with.
pub fn locker_master(region_secret: &[u8; 32], locker_id: &str) -> [u8; 32] {
    let mut label = b"lockerlab/locker/v1/".to_vec();
    label.extend_from_slice(locker_id.as_bytes());
    derive(region_secret, &label)
}

/// The region secret used when none is given: for demos and tests only
/// (anyone can read it here).
pub const DEV_REGION_SECRET: [u8; 32] = *b"lockerlab-development-secret-!!!";

/// Parses 64 hex digits (a secret on a command line or in a file).
pub fn parse_secret(hex_digits: &str) -> Option<[u8; 32]> {
    unhex(hex_digits.trim())?.try_into().ok()
}

impl LockerKeys {
    pub fn from_master(master: &[u8; 32]) -> Self {
        use aes::cipher::KeyInit;
        let code_key = derive(master, b"lockerlab/code-hash/v1");
        let token_key = derive(master, b"lockerlab/qr-token/v1");
        let pass_key = derive(master, b"lockerlab/staff-pass/v1");
        Self {
            code: aes::Aes128::new(code_key[..16].into()),
            token: <HmacSha256 as Mac>::new_from_slice(&token_key)
                .expect("HMAC takes any key length"),
            pass: <HmacSha256 as Mac>::new_from_slice(&pass_key)
                .expect("HMAC takes any key length"),
            audit: AuditKey::from_master(master),
            previous: None,
        }
    }

    /// These keys, with `previous` (the keys being retired) still accepted
    /// for what they signed.
    pub fn with_previous(self, previous: LockerKeys) -> Self {
        let previous = LockerKeys {
            previous: None,
            ..previous
        };
        Self {
            previous: Some(std::sync::Arc::new(previous)),
            ..self
        }
    }

    /// The keys being retired, during a rotation.
    pub fn previous(&self) -> Option<&LockerKeys> {
        self.previous.as_deref()
    }

    /// The key the locker's audit chain is tagged with.
    pub fn audit_key(&self) -> &AuditKey {
        &self.audit
    }

    /// The keys of locker `locker_id` in a region whose service holds
    /// `region_secret`: each locker's master is derived from its id, so one
    /// locker's store or secure element reveals nothing about another's.
    pub fn for_locker(region_secret: &[u8; 32], locker_id: &str) -> Self {
        Self::from_master(&locker_master(region_secret, locker_id))
    }

    /// Keyed hash of a code: AES-128_k(tag ‖ six digits).
    pub fn hash_code(&self, code: super::PickupCode) -> CodeHash {
        use aes::cipher::BlockEncrypt;
        let mut block = [0u8; 16];
        block[..10].copy_from_slice(CODE_TAG);
        block[10..].copy_from_slice(&code.digits());
        let mut b = block.into();
        self.code.encrypt_block(&mut b);
        CodeHash(b.into())
    }

    /// A pad in [0, 10⁶) for `order`'s code: a snapshot keeps
    /// (code + pad) mod 10⁶, which says nothing without the key. AES on a
    /// block of its own domain tag and the order id.
    pub fn code_pad(&self, order: u64) -> u32 {
        use aes::cipher::BlockEncrypt;
        let mut block = [0u8; 16];
        block[..8].copy_from_slice(b"llab-pad");
        block[8..].copy_from_slice(&order.to_le_bytes());
        let mut b = block.into();
        self.code.encrypt_block(&mut b);
        let out: [u8; 16] = b.into();
        (u64::from_le_bytes(out[..8].try_into().expect("8 bytes")) % 1_000_000) as u32
    }

    /// Names the keys without revealing them (the first 8 bytes of a tag
    /// under the token key, in hex): a store records it, so a locker
    /// restarted with another secret refuses a journal whose code hashes
    /// would never match again.
    pub fn fingerprint(&self) -> String {
        hex(&self.sign_token(b"lockerlab/key-fingerprint/v1")[..8])
    }

    pub(crate) fn sign_token(&self, payload: &[u8]) -> [u8; 32] {
        mac(&self.token, payload)
    }

    /// Constant-time check of a token tag (under the keys being retired
    /// too, during a rotation).
    pub(crate) fn verify_token(&self, payload: &[u8], tag: &[u8]) -> bool {
        mac_matches(&self.token, payload, tag)
            || self
                .previous()
                .is_some_and(|p| p.verify_token(payload, tag))
    }

    /// A staff pass's tag for this locker: under its own key, apart from
    /// the QR tokens' (a customer's token can never pass for a driver's).
    pub(crate) fn sign_pass(&self, payload: &[u8]) -> [u8; 32] {
        mac(&self.pass, payload)
    }

    /// Constant-time check of this locker's tag on a staff pass (under the
    /// keys being retired too, during a rotation).
    pub(crate) fn verify_pass(&self, payload: &[u8], tag: &[u8]) -> bool {
        mac_matches(&self.pass, payload, tag)
            || self.previous().is_some_and(|p| p.verify_pass(payload, tag))
    }
}

/// The key a locker's audit chain is tagged with (HMAC-SHA256), derived
/// from its master like its other keys: whoever can check a log could also
/// have written it, so it belongs to the operator, not to the log's reader.
#[derive(Clone)]
pub struct AuditKey(HmacSha256);

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<secret>)")
    }
}

impl AuditKey {
    pub fn from_master(master: &[u8; 32]) -> Self {
        let key = derive(master, b"lockerlab/audit/v1");
        Self(<HmacSha256 as Mac>::new_from_slice(&key).expect("HMAC takes any key length"))
    }

    /// The audit key of locker `locker_id` in a region with `region_secret`.
    pub fn for_locker(region_secret: &[u8; 32], locker_id: &str) -> Self {
        Self::from_master(&locker_master(region_secret, locker_id))
    }

    /// HMAC of the parts, each prefixed with its length so no two ways of
    /// splitting the same bytes tag alike.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = self.0.clone();
        for p in parts {
            m.update(&(p.len() as u64).to_le_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// Names the key without revealing it (8 bytes of a tag under it): a
    /// chain's rotation record names the key the records after it use.
    pub fn fingerprint(&self) -> u64 {
        let tag = self.tag(&[b"lockerlab/audit-key-fingerprint/v1"]);
        u64::from_be_bytes(tag[..8].try_into().expect("8 bytes"))
    }

    /// Constant-time: is `hex_tag` exactly the lowercase hex of `tag`?
    pub fn tag_matches(&self, hex_tag: &str, tag: &[u8; 32]) -> bool {
        hex_tag.len() == 64 && bool::from(hex_tag.as_bytes().ct_eq(hex(tag).as_bytes()))
    }
}

/// The service's durable code key: HMAC-SHA256(region secret,
/// `"lockerlab/service-codes/v1" ‖ nonce`). The nonce is kept in the
/// service's store so a restarted service draws the same codes when it
/// replays its journal; without the secret it reveals nothing.
pub fn service_code_key(region_secret: &[u8; 32], nonce: &[u8; 32]) -> [u8; 32] {
    let mut label = b"lockerlab/service-codes/v1".to_vec();
    label.extend_from_slice(nonce);
    derive(region_secret, &label)
}

/// Names a region secret without revealing it (8 bytes of a tag, in hex),
/// for the service's store to refuse another secret.
pub fn region_fingerprint(region_secret: &[u8; 32]) -> String {
    hex(&derive(region_secret, b"lockerlab/region-fingerprint/v1")[..8])
}

/// Lowercase hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::PickupCode;

    #[test]
    fn hashes_depend_on_key_and_code() {
        let a = LockerKeys::from_master(&[1; 32]);
        let b = LockerKeys::from_master(&[2; 32]);
        let c1 = PickupCode::new(123456).unwrap();
        let c2 = PickupCode::new(123457).unwrap();
        assert_eq!(a.hash_code(c1), a.hash_code(c1));
        assert_ne!(a.hash_code(c1), a.hash_code(c2));
        assert_ne!(a.hash_code(c1), b.hash_code(c1));
        assert!(a.hash_code(c1).ct_eq(&a.hash_code(c1)));
        assert!(!a.hash_code(c1).ct_eq(&a.hash_code(c2)));
        assert_eq!(format!("{a:?}"), "LockerKeys(<secret>)");
    }

    #[test]
    fn hash_is_aes_of_tag_and_digits() {
        // Independent recomputation with the derivation spelled out.
        use aes::cipher::{BlockEncrypt, KeyInit};
        let master = [7u8; 32];
        let mut d = <HmacSha256 as Mac>::new_from_slice(&master).unwrap();
        d.update(b"lockerlab/code-hash/v1");
        let key = d.finalize().into_bytes();
        let cipher = aes::Aes128::new_from_slice(&key[..16]).unwrap();
        let mut block = aes::Block::clone_from_slice(b"llab-code1000042");
        cipher.encrypt_block(&mut block);
        let got = LockerKeys::from_master(&master).hash_code(PickupCode::new(42).unwrap());
        assert_eq!(&got.0[..], &block[..]);
    }

    #[test]
    fn hex_round_trips() {
        let h = CodeHash([0xab; 16]);
        assert_eq!(CodeHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(CodeHash::from_hex("zz"), None);
    }
}

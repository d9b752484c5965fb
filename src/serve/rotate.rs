//! Moving `serve --store` to a new region secret (`serve
//! --previous-secret-file`): the store, written under the old secret, is
//! replayed under it; the service then takes the new keys and code stream
//! and re-sends every live code's credential under them; the result is
//! the store's snapshot, under the new secret, in one transaction. Lockers
//! go first (`controller-emu --previous-key-file`): during the overlap
//! they open what either key made.

use super::journal::Journal;
use super::Gateway;
use crate::access::LockerKeys;
use crate::engine::Millis;
use crate::service::CodeRng;

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// Journal entries replayed under the old secret.
    pub replayed: i64,
    /// Live codes whose credentials were re-sent under the new keys.
    pub resent: usize,
}

/// Rotates `journal` (opened `rotating`): `old` is the service as
/// configured under the old secret, `keys` each locker's new keys and code
/// stream, `key` and `code_nonce` the new secret's fingerprint and the
/// nonce its code key mixes in. The re-sent credentials go out with the
/// first retransmission after `now`.
pub fn rotate(
    journal: &mut Journal,
    mut old: Gateway,
    keys: impl IntoIterator<Item = (LockerKeys, CodeRng)>,
    key: &str,
    code_nonce: &[u8; 32],
    now: Millis,
) -> Result<Rotated, String> {
    if !journal.rotating() {
        return Err("the store is not under the secret being retired".into());
    }
    let recovered = old.recover(journal)?;
    // What the last run had not published would be lost with the entries
    // that make it; nothing to publish means nothing is.
    if recovered.republish.is_empty() {
        journal.set_published_through(journal.last())?;
    }
    let resent = old.rekey(now, keys)?;
    journal.rotate(key, code_nonce, &old.snapshot()?)?;
    Ok(Rotated {
        replayed: recovered.entries,
        resent,
    })
}

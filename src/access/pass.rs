//! Staff passes: a driver's route credential or an operator's work pass,
//! shown at the kiosk (a barcode or the app) before any drop-off,
//! retrieval or repair, and verified offline by each locker it names.
//!
//! Format: `base64url(JSON claims).base64url(tag_1 ‖ … ‖ tag_n)`, where
//! `tag_i` is HMAC-SHA256 of the claims under the pass key of the claims'
//! `lockers[i]`. Each locker checks only its own tag, so a pass is scoped to
//! its route's lockers and time window, and one locker's key (read out of
//! a stolen controller) forges passes for that locker alone. The issuer
//! holds the region secret, like the capacity service that signs QR tokens.

use super::keys::{hex, LockerKeys};
use crate::engine::Millis;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// What a pass lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Scan packages reserved at the route's lockers and deposit them.
    Driver,
    /// Take out expired packages and repair compartments.
    Operator,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Driver => "driver",
            Role::Operator => "operator",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassClaims {
    /// Format version.
    pub v: u8,
    pub role: Role,
    /// The route (or work order) the pass was issued for: for people, the
    /// audit keeps the pass's id.
    pub route: String,
    /// The lockers it opens, in the order of the tags.
    pub lockers: Vec<String>,
    /// Milliseconds on the service clock: valid from `not_before` to
    /// `not_after`, both included.
    pub not_before: Millis,
    pub not_after: Millis,
    /// Hex; two passes for the same route and window differ.
    pub nonce: String,
}

/// Why a pass was refused (also what the audit log records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum PassError {
    #[error("a pass is `claims.tags` in base64url, at most {MAX_LEN} characters")]
    Malformed,
    #[error("a pass names 1 to {MAX_LOCKERS} lockers, each once, with one tag each")]
    BadLockers,
    #[error("the pass's signature for this locker is invalid")]
    BadSignature,
    #[error("the pass is not for this locker")]
    WrongLocker,
    #[error("the pass is not valid yet")]
    NotYetValid,
    #[error("the pass has expired")]
    Expired,
    #[error("this pass version is not supported")]
    Version,
}

pub const VERSION: u8 = 1;
/// A route's lockers fit one pass (a tag is 32 bytes): a longer route
/// takes two passes.
pub const MAX_LOCKERS: usize = 64;
/// Longer than any pass `issue` makes; a kiosk reads no more.
pub const MAX_LEN: usize = 8192;

/// What a locker learns from a pass it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    /// Names the pass without revealing it: the first 8 bytes of this
    /// locker's tag (unforgeable, and different at every locker).
    pub id: u64,
    pub not_before: Millis,
    pub not_after: Millis,
}

impl Grant {
    /// The grant's window holds `now`.
    pub fn check_time(&self, now: Millis) -> Result<(), PassError> {
        if now < self.not_before {
            Err(PassError::NotYetValid)
        } else if now > self.not_after {
            Err(PassError::Expired)
        } else {
            Ok(())
        }
    }
}

/// Signs `claims` for each of its lockers; `keys_of` gives a locker's keys
/// (from the region secret). Fails if the claims name no locker, too many
/// or one twice.
pub fn issue(
    claims: &PassClaims,
    keys_of: impl Fn(&str) -> LockerKeys,
) -> Result<String, PassError> {
    check_lockers(&claims.lockers)?;
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let mut tags = Vec::with_capacity(32 * claims.lockers.len());
    for locker in &claims.lockers {
        tags.extend_from_slice(&keys_of(locker).sign_pass(&payload));
    }
    Ok(format!("{}.{}", B64.encode(&payload), B64.encode(tags)))
}

/// `issue` for the lockers of a region whose service holds
/// `region_secret` (each locker's keys derive from it).
pub fn issue_for_region(
    region_secret: &[u8; 32],
    claims: &PassClaims,
) -> Result<String, PassError> {
    issue(claims, |locker| {
        LockerKeys::for_locker(region_secret, locker)
    })
}

/// A pass for `role` at `locker` under `region_secret`, valid from the
/// clock's start to 2100: what tests and demos sign in with.
pub fn open_ended(region_secret: &[u8; 32], role: Role, locker: &str) -> String {
    let claims = PassClaims {
        v: VERSION,
        role,
        route: "open-ended".into(),
        lockers: vec![locker.to_string()],
        not_before: 0,
        not_after: 4_102_444_800_000,
        nonce: "0".into(),
    };
    issue_for_region(region_secret, &claims).expect("one locker")
}

fn check_lockers(lockers: &[String]) -> Result<(), PassError> {
    let mut seen: Vec<&str> = lockers.iter().map(String::as_str).collect();
    seen.sort_unstable();
    seen.dedup();
    if lockers.is_empty() || lockers.len() > MAX_LOCKERS || seen.len() != lockers.len() {
        return Err(PassError::BadLockers);
    }
    Ok(())
}

/// Claims for a pass from `rng`'s nonce.
pub fn claims(
    rng: &mut dyn rand::RngCore,
    role: Role,
    route: &str,
    lockers: Vec<String>,
    not_before: Millis,
    not_after: Millis,
) -> PassClaims {
    let mut nonce = [0u8; 16];
    rng.fill_bytes(&mut nonce);
    PassClaims {
        v: VERSION,
        role,
        route: route.to_string(),
        lockers,
        not_before,
        not_after,
        nonce: hex(&nonce),
    }
}

/// Checks the pass's tag for `locker` (in constant time), its version and
/// that `locker` is among its lockers. The time window is the caller's
/// (`Grant::check_time`), so a locker can keep a verified pass and check
/// only the time when it is shown again.
pub fn verify(keys: &LockerKeys, pass: &str, locker: &str) -> Result<Grant, PassError> {
    let pass = pass.trim();
    if pass.len() > MAX_LEN {
        return Err(PassError::Malformed);
    }
    let (p, t) = pass.split_once('.').ok_or(PassError::Malformed)?;
    let payload = B64.decode(p).map_err(|_| PassError::Malformed)?;
    let tags = B64.decode(t).map_err(|_| PassError::Malformed)?;
    // The payload is read before its tag is checked: the tag to check
    // depends on where this locker stands in the list. serde_json reads
    // hostile bytes safely, and nothing else acts on them first.
    let claims: PassClaims = serde_json::from_slice(&payload).map_err(|_| PassError::Malformed)?;
    if claims.v != VERSION {
        return Err(PassError::Version);
    }
    check_lockers(&claims.lockers)?;
    if tags.len() != 32 * claims.lockers.len() {
        return Err(PassError::BadLockers);
    }
    let i = claims
        .lockers
        .iter()
        .position(|l| l == locker)
        .ok_or(PassError::WrongLocker)?;
    let tag = &tags[32 * i..32 * (i + 1)];
    if !keys.verify_pass(&payload, tag) {
        return Err(PassError::BadSignature);
    }
    Ok(Grant {
        role: claims.role,
        id: u64::from_le_bytes(tag[..8].try_into().expect("8 bytes")),
        not_before: claims.not_before,
        not_after: claims.not_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const SECRET: [u8; 32] = [5; 32];

    fn keys(locker: &str) -> LockerKeys {
        LockerKeys::for_locker(&SECRET, locker)
    }

    fn route(role: Role, lockers: &[&str]) -> PassClaims {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let lockers = lockers.iter().map(|l| l.to_string()).collect();
        claims(&mut rng, role, "R7", lockers, 1_000, 2_000)
    }

    #[test]
    fn each_locker_of_the_route_accepts_the_pass_and_no_other() {
        let pass = issue(&route(Role::Driver, &["L1", "L2", "L3"]), keys).unwrap();
        let mut ids = Vec::new();
        for l in ["L1", "L2", "L3"] {
            let g = verify(&keys(l), &pass, l).unwrap();
            assert_eq!(
                (g.role, g.not_before, g.not_after),
                (Role::Driver, 1_000, 2_000)
            );
            ids.push(g.id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 3, "a pass has another id at every locker");
        assert_eq!(
            verify(&keys("L4"), &pass, "L4"),
            Err(PassError::WrongLocker)
        );
        // L1's key signs for L1 only: it cannot stand in for L2's.
        assert_eq!(
            verify(&keys("L1"), &pass, "L2"),
            Err(PassError::BadSignature)
        );
    }

    #[test]
    fn the_window_is_checked_at_both_ends() {
        let pass = issue(&route(Role::Operator, &["L1"]), keys).unwrap();
        let g = verify(&keys("L1"), &pass, "L1").unwrap();
        assert_eq!(g.check_time(999), Err(PassError::NotYetValid));
        assert_eq!(g.check_time(1_000), Ok(()));
        assert_eq!(g.check_time(2_000), Ok(()));
        assert_eq!(g.check_time(2_001), Err(PassError::Expired));
    }

    #[test]
    fn a_changed_claim_or_a_borrowed_tag_fails() {
        let pass = issue(&route(Role::Driver, &["L1", "L2"]), keys).unwrap();
        let (p, t) = pass.split_once('.').unwrap();
        let claims: PassClaims = serde_json::from_slice(&B64.decode(p).unwrap()).unwrap();
        // Longer window, another role, the lockers swapped: the tags no
        // longer match.
        let mut longer = claims.clone();
        longer.not_after = 9_000_000;
        let mut operator = claims.clone();
        operator.role = Role::Operator;
        let mut swapped = claims.clone();
        swapped.lockers.reverse();
        for changed in [longer, operator, swapped] {
            let forged = format!("{}.{t}", B64.encode(serde_json::to_vec(&changed).unwrap()));
            assert_eq!(
                verify(&keys("L1"), &forged, "L1"),
                Err(PassError::BadSignature)
            );
        }
        // A QR token's key is not a pass key.
        let qr_tag = keys("L1").sign_token(&B64.decode(p).unwrap());
        let mut tags = B64.decode(t).unwrap();
        tags[..32].copy_from_slice(&qr_tag);
        let forged = format!("{p}.{}", B64.encode(tags));
        assert_eq!(
            verify(&keys("L1"), &forged, "L1"),
            Err(PassError::BadSignature)
        );
    }

    #[test]
    fn malformed_passes_are_refused_with_a_reason() {
        let long = "a".repeat(MAX_LEN + 1);
        for junk in ["", ".", "abc", "a.b.c", "!!!.???", long.as_str()] {
            assert_eq!(verify(&keys("L1"), junk, "L1"), Err(PassError::Malformed));
        }
        assert_eq!(
            issue(&route(Role::Driver, &[]), keys),
            Err(PassError::BadLockers)
        );
        assert_eq!(
            issue(&route(Role::Driver, &["L1", "L1"]), keys),
            Err(PassError::BadLockers)
        );
        let many: Vec<String> = (0..=MAX_LOCKERS).map(|i| format!("L{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            issue(&route(Role::Driver, &many), keys),
            Err(PassError::BadLockers)
        );
        // One tag short.
        let pass = issue(&route(Role::Driver, &["L1", "L2"]), keys).unwrap();
        let (p, t) = pass.split_once('.').unwrap();
        let short = format!("{p}.{}", B64.encode(&B64.decode(t).unwrap()[..32]));
        assert_eq!(
            verify(&keys("L1"), &short, "L1"),
            Err(PassError::BadLockers)
        );
        let mut claims = route(Role::Driver, &["L1"]);
        claims.v = 2;
        let pass = issue(&claims, keys).unwrap();
        assert_eq!(verify(&keys("L1"), &pass, "L1"), Err(PassError::Version));
    }
}

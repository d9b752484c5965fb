//! Staff at the kiosk: a driver or an operator signs in with a pass
//! (`access::pass`) before any drop-off, retrieval or repair. A sign-in
//! lasts while its holder keeps acting (`STAFF_IDLE_MS`), until the pass
//! expires, the holder signs out or a customer uses the kiosk. A pass that
//! keeps scanning packages already inside is locked out for a while.

use super::*;
use crate::access::pass::{self, Grant, PassError, Role};
use serde::{Deserialize, Serialize};

/// A sign-in ends this long after its holder's last action: the next
/// person at the kiosk must not inherit a driver's rights.
pub const STAFF_IDLE_MS: Millis = 5 * 60 * 1000;
/// Scans of packages already inside (a label scanned again, a guessed
/// one) one pass may make within `lockout_ms` before it is locked out
/// for `lockout_ms`. Unknown packages do not count: a driver late for a
/// reservation the service has cancelled scans one in good faith.
pub const MAX_REFUSED_SCANS: u32 = 5;
/// Verified passes kept, so a pass shown again costs a lookup.
const PASS_CACHE: usize = 64;

/// Hashes a pass by its last 8 bytes, which are base64 of this locker's
/// (or a later locker's) HMAC tag: as good as hashing all of it, for a
/// fraction of the cost. A match is still the whole text, compared.
/// (`Prehashed`, which folds in every byte, made the city run 6–15%
/// slower: the simulator shows a pass at every drop-off.)
#[derive(Default, Clone, Copy)]
pub(super) struct TailHash;

#[derive(Default)]
pub(super) struct TailHasher(u64);

impl std::hash::BuildHasher for TailHash {
    type Hasher = TailHasher;
    fn build_hasher(&self) -> TailHasher {
        TailHasher(0)
    }
}

impl std::hash::Hasher for TailHasher {
    fn finish(&self) -> u64 {
        // Spread the bytes over the table's index bits.
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
    fn write(&mut self, bytes: &[u8]) {
        let tail = &bytes[bytes.len().saturating_sub(8)..];
        let mut b = [0u8; 8];
        b[..tail.len()].copy_from_slice(tail);
        self.0 = self.0.rotate_left(8) ^ u64::from_le_bytes(b);
    }
}

/// Who is signed in at the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Staff {
    role: Role,
    pass: u64,
    not_after: Millis,
    last_active: Millis,
}

/// Refused scans of one pass.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct Strikes {
    pass: u64,
    count: u32,
    since: Millis,
    locked_until: Millis,
}

impl Staff {
    pub(super) fn times(&self) -> [Millis; 2] {
        [self.not_after, self.last_active]
    }
}

impl Strikes {
    pub(super) fn times(&self) -> [Millis; 2] {
        [self.since, self.locked_until]
    }

    pub(super) fn count(&self) -> u32 {
        self.count
    }
}

/// What a pass's signature and claims say at one moment, before the
/// controller checks its own limits: what a journal keeps of a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum PassVerdict {
    Signed {
        role: Role,
        /// The pass's id at this locker (`pass::Grant::id`).
        pass: u64,
        not_after: Millis,
    },
    Rejected {
        reason: PassError,
    },
}

impl Controller {
    /// Verifies `token` for this locker at `now` (cache first).
    pub(super) fn check_pass(&self, now: Millis, token: &str) -> PassVerdict {
        let grant = match self.passes.get(token) {
            Some(g) => Ok(*g),
            None => pass::verify(&self.keys, token, &self.locker_id),
        };
        verdict(grant, now)
    }

    /// `check_pass`, keeping a pass that verified for next time.
    pub(super) fn check_pass_cached(&mut self, now: Millis, token: &str) -> PassVerdict {
        if let Some(g) = self.passes.get(token) {
            return verdict(Ok(*g), now);
        }
        let grant = pass::verify(&self.keys, token, &self.locker_id);
        if let Ok(g) = grant {
            if self.passes.len() >= PASS_CACHE {
                self.passes.retain(|_, g| g.not_after >= now);
                if self.passes.len() >= PASS_CACHE {
                    self.passes.clear();
                }
            }
            self.passes.insert(token.into(), g);
        }
        verdict(grant, now)
    }

    /// The role signed in at the kiosk at `now`, if any.
    pub fn signed_in_as(&self, now: Millis) -> Option<Role> {
        self.staff
            .filter(|s| now <= s.not_after && now - s.last_active <= STAFF_IDLE_MS)
            .map(|s| s.role)
    }

    /// Signing in opens no door, so it waits for no one: an operator may
    /// sign in while a customer's door is open.
    pub(super) fn sign_in(&mut self, now: Millis, verdict: PassVerdict, out: &mut Vec<Output>) {
        self.staff = None;
        match verdict {
            PassVerdict::Rejected { reason } => {
                out.push(Output::Audit {
                    event: AuditEvent::PassRejected { reason },
                });
                out.push(Output::Alert {
                    alert: Alert::PassRefused { reason },
                });
                out.push(Output::Screen {
                    message: Screen::InvalidPass,
                });
            }
            PassVerdict::Signed {
                pass,
                role,
                not_after,
            } => {
                if let Some(until) = self.pass_locked(pass, now) {
                    out.push(Output::Audit {
                        event: AuditEvent::PassLocked { pass, until },
                    });
                    out.push(Output::Screen {
                        message: Screen::PassLocked { until },
                    });
                    return;
                }
                self.staff = Some(Staff {
                    role,
                    pass,
                    not_after: crate::time::clamp_instant(not_after),
                    last_active: now,
                });
                out.push(Output::Audit {
                    event: AuditEvent::SignedIn { role, pass },
                });
                out.push(Output::Screen {
                    message: Screen::SignedIn { role },
                });
            }
        }
    }

    pub(super) fn sign_out(&mut self, out: &mut Vec<Output>) {
        if let Some(s) = self.staff.take() {
            out.push(Output::Audit {
                event: AuditEvent::SignedOut { pass: s.pass },
            });
        }
    }

    /// The pass of whoever is signed in as `role` now, or `None` after
    /// telling the kiosk to ask for one.
    pub(super) fn signed_in(
        &mut self,
        role: Role,
        now: Millis,
        out: &mut Vec<Output>,
    ) -> Option<u64> {
        if self.signed_in_as(now).is_none() {
            self.staff = None;
        }
        match &mut self.staff {
            Some(s) if s.role == role => {
                s.last_active = now;
                Some(s.pass)
            }
            _ => {
                out.push(Output::Audit {
                    event: AuditEvent::NotSignedIn { role },
                });
                out.push(Output::Screen {
                    message: Screen::SignInFirst { role },
                });
                None
            }
        }
    }

    /// A customer at the kiosk: whoever was signed in has left.
    pub(super) fn customer_at_kiosk(&mut self) {
        self.staff = None;
    }

    /// Counts a refused scan against `pass`; enough of them lock it out.
    pub(super) fn refused_scan(&mut self, pass: u64, now: Millis, out: &mut Vec<Output>) {
        let window = self.config.lockout_ms;
        self.strikes
            .retain(|s| s.locked_until > now || now - s.since <= window);
        let i = match self.strikes.iter().position(|s| s.pass == pass) {
            Some(i) => i,
            None => {
                self.strikes.push(Strikes {
                    pass,
                    count: 0,
                    since: now,
                    locked_until: 0,
                });
                self.strikes.len() - 1
            }
        };
        let s = &mut self.strikes[i];
        s.count += 1;
        if s.count >= MAX_REFUSED_SCANS {
            let until = now + window;
            *s = Strikes {
                pass,
                count: 0,
                since: now,
                locked_until: until,
            };
            self.staff = None;
            out.push(Output::Audit {
                event: AuditEvent::PassLocked { pass, until },
            });
            out.push(Output::Alert {
                alert: Alert::PassLocked { until },
            });
        }
    }

    fn pass_locked(&self, pass: u64, now: Millis) -> Option<Millis> {
        self.strikes
            .iter()
            .find(|s| s.pass == pass && s.locked_until > now)
            .map(|s| s.locked_until)
    }
}

fn verdict(grant: Result<Grant, PassError>, now: Millis) -> PassVerdict {
    match grant.and_then(|g| g.check_time(now).map(|()| g)) {
        Ok(g) => PassVerdict::Signed {
            role: g.role,
            pass: g.id,
            not_after: g.not_after,
        },
        Err(reason) => PassVerdict::Rejected { reason },
    }
}

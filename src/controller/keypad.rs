//! Keypad lockout: after `max_wrong_codes` wrong codes the keypad locks.
//! Wrong codes are forgotten after a quiet `lockout_ms`, never by a success
//! (or an attacker could reset the count by watching for legitimate pickups),
//! so no one gets more than `max_wrong_codes` guesses per lockout.
//!
//! Lockouts escalate: the n-th in a row lasts `lockout_ms × 4ⁿ⁻¹`, capped at
//! `max_lockout_ms` (15 min, 1 h, 4 h, 16 h, then 24 h with the defaults).
//! Each quiet `max_lockout_ms` after a lockout ends forgives one step, so an
//! attacker who waits out the longest lockout gains nothing by waiting
//! longer, and a customer who fumbled once is back to 15 minutes a day later.
//! The counter is the keypad's alone: a QR token or app unlock still opens
//! while it is locked, so a vandal locking the keypad locks out only typists.

use super::io::ControllerConfig;
use crate::engine::Millis;

#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Keypad {
    pub wrong: u32,
    pub last_wrong: Millis,
    pub locked_until: Millis,
    /// Lockouts in the current streak.
    pub level: u32,
}

/// A lockout the keypad just started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lockout {
    pub until: Millis,
    /// 1 for the first lockout of a streak, 2 for the next, …
    pub level: u32,
}

impl Keypad {
    pub fn is_locked(&self, now: Millis) -> bool {
        now < self.locked_until
    }

    /// Records a wrong code; returns the lockout it triggers.
    pub fn wrong_code(&mut self, now: Millis, config: &ControllerConfig) -> Option<Lockout> {
        if self.level > 0 {
            let quiet = now - self.last_wrong.max(self.locked_until);
            let forgiven = quiet / config.max_lockout_ms.max(1);
            self.level = self
                .level
                .saturating_sub(forgiven.clamp(0, u32::MAX as i64) as u32);
        }
        if self.wrong > 0 && now - self.last_wrong >= config.lockout_ms {
            self.wrong = 0;
        }
        self.wrong += 1;
        self.last_wrong = now;
        if self.wrong < config.max_wrong_codes.max(1) {
            return None;
        }
        self.wrong = 0;
        self.locked_until = now + lockout_length(config, self.level);
        let started = Lockout {
            until: self.locked_until,
            level: self.level + 1,
        };
        // The streak stops growing where the lockouts reach the cap, so each
        // quiet spell forgives a step that shortens the next one.
        self.level = (self.level + 1).min(levels_to_cap(config));
        Some(started)
    }
}

/// How long the lockout after `level` earlier ones in a streak lasts.
fn lockout_length(config: &ControllerConfig, level: u32) -> Millis {
    let escalated = config.lockout_ms.saturating_mul(4i64.saturating_pow(level));
    escalated.min(config.max_lockout_ms).max(config.lockout_ms)
}

/// The first level whose lockout is the longest one.
fn levels_to_cap(config: &ControllerConfig) -> u32 {
    (0..64)
        .find(|&n| lockout_length(config, n) >= config.max_lockout_ms.max(config.lockout_ms))
        .unwrap_or(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;
    const HOUR: Millis = 60 * MIN;

    /// Types `n` wrong codes a second apart from `now`; the lockout, if any.
    fn fumble(k: &mut Keypad, now: Millis, n: u32, c: &ControllerConfig) -> Option<Lockout> {
        (0..n).fold(None, |_, i| k.wrong_code(now + i as Millis * 1000, c))
    }

    #[test]
    fn lockouts_escalate_to_the_cap_and_quiet_days_forgive_them() {
        let c = ControllerConfig::default();
        let mut k = Keypad::default();
        let mut now = 0;
        let mut lengths = Vec::new();
        for _ in 0..6 {
            let l = fumble(&mut k, now, 5, &c).expect("the fifth wrong code locks");
            lengths.push((l.until - (now + 4000)) / MIN);
            now = l.until; // the attacker types again the moment it unlocks
        }
        assert_eq!(lengths, [15, 60, 240, 960, 1440, 1440]);
        // A quiet day after the last lockout forgives one step (16 h) …
        now += 24 * HOUR;
        let l = fumble(&mut k, now, 5, &c).unwrap();
        assert_eq!(l.until - (now + 4000), 960 * MIN);
        // … and a quiet week forgives everything.
        now = l.until + 7 * 24 * HOUR;
        let l = fumble(&mut k, now, 5, &c).unwrap();
        assert_eq!((l.until - (now + 4000), l.level), (15 * MIN, 1));
    }

    #[test]
    fn the_cap_never_shortens_the_base_lockout() {
        let c = ControllerConfig {
            lockout_ms: 2 * HOUR,
            max_lockout_ms: HOUR,
            ..ControllerConfig::default()
        };
        assert_eq!(lockout_length(&c, 0), 2 * HOUR);
        assert_eq!(lockout_length(&c, 40), 2 * HOUR);
        assert_eq!(levels_to_cap(&c), 0);
        assert_eq!(levels_to_cap(&ControllerConfig::default()), 4);
    }
}

//! Keypad lockout: after `max_wrong_codes` wrong codes the keypad locks for
//! `lockout_ms`. Wrong codes are forgotten after a quiet `lockout_ms`, never
//! by a success (or an attacker could reset the count by watching for
//! legitimate pickups), so no one gets more than `max_wrong_codes` guesses per
//! lockout period.

use super::io::ControllerConfig;
use crate::engine::Millis;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Keypad {
    pub wrong: u32,
    pub last_wrong: Millis,
    pub locked_until: Millis,
}

impl Keypad {
    pub fn is_locked(&self, now: Millis) -> bool {
        now < self.locked_until
    }

    /// Records a wrong code; returns the end of the lockout it triggers.
    pub fn wrong_code(&mut self, now: Millis, config: &ControllerConfig) -> Option<Millis> {
        if self.wrong > 0 && now - self.last_wrong >= config.lockout_ms {
            self.wrong = 0;
        }
        self.wrong += 1;
        self.last_wrong = now;
        if self.wrong >= config.max_wrong_codes.max(1) {
            self.wrong = 0;
            self.locked_until = now + config.lockout_ms;
            Some(self.locked_until)
        } else {
            None
        }
    }
}

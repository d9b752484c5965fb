//! The controller's state as data, so a store can keep it and drop the
//! journal before it (restart time stays bounded however long a locker
//! runs). Keys are not state: a restored controller gets them from its
//! secret like a new one, and a snapshot holds code hashes, never codes.
//! The pass cache is not state either (a pass is verified again).

use super::keypad::Keypad;
use super::staff::{Staff, Strikes};
use super::{Controller, ControllerConfig, Credential, ReplayWindow, Session, MAX_REFUSED_SCANS};
use crate::access::LockerKeys;
use crate::domain::{Locker, LockerState, Size};
use crate::engine::Millis;
use crate::time::MAX_INSTANT;
use serde::{Deserialize, Serialize};

/// Everything a controller decides from besides its keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerState {
    locker_id: String,
    config: ControllerConfig,
    locker: LockerState,
    windows: [ReplayWindow; 4],
    service_epoch: u64,
    /// By package, so equal controllers give equal snapshots.
    credentials: Vec<Credential>,
    session: Option<Session>,
    session_since: Millis,
    abandoned: Vec<Session>,
    keypad: Keypad,
    staff: Option<Staff>,
    strikes: Vec<Strikes>,
    next_event_id: u64,
    link_up: bool,
    link_down_at: Option<Millis>,
    degraded: bool,
    screen_ok: bool,
    now: Millis,
}

/// Wrong codes a keypad counts before it locks: below the largest
/// `max_wrong_codes` a configure command may set (a smaller one set later
/// leaves the count where it was until the next wrong code).
const MAX_WRONG: u32 = 100;

/// Lockouts in a streak stop counting at the cap, well below this (64
/// levels of ×4 exceed any duration).
const MAX_LEVEL: u32 = 64;

/// Events a controller could number in any life (one per microsecond for
/// ten thousand years is 2⁵⁸).
const MAX_EVENT_ID: u64 = 1 << 62;

impl ControllerState {
    fn times(&self) -> impl Iterator<Item = Millis> + '_ {
        let k = &self.keypad;
        [self.now, self.session_since, k.last_wrong, k.locked_until]
            .into_iter()
            .chain(self.link_down_at)
            .chain(self.staff.iter().flat_map(Staff::times))
            .chain(self.strikes.iter().flat_map(Strikes::times))
            .chain(self.credentials.iter().map(|c| c.not_after))
    }
}

impl Controller {
    pub fn snapshot(&self) -> ControllerState {
        let mut credentials: Vec<Credential> = self.credentials.values().copied().collect();
        credentials.sort_unstable_by_key(|c| c.package);
        ControllerState {
            locker_id: self.locker_id.clone(),
            config: self.config,
            locker: self.locker.snapshot(),
            windows: self.windows,
            service_epoch: self.service_epoch,
            credentials,
            session: self.session,
            session_since: self.session_since,
            abandoned: self.abandoned.clone(),
            keypad: self.keypad,
            staff: self.staff,
            strikes: self.strikes.clone(),
            next_event_id: self.next_event_id,
            link_up: self.link_up,
            link_down_at: self.link_down_at,
            degraded: self.degraded,
            screen_ok: self.screen_ok,
            now: self.now,
        }
    }

    /// The controller `state` describes, for locker `locker_id` with
    /// `layout`, under `keys`. A state of another locker or layout, or one
    /// that contradicts itself, is refused with what is wrong.
    pub fn restore(
        locker_id: &str,
        layout: [u32; Size::COUNT],
        keys: LockerKeys,
        state: ControllerState,
    ) -> Result<Controller, String> {
        if state.locker_id != locker_id {
            return Err(format!(
                "a snapshot of locker `{}`, not `{locker_id}`",
                state.locker_id
            ));
        }
        state.config.check()?;
        if let Some(t) = state
            .times()
            // The controller keeps instants within `MAX_INSTANT`, and
            // deadlines within a week past one.
            .find(|t| t.unsigned_abs() > 2 * MAX_INSTANT as u64)
        {
            return Err(format!("a time of {t} ms, beyond any clock's"));
        }
        // Counters a controller could have reached: a forged one would
        // overflow (or wrap and forgive a lockout streak).
        let k = &state.keypad;
        if k.wrong >= MAX_WRONG || k.level > MAX_LEVEL {
            return Err(format!(
                "a keypad at {} wrong codes and lockout level {}, beyond its settings",
                k.wrong, k.level
            ));
        }
        if let Some(s) = state
            .strikes
            .iter()
            .find(|s| s.count() >= MAX_REFUSED_SCANS)
        {
            return Err(format!(
                "a pass with {} refused scans, past its lockout",
                s.count()
            ));
        }
        if state.next_event_id > MAX_EVENT_ID {
            return Err(format!(
                "event id {} is beyond any count",
                state.next_event_id
            ));
        }
        let locker = Locker::restore(state.locker)?;
        if locker.view().capacity != layout {
            return Err(format!(
                "a snapshot of layout {:?}, not {layout:?}",
                locker.view().capacity
            ));
        }
        let mut ctl = Controller::new(locker_id, keys, layout, state.config);
        let n = locker.compartment_count();
        for c in state.credentials {
            if c.compartment as usize >= n || ctl.code_of[c.compartment as usize].is_some() {
                return Err(format!(
                    "package {}'s credential names compartment {}, which is unknown or \
                     has another",
                    c.package, c.compartment
                ));
            }
            if ctl.credentials.insert(c.hash, c).is_some() {
                return Err(format!("package {}'s code hash is used twice", c.package));
            }
            ctl.code_of[c.compartment as usize] = Some(c.hash);
        }
        let sessions = state.session.iter().chain(&state.abandoned);
        if let Some(s) = sessions.clone().find(|s| s.compartment() as usize >= n) {
            return Err(format!(
                "a session at unknown compartment {}",
                s.compartment()
            ));
        }
        ctl.locker = locker;
        ctl.windows = state.windows;
        ctl.service_epoch = state.service_epoch;
        ctl.session = state.session;
        ctl.session_since = state.session_since;
        ctl.abandoned = state.abandoned;
        ctl.keypad = state.keypad;
        ctl.staff = state.staff;
        ctl.strikes = state.strikes;
        ctl.next_event_id = state.next_event_id;
        ctl.link_up = state.link_up;
        ctl.link_down_at = state.link_down_at;
        ctl.degraded = state.degraded;
        ctl.screen_ok = state.screen_ok;
        ctl.now = state.now;
        Ok(ctl)
    }
}

//! Drivers and operators sign in at the kiosk before they act, as at a real
//! locker: the world issues each site one pass per role and day, signed
//! with the site's keys (the region's issuer holds every locker's), and
//! the controller checks it by the same rules as a live kiosk.

use super::*;
use crate::access::pass::{self, PassClaims};

impl RegionSim<'_> {
    /// Signs in as `role` at site `s`, unless still signed in as that role
    /// (the same driver, back at the kiosk within its idle limit).
    pub(super) fn sign_in(&mut self, s: usize, now: Millis, role: Role) -> Result<(), SimError> {
        let day = now / DAY;
        let site = &mut self.sites[s];
        if site.ctl.signed_in_as(now) == Some(role)
            && site.passes[role as usize]
                .as_ref()
                .is_some_and(|(d, _)| *d == day)
        {
            return Ok(());
        }
        let slot = &mut site.passes[role as usize];
        let pass = match slot {
            Some((d, pass)) if *d == day => pass.clone(),
            _ => {
                let claims = PassClaims {
                    v: pass::VERSION,
                    role,
                    route: format!("{role}-{day}"),
                    lockers: vec![site.loc.id.clone()],
                    not_before: day * DAY,
                    not_after: (day + 1) * DAY - 1,
                    // Unique per site, role and day without a random draw,
                    // so the run's streams are as before.
                    nonce: format!("{day:x}"),
                };
                let keys = &site.keys;
                let pass: std::sync::Arc<str> = pass::issue(&claims, |_| keys.clone())
                    .expect("a pass for one locker is well formed")
                    .into();
                *slot = Some((day, pass.clone()));
                pass
            }
        };
        self.input(s, now, Source::Kiosk, Input::StaffPass { pass })
    }
}

//! Customers collect, and operations retrieve what expired: when customers
//! come, keypad, QR and app pickups, waiting out outages, and a package
//! leaving its compartment.

use super::*;

impl RegionSim<'_> {
    /// When the customer collects a package deposited at site `s` at `now`,
    /// and whether the reminder decided it: after its dwell, or after the
    /// reminder's delay if the service's reminder (sent `reminder_before_expiry`
    /// before expiry to every package still there) comes first, at the first
    /// moment the hours allow (see `visit_time`). Planned at deposit rather
    /// than when the reminder arrives, so a replayed recorded stay puts its
    /// event in the queue exactly where the generating run did.
    pub(super) fn pickup_time(&self, p: &Pkg, s: usize, now: Millis) -> (Millis, bool) {
        let meant = self.visit_time(p, s, now.saturating_add(p.dwell), p.dwell);
        let before = self.sc.reminder_before_expiry;
        if before == 0 || p.dwell >= NEVER || p.reminder_delay >= NEVER {
            return (meant, false);
        }
        let reminder = (now + self.sc.pickup_window).saturating_sub(before);
        if meant < reminder {
            return (meant, false);
        }
        let answer = reminder.saturating_add(p.reminder_delay);
        // At or before: a replayed recorded stay that the reminder caused
        // lands on the same moment, and is the reminder's again.
        let moved = self.visit_time(p, s, answer, p.reminder_delay);
        if moved <= meant {
            (moved, true)
        } else {
            (meant, false)
        }
    }

    /// The first moment from `wish` that is both within the customers'
    /// pickup hours for the package's home kind and within the locker's
    /// opening hours. A visit pushed to the start of a customer window
    /// spreads over its first hour by the sub-hour part of `delay` (uniform
    /// enough, and no extra draw, so scenarios without pickup hours keep
    /// every stream unchanged). The result is a moment both sets of hours
    /// allow, so replaying it as a recorded dwell lands on it again.
    fn visit_time(&self, p: &Pkg, s: usize, wish: Millis, delay: Millis) -> Millis {
        let cal = &self.sc.calendar;
        let locker = &self.sites[s].loc.hours;
        let kind = self.sites[p.home as usize].loc.kind.index();
        let Some(customer) = self.sc.pickup_hours[kind].as_ref().filter(|_| wish < NEVER) else {
            return locker.next_open(cal, wish);
        };
        let mut t = customer.next_open(cal, wish);
        if t > wish {
            t += delay % HOUR;
        }
        // Alternate until both agree; hours that never overlap (checked a
        // few weeks ahead) leave the locker's hours to decide.
        for _ in 0..64 {
            let open = locker.next_open(cal, t);
            let come = customer.next_open(cal, open);
            if come == open {
                return open;
            }
            t = come;
        }
        locker.next_open(cal, wish)
    }

    pub(super) fn on_pickup(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if p.stage != Stage::CodeIssued {
            // The customer has not been told the code yet (the locker was
            // offline at deposit): they come once it arrives.
            self.pkgs[slot as usize].stage = Stage::AwaitingCode;
            return Ok(());
        }
        if !self.sites[s].power_on {
            let back = self.sites[s].power_back_at;
            return self.come_back(now, slot, back);
        }
        if let Some(until) = self.kiosk_wait(s, slot) {
            // The customer waits their turn, if the window is still open by then.
            return self.come_back_counted(now, slot, until, false);
        }
        if !self.sites[s].screen_ok {
            // No screen, no keypad: the app unlocks over Bluetooth, for most.
            let f = &self.sc.faults;
            if self.sites[s].faults.gen::<f64>() >= f.app_unlock_success_share {
                let back = self.sites[s].screen_back_at;
                return self.come_back(now, slot, back);
            }
            self.sites[s].metrics.app_unlocks += p.counted as u64;
            self.qr_pickup(now, slot)?;
        } else if p.uses_qr {
            self.qr_pickup(now, slot)?;
        } else {
            if p.mistype {
                self.pkgs[slot as usize].mistype = false;
                let wrong = typo(p.code, p.typo_pos, p.typo_delta);
                // A typo that happens to be another customer's live code would
                // open their door; at most (active codes / 10⁶) of typos, so
                // the model leaves it out rather than invent what follows.
                if !self.service.code_in_use(s as LockerIdx, wrong) {
                    self.input(s, now, Source::Kiosk, Input::Keypad { code: wrong })?;
                    if p.counted {
                        let rejected = self.out.iter().any(|o| {
                            matches!(
                                o,
                                Output::Audit {
                                    event: AuditEvent::CodeRejected
                                }
                            )
                        });
                        let lockout = self.out.iter().any(|o| {
                            matches!(
                                o,
                                Output::Alert {
                                    alert: Alert::KeypadLockout { .. }
                                }
                            )
                        });
                        let m = &mut self.sites[s].metrics;
                        m.wrong_code_attempts += rejected as u64;
                        m.lockouts += lockout as u64;
                    }
                }
            }
            self.input(s, now, Source::Kiosk, Input::Keypad { code: p.code })?;
        }
        let Some(c) = self.opened() else {
            return match self.screen() {
                Some(Screen::KeypadLocked { until }) => {
                    // Turned away; the customer comes back when the keypad unlocks.
                    let m = &mut self.sites[s].metrics;
                    m.access_denials += p.counted as u64;
                    m.failed_pickups += p.counted as u64;
                    let back = self.sites[s].loc.hours.next_open(&self.sc.calendar, until);
                    self.come_back_counted(now, slot, back, false)
                }
                other => Err(self.invariant(
                    s,
                    now,
                    format!("pickup of package {} refused: {other:?}", p.id),
                )),
            };
        };
        self.pkgs[slot as usize].compartment = c;
        if !self.sites[s].link_up() {
            self.sites[s].metrics.pickups_offline += p.counted as u64;
        }
        let duration = self.sc.kiosk.pickup;
        self.occupy_kiosk(s, now, duration);
        if duration > 0 {
            self.schedule(now + duration, Ev::PickupDone(slot));
            Ok(())
        } else {
            self.on_pickup_done(now, slot)
        }
    }

    pub(super) fn qr_pickup(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        let compartment = self.sites[s]
            .ctl
            .locker()
            .compartment_of(p.id)
            .ok_or_else(|| {
                self.invariant(s, now, format!("package {} has no compartment", p.id))
            })?;
        let site = &mut self.sites[s];
        let claims = qr::claims(
            &mut site.access,
            &site.loc.id,
            compartment,
            p.id,
            p.expiry_at,
        );
        let token = qr::sign(&site.keys, &claims);
        self.input(s, now, Source::Kiosk, Input::QrScan { token })
    }

    /// A customer held up by an outage comes back at `back`, if the pickup
    /// window is still open then.
    pub(super) fn come_back(
        &mut self,
        now: Millis,
        slot: u32,
        back: Millis,
    ) -> Result<(), SimError> {
        self.come_back_counted(now, slot, back, true)
    }

    pub(super) fn come_back_counted(
        &mut self,
        now: Millis,
        slot: u32,
        back: Millis,
        outage: bool,
    ) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if outage {
            // A customer at a locker without power or screen leaves without
            // the parcel.
            let m = &mut self.sites[s].metrics;
            m.outage_delays += p.counted as u64;
            m.failed_pickups += p.counted as u64;
        }
        let back = self.sites[s]
            .loc
            .hours
            .next_open(&self.sc.calendar, back.max(now));
        // Too late: the service's clock expires the package.
        if back < p.expiry_at {
            self.schedule(back, Ev::Pickup(slot));
        }
        Ok(())
    }

    /// The service reminded the customer of package `slot`; whether it
    /// moves them was settled at deposit (`pickup_time`).
    pub(super) fn on_reminder(&mut self, slot: u32) {
        let p = self.pkgs[slot as usize];
        if p.counted && !p.rerouted {
            self.sites[p.home as usize].metrics.reminders_sent += 1;
        }
    }

    pub(super) fn on_pickup_done(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if !self.sites[s].power_on {
            let back = self.sites[s].power_back_at.max(now);
            self.sites[s].busy_until = back;
            self.schedule(back, Ev::PickupDone(slot));
            return Ok(());
        }
        self.sites[s].in_session = false;
        let c = p.compartment;
        self.close_door(s, now, c, false, p.id, "pickup", |k| {
            matches!(k, EventKind::PickedUp { .. })
        })?;
        let f = &self.sc.faults;
        if f.forgotten_item_probability > 0.0
            && self.sites[s].faults.gen::<f64>() < f.forgotten_item_probability
        {
            // Something left behind, too light for the door sensor to notice.
            self.sites[s].phantom[c as usize] = true;
        }
        self.pkgs[slot as usize].stage = Stage::PickedUp;
        self.left_compartment(now, slot, Outcome::PickedUp);
        Ok(())
    }

    /// A package has left its compartment at its site, by pickup or by
    /// retrieval (`outcome` unless it had been rerouted): metrics, the
    /// forecast's score, and its end.
    pub(super) fn left_compartment(&mut self, now: Millis, slot: u32, outcome: Outcome) {
        let p = self.pkgs[slot as usize];
        let stay = now - p.deposit_at;
        let forecast = self.service.dwell_forecast_hours(p.id).map(from_hours);
        if p.counted && !p.rerouted {
            let m = &mut self.sites[p.home as usize].metrics;
            if outcome == Outcome::PickedUp {
                m.record_dwell(stay);
                m.reminder_pickups += p.reminded as u64;
            }
            m.record_vacated(stay);
            m.record_forecast(forecast, stay);
        }
        let outcome = if p.rerouted {
            Outcome::ReroutedAlternateLocker
        } else {
            outcome
        };
        self.finish_package(now, slot, outcome);
    }

    pub(super) fn on_retrieval(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        // Operations come while the locker is open (a shop's, an office's).
        let open = self.sites[s].loc.hours.next_open(&self.sc.calendar, now);
        if open > now {
            self.schedule(open, Ev::Retrieval(slot));
            return Ok(());
        }
        if !self.sites[s].power_on {
            self.sites[s].metrics.outage_delays += p.counted as u64;
            let back = self.sites[s].power_back_at;
            self.schedule(back.max(now), Ev::Retrieval(slot));
            return Ok(());
        }
        if let Some(until) = self.kiosk_wait(s, slot) {
            self.schedule(until, Ev::Retrieval(slot));
            return Ok(());
        }
        self.sign_in(s, now, Role::Operator)?;
        self.input(s, now, Source::Kiosk, Input::OpsRetrieve { package: p.id })?;
        let Some(c) = self.opened() else {
            // The expiry command is still on its way to an offline locker:
            // operations come back later.
            self.schedule(now + HOUR, Ev::Retrieval(slot));
            return Ok(());
        };
        self.close_door(s, now, c, false, p.id, "retrieval", |k| {
            matches!(k, EventKind::Retrieved { .. })
        })?;
        self.left_compartment(now, slot, Outcome::ExpiredReturned);
        Ok(())
    }
}

//! Drivers deposit: the kiosk queue, the scan, jammed or blocked doors, the
//! door closing on the parcel, and failed drop-offs.

use super::*;

impl RegionSim<'_> {
    /// Someone arrives at a kiosk another person is using: they wait their
    /// turn. Returns when the kiosk is free, or None if it is free now.
    pub(super) fn kiosk_wait(&mut self, s: usize, slot: u32) -> Option<Millis> {
        let (until, busy) = (self.sites[s].busy_until, self.sites[s].in_session);
        let p = &mut self.pkgs[slot as usize];
        // A session ending right now still holds the kiosk until its end
        // event is handled: waiting until `now` queues behind it.
        if busy {
            if !p.waiting {
                p.waiting = true;
                self.sites[s].metrics.kiosk_waits += p.counted as u64;
            }
            Some(until)
        } else {
            p.waiting = false;
            None
        }
    }

    pub(super) fn occupy_kiosk(&mut self, s: usize, now: Millis, duration: Millis) {
        if duration > 0 {
            self.sites[s].busy_until = now + duration;
            self.sites[s].in_session = true;
        }
    }

    pub(super) fn on_driver(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if !self.sites[s].power_on {
            self.sites[s].metrics.outage_delays += p.counted as u64;
            return self.failed_drop_off(now, slot, FailCause::Power);
        }
        if let Some(until) = self.kiosk_wait(s, slot) {
            let gen = p.gen;
            self.schedule(until, Ev::Driver { slot, gen });
            return Ok(());
        }
        self.sign_in(s, now, Role::Driver)?;
        self.input(s, now, Source::Kiosk, Input::DriverScan { package: p.id })?;
        let Some(mut c) = self.opened() else {
            return match self.failed() {
                Some(FailReason::Full) => self.failed_drop_off(now, slot, FailCause::Full),
                // The reservation never reached the offline locker.
                Some(FailReason::NoReservation) => {
                    self.failed_drop_off(now, slot, FailCause::Offline)
                }
                other => Err(self.invariant(
                    s,
                    now,
                    format!("driver scan of package {} opened nothing: {other:?}", p.id),
                )),
            };
        };
        // Doors that jam, and compartments with something inside, are
        // reported; the controller takes them out of service and opens
        // another one.
        let f = &self.sc.faults;
        loop {
            let cause = if f.door_jam_probability > 0.0
                && self.sites[s].faults.gen::<f64>() < f.door_jam_probability
            {
                Some(FaultCause::Jam)
            } else if self.sites[s].phantom[c as usize] {
                Some(FaultCause::Blocked)
            } else {
                None
            };
            let Some(cause) = cause else { break };
            self.input(
                s,
                now,
                Source::Sensors,
                Input::CompartmentUnusable {
                    compartment: c,
                    cause,
                },
            )?;
            let next = self.opened();
            self.after_fault(s, now, c, cause, p.counted);
            match next {
                Some(next) => c = next,
                None => return self.failed_drop_off(now, slot, FailCause::Jam),
            }
        }
        self.pkgs[slot as usize].compartment = c;
        self.pkgs[slot as usize].scan_seq = self.processed;
        let duration = self.sc.kiosk.dropoff;
        self.occupy_kiosk(s, now, duration);
        if duration > 0 {
            self.schedule(now + duration, Ev::DepositDone(slot));
            Ok(())
        } else {
            self.on_deposit_done(now, slot)
        }
    }

    pub(super) fn on_deposit_done(&mut self, now: Millis, slot: u32) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        let s = p.at as usize;
        if !self.sites[s].power_on {
            // The door closes on a dark locker: the controller sees it when
            // the power returns (the kiosk stays taken until then).
            let back = self.sites[s].power_back_at.max(now);
            self.sites[s].busy_until = back;
            self.schedule(back, Ev::DepositDone(slot));
            return Ok(());
        }
        self.sites[s].in_session = false;
        let c = p.compartment;
        let f = &self.sc.faults;
        if f.size_mismatch_probability > 0.0
            && self.sites[s].faults.gen::<f64>() < f.size_mismatch_probability
        {
            // It does not fit after all: the driver closes the empty door.
            self.input(
                s,
                now,
                Source::Sensors,
                Input::DoorClosed {
                    compartment: c,
                    occupied: false,
                },
            )?;
            if self.failed() != Some(FailReason::NotDeposited) {
                return Err(self.invariant(s, now, "aborted deposit not reported".into()));
            }
            return self.failed_drop_off(now, slot, FailCause::SizeMismatch);
        }
        let occupied_before = self.sites[s].ctl.view().occupied;
        self.close_door(s, now, c, true, p.id, "deposit", |k| {
            matches!(k, EventKind::Deposited { .. })
        })?;
        if f.wrong_compartment_probability > 0.0
            && self.sites[s].faults.gen::<f64>() < f.wrong_compartment_probability
        {
            // A parcel ends up in a compartment the software thinks empty.
            let site = &mut self.sites[s];
            let n = site.phantom.len() as u32;
            let x = site.faults.gen_range(0..n);
            if site.ctl.locker().state(x) == Some(CompartmentState::Available) {
                site.phantom[x as usize] = true;
            }
        }
        let sc = self.sc;
        let expiry_at = now + sc.pickup_window;
        {
            let pkg = &mut self.pkgs[slot as usize];
            pkg.deposit_at = now;
            pkg.expiry_at = expiry_at;
            if pkg.stage == Stage::Reserved {
                pkg.stage = Stage::Deposited;
            }
            pkg.occupied_at_deposit = occupied_before;
        }
        if p.counted && !p.rerouted {
            self.sites[p.home as usize].metrics.deposited += 1;
        }
        // The service hears of the deposit (now, or when the link is back),
        // issues the code and keeps the expiry clock; the customer comes
        // when they planned to or when the reminder moves them, if that is
        // before the window closes.
        let (pickup_at, reminded) = self.pickup_time(&p, s, now);
        self.pkgs[slot as usize].reminded = reminded;
        if pickup_at < expiry_at {
            self.schedule(pickup_at, Ev::Pickup(slot));
        }
        Ok(())
    }

    /// The driver could not deposit. Their app tells the service, which
    /// sends them to a nearby locker (once) or the package to the doorstep;
    /// the answer comes back through `hear`.
    pub(super) fn failed_drop_off(
        &mut self,
        now: Millis,
        slot: u32,
        cause: FailCause,
    ) -> Result<(), SimError> {
        let p = self.pkgs[slot as usize];
        self.pkgs[slot as usize].failed = true;
        if !p.rerouted && p.counted {
            self.sites[p.home as usize].metrics.record_failure(cause);
        }
        // The controller's own report (when its link is up) says the same;
        // whichever the service hears first decides.
        let reroute = cause != FailCause::SizeMismatch;
        self.log(p.at as usize, now, || {
            Some(WorldAct::DropOffFailed {
                order: p.id,
                reroute,
            })
        });
        let failed = service::Input::DropOffFailed {
            order: p.id,
            locker: p.at,
            reroute,
        };
        self.tell_service(now, failed)
    }
}

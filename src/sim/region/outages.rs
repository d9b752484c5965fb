//! Hardware and network trouble: outages of screen, network and power, the
//! link they take down and bring back, compartments taken out of service, and
//! periodic reconciliation.

use super::*;

impl RegionSim<'_> {
    pub(super) fn outage_rate(&self, kind: Outage) -> f64 {
        let f = &self.sc.faults;
        match kind {
            Outage::Screen => f.screen_failures_per_day,
            Outage::Network => f.network_outages_per_day,
            Outage::Power => f.power_outages_per_day,
        }
    }

    /// An outage starts (`until` = when it will end) or ends (None).
    pub(super) fn set_outage(
        &mut self,
        s: usize,
        now: Millis,
        kind: Outage,
        until: Option<Millis>,
    ) -> Result<(), SimError> {
        let up = until.is_none();
        match kind {
            Outage::Screen => {
                let st = &mut self.sites[s];
                st.screen_ok = up;
                if let Some(end) = until {
                    st.screen_back_at = end;
                }
                if st.power_on {
                    self.input(s, now, Source::Runtime, Input::ScreenStatus { working: up })?;
                }
                Ok(())
            }
            Outage::Network => self.set_link(s, now, up, self.sites[s].power_on),
            Outage::Power => {
                if let Some(end) = until {
                    self.sites[s].power_back_at = end;
                }
                self.set_link(s, now, self.sites[s].net_up, up)
            }
        }
    }

    /// Network or power changed; handles the link going down or coming back.
    pub(super) fn set_link(
        &mut self,
        s: usize,
        now: Millis,
        net_up: bool,
        power_on: bool,
    ) -> Result<(), SimError> {
        // What is on the wire arrives before the link changes (zero latency).
        self.flush_ledgers();
        self.pump(now)?;
        let was_up = self.sites[s].link_up();
        let was_powered = self.sites[s].power_on;
        {
            let st = &mut self.sites[s];
            st.net_up = net_up;
            st.power_on = power_on;
        }
        if power_on && !was_powered {
            // The controller boots with its stored state and reports what it
            // finds: screen and link (which may have changed while it was dark).
            let working = self.sites[s].screen_ok;
            self.input(s, now, Source::Runtime, Input::ScreenStatus { working })?;
            if !net_up {
                self.input(s, now, Source::Runtime, Input::Link { up: false })?;
            }
        }
        let is_up = self.sites[s].link_up();
        if was_up != is_up {
            self.log(s, now, || Some(WorldAct::Link { up: is_up }));
        }
        if was_up && !is_up {
            // The broker publishes the locker's will: the service knows at once.
            let lost = service::Input::Link {
                locker: s as LockerIdx,
                up: false,
            };
            self.tell_service(now, lost)?;
            if power_on {
                self.input(s, now, Source::Runtime, Input::Link { up: false })?;
            }
            let st = &mut self.sites[s];
            st.stale_epoch += 1;
            let check = Ev::StaleCheck {
                site: s as u32,
                epoch: st.stale_epoch,
            };
            self.schedule(now + self.sc.faults.stale_after, check);
        } else if !was_up && is_up {
            // What the locker said while away goes out first, in order,
            // before anything it says now; then the commands it missed.
            let backlog = std::mem::take(&mut self.sites[s].to_service);
            self.mail.extend(backlog);
            self.input(s, now, Source::Runtime, Input::Link { up: true })?;
            let st = &mut self.sites[s];
            if st.stale {
                st.stale = false;
                st.stale_time.set(now, 0);
            }
            while let Some((seq, cmd)) = self.sites[s].to_locker.pop_front() {
                self.apply(s, now, Source::Service, seq, cmd)?;
            }
            let back = service::Input::Link {
                locker: s as LockerIdx,
                up: true,
            };
            self.tell_service(now, back)?;
        }
        Ok(())
    }

    /// Schedules the repair (jam) or clearing (item inside) of a compartment
    /// the controller just took out of service.
    pub(super) fn after_fault(
        &mut self,
        s: usize,
        now: Millis,
        c: CompartmentId,
        cause: FaultCause,
        counted: bool,
    ) {
        let f = &self.sc.faults;
        let site = &mut self.sites[s];
        let (delay, ev) = match cause {
            FaultCause::Jam => {
                site.metrics.door_jams += counted as u64;
                (
                    f.repair_time.sample(&mut site.faults),
                    Ev::Repair {
                        site: s as u32,
                        compartment: c,
                    },
                )
            }
            FaultCause::Blocked | FaultCause::SensorMismatch => {
                site.metrics.sensor_mismatches += counted as u64;
                (
                    f.ops_clear_time.sample(&mut site.faults),
                    Ev::OpsClear {
                        site: s as u32,
                        compartment: c,
                    },
                )
            }
        };
        self.schedule(now + delay, ev);
    }

    /// Periodic reconciliation: the sensors' full scan against the software.
    pub(super) fn on_reconcile(&mut self, now: Millis, s: usize) -> Result<(), SimError> {
        let interval = self.sc.faults.reconciliation_interval;
        if self.sites[s].power_on {
            let site = &self.sites[s];
            let locker = site.ctl.locker();
            let occupied: Vec<bool> = (0..locker.compartment_count())
                .map(|c| {
                    site.phantom[c]
                        || matches!(
                            locker.state(c as CompartmentId),
                            Some(CompartmentState::Occupied | CompartmentState::Expired)
                        )
                })
                .collect();
            self.input(s, now, Source::Sensors, Input::Reconcile { occupied })?;
            let counted = now >= self.sc.warmup;
            for c in self.faulted() {
                self.after_fault(s, now, c, FaultCause::SensorMismatch, counted);
            }
        }
        // Reconciliation runs as long as anything is in flight.
        if now < self.sc.horizon || self.pkgs.len() != self.free_slots.len() {
            self.schedule(now + interval, Ev::Reconcile(s as u32));
        }
        Ok(())
    }
}

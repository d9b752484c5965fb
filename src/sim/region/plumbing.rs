//! The plumbing between the world and the two cores: controller inputs and
//! the reports they cause, the service's inputs and outputs, and reading a
//! controller's outputs.

use super::*;

impl RegionSim<'_> {
    /// Feeds one input to a site's controller; its outputs land in
    /// `self.out` until the next input (read them with the helpers below).
    pub(super) fn input(
        &mut self,
        s: usize,
        now: Millis,
        source: Source,
        input: Input,
    ) -> Result<(), SimError> {
        self.log(s, now, || WorldAct::of_local(source, &input));
        let site = &mut self.sites[s];
        let seq = &mut site.seq[source.index()];
        *seq += 1;
        let seq = *seq;
        self.apply(s, now, source, seq, input)
    }

    /// Feeds one numbered input to a site's controller and reports what it
    /// published (or, for a service command it refused, the refusal).
    pub(super) fn apply(
        &mut self,
        s: usize,
        now: Millis,
        source: Source,
        seq: u64,
        input: Input,
    ) -> Result<(), SimError> {
        let site = &mut self.sites[s];
        let before = *site.ctl.view();
        self.out.clear();
        let refused = match site.ctl.handle(now, source, seq, &input, &mut self.out) {
            Ok(_) => None,
            // The service hears why, as over MQTT (a cancel crossing a
            // drop-off, a command for a package already gone).
            Err(e) if source == Source::Service => Some(e.to_string()),
            Err(e) => {
                return Err(SimError::Controller {
                    location: site.loc.id.clone(),
                    time: now,
                    input: format!("{input:?}"),
                    source: e,
                })
            }
        };
        let mut published = false;
        for i in 0..self.out.len() {
            if let Output::Publish { event } = self.out[i] {
                published = true;
                self.report(s, What::Event { event });
            }
        }
        if let Some(reason) = refused {
            let what = What::Error {
                command: Some(seq.to_string()),
                reason,
            };
            self.report(s, what);
        } else if source == Source::Service && matches!(input, Input::Credential { .. }) {
            self.confirm_credential(s);
        } else if !published && *self.sites[s].ctl.view() != before {
            self.report(s, What::Ledger);
        }
        let site = &mut self.sites[s];
        let view = site.ctl.view();
        site.occupancy.set(now, view.occupied);
        site.maintenance.set(now, view.maintenance);
        if let Some(sink) = &mut site.audit {
            sink.record(now, &self.out)?;
        }
        Ok(())
    }

    /// A report from site `s` to the service: on its way now if the link is
    /// up (it is handled at the next `pump`), else when the link returns.
    ///
    /// A ledger-only report is coalesced: the site is marked and reports
    /// once, with its ledger as it is then, just before anything else is put
    /// on the way to the service (or the link changes). The service reads a
    /// ledger only when it handles a message, so it sees the same ledgers
    /// as with one report per change, and most such reports (a reservation
    /// applied, a door opened) are superseded by the next event's report.
    pub(super) fn report(&mut self, s: usize, what: What) {
        if matches!(what, What::Ledger) {
            let site = &mut self.sites[s];
            if !site.ledger_dirty {
                site.ledger_dirty = true;
                self.dirty.push(s as u32);
            }
            return;
        }
        // This report carries the site's ledger as it is now.
        self.sites[s].ledger_dirty = false;
        self.flush_ledgers();
        self.send_report(s, what);
    }

    /// Sends the marked sites' ledgers (those whose link is up; the others
    /// report when it returns).
    pub(super) fn flush_ledgers(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.retain(|&s| {
            let s = s as usize;
            if !self.sites[s].ledger_dirty {
                return false;
            }
            if !self.sites[s].link_up() {
                return true;
            }
            self.sites[s].ledger_dirty = false;
            self.send_report(s, What::Ledger);
            false
        });
        self.dirty = dirty;
    }

    fn send_report(&mut self, s: usize, what: What) {
        let report = self.next_report(s, what);
        let site = &mut self.sites[s];
        if site.link_up() {
            self.mail.push_back(report);
        } else {
            site.to_service.push_back(report);
        }
    }

    /// The locker confirms a pickup code's credential the moment it holds
    /// it (`emu::Node` reports after every applied command), and the
    /// service sends the code on that confirmation. It goes ahead of
    /// anything else waiting for the service, so the customer hears the
    /// code just where the service would have sent it unconfirmed; it
    /// carries the ledger as it is, so the site's pending change goes with
    /// it.
    fn confirm_credential(&mut self, s: usize) {
        self.sites[s].ledger_dirty = false;
        let report = self.next_report(s, What::Ledger);
        self.mail.push_front(report);
    }

    /// Site `s`'s next report (numbered like an outbox), with its ledger
    /// and applied mark as they are now.
    fn next_report(&mut self, s: usize, what: What) -> service::Input {
        let site = &mut self.sites[s];
        site.reports += 1;
        service::Input::Report {
            locker: s as LockerIdx,
            seq: site.reports,
            report: Report {
                applied: site.ctl.applied_commands(),
                epoch: 0,
                view: *site.ctl.view(),
                what,
            },
        }
    }

    /// One input to the service, and everything it causes.
    pub(super) fn tell_service(
        &mut self,
        now: Millis,
        input: service::Input,
    ) -> Result<(), SimError> {
        self.flush_ledgers();
        self.mail.push_back(input);
        self.pump(now)
    }

    /// Delivers messages to the service until none is left, and the
    /// service's outputs to controllers (queued while a link is down) and
    /// to the people they are for.
    pub(super) fn pump(&mut self, now: Millis) -> Result<(), SimError> {
        // One buffer for the common, unnested case (a reroute pumps again
        // from inside `dispatch` and gets a fresh one).
        let mut outputs = std::mem::take(&mut self.service_out);
        while let Some(input) = self.mail.pop_front() {
            self.service.handle(now, input, &mut outputs);
            for o in outputs.drain(..) {
                self.dispatch(now, o)?;
            }
        }
        self.service_out = outputs;
        Ok(())
    }

    /// Schedules a `ServiceTick` for the service's next deadline, unless
    /// one is due by then.
    pub(super) fn rewake(&mut self, now: Millis) {
        if let Some(at) = self.service.next_deadline() {
            let at = at.max(now);
            if at < self.wake {
                self.wake = at;
                self.schedule(at, Ev::ServiceTick);
            }
        }
    }

    pub(super) fn dispatch(&mut self, now: Millis, output: ServiceOutput) -> Result<(), SimError> {
        match output {
            ServiceOutput::Command { locker, seq, input } => {
                let s = locker as usize;
                if self.sites[s].link_up() {
                    self.apply(s, now, Source::Service, seq, input)?;
                } else {
                    self.sites[s].to_locker.push_back((seq, input));
                }
            }
            ServiceOutput::Sync { locker } => self.report(locker as usize, What::Ledger),
            ServiceOutput::Retrieve { order, .. } => {
                if let Some(&slot) = self.by_order.get(&order) {
                    let p = self.pkgs[slot as usize];
                    if p.counted && !p.rerouted {
                        self.sites[p.home as usize].metrics.expired += 1;
                    }
                    let at = self.collection_time(slot, p.at as usize, now);
                    self.schedule(at, Ev::Retrieval(slot));
                }
            }
            ServiceOutput::Reply { reply, .. } => self.hear(now, reply)?,
        }
        Ok(())
    }

    /// A customer, a driver or the checkout hears from the service.
    pub(super) fn hear(&mut self, now: Millis, reply: Reply) -> Result<(), SimError> {
        if matches!(reply, Reply::Accepted { .. } | Reply::Rejected { .. }) {
            self.decision = Some(reply);
            return Ok(());
        }
        let Some(&slot) = self.by_order.get(&reply.order()) else {
            return Ok(()); // already finished here (a pickup, a retrieval)
        };
        match reply {
            Reply::Rerouted { locker, .. } => {
                // The driver takes the package there now.
                let pkg = &mut self.pkgs[slot as usize];
                pkg.at = locker;
                pkg.rerouted = true;
                self.on_driver(now, slot)
            }
            Reply::Code {
                code, expires_at, ..
            } => {
                let pkg = &mut self.pkgs[slot as usize];
                pkg.code = code;
                pkg.expiry_at = expires_at;
                let waited = pkg.stage == Stage::AwaitingCode;
                pkg.stage = Stage::CodeIssued;
                if waited {
                    // The customer comes as soon as they hear, if the locker is open.
                    self.come_back_counted(now, slot, now, false)?;
                }
                Ok(())
            }
            Reply::Reminder { .. } => {
                self.on_reminder(slot);
                Ok(())
            }
            Reply::Outcome {
                outcome: Outcome::ReroutedDoorstep,
                ..
            } => {
                // Not after a failed drop-off: the reservation lapsed.
                let p = self.pkgs[slot as usize];
                if p.counted && !p.failed {
                    self.sites[p.home as usize].metrics.reservation_timeouts += 1;
                }
                self.finish_package(now, slot, Outcome::ReroutedDoorstep);
                Ok(())
            }
            // Pickups and retrievals end where they happen, in the world.
            _ => Ok(()),
        }
    }

    /// A door closes at the end of a session; the controller must confirm
    /// the step with the expected event, or the run is broken.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn close_door(
        &mut self,
        s: usize,
        now: Millis,
        compartment: CompartmentId,
        occupied: bool,
        package: u64,
        step: &str,
        confirms: impl Fn(&EventKind) -> bool,
    ) -> Result<(), SimError> {
        self.input(
            s,
            now,
            Source::Sensors,
            Input::DoorClosed {
                compartment,
                occupied,
            },
        )?;
        if self.published(confirms) {
            Ok(())
        } else {
            Err(self.invariant(s, now, format!("{step} of package {package} not confirmed")))
        }
    }

    pub(super) fn opened(&self) -> Option<CompartmentId> {
        self.out.iter().find_map(|o| match o {
            Output::OpenDoor { compartment } => Some(*compartment),
            _ => None,
        })
    }

    pub(super) fn screen(&self) -> Option<Screen> {
        self.out.iter().find_map(|o| match o {
            Output::Screen { message } => Some(*message),
            _ => None,
        })
    }

    pub(super) fn published(&self, wanted: impl Fn(&EventKind) -> bool) -> bool {
        self.out
            .iter()
            .any(|o| matches!(o, Output::Publish { event } if wanted(&event.kind)))
    }

    pub(super) fn failed(&self) -> Option<FailReason> {
        self.out.iter().find_map(|o| match o {
            Output::Publish {
                event:
                    crate::controller::Event {
                        kind: EventKind::DeliveryFailed { reason, .. },
                        ..
                    },
            } => Some(*reason),
            _ => None,
        })
    }

    pub(super) fn faulted(&self) -> Vec<CompartmentId> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Publish {
                    event:
                        crate::controller::Event {
                            kind: EventKind::CompartmentFault { compartment, .. },
                            ..
                        },
                } => Some(*compartment),
                _ => None,
            })
            .collect()
    }
}

//! Faults the controller handles: a compartment taken out of service, a
//! door that cannot be used for a drop-off, and reconciliation of the
//! occupancy sensors against the software state.

use super::*;

impl Controller {
    /// Takes a compartment out of service and tells everyone.
    pub(super) fn take_out_of_service(
        &mut self,
        now: Millis,
        req: RequestId,
        compartment: CompartmentId,
        cause: FaultCause,
        out: &mut Vec<Output>,
    ) -> Result<Option<PackageId>, Rejected> {
        let displaced = self.locker.fault(req, compartment)?;
        out.push(Output::Audit {
            event: AuditEvent::CompartmentFault { compartment },
        });
        out.push(Output::Alert {
            alert: Alert::CompartmentFault { compartment, cause },
        });
        self.publish(now, EventKind::CompartmentFault { compartment, cause }, out);
        Ok(displaced)
    }

    /// The door opened for a drop-off jammed, or the compartment holds
    /// something: out of service, and the driver gets another compartment.
    pub(super) fn unusable(
        &mut self,
        now: Millis,
        req: RequestId,
        compartment: CompartmentId,
        cause: FaultCause,
        out: &mut Vec<Output>,
    ) -> Result<(), Rejected> {
        if self.locker.state(compartment).is_none() {
            return Err(LockerError::UnknownCompartment(compartment).into());
        }
        if self.locker.state(compartment) == Some(CompartmentState::Maintenance) {
            return Ok(());
        }
        let session = self.session.filter(|s| s.compartment() == compartment);
        let holds_package = matches!(
            self.locker.state(compartment),
            Some(CompartmentState::Occupied | CompartmentState::Expired)
        );
        if holds_package
            || matches!(
                session,
                Some(Session::Pickup { .. } | Session::Retrieval { .. })
            )
        {
            // A package is inside: it cannot be taken out of the books here.
            out.push(Output::Alert {
                alert: Alert::SensorMismatch { compartment },
            });
            return Ok(());
        }
        self.take_out_of_service(now, req, compartment, cause, out)?;
        if let Some(Session::Deposit { package, .. }) = session {
            self.session = None;
            match self.locker.assign(req, package) {
                Ok(next) => self.open(
                    Session::Deposit {
                        package,
                        compartment: next,
                    },
                    out,
                ),
                Err(LockerError::NoFit(_)) => {
                    self.locker.release(req, package)?;
                    out.push(Output::Screen {
                        message: Screen::NoCompartment,
                    });
                    self.publish(
                        now,
                        EventKind::DeliveryFailed {
                            package,
                            reason: FailReason::Jam,
                        },
                        out,
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Compares a full sensor scan with the software state. An empty-looking
    /// compartment that holds something goes out of service until operations
    /// clear it; a compartment that should hold a package but reads empty is
    /// only reported (its package stays on the books for operations to find).
    pub(super) fn reconcile(
        &mut self,
        now: Millis,
        req: RequestId,
        occupied: &[bool],
        out: &mut Vec<Output>,
    ) -> Result<(), Rejected> {
        let n = self.locker.compartment_count();
        if occupied.len() != n {
            return Err(Rejected::BadReading {
                got: occupied.len(),
                expected: n,
            });
        }
        for (c, &reading) in occupied.iter().enumerate() {
            let c = c as CompartmentId;
            let state = self.locker.state(c).expect("index in range");
            let busy = self.session_at(c).is_some();
            match state {
                CompartmentState::Available | CompartmentState::Reserved if reading && !busy => {
                    self.take_out_of_service(now, req, c, FaultCause::SensorMismatch, out)?;
                }
                CompartmentState::Occupied | CompartmentState::Expired if !reading && !busy => out
                    .push(Output::Alert {
                        alert: Alert::SensorMismatch { compartment: c },
                    }),
                _ => {}
            }
        }
        Ok(())
    }
}

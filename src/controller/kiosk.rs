//! The kiosk's sessions: a driver's scan and deposit, a customer's code or
//! QR token and pickup, an operator's retrieval, and the door closing on
//! each.

use super::*;

impl Controller {
    pub(super) fn driver_scan(
        &mut self,
        now: Millis,
        req: RequestId,
        package: PackageId,
        out: &mut Vec<Output>,
    ) -> Result<(), Rejected> {
        if self.busy(out) {
            return Ok(());
        }
        let Some(pass) = self.signed_in(Role::Driver, now, out) else {
            out.push(Output::Audit {
                event: AuditEvent::DriverScan {
                    package,
                    compartment: None,
                },
            });
            return Ok(());
        };
        match self.locker.assign(req, package) {
            Ok(compartment) => {
                out.push(Output::Audit {
                    event: AuditEvent::DriverScan {
                        package,
                        compartment: Some(compartment),
                    },
                });
                self.open(
                    Session::Deposit {
                        package,
                        compartment,
                    },
                    out,
                );
            }
            // Its package is already inside (a label scanned again, or
            // copied): no door opens, the service hears nothing (the
            // delivery did not fail), operations hear of it and the pass
            // draws a strike.
            Err(LockerError::Deposited(_)) => {
                out.push(Output::Screen {
                    message: Screen::UnknownPackage,
                });
                out.push(Output::Audit {
                    event: AuditEvent::DriverScan {
                        package,
                        compartment: None,
                    },
                });
                out.push(Output::Alert {
                    alert: Alert::ScanRefused { package },
                });
                self.refused_scan(pass, now, out);
            }
            Err(e @ (LockerError::NoFit(_) | LockerError::UnknownPackage(_))) => {
                let reason = if matches!(e, LockerError::NoFit(_)) {
                    self.locker.release(req, package)?;
                    out.push(Output::Screen {
                        message: Screen::NoCompartment,
                    });
                    FailReason::Full
                } else {
                    out.push(Output::Screen {
                        message: Screen::UnknownPackage,
                    });
                    // Offline, a missing reservation is the link's doing.
                    if self.link_up {
                        out.push(Output::Alert {
                            alert: Alert::ScanRefused { package },
                        });
                    }
                    FailReason::NoReservation
                };
                out.push(Output::Audit {
                    event: AuditEvent::DriverScan {
                        package,
                        compartment: None,
                    },
                });
                self.publish(now, EventKind::DeliveryFailed { package, reason }, out);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// A typed code, as its hash under the locker's keys and, during a
    /// rotation, under the keys being retired (a code issued before the
    /// rotation was hashed under those).
    pub(super) fn keypad_code(
        &mut self,
        now: Millis,
        hash: CodeHash,
        previous: Option<CodeHash>,
        out: &mut Vec<Output>,
    ) {
        if !self.screen_ok {
            out.push(Output::Audit {
                event: AuditEvent::KeypadUnavailable,
            });
            return;
        }
        if self.busy(out) {
            return;
        }
        self.customer_at_kiosk();
        if self.keypad.is_locked(now) {
            out.push(Output::Audit {
                event: AuditEvent::KeypadLocked,
            });
            out.push(Output::Screen {
                message: Screen::KeypadLocked {
                    until: self.keypad.locked_until,
                },
            });
            return;
        }
        let live = |hash: CodeHash| {
            self.credentials
                .get(&hash)
                .copied()
                .filter(|c| c.hash.ct_eq(&hash) && now <= c.not_after)
        };
        let matched = live(hash).or_else(|| previous.and_then(live));
        match matched {
            Some(c) => {
                // Single use: the code is gone the moment it opens the door.
                self.revoke(c.compartment);
                out.push(Output::Audit {
                    event: AuditEvent::CodeAccepted {
                        compartment: c.compartment,
                        package: c.package,
                    },
                });
                self.open(
                    Session::Pickup {
                        package: c.package,
                        compartment: c.compartment,
                    },
                    out,
                );
            }
            None => {
                out.push(Output::Audit {
                    event: AuditEvent::CodeRejected,
                });
                match self.keypad.wrong_code(now, &self.config) {
                    Some(keypad::Lockout { until, level }) => {
                        out.push(Output::Audit {
                            event: AuditEvent::LockoutStarted { until },
                        });
                        out.push(Output::Alert {
                            alert: Alert::KeypadLockout { until, level },
                        });
                        self.publish(now, EventKind::KeypadLockout { until }, out);
                        out.push(Output::Screen {
                            message: Screen::KeypadLocked { until },
                        });
                    }
                    None => out.push(Output::Screen {
                        message: Screen::WrongCode {
                            tries_left: self
                                .config
                                .max_wrong_codes
                                .saturating_sub(self.keypad.wrong),
                        },
                    }),
                }
            }
        }
    }

    /// Verifies a token's signature, version, locker and time.
    pub(super) fn check_qr(&self, now: Millis, token: &str) -> QrVerdict {
        match qr::verify(&self.keys, token, &self.locker_id, now) {
            Ok(claims) => QrVerdict::Signed {
                package: claims.package,
                compartment: claims.compartment,
            },
            Err(e) => QrVerdict::Rejected {
                reason: QrRejection::from(&e),
            },
        }
    }

    pub(super) fn qr_scan(&mut self, verdict: QrVerdict, out: &mut Vec<Output>) {
        if self.busy(out) {
            return;
        }
        self.customer_at_kiosk();
        let verdict = match verdict {
            // The token must still be live: its package holds a credential
            // here, in the compartment the token names.
            QrVerdict::Signed {
                package,
                compartment,
            } if self.locker.compartment_of(package) != Some(compartment)
                || self
                    .code_of
                    .get(compartment as usize)
                    .is_none_or(|c| c.is_none()) =>
            {
                Err(QrRejection::NotLive)
            }
            QrVerdict::Signed {
                package,
                compartment,
            } => Ok((package, compartment)),
            QrVerdict::Rejected { reason } => Err(reason),
        };
        match verdict {
            Ok((package, compartment)) => {
                self.revoke(compartment);
                out.push(Output::Audit {
                    event: AuditEvent::QrAccepted {
                        compartment,
                        package,
                    },
                });
                self.open(
                    Session::Pickup {
                        package,
                        compartment,
                    },
                    out,
                );
            }
            Err(reason) => {
                out.push(Output::Audit {
                    event: AuditEvent::QrRejected { reason },
                });
                out.push(Output::Screen {
                    message: Screen::InvalidToken,
                });
            }
        }
    }

    pub(super) fn ops_retrieve(&mut self, now: Millis, package: PackageId, out: &mut Vec<Output>) {
        if self.busy(out) {
            return;
        }
        let Some(pass) = self.signed_in(Role::Operator, now, out) else {
            return;
        };
        match self.locker.compartment_of(package) {
            Some(compartment)
                if self.locker.state(compartment) == Some(CompartmentState::Expired) =>
            {
                out.push(Output::Audit {
                    event: AuditEvent::OpsRetrieval {
                        package,
                        compartment,
                    },
                });
                self.open(
                    Session::Retrieval {
                        package,
                        compartment,
                    },
                    out,
                );
            }
            here => {
                out.push(Output::Screen {
                    message: Screen::UnknownPackage,
                });
                // Online, the locker has every expiry the service sent
                // (operations are sent on the locker's own `expired`
                // event): a retrieval of anything else is someone going
                // for a package that is not theirs to take. Offline, the
                // expiry may still be on its way.
                if self.link_up {
                    out.push(Output::Alert {
                        alert: Alert::ScanRefused { package },
                    });
                    if here.is_some() {
                        self.refused_scan(pass, now, out);
                    }
                }
            }
        }
    }

    pub(super) fn door_closed(
        &mut self,
        now: Millis,
        req: RequestId,
        compartment: CompartmentId,
        occupied: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), Rejected> {
        out.push(Output::Audit {
            event: AuditEvent::DoorClosed {
                compartment,
                occupied,
            },
        });
        let session = match self.session_at(compartment) {
            Some(s) => s,
            None => {
                // A door closed outside any session: only worth saying if the
                // sensor contradicts the software.
                let expects_package = matches!(
                    self.locker.state(compartment),
                    Some(CompartmentState::Occupied | CompartmentState::Expired)
                );
                if expects_package != occupied {
                    out.push(Output::Alert {
                        alert: Alert::SensorMismatch { compartment },
                    });
                }
                return Ok(());
            }
        };
        if self.session == Some(session) {
            self.session = None;
        } else {
            self.abandoned.retain(|&s| s != session);
        }
        match (session, occupied) {
            (Session::Deposit { package, .. }, true) => {
                self.locker.deposit(req, package)?;
                self.publish(
                    now,
                    EventKind::Deposited {
                        package,
                        compartment,
                    },
                    out,
                );
            }
            (Session::Deposit { package, .. }, false) => {
                self.locker.release(req, package)?;
                self.publish(
                    now,
                    EventKind::DeliveryFailed {
                        package,
                        reason: FailReason::NotDeposited,
                    },
                    out,
                );
            }
            (Session::Pickup { package, .. }, false) => {
                self.locker.pickup(req, package)?;
                self.publish(
                    now,
                    EventKind::PickedUp {
                        package,
                        compartment,
                    },
                    out,
                );
            }
            (Session::Retrieval { package, .. }, false) => {
                self.locker.retrieve(req, package)?;
                self.publish(
                    now,
                    EventKind::Retrieved {
                        package,
                        compartment,
                    },
                    out,
                );
            }
            (Session::Pickup { .. } | Session::Retrieval { .. }, true) => out.push(Output::Alert {
                alert: Alert::SensorMismatch { compartment },
            }),
        }
        Ok(())
    }
}

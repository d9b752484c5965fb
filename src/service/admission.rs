//! Which locker takes a checkout: the one the customer named, else (with
//! discovery) the nearest eligible one whose policy accepts; and where a
//! failed drop-off goes instead.

use super::io::{LockerIdx, RejectReason, ReserveRequest};
use super::Service;
use crate::domain::{LockerView, Size};
use crate::policy::{Admission, AdmissionPolicy, AdmissionRequest, ForecastPolicy, Policy};
use crate::time::{to_hours, Millis};

impl Service {
    /// Discovery and admission: Ok((locker, hold a compartment)) or why the
    /// named locker said no.
    pub(super) fn choose_locker(
        &self,
        req: &ReserveRequest,
        admission: &AdmissionRequest,
    ) -> Result<(LockerIdx, bool), RejectReason> {
        let home = self.offer(req.locker, admission, req.lead);
        if home.is_ok() || self.cfg.discovery.is_none() {
            return home.map(|hold| (req.locker, hold));
        }
        let spec = &self.cfg.lockers[req.locker as usize];
        spec.discovery
            .iter()
            .find_map(|&c| {
                self.offer(c, admission, req.lead)
                    .ok()
                    .map(|hold| (c, hold))
            })
            .ok_or_else(|| home.unwrap_err())
    }

    /// A customer's return at the kiosk of its locker: taken if one more
    /// parcel of its size goes in with every pending reservation still
    /// honoured. The policy's tier shares are for deliveries; a return
    /// holds a compartment as a standard-tier parcel, which they count.
    pub(super) fn admit_return(
        &self,
        req: &ReserveRequest,
    ) -> Result<(LockerIdx, bool), RejectReason> {
        let ledger = &self.sites[req.locker as usize].ledger;
        if ledger.stale {
            return Err(RejectReason::Stale);
        }
        let view = ledger.view().ok_or(RejectReason::UnknownLocker)?;
        if view.can_commit(req.size) {
            Ok((req.locker, false))
        } else {
            Err(RejectReason::Policy)
        }
    }

    /// Would locker `c` be shown, and would its policy take the order?
    /// Ok(hold a compartment) or the reason it does not.
    fn offer(
        &self,
        c: LockerIdx,
        req: &AdmissionRequest,
        lead: Millis,
    ) -> Result<bool, RejectReason> {
        let site = &self.sites[c as usize];
        let spec = &self.cfg.lockers[c as usize];
        let ledger = &site.ledger;
        // A locker that has been silent too long is hidden and takes no new
        // reservations.
        if ledger.stale {
            return Err(RejectReason::Stale);
        }
        let view = ledger.view().ok_or(RejectReason::UnknownLocker)?;
        if spec.hours.next_open(&self.cfg.calendar, req.now + lead) > req.due_by {
            return Err(RejectReason::Unreachable);
        }
        if let Some(d) = &self.cfg.discovery {
            let fits: u32 = view.capacity[req.size.index()..].iter().sum();
            if fits == 0 {
                return Err(RejectReason::Policy);
            }
            if d.hide_below_free_share > 0.0 {
                let free: u32 = view.available[req.size.index()..].iter().sum();
                let promised: u32 = view.pending[req.size.index()..].iter().sum();
                let share = free.saturating_sub(promised) as f64 / fits as f64;
                if share <= d.hide_below_free_share {
                    return Err(RejectReason::Policy);
                }
            }
        }
        let policy = spec.policy.as_ref().unwrap_or(&self.cfg.policy);
        let decision = match (policy, self.cfg.forecast_rule(c)) {
            (Policy::Optimized(_), _) if !site.day.has_quota(req.tier, req.size) => {
                Admission::Reject
            }
            (_, Some(f)) => self
                .forecast_admission(c, req, f, &view)
                .unwrap_or_else(|| policy.admit(&view, req)),
            (_, None) => policy.admit(&view, req),
        };
        match decision {
            Admission::Reject => Err(RejectReason::Policy),
            Admission::ReserveCapacity => Ok(false),
            // A specific compartment can only be held by a locker that is there.
            Admission::HoldCompartment if ledger.online => Ok(true),
            Admission::HoldCompartment => Err(RejectReason::Policy),
        }
    }

    /// The forecast check at locker `c` (with a dwell model), over its
    /// reservations due and its occupants' memoized dwell forecasts, each
    /// kept in one order in its ledger; the occupants are read only when
    /// the reservations due leave no room without them
    /// (`ForecastPolicy::admit_lazily`).
    fn forecast_admission(
        &self,
        c: LockerIdx,
        req: &AdmissionRequest,
        policy: &ForecastPolicy,
        view: &LockerView,
    ) -> Option<Admission> {
        let cache = self.forecast.as_ref()?;
        let ledger = &self.sites[c as usize].ledger;
        let occupants = &ledger.occupants;
        let sizes: Vec<Size> = occupants.iter().map(|o| o.size).collect();
        // Per occupant, once and only if asked: its prediction, how long it
        // has stayed and the chance it would be gone by now (every
        // checkpoint asks).
        let stayed = std::cell::OnceCell::new();
        let gone = |i: usize, ahead: f64| {
            let stayed: &Vec<_> = stayed.get_or_init(|| {
                occupants
                    .iter()
                    .map(|o| {
                        let p = cache.get(o.forecast);
                        let elapsed = to_hours(req.now - o.deposit_at);
                        (p, elapsed, p.p_within(elapsed))
                    })
                    .collect()
            });
            let (p, elapsed, gone_now) = stayed[i];
            p.p_within_given_gone(elapsed, gone_now, ahead)
        };
        Some(policy.admit_lazily(view, req, ledger.due(), &sizes, gone))
    }

    /// The nearest other locker a driver can use right now: online, not
    /// stale, open, with a fitting compartment not promised to anyone.
    pub(super) fn alternative(
        &self,
        from: LockerIdx,
        size: Size,
        now: Millis,
    ) -> Option<LockerIdx> {
        self.cfg.lockers[from as usize]
            .fallback
            .iter()
            .copied()
            .find(|&a| {
                let ledger = &self.sites[a as usize].ledger;
                ledger.online
                    && !ledger.stale
                    && self.cfg.lockers[a as usize]
                        .hours
                        .is_open(&self.cfg.calendar, now)
                    && ledger.view().is_some_and(|v| v.can_commit(size))
            })
    }
}

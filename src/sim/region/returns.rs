//! Customers' returns: they arrive at a locker's kiosk as a Poisson process
//! that follows the location's demand `lag_days` later, ask the service for
//! a compartment like a checkout does (admission sees them as standard-tier
//! parcels), and drop the parcel off themselves; the carrier collects it on
//! its route, as it collects expired parcels.

use super::checkout::next_event;
use super::*;

impl RegionSim<'_> {
    /// Next return at site `s` after `from`.
    pub(super) fn next_return(&mut self, s: usize, from: Millis) -> Option<Millis> {
        let r = &self.sc.returns;
        if r.share_of_orders <= 0.0 {
            return None;
        }
        let site = &mut self.sites[s];
        let budget: f64 = Exp1.sample(&mut site.returns);
        next_event(
            self.sc,
            &site.rates,
            r.share_of_orders,
            r.lag_days,
            budget,
            from,
        )
    }

    pub(super) fn on_return(&mut self, s: usize, now: Millis) -> Result<(), SimError> {
        let sc = self.sc;
        let site = &mut self.sites[s];
        let id = (self.index[s] as u64) << 40 | RETURN_IDS | site.next_return;
        site.next_return += 1;
        let size = Size::ALL[pick(&sc.returns.size_cdf, site.returns.gen())];
        let retrieval_delay = sc.retrieval_delay.sample(&mut site.returns);
        if let Some(next) = self.next_return(s, now) {
            self.schedule(next, Ev::Return(s as u32));
        }
        let counted = now >= sc.warmup;
        if counted {
            self.sites[s].metrics.returns_offered += 1;
        }
        // The customer books the compartment in the app, then walks up.
        let tier = Tier::Standard;
        self.log(s, now, || {
            Some(WorldAct::Checkout {
                order: id,
                tier,
                size,
                lead: 0,
                kind: ParcelKind::Return,
            })
        });
        let request = service::ReserveRequest {
            order: id,
            locker: s as LockerIdx,
            tier,
            size,
            lead: 0,
            client: String::new(),
            kind: ParcelKind::Return,
        };
        self.tell_service(now, service::Input::Reserve(request))?;
        let Some(Reply::Accepted { locker: at, .. }) = self.decision.take() else {
            if counted {
                self.sites[s].metrics.returns_rejected += 1;
            }
            return Ok(());
        };
        if counted {
            self.sites[s].metrics.returns_accepted += 1;
        }
        let at = at as usize;
        // Not an order: no order metric, weekly count or history row.
        let slot = self.alloc(Pkg {
            retrieval_delay,
            ..Pkg::reserved(
                id,
                s,
                at,
                ParcelKind::Return,
                tier,
                size,
                now,
                self.processed,
            )
        });
        self.by_order.insert(id, slot);
        let arrival = self.sites[at].loc.hours.next_open(&sc.calendar, now);
        let gen = self.pkgs[slot as usize].gen;
        self.schedule(arrival, Ev::Driver { slot, gen });
        Ok(())
    }

    /// When operations or the carrier take out package `slot`, ready for
    /// collection at site `s` at `now`: the route's next pass while the
    /// locker is open, or after the package's retrieval delay without routes.
    pub(super) fn collection_time(&self, slot: u32, s: usize, now: Millis) -> Millis {
        let times = &self.sc.collection_times;
        if times.is_empty() {
            return now + self.pkgs[slot as usize].retrieval_delay;
        }
        let cal = &self.sc.calendar;
        let hours = &self.sites[s].loc.hours;
        let today = cal.day(now);
        // A route that never finds the locker open in a year leaves it to
        // the retrieval delay.
        for day in today..today + 366 {
            for &t in times {
                let pass = cal.instant(day * DAY + t);
                if pass >= now && hours.is_open(cal, pass) {
                    return pass;
                }
            }
        }
        now + self.pkgs[slot as usize].retrieval_delay
    }
}

/// Return ids: bit 39 set, so they never meet an order's (a location's
/// orders stay below 2³⁹).
const RETURN_IDS: u64 = 1 << 39;

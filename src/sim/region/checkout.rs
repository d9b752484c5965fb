//! Customers order: the arrival process, each order's attributes (drawn
//! whether or not it is accepted), and the service's answer.

use super::*;

/// When a Poisson process with `scale` × `rates` per hour of the week
/// (times the calendar's multiplier of the day `lag_days` earlier) spends
/// `budget` (a unit-exponential draw) after `from`: the process's next
/// event before the horizon, if any.
pub(super) fn next_event(
    sc: &Scenario,
    rates: &[f64; 168],
    scale: f64,
    lag_days: i64,
    mut budget: f64,
    from: Millis,
) -> Option<Millis> {
    let mut t = from;
    while t < sc.horizon {
        // Local hours: the profile is by local hour of the week.
        let wall = sc.calendar.wall(t);
        let mut rate = rates[hour_of_week(wall)] * scale;
        if let Some(seasons) = &sc.seasons {
            rate *= seasons.multiplier(wall.div_euclid(DAY) - lag_days);
        }
        let hour_end = t + HOUR - wall.rem_euclid(HOUR);
        let mass = rate * (hour_end - t) as f64 / HOUR as f64;
        if budget < mass {
            let at = t + (budget / rate * HOUR as f64) as Millis;
            return (at < sc.horizon).then_some(at);
        }
        budget -= mass;
        t = hour_end;
    }
    None
}

impl RegionSim<'_> {
    /// Next checkout after `from` under the hour-of-week rate profile: one
    /// unit-exponential draw, spent against the piecewise-constant intensity.
    pub(super) fn next_arrival(&mut self, s: usize, from: Millis) -> Option<Millis> {
        let horizon = self.sc.horizon;
        if let Some(trace) = &self.sc.trace {
            let next = trace.per_location[self.index[s]].get(self.sites[s].trace_pos);
            return next.map(|o| o.checkout.max(from)).filter(|&t| t < horizon);
        }
        let site = &mut self.sites[s];
        if site.rates.iter().all(|&r| r <= 0.0) {
            return None;
        }
        let budget: f64 = Exp1.sample(&mut site.arrivals);
        next_event(self.sc, &site.rates, 1.0, 0, budget, from)
    }

    pub(super) fn on_checkout(&mut self, s: usize, now: Millis) -> Result<(), SimError> {
        let sc = self.sc;
        let site = &mut self.sites[s];
        let id = (self.index[s] as u64) << 40 | site.next_order;
        site.next_order += 1;
        // Every order draws all its attributes, accepted or not, so each
        // stream stays aligned across policies (common random numbers).
        let tier = Tier::ALL[pick(&sc.tier_cdf, site.order_mix.gen())];
        let size = Size::ALL[pick(&sc.size_cdf, site.order_mix.gen())];
        let lead = sc.tiers[tier.index()].lead_time.sample(&mut site.lead);
        let dwell = sc.dwell[site.loc.kind.index()][tier.index()].sample(&mut site.dwell);
        let retrieval_delay = sc.retrieval_delay.sample(&mut site.retrieval);
        // The customer stream serves only checkouts, in order, so drawing the
        // typo only for customers who make one keeps it aligned.
        let mistype = site.customer.gen::<f64>() < sc.access.mistype_share;
        let (typo_pos, typo_delta) = if mistype {
            (
                site.customer.gen_range(0..6),
                site.customer.gen_range(1..10),
            )
        } else {
            (0, 0)
        };
        let uses_qr = sc.access.qr_share > 0.0 && site.customer.gen::<f64>() < sc.access.qr_share;
        // Three draws for every order, so the stream stays aligned whatever
        // the shares are.
        let cu = &sc.customers;
        let abandons = site.behaviour.gen::<f64>() < cu.abandon_share;
        let responds = site.behaviour.gen::<f64>() < cu.reminder_response_share;
        let response: f64 = Exp1.sample(&mut site.behaviour);
        let reminder_delay = if responds {
            (response * cu.reminder_response_mean as f64) as Millis
        } else {
            NEVER
        };
        let dwell = if abandons { NEVER } else { dwell };
        // Replayed demand: the record's tier, size and (trace-driven) dwell
        // replace the draws, which are still made so every stream stays where
        // the generating run had it.
        let (tier, size, dwell, reminder_delay) = match &sc.trace {
            None => (tier, size, dwell, reminder_delay),
            Some(trace) => {
                let o = trace.per_location[self.index[s]][site.trace_pos];
                site.trace_pos += 1;
                // A recorded stay already holds whatever a reminder did, and
                // a customer who never came is one a reminder did not move.
                let (dwell, reminder_delay) = match (trace.dwell, o.dwell) {
                    (TraceDwell::Recorded, RecordedDwell::PickedUpAfter(d)) => (d, reminder_delay),
                    (TraceDwell::Recorded, RecordedDwell::NeverPickedUp) => (NEVER, NEVER),
                    _ => (dwell, reminder_delay),
                };
                (o.tier, o.size, dwell, reminder_delay)
            }
        };
        if let Some(next) = self.next_arrival(s, now) {
            self.schedule_checkout(s, next);
        }

        let counted = now >= sc.warmup;
        if counted {
            self.sites[s].metrics.offered += 1;
        }
        self.log(s, now, || {
            Some(WorldAct::Checkout {
                order: id,
                tier,
                size,
                lead,
                kind: ParcelKind::Delivery,
            })
        });
        let request = service::ReserveRequest {
            order: id,
            locker: s as LockerIdx,
            tier,
            size,
            lead,
            client: String::new(),
            kind: ParcelKind::Delivery,
        };
        self.tell_service(now, service::Input::Reserve(request))?;
        let decision = self.decision.take();
        let Some(Reply::Accepted {
            locker: at, due_by, ..
        }) = decision
        else {
            if counted {
                let why = match decision {
                    Some(Reply::Rejected {
                        reason: service::RejectReason::Stale,
                        ..
                    }) => RejectedFor::Stale,
                    Some(Reply::Rejected {
                        reason: service::RejectReason::Unreachable,
                        ..
                    }) => RejectedFor::Unreachable,
                    _ => RejectedFor::Policy,
                };
                self.sites[s].metrics.record_rejection(tier, size, why);
            }
            self.record_rejection(s, id, now, tier, size);
            return Ok(());
        };
        let at = at as usize;
        if counted {
            let m = &mut self.sites[s].metrics;
            m.accepted += 1;
            if at != s {
                m.served_elsewhere += 1;
            }
        }
        let slot = self.alloc(Pkg {
            counted,
            dwell,
            reminder_delay,
            retrieval_delay,
            mistype,
            typo_pos,
            typo_delta,
            uses_qr,
            ..Pkg::reserved(
                id,
                s,
                at,
                ParcelKind::Delivery,
                tier,
                size,
                now,
                self.processed,
            )
        });
        self.by_order.insert(id, slot);
        let arrival = self.sites[at]
            .loc
            .hours
            .next_open(&self.sc.calendar, now + lead);
        // A carrier that cannot make the promise sends no driver: the
        // service's clock lapses the reservation.
        if arrival <= due_by {
            let gen = self.pkgs[slot as usize].gen;
            self.schedule(arrival, Ev::Driver { slot, gen });
        }
        Ok(())
    }
}

//! The optimized policy's day: orders offered per tier and size (its
//! demand forecast's input), orders accepted today, and today's quotas
//! from the plan.

use super::Service;
use crate::domain::{Size, Tier};
use crate::forecast::demand::features::LOOKBACK_DAYS;
use crate::forecast::DwellFeatures;
use crate::policy::{DemandSource, OptimizedPolicy, PlanInput, Policy, Quotas};
use crate::time::{from_hours, to_hours, Millis, DAY};
use std::collections::VecDeque;

/// Days of offered orders kept: what the demand forecast's features read.
const KEPT_DAYS: usize = LOOKBACK_DAYS as usize;

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct DayCounts {
    /// Orders offered today per tier and package size.
    pub offered_today: PerTierSize<u32>,
    /// The last [`KEPT_DAYS`] days' offered orders, newest first.
    offered_days: VecDeque<PerTierSize<u32>>,
    pub accepted_today: PerTierSize<u32>,
    /// Infinite where there is no quota: kept by bit pattern in a
    /// snapshot (JSON has no infinity).
    #[serde(with = "quota_bits")]
    pub quota: Quotas,
}

mod quota_bits {
    use super::Quotas;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(q: &Quotas, s: S) -> Result<S::Ok, S::Error> {
        q.map(|row| row.map(f64::to_bits)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Quotas, D::Error> {
        let bits = <[[u64; 4]; 4]>::deserialize(d)?;
        Ok(bits.map(|row| row.map(f64::from_bits)))
    }
}

type PerTierSize<T> = [[T; Size::COUNT]; Tier::COUNT];

impl DayCounts {
    pub fn new() -> Self {
        DayCounts {
            offered_today: [[0; Size::COUNT]; Tier::COUNT],
            offered_days: VecDeque::new(),
            accepted_today: [[0; Size::COUNT]; Tier::COUNT],
            quota: [[f64::INFINITY; Size::COUNT]; Tier::COUNT],
        }
    }

    /// Today's quota for the tier and package size is not used up.
    pub fn has_quota(&self, tier: Tier, size: Size) -> bool {
        let (t, s) = (tier.index(), size.index());
        (self.accepted_today[t][s] as f64) < self.quota[t][s].ceil()
    }

    /// Closes the day (and `passed - 1` days without orders).
    fn roll(&mut self, passed: i64) {
        for i in 0..passed {
            let counts = if i == 0 {
                self.offered_today
            } else {
                [[0; Size::COUNT]; Tier::COUNT]
            };
            self.offered_days.push_front(counts);
        }
        self.offered_days.truncate(KEPT_DAYS);
        self.offered_today = [[0; Size::COUNT]; Tier::COUNT];
        self.accepted_today = [[0; Size::COUNT]; Tier::COUNT];
    }

    /// Orders of `tier` offered `back` days before yesterday.
    fn offered(&self, back: usize, tier: Tier) -> Option<f64> {
        let day = self.offered_days.get(back)?;
        Some(day[tier.index()].iter().sum::<u32>() as f64)
    }

    /// Each tier's package sizes over the kept days, as shares (a tier
    /// without orders takes every tier's mix; no orders at all, an even one).
    fn size_mix(&self) -> PerTierSize<f64> {
        let mut counts = [[0.0; Size::COUNT]; Tier::COUNT];
        for day in &self.offered_days {
            for (c, d) in counts.iter_mut().zip(day) {
                for (c, &d) in c.iter_mut().zip(d) {
                    *c += d as f64;
                }
            }
        }
        let mut all = [0.0; Size::COUNT];
        for c in &counts {
            for (a, v) in all.iter_mut().zip(c) {
                *a += v;
            }
        }
        let shares = |c: &[f64; Size::COUNT]| {
            let n: f64 = c.iter().sum();
            (n > 0.0).then(|| c.map(|v| v / n))
        };
        let even = [1.0 / Size::COUNT as f64; Size::COUNT];
        let fallback = shares(&all).unwrap_or(even);
        counts.map(|c| shares(&c).unwrap_or(fallback))
    }
}

impl Service {
    /// At the first request of a new day: close the day's demand counts
    /// and, for lockers under the optimized policy, plan the day's quotas.
    pub(super) fn roll_day(&mut self, now: Millis) -> Result<(), String> {
        let day = self.cfg.calendar.day(now);
        if day == self.plan_day {
            return Ok(());
        }
        let passed = (day - self.plan_day).clamp(1, KEPT_DAYS as i64);
        self.plan_day = day;
        for s in 0..self.sites.len() {
            self.sites[s].day.roll(passed);
            let spec = &self.cfg.lockers[s];
            if let Policy::Optimized(o) = *spec.policy.as_ref().unwrap_or(&self.cfg.policy) {
                let quota = match self.plan_input(s, day, &o) {
                    Some(input) => o
                        .plan(&input)
                        .map_err(|m| format!("locker `{}`: {m}", self.cfg.lockers[s].id))?,
                    None => [[f64::INFINITY; Size::COUNT]; Tier::COUNT],
                };
                self.sites[s].day.quota = quota;
            }
        }
        Ok(())
    }

    /// The LP input for locker `s` on local day `day`:
    /// demand = the demand model's forecast for each day of the horizon, or
    /// (without a model, or before it has its lookback of days) the mean
    /// of the last seven days' orders per tier, flat — split into package
    /// sizes by each tier's mix over the kept days; presence per size
    /// of the packages and reservations at each noon, and each tier's chance
    /// of being in the locker `j` days after acceptance, from the dwell
    /// forecast. None until a day of demand has been seen.
    pub(super) fn plan_input(
        &mut self,
        s: usize,
        day: i64,
        o: &OptimizedPolicy,
    ) -> Option<PlanInput> {
        let h = o.horizon_days as usize;
        let counts = &self.sites[s].day;
        if counts.offered_days.is_empty() {
            return None;
        }
        let week = counts.offered_days.len().min(7);
        let mean = Tier::ALL
            .map(|t| (0..week).filter_map(|b| counts.offered(b, t)).sum::<f64>() / week as f64);
        let known = |t: Tier, d: i64| counts.offered(usize::try_from(day - 1 - d).ok()?, t);
        let by_tier = self
            .cfg
            .demand_model
            .as_ref()
            .filter(|_| o.demand == DemandSource::Model)
            .and_then(|m| m.forecast(day, h, known))
            .unwrap_or_else(|| vec![mean; h]);
        let mix = counts.size_mix();
        let demand = by_tier
            .iter()
            .map(|d| Tier::ALL.map(|t| mix[t.index()].map(|share| d[t.index()] * share)))
            .collect();
        let spec = &self.cfg.lockers[s];
        let capacity = self.sites[s]
            .ledger
            .view()
            .map_or([0; Size::COUNT], |v| v.capacity);
        let compartments: u32 = capacity.iter().sum();
        let kind = spec.kind;
        // Local noon of today and the horizon's days (a day with a clock
        // change is 23 or 25 hours long).
        let cal = &self.cfg.calendar;
        let noons: Vec<Millis> = (0..=h as i64)
            .map(|k| cal.instant((day + k) * DAY + DAY / 2))
            .collect();
        let day_start = cal.day_start(day);
        let noon = |k: usize| noons[k];
        let noon_wall = cal.wall(noon(0));
        // A typical package per tier, deposited at its promise after noon today.
        let cache = self.forecast.as_mut()?;
        let mut typical = [0u32; Tier::COUNT];
        for t in Tier::ALL {
            let promise = from_hours(o.check.promise_hours.get(t));
            typical[t.index()] = cache.index_of(&DwellFeatures {
                tier: t,
                size: Size::M,
                kind,
                checkout_ms: noon(0),
                deposit_ms: noon(0) + promise,
                deposit_wall: noon_wall + promise,
                occupied: compartments / 2,
                compartments,
            });
        }
        let cache = self.forecast.as_ref()?;
        let gone = |t: Tier, hours: f64| cache.get(typical[t.index()]).p_within(hours.max(0.0));
        let stay: [Vec<f64>; Tier::COUNT] = Tier::ALL.map(|t| {
            let promise = o.check.promise_hours.get(t);
            (0..h)
                .map(|j| {
                    let since_arrival = 24.0 * j as f64 - promise;
                    if since_arrival < 0.0 {
                        0.0
                    } else {
                        1.0 - gone(t, since_arrival)
                    }
                })
                .collect()
        });
        let ledger = &self.sites[s].ledger;
        let now = day_start;
        let mut present = vec![[0.0; Size::COUNT]; h];
        for p in &ledger.occupants {
            let pred = cache.get(p.forecast);
            let elapsed = to_hours(now - p.deposit_at);
            for (k, v) in present.iter_mut().enumerate() {
                v[p.size.index()] += 1.0 - pred.p_within_given(elapsed, to_hours(noon(k) - now));
            }
        }
        for p in ledger.pending().iter().filter_map(|id| self.orders.get(id)) {
            let arrive = o.check.promised_at(&p.admission());
            let size = p.request.size.index();
            for (k, v) in present.iter_mut().enumerate() {
                if arrive <= noon(k) {
                    v[size] += 1.0 - gone(p.request.tier, to_hours(noon(k) - arrive));
                }
            }
        }
        Some(PlanInput {
            compartments: capacity.map(f64::from),
            demand,
            present,
            stay,
        })
    }
}

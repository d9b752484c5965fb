//! What a region's service is configured with: its lockers (with their
//! keys, hours and neighbours), the policy and the life-cycle rules.

use super::codes::{CodeRng, CodeSeed};
use super::io::LockerIdx;
use super::network::Network;
use crate::access::LockerKeys;
use crate::domain::{LocationKind, OpeningHours, Tier};
use crate::forecast::demand::DemandModel;
use crate::forecast::DwellModel;
use crate::policy::{AdmissionRequest, ForecastPolicy, OptimizedPolicy, Policy};
use crate::scenario::{Discovery, Scenario};
use crate::time::{Calendar, Millis};
use std::sync::Arc;

/// One locker the service offers.
pub struct LockerSpec {
    pub id: String,
    /// A feature of the dwell model.
    pub kind: LocationKind,
    /// When drivers can reach it (discovery and fallback check them).
    pub hours: OpeningHours,
    /// Its own policy (an exported policy file's override), else the region's.
    pub policy: Option<Policy>,
    /// Codes are cached at the locker as keyed hashes under these keys.
    pub keys: LockerKeys,
    /// Draws this locker's pickup codes (from the OS in production, from a
    /// seeded stream in the simulator).
    pub codes: CodeRng,
    /// Other lockers a checkout may be offered, nearest first.
    pub discovery: Vec<LockerIdx>,
    /// Other lockers a failed drop-off may go to, nearest first.
    pub fallback: Vec<LockerIdx>,
}

impl LockerSpec {
    /// A live locker `id` (the `index`-th of its region): keys derived from
    /// the region secret, codes from its own stream of `codes`, open
    /// around the clock, the region's policy, no neighbours.
    pub fn live(id: &str, index: usize, region_secret: &[u8; 32], codes: &CodeSeed) -> Self {
        LockerSpec {
            id: id.to_string(),
            kind: LocationKind::ALL[0],
            hours: OpeningHours::ALWAYS,
            policy: None,
            keys: LockerKeys::for_locker(region_secret, id),
            codes: codes.rng(index),
            discovery: Vec::new(),
            fallback: Vec::new(),
        }
    }
}

pub struct ServiceConfig {
    pub lockers: Vec<LockerSpec>,
    pub policy: Policy,
    /// None: a checkout sees only the locker it names, unfiltered.
    pub discovery: Option<Discovery>,
    pub pickup_window: Millis,
    /// 0: no reminder.
    pub reminder_before_expiry: Millis,
    pub reservation_timeout: [Millis; Tier::COUNT],
    /// A locker offline this long is stale: it is not offered until it is
    /// back. "Offline" is the broker's word (the locker's will), so a silent
    /// locker is noticed whatever clock the service runs on.
    pub stale_after: Millis,
    /// The dwell model the forecast and optimized policies read.
    pub model: Option<Arc<DwellModel>>,
    /// The demand forecast the optimized policy's plan reads (without one,
    /// each tier's mean of the last seven days).
    pub demand_model: Option<Arc<DemandModel>>,
    /// Local time where the lockers stand, on the driver's clock: opening
    /// hours, the optimized policy's day and the forecast features read it.
    pub calendar: Calendar,
}

impl ServiceConfig {
    /// The forecast rule locker `c` admits by, if its policy has one.
    pub fn forecast_rule(&self, c: LockerIdx) -> Option<&ForecastPolicy> {
        let spec = &self.lockers[c as usize];
        match spec.policy.as_ref().unwrap_or(&self.policy) {
            Policy::Forecast(f) | Policy::Optimized(OptimizedPolicy { check: f, .. }) => Some(f),
            _ => None,
        }
    }

    /// When an order accepted on `admission` is promised at locker `c`, by
    /// its forecast rule (None where it has none: nothing reads it).
    pub fn promised_at(&self, c: LockerIdx, admission: &AdmissionRequest) -> Option<Millis> {
        self.forecast_rule(c).map(|f| f.promised_at(admission))
    }

    /// The service for the scenario locations `region` (indices into
    /// `sc.locations`, ascending; neighbours outside it are left out), with
    /// keys and code streams from `keys_and_codes(location index)`.
    pub fn for_region<R: Into<CodeRng>>(
        sc: &Scenario,
        net: &Network,
        region: &[usize],
        mut keys_and_codes: impl FnMut(usize) -> (LockerKeys, R),
    ) -> Self {
        let local = |list: &[usize]| -> Vec<LockerIdx> {
            list.iter()
                .filter_map(|j| region.binary_search(j).ok())
                .map(|i| i as LockerIdx)
                .collect()
        };
        let lockers = region
            .iter()
            .map(|&i| {
                let loc = &sc.locations[i];
                let (keys, codes) = keys_and_codes(i);
                LockerSpec {
                    id: loc.id.clone(),
                    kind: loc.kind,
                    hours: loc.hours,
                    policy: loc.policy.clone(),
                    keys,
                    codes: codes.into(),
                    discovery: local(&net.discovery[i]),
                    fallback: local(&net.fallback[i]),
                }
            })
            .collect();
        ServiceConfig {
            lockers,
            policy: sc.policy.clone(),
            discovery: sc.discovery,
            pickup_window: sc.pickup_window,
            reminder_before_expiry: sc.reminder_before_expiry,
            reservation_timeout: Tier::ALL.map(|t| sc.tiers[t.index()].reservation_timeout),
            stale_after: sc.faults.stale_after,
            model: sc.forecast.clone(),
            demand_model: sc.demand_forecast.clone(),
            calendar: sc.calendar.clone(),
        }
    }

    /// The live service for a whole scenario network: keys derived from the
    /// region secret, each locker's codes from its own stream of `codes`
    /// (production's key comes from the OS), local time from `calendar`
    /// (a real clock's, or the scenario's when a driver runs simulated time).
    pub fn live(
        sc: &Scenario,
        region_secret: &[u8; 32],
        codes: &CodeSeed,
        calendar: Calendar,
    ) -> Self {
        let net = Network::build(sc);
        let all: Vec<usize> = (0..sc.locations.len()).collect();
        let cfg = Self::for_region(sc, &net, &all, |i| {
            let l = LockerSpec::live(&sc.locations[i].id, i, region_secret, codes);
            (l.keys, l.codes)
        });
        Self { calendar, ..cfg }
    }

    /// Policies that read forecasts need the dwell model.
    pub fn check(&self) -> Result<(), String> {
        let all = std::iter::once((None, &self.policy)).chain(
            self.lockers
                .iter()
                .filter_map(|l| l.policy.as_ref().map(|p| (Some(&l.id), p))),
        );
        for (locker, p) in all {
            if p.reads_dwell_model() && self.model.is_none() {
                let at = locker.map_or("the policy".to_string(), |l| format!("override `{l}`"));
                return Err(format!(
                    "{at} (`{}`) reads dwell forecasts: give a model (--model DIR, or a policy \
                     file that names one)",
                    p.name()
                ));
            }
        }
        Ok(())
    }
}

//! Raw, additive metrics of one location (or of many, merged). Counters cover
//! packages checked out after the warm-up; time-weighted occupancy covers the
//! measurement window [warm-up, horizon).

use super::histogram::LogHistogram;
use crate::engine::time::{Millis, SECOND};

/// Why a driver could not deposit a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailCause {
    /// No usable compartment fits.
    Full,
    /// Every compartment the controller opened jammed or was blocked.
    Jam,
    /// The reservation never reached the offline locker.
    Offline,
    /// The locker had no power.
    Power,
    /// The package did not fit the compartment its size class promised.
    SizeMismatch,
}

impl FailCause {
    pub const ALL: [FailCause; 5] = [
        FailCause::Full,
        FailCause::Jam,
        FailCause::Offline,
        FailCause::Power,
        FailCause::SizeMismatch,
    ];
}

/// Why an order was rejected at checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectedFor {
    /// The admission policy said no.
    Policy,
    /// The locker was stale (silent too long) and not offered.
    Stale,
    /// No driver could reach the locker before the reservation's deadline.
    Unreachable,
}

/// Every offered package ends in exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    RejectedAtCheckout,
    PickedUp,
    ExpiredReturned,
    ReroutedAlternateLocker,
    ReroutedDoorstep,
}

/// Written as its name (`picked_up`), as in history files and reports.
impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::RejectedAtCheckout,
        Outcome::PickedUp,
        Outcome::ExpiredReturned,
        Outcome::ReroutedAlternateLocker,
        Outcome::ReroutedDoorstep,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::RejectedAtCheckout => "rejected_at_checkout",
            Outcome::PickedUp => "picked_up",
            Outcome::ExpiredReturned => "expired_returned",
            Outcome::ReroutedAlternateLocker => "rerouted_alternate_locker",
            Outcome::ReroutedDoorstep => "rerouted_doorstep",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocationMetrics {
    /// Packages whose dwell was forecast at deposit, and the summed absolute
    /// error of those forecasts' means.
    pub forecasts: u64,
    pub forecast_abs_error_ms: u128,
    pub offered: u64,
    pub accepted: u64,
    pub failed_deliveries: u64,
    pub reservation_timeouts: u64,
    pub deposited: u64,
    pub reminders_sent: u64,
    /// Pickups by customers the reminder brought sooner than they meant.
    pub reminder_pickups: u64,
    /// Customers' returns asked for, taken and refused at this locker.
    pub returns_offered: u64,
    pub returns_accepted: u64,
    pub returns_rejected: u64,
    pub expired: u64,
    /// Wrong codes typed at the keypad (customers' typos and attacks alike).
    pub wrong_code_attempts: u64,
    pub lockouts: u64,
    /// Customers turned away by a locked keypad (they come back when it unlocks).
    pub access_denials: u64,
    /// Failed deliveries by cause, indexed like `FailCause::ALL`.
    pub failed_by_cause: [u64; 5],
    /// Orders placed at this (home) locker but accepted by a nearby one.
    pub served_elsewhere: u64,
    /// What happened at this locker's kiosk and compartments, whoever's
    /// package (counted for packages checked out after the warm-up; scans
    /// after the warm-up).
    pub pickups_offline: u64,
    pub kiosk_waits: u64,
    pub door_jams: u64,
    pub sensor_mismatches: u64,
    pub app_unlocks: u64,
    /// People (customers, drivers, operations) held up by a power cut or a
    /// broken screen.
    pub outage_delays: u64,
    /// ∫ compartments in maintenance dt, compartment-ms (window).
    pub maintenance_area: u128,
    /// Time the service considered this locker stale, ms (window).
    pub stale_ms: u128,
    /// Final outcome of each counted package, indexed like `Outcome::ALL`.
    pub outcomes: [u64; 5],
    /// Orders rejected at checkout by tier (`Tier::ALL` order), by size
    /// (`Size::ALL` order), and those rejected because the locker was
    /// stale (the rest the admission policy refused).
    pub rejected_by_tier: [u64; 4],
    pub rejected_by_size: [u64; 4],
    pub rejected_stale: u64,
    /// Orders rejected because no driver could arrive in time.
    pub rejected_unreachable: u64,
    /// Pickup visits that ended without the parcel: the locker had no
    /// power, its screen was down and the app did not unlock, or its keypad
    /// was locked (the customer comes back later).
    pub failed_pickups: u64,
    /// Deposit → pickup, seconds, picked-up packages only.
    pub dwell_seconds: LogHistogram,
    pub dwell_ms_sum: u128,
    /// Deposit → compartment vacated (pickup or retrieval), all deposits.
    pub occupancy_ms_sum: u128,
    pub vacated: u64,
    /// ∫ compartments holding a package dt over the window, in compartment-ms.
    pub occupied_area: u128,
    /// Σ capacity × window length, in compartment-ms.
    pub capacity_area: u128,
    /// Length of the measurement window, ms (the same for every location;
    /// merging keeps it).
    pub window_ms: u128,
}

impl LocationMetrics {
    pub fn record_outcome(&mut self, outcome: Outcome) {
        self.outcomes[outcome as usize] += 1;
    }

    /// An order rejected at checkout: its tier, size and why.
    pub fn record_rejection(
        &mut self,
        tier: crate::domain::Tier,
        size: crate::domain::Size,
        why: RejectedFor,
    ) {
        self.record_outcome(Outcome::RejectedAtCheckout);
        self.rejected_by_tier[tier as usize] += 1;
        self.rejected_by_size[size as usize] += 1;
        self.rejected_stale += u64::from(why == RejectedFor::Stale);
        self.rejected_unreachable += u64::from(why == RejectedFor::Unreachable);
    }

    pub fn outcome(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome as usize]
    }

    pub fn record_failure(&mut self, cause: FailCause) {
        self.failed_deliveries += 1;
        self.failed_by_cause[cause as usize] += 1;
    }

    pub fn record_dwell(&mut self, dwell: Millis) {
        self.dwell_seconds.record((dwell / SECOND).max(0) as u64);
        self.dwell_ms_sum += dwell.max(0) as u128;
    }

    /// Scores the dwell forecast made at deposit against the time the
    /// package actually held its compartment.
    pub fn record_forecast(&mut self, forecast: Option<Millis>, actual: Millis) {
        if let Some(f) = forecast {
            self.forecast_abs_error_ms += f.abs_diff(actual) as u128;
            self.forecasts += 1;
        }
    }

    pub fn record_vacated(&mut self, time_in_compartment: Millis) {
        self.occupancy_ms_sum += time_in_compartment.max(0) as u128;
        self.vacated += 1;
    }

    /// Adds another location's (or replication's) metrics to these.
    pub fn merge(&mut self, o: &LocationMetrics) {
        self.forecasts += o.forecasts;
        self.forecast_abs_error_ms += o.forecast_abs_error_ms;
        self.offered += o.offered;
        self.accepted += o.accepted;
        self.failed_deliveries += o.failed_deliveries;
        self.reservation_timeouts += o.reservation_timeouts;
        self.deposited += o.deposited;
        self.reminders_sent += o.reminders_sent;
        self.reminder_pickups += o.reminder_pickups;
        self.returns_offered += o.returns_offered;
        self.returns_accepted += o.returns_accepted;
        self.returns_rejected += o.returns_rejected;
        self.expired += o.expired;
        self.wrong_code_attempts += o.wrong_code_attempts;
        self.lockouts += o.lockouts;
        self.access_denials += o.access_denials;
        for (a, b) in self.failed_by_cause.iter_mut().zip(o.failed_by_cause) {
            *a += b;
        }
        self.served_elsewhere += o.served_elsewhere;
        self.pickups_offline += o.pickups_offline;
        self.kiosk_waits += o.kiosk_waits;
        self.door_jams += o.door_jams;
        self.sensor_mismatches += o.sensor_mismatches;
        self.app_unlocks += o.app_unlocks;
        self.outage_delays += o.outage_delays;
        self.maintenance_area += o.maintenance_area;
        self.stale_ms += o.stale_ms;
        for (a, b) in self.outcomes.iter_mut().zip(o.outcomes) {
            *a += b;
        }
        for (a, b) in self.rejected_by_tier.iter_mut().zip(o.rejected_by_tier) {
            *a += b;
        }
        for (a, b) in self.rejected_by_size.iter_mut().zip(o.rejected_by_size) {
            *a += b;
        }
        self.rejected_stale += o.rejected_stale;
        self.rejected_unreachable += o.rejected_unreachable;
        self.failed_pickups += o.failed_pickups;
        self.dwell_seconds.merge(&o.dwell_seconds);
        self.dwell_ms_sum += o.dwell_ms_sum;
        self.occupancy_ms_sum += o.occupancy_ms_sum;
        self.vacated += o.vacated;
        self.occupied_area += o.occupied_area;
        self.capacity_area += o.capacity_area;
        self.window_ms = self.window_ms.max(o.window_ms);
    }
}

/// Integrates a piecewise-constant level (compartments in use) over a window,
/// updated only when the level changes.
#[derive(Debug, Clone)]
pub struct TimeWeighted {
    from: Millis,
    to: Millis,
    last: Millis,
    level: u32,
    area: u128,
}

impl TimeWeighted {
    pub fn new(from: Millis, to: Millis) -> Self {
        Self {
            from,
            to,
            last: from,
            level: 0,
            area: 0,
        }
    }

    /// The level changes to `level` at `now`.
    pub fn set(&mut self, now: Millis, level: u32) {
        if level == self.level {
            // The area since `last` accrues at the same level either way.
            return;
        }
        let t = now.clamp(self.from, self.to);
        if t > self.last {
            self.area += self.level as u128 * (t - self.last) as u128;
            self.last = t;
        }
        self.level = level;
    }

    /// The area up to the end of the window.
    pub fn finish(self) -> u128 {
        self.area + self.level as u128 * (self.to - self.last).max(0) as u128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_weighted_clips_to_the_window() {
        let mut tw = TimeWeighted::new(10, 20);
        tw.set(0, 5); // before the window: counts from 10
        tw.set(15, 1);
        tw.set(30, 0); // after the window: stops at 20
        assert_eq!(tw.finish(), 5 * 5 + 5);
    }
}

//! Built-in defaults: what a scenario gets for every key it leaves out. The
//! figures are assumptions in the spirit of public descriptions (Amazon's
//! ~3-day pickup window, "most customers pick up within 48 hours"); they are
//! documented in docs/scenario.md and meant to be overridden.

use super::dist::DistSpec;
use crate::domain::{LocationKind, Tier};

pub const SEED: u64 = 42;
pub const HORIZON_DAYS: f64 = 28.0;
pub const WARMUP_DAYS: f64 = 7.0;
pub const REPLICATIONS: u32 = 1;
pub const PICKUP_WINDOW_HOURS: f64 = 72.0;
pub const REMINDER_BEFORE_EXPIRY_HOURS: f64 = 24.0;
pub const ORDERS_PER_DAY: f64 = 40.0;

/// Customers who never collect: an assumption (operators do not publish
/// it), small next to the "most customers pick up within 48 hours".
pub const ABANDON_SHARE: f64 = 0.02;
/// Of customers still to come when the reminder arrives, half come sooner
/// because of it, on average 8 hours later: assumptions.
pub const REMINDER_RESPONSE_SHARE: f64 = 0.5;
pub const REMINDER_RESPONSE_HOURS: f64 = 8.0;

/// Operations pick an expired package up on a later route: 4–24 h.
pub fn retrieval_delay() -> DistSpec {
    DistSpec::uniform(4.0, 24.0)
}

/// (lead time, reservation timeout in hours) per tier.
pub fn tier(tier: Tier) -> (DistSpec, f64) {
    match tier {
        Tier::SameDay => (DistSpec::uniform(3.0, 9.0), 24.0),
        Tier::NextDay => (DistSpec::uniform(16.0, 30.0), 48.0),
        Tier::TwoDay => (DistSpec::uniform(40.0, 54.0), 72.0),
        Tier::Standard => (DistSpec::uniform(72.0, 120.0), 168.0),
    }
}

pub const TIER_MIX: [f64; 4] = [0.10, 0.45, 0.30, 0.15];
pub const SIZE_MIX: [f64; 4] = [0.45, 0.35, 0.15, 0.05];

/// Checkout volume by hour of day: quiet nights, a lunch bump, an evening peak.
const HOURLY_ONLINE: [f64; 24] = [
    1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.0, 3.5, 3.8, 4.0, //
    4.5, 4.2, 3.8, 3.6, 3.8, 4.2, 5.0, 5.8, 6.0, 5.2, 3.8, 2.2,
];

pub fn hourly(kind: LocationKind) -> [f64; 24] {
    let mut h = HOURLY_ONLINE;
    if kind == LocationKind::Office {
        // Office lockers are chosen by people ordering from their desks.
        for w in &mut h[9..17] {
            *w *= 1.6;
        }
    }
    h
}

pub fn weekly(kind: LocationKind) -> [f64; 7] {
    match kind {
        LocationKind::Office => [1.2, 1.2, 1.2, 1.2, 1.1, 0.4, 0.3],
        LocationKind::Commuter | LocationKind::Transit => [1.1, 1.1, 1.1, 1.1, 1.0, 0.7, 0.6],
        LocationKind::Apartment => [0.9, 0.9, 0.9, 0.9, 1.0, 1.2, 1.2],
        LocationKind::Grocery => [0.9, 0.9, 1.0, 1.0, 1.1, 1.1, 0.9],
    }
}

/// Dwell time by tier and location kind: same-day customers come soonest;
/// apartment residents pass by daily; office lockers wait out weekends.
pub fn dwell(tier: Tier, kind: LocationKind) -> DistSpec {
    let base = match tier {
        Tier::SameDay => 12.0,
        Tier::NextDay => 20.0,
        Tier::TwoDay => 26.0,
        Tier::Standard => 30.0,
    };
    let factor = match kind {
        LocationKind::Commuter => 0.9,
        LocationKind::Grocery => 1.0,
        LocationKind::Apartment => 0.8,
        LocationKind::Transit => 0.85,
        LocationKind::Office => 1.2,
    };
    DistSpec::lognormal(base * factor, 1.0)
}

pub const MISTYPE_SHARE: f64 = 0.05;
pub const QR_SHARE: f64 = 0.0;
pub const MAX_WRONG_CODES: u32 = 5;
pub const LOCKOUT_MINUTES: f64 = 15.0;
/// Lockouts in a row escalate ×4 up to a day.
pub const MAX_LOCKOUT_MINUTES: f64 = 1440.0;

/// Fault defaults are assumptions: no operator publishes fault rates. Every
/// rate is 0 unless a scenario sets it; the durations apply once it does.
pub fn repair_time() -> DistSpec {
    DistSpec::uniform(4.0, 48.0)
}
pub fn ops_clear_time() -> DistSpec {
    DistSpec::uniform(2.0, 24.0)
}
pub fn screen_repair_time() -> DistSpec {
    DistSpec::uniform(4.0, 48.0)
}
pub fn network_outage_duration() -> DistSpec {
    DistSpec::lognormal(2.0, 1.5)
}
pub fn power_outage_duration() -> DistSpec {
    DistSpec::lognormal(1.5, 1.0)
}
pub const RECONCILIATION_INTERVAL_HOURS: f64 = 6.0;
pub const APP_UNLOCK_SUCCESS_SHARE: f64 = 0.8;
pub const STALE_AFTER_HOURS: f64 = 1.0;
pub const DISCOVERY_RADIUS_KM: f64 = 2.0;

//! The compiled scenario: what a run reads, validated and with defaults
//! filled in (`compile` builds it from the file as written).

use super::dist::Dist;
use crate::controller::ControllerConfig;
use crate::demand::trace::{DemandTrace, TraceDwell};
use crate::domain::{LocationKind, OpeningHours, Size, Tier};
use crate::engine::time::Millis;
use crate::forecast::demand::DemandModel;
use crate::forecast::DwellModel;
use crate::policy::Policy;
use std::path::PathBuf;
use std::sync::Arc;
#[derive(Debug, Clone, PartialEq)]
pub struct TierRules {
    pub lead_time: Dist,
    pub reservation_timeout: Millis,
}

/// How customers collect (docs/scenario.md, `[customers]`): the
/// `[[dwell]]` draw is when a customer means to come; an abandoning
/// customer never comes; a reminder brings a share of those still to come
/// sooner, after an exponential delay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Customers {
    pub abandon_share: f64,
    pub reminder_response_share: f64,
    pub reminder_response_mean: Millis,
}

/// `[returns]`: customers' returns, collected by the carrier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Returns {
    /// Returns per day as a share of a location's orders per day.
    pub share_of_orders: f64,
    /// Returns follow demand (and its calendar) by this many days.
    pub lag_days: i64,
    /// Cumulative size shares, in `Size::ALL` order.
    pub size_cdf: [f64; Size::COUNT],
}

/// How customers use the kiosk, and the controller's lockout rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccessRules {
    pub mistype_share: f64,
    pub qr_share: f64,
    pub controller: ControllerConfig,
}

/// Hardware faults and outages (all off by default).
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    pub door_jam_probability: f64,
    pub repair_time: Dist,
    pub forgotten_item_probability: f64,
    pub wrong_compartment_probability: f64,
    pub reconciliation_interval: Millis,
    pub ops_clear_time: Dist,
    pub size_mismatch_probability: f64,
    pub screen_failures_per_day: f64,
    pub screen_repair_time: Dist,
    pub app_unlock_success_share: f64,
    pub network_outages_per_day: f64,
    pub network_outage_duration: Dist,
    pub power_outages_per_day: f64,
    pub power_outage_duration: Dist,
    pub stale_after: Millis,
}

impl Faults {
    /// Items the software does not know about can appear: reconcile.
    pub fn sensor_faults(&self) -> bool {
        self.forgotten_item_probability > 0.0 || self.wrong_compartment_probability > 0.0
    }
}

/// How long a person holds the kiosk (0 = instantaneous, no waits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kiosk {
    pub dropoff: Millis,
    pub pickup: Millis,
}

/// Checkout offers nearby lockers, hiding those predicted too full.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Discovery {
    pub radius_km: f64,
    /// Hide a locker when the share of fitting compartments not yet promised
    /// is at or below this (pessimistic surfacing).
    pub hide_below_free_share: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub id: String,
    pub kind: LocationKind,
    pub lat: f64,
    pub lon: f64,
    pub hours: OpeningHours,
    pub compartments: [u32; Size::COUNT],
    pub orders_per_day: f64,
    /// This location's own policy (a policy file's `overrides`), else the
    /// scenario's.
    pub policy: Option<Policy>,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub source: String,
    pub seed: u64,
    pub horizon: Millis,
    pub warmup: Millis,
    /// Where instant 0 is in local time (`simulation.start_date`, 00:00 in
    /// `simulation.timezone`): weekdays, hours and opening hours are local.
    pub calendar: crate::time::Calendar,
    pub replications: u32,
    pub pickup_window: Millis,
    pub reminder_before_expiry: Millis,
    pub retrieval_delay: Dist,
    pub customers: Customers,
    pub returns: Returns,
    /// `[routes] collection_times`: times of day (ms after local midnight,
    /// sorted) when the carrier passes; empty: `retrieval_delay` instead.
    pub collection_times: Vec<Millis>,
    pub tiers: [TierRules; Tier::COUNT],
    /// Cumulative tier shares of orders, in `Tier::ALL` order.
    pub tier_cdf: [f64; Tier::COUNT],
    /// Cumulative size shares of orders, in `Size::ALL` order.
    pub size_cdf: [f64; Size::COUNT],
    /// Per location kind and hour of the week (Monday 00:00 first): the share
    /// of a day's orders placed in that hour. Sums to 7 over the week, so
    /// orders/hour = orders_per_day × profile.
    pub profiles: [[f64; 168]; LocationKind::COUNT],
    /// `[demand.calendar]`: a demand multiplier per local day (None: 1).
    pub seasons: Option<super::seasons::Seasons>,
    pub dwell: [[Dist; Tier::COUNT]; LocationKind::COUNT],
    pub policy: Policy,
    pub access: AccessRules,
    pub faults: Faults,
    pub kiosk: Kiosk,
    /// None: customers only see their home locker, unfiltered.
    pub discovery: Option<Discovery>,
    /// A failed drop-off goes to another locker within this radius (0 = doorstep).
    pub fallback_radius_km: f64,
    pub locations: Vec<Location>,
    /// Per location kind (`LocationKind::index()`): when customers collect.
    pub pickup_hours: [Option<OpeningHours>; LocationKind::COUNT],
    /// `[demand] history`: replay this file's checkouts.
    pub demand_history: Option<HistoryDemand>,
    /// The replayed demand itself, attached by `lockerlab::data::attach_history`
    /// (reading files needs the `lab` feature).
    pub trace: Option<Arc<DemandTrace>>,
    /// `[forecast] model`: the dwell forecast policies read, loaded.
    pub forecast: Option<Arc<DwellModel>>,
    /// `[forecast] demand_model`: the demand forecast the optimized
    /// policy's plan reads (without one, a trailing mean).
    pub demand_forecast: Option<Arc<DemandModel>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryDemand {
    pub path: PathBuf,
    pub dwell: TraceDwell,
}

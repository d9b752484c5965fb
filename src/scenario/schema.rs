//! The scenario file as written (TOML). Every table rejects unknown keys;
//! every optional key has a default documented in docs/scenario.md. Ranges
//! are checked in `compile`, which turns this into a [`super::Scenario`].

use super::dist::DistSpec;
use crate::domain::{LocationKind, OpeningHours, Tier};
use crate::policy::Policy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub simulation: SimulationSection,
    #[serde(default)]
    pub lifecycle: LifecycleSection,
    #[serde(default)]
    pub customers: CustomersSection,
    #[serde(default)]
    pub returns: ReturnsSection,
    #[serde(default)]
    pub routes: RoutesSection,
    #[serde(default)]
    pub tiers: TiersSection,
    #[serde(default)]
    pub demand: DemandSection,
    #[serde(default)]
    pub dwell: Vec<DwellRule>,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub access: AccessSection,
    #[serde(default)]
    pub faults: FaultsSection,
    #[serde(default)]
    pub kiosk: KioskSection,
    pub discovery: Option<DiscoverySection>,
    #[serde(default)]
    pub fallback: FallbackSection,
    #[serde(default)]
    pub capacity: CapacitySection,
    #[serde(default)]
    pub locations: Vec<LocationSpec>,
    /// Per location kind: when customers come to collect. A pickup that
    /// would fall outside these hours waits for their next start.
    #[serde(default)]
    pub pickup_hours: BTreeMap<LocationKind, OpeningHours>,
    #[serde(default)]
    pub forecast: ForecastSection,
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastSection {
    /// A model directory written by `lockerlab forecast train`, relative to
    /// the scenario file.
    pub model: Option<String>,
    /// A demand model directory written by `lockerlab forecast
    /// train-demand`, relative to the scenario file: the optimized policy
    /// plans with its forecast instead of a trailing mean.
    pub demand_model: Option<String>,
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationSection {
    pub seed: Option<u64>,
    pub horizon_days: Option<f64>,
    pub warmup_days: Option<f64>,
    pub replications: Option<u32>,
    pub start_date: Option<String>,
    pub timezone: Option<String>,
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSection {
    pub pickup_window_hours: Option<f64>,
    pub reminder_before_expiry_hours: Option<f64>,
    pub retrieval_delay: Option<DistSpec>,
}

/// How customers collect: who never comes, and how a reminder brings the
/// others sooner. The `[[dwell]]` distributions are their intentions.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomersSection {
    /// Share of customers who never collect their parcel (it expires).
    pub abandon_share: Option<f64>,
    /// Of the customers who have not come by the reminder, the share it
    /// brings sooner than they meant to come.
    pub reminder_response_share: Option<f64>,
    /// Mean hours (exponential) from the reminder to those customers' visit.
    pub reminder_response_hours: Option<f64>,
}

/// Customers' returns dropped off at lockers for a carrier to collect.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnsSection {
    /// Returns per day at a location, as a share of its orders per day
    /// (0 = none).
    pub share_of_orders: Option<f64>,
    /// Returns follow the demand they send back by this many days, so the
    /// calendar's peaks come back after it.
    pub lag_days: Option<f64>,
    /// Sizes of returns (default: the orders' `demand.size_mix`).
    pub size_mix: Option<BTreeMap<String, f64>>,
}

/// The carrier's route past the lockers.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesSection {
    /// Local times of day ("HH:MM") when the route passes every locker:
    /// returns and expired parcels are collected on the first pass (while
    /// the locker is open) after they are ready. Unset: expired parcels
    /// wait `lifecycle.retrieval_delay`, and returns too.
    pub collection_times: Option<Vec<String>>,
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSection {
    /// Share of customers who type a wrong code once before the right one.
    pub mistype_share: Option<f64>,
    /// Share of customers who scan a QR token instead of typing the code.
    pub qr_share: Option<f64>,
    pub max_wrong_codes: Option<u32>,
    pub lockout_minutes: Option<f64>,
    pub max_lockout_minutes: Option<f64>,
}

/// Hardware faults and outages. Every rate defaults to 0 (off).
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsSection {
    pub door_jam_probability: Option<f64>,
    pub repair_time: Option<DistSpec>,
    pub forgotten_item_probability: Option<f64>,
    pub wrong_compartment_probability: Option<f64>,
    pub reconciliation_interval_hours: Option<f64>,
    pub ops_clear_time: Option<DistSpec>,
    pub size_mismatch_probability: Option<f64>,
    pub screen_failures_per_day: Option<f64>,
    pub screen_repair_time: Option<DistSpec>,
    pub app_unlock_success_share: Option<f64>,
    pub network_outages_per_day: Option<f64>,
    pub network_outage_duration: Option<DistSpec>,
    pub power_outages_per_day: Option<f64>,
    pub power_outage_duration: Option<DistSpec>,
    pub stale_after_hours: Option<f64>,
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KioskSection {
    pub dropoff_seconds: Option<f64>,
    pub pickup_seconds: Option<f64>,
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverySection {
    pub radius_km: Option<f64>,
    pub hide_below_free_share: Option<f64>,
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackSection {
    pub radius_km: Option<f64>,
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TiersSection {
    pub same_day: Option<TierSpec>,
    pub next_day: Option<TierSpec>,
    pub two_day: Option<TierSpec>,
    pub standard: Option<TierSpec>,
}

impl TiersSection {
    pub fn get(&self, tier: Tier) -> Option<&TierSpec> {
        match tier {
            Tier::SameDay => self.same_day.as_ref(),
            Tier::NextDay => self.next_day.as_ref(),
            Tier::TwoDay => self.two_day.as_ref(),
            Tier::Standard => self.standard.as_ref(),
        }
    }
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    /// Checkout → driver at the locker.
    pub lead_time: Option<DistSpec>,
    /// Checkout → reservation released if no driver came.
    pub reservation_timeout_hours: Option<f64>,
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandSection {
    /// Default for locations that don't set their own.
    pub orders_per_day: Option<f64>,
    /// Multiplies every location's orders per day, its own or the
    /// default (1 = as written): the key to sweep for demand growth.
    pub scale: Option<f64>,
    pub tier_mix: Option<BTreeMap<String, f64>>,
    pub size_mix: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileSpec>,
    /// Replay checkouts from this history file (relative to the scenario
    /// file) instead of drawing them.
    pub history: Option<String>,
    pub history_dwell: Option<crate::demand::trace::TraceDwell>,
    /// The year around the weekly profiles: months, peaks, holidays, trend.
    pub calendar: Option<super::seasons::CalendarSpec>,
}

/// The network's compartments as a whole.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySection {
    /// Multiplies every location's compartments of every size, rounded to
    /// the nearest whole compartment (1 = as written): the key to sweep
    /// for "how many compartments do we need".
    pub scale: Option<f64>,
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    /// 24 relative weights, hour 0 first.
    pub hourly: Option<Vec<f64>>,
    /// 7 relative weights, Monday first.
    pub weekly: Option<Vec<f64>>,
}

/// A dwell-time distribution for packages matching `tier` and `kind` (either
/// may be omitted to match all). The most specific rule wins.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DwellRule {
    pub tier: Option<Tier>,
    pub kind: Option<LocationKind>,
    pub dist: Option<super::dist::DistKind>,
    pub mean_hours: Option<f64>,
    pub cv: Option<f64>,
    pub min_hours: Option<f64>,
    pub max_hours: Option<f64>,
    pub hours: Option<f64>,
    pub edges_hours: Option<Vec<f64>>,
    pub weights: Option<Vec<f64>>,
}

impl DwellRule {
    pub fn spec(&self) -> DistSpec {
        DistSpec {
            dist: self.dist,
            mean_hours: self.mean_hours,
            cv: self.cv,
            min_hours: self.min_hours,
            max_hours: self.max_hours,
            hours: self.hours,
            edges_hours: self.edges_hours.clone(),
            weights: self.weights.clone(),
        }
    }
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationSpec {
    pub id: String,
    pub kind: LocationKind,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub hours: Option<OpeningHours>,
    pub compartments: BTreeMap<String, i64>,
    pub orders_per_day: Option<f64>,
}

/// The scenario file format as JSON Schema (draft-07, the draft TOML
/// editors such as Taplo read): every table and key with its type and
/// documentation, unknown keys refused. Ranges and cross-key rules are
/// `validate`'s; a file the schema accepts can still be refused there.
#[cfg(feature = "lab")]
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<ScenarioFile>();
    schema.insert("title".into(), "lockerlab scenario".into());
    schema.insert(
        "description".into(),
        "A lockerlab scenario file (TOML): docs/scenario.md explains every key. \
         Generated by `lockerlab schema`."
            .into(),
    );
    schema.to_value()
}

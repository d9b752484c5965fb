//! Admission policies: "accept this reservation?" from a read-only view of a
//! location and a request. Pure functions of their inputs, shared by the
//! simulator, the controller and the capacity service, and serde-serializable
//! so a tuned policy is a file.

pub mod apply;
pub mod file;
mod forecast;
mod optimized;
pub mod spec;
mod tier_partition;

pub use forecast::{normal_quantile, Checkpoint, ForecastPolicy, PromiseHours, ReleaseOutlook};
pub use optimized::{DemandSource, OptimizedPolicy, PlanInput, Quotas};
pub use tier_partition::{TierPartition, TierShares};

use crate::domain::{LockerView, Size, Tier};
use crate::engine::Millis;
use serde::{Deserialize, Serialize};

/// What a customer's checkout asks of a location.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmissionRequest {
    pub now: Millis,
    pub tier: Tier,
    pub size: Size,
    /// The reservation lapses if no driver has arrived by then.
    pub due_by: Millis,
}

/// The policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Reject,
    /// Hold capacity for the size class; bind a compartment when the driver comes.
    ReserveCapacity,
    /// Bind a specific compartment now and keep it until delivery.
    HoldCompartment,
}

pub trait AdmissionPolicy {
    fn admit(&self, view: &LockerView, request: &AdmissionRequest) -> Admission;
}

/// Every admission policy, with all its parameters.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Policy {
    /// Hold a specific compartment from checkout until delivery.
    NaiveHold {},
    /// Accept while a fitting compartment is free right now, ignoring
    /// reservations already accepted.
    Snapshot {},
    /// A fixed share of capacity per tier, the rest a shared buffer.
    TierPartition(TierPartition),
    /// Room expected at the promised delivery time, from the dwell forecast
    /// (needs `[forecast] model`).
    Forecast(ForecastPolicy),
    /// Daily per-tier quotas from a linear program over a rolling horizon,
    /// plus the forecast check (needs `[forecast] model`).
    Optimized(OptimizedPolicy),
}

impl Default for Policy {
    fn default() -> Self {
        Policy::TierPartition(TierPartition::default())
    }
}

impl Policy {
    pub fn name(&self) -> &'static str {
        match self {
            Policy::NaiveHold {} => "naive-hold",
            Policy::Snapshot {} => "snapshot",
            Policy::TierPartition(_) => "tier-partition",
            Policy::Forecast(_) => "forecast",
            Policy::Optimized(_) => "optimized",
        }
    }

    /// Checks parameters; the error is (field, what is allowed).
    pub fn validate(&self) -> Result<(), (String, String)> {
        match self {
            Policy::TierPartition(tp) => tp.validate(),
            Policy::Forecast(f) => f.validate(),
            Policy::Optimized(o) => o.validate(),
            Policy::NaiveHold {} | Policy::Snapshot {} => Ok(()),
        }
    }
}

impl Policy {
    /// True for policies that read a dwell model.
    pub fn reads_dwell_model(&self) -> bool {
        matches!(self, Policy::Forecast(_) | Policy::Optimized(_))
    }
}

impl AdmissionPolicy for Policy {
    fn admit(&self, view: &LockerView, request: &AdmissionRequest) -> Admission {
        match self {
            Policy::Forecast(f) => f.admit(view, request, &ReleaseOutlook::default()),
            Policy::Optimized(o) => o.check.admit(view, request, &ReleaseOutlook::default()),
            Policy::NaiveHold {} => {
                if view.free_fitting(request.size) > 0 {
                    Admission::HoldCompartment
                } else {
                    Admission::Reject
                }
            }
            Policy::Snapshot {} => {
                if view.free_fitting(request.size) > 0 {
                    Admission::ReserveCapacity
                } else {
                    Admission::Reject
                }
            }
            Policy::TierPartition(tp) => tp.admit(view, request),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(tier: Tier, size: Size) -> AdmissionRequest {
        AdmissionRequest {
            now: 0,
            tier,
            size,
            due_by: 0,
        }
    }

    #[test]
    fn snapshot_ignores_pending_reservations() {
        let view = LockerView {
            capacity: [1, 0, 0, 0],
            available: [1, 0, 0, 0],
            pending: [5, 0, 0, 0],
            ..LockerView::default()
        };
        let r = request(Tier::NextDay, Size::S);
        assert_eq!(
            Policy::Snapshot {}.admit(&view, &r),
            Admission::ReserveCapacity
        );
        assert_eq!(
            Policy::NaiveHold {}.admit(&view, &r),
            Admission::HoldCompartment
        );
        let full = LockerView {
            available: [0; 4],
            ..view
        };
        assert_eq!(Policy::Snapshot {}.admit(&full, &r), Admission::Reject);
    }

    #[test]
    fn policies_round_trip_through_json_and_toml() {
        for p in [
            Policy::NaiveHold {},
            Policy::Snapshot {},
            Policy::TierPartition(TierPartition::default()),
        ] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), p);
            let toml_text = toml::to_string(&p).unwrap();
            assert_eq!(toml::from_str::<Policy>(&toml_text).unwrap(), p);
        }
    }

    #[test]
    fn unknown_policy_fields_are_rejected() {
        let err = toml::from_str::<Policy>("kind = \"snapshot\"\nshares = 1\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = toml::from_str::<Policy>("kind = \"magic\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }
}

//! Demand replayed from a history file instead of drawn from the scenario's
//! arrival process: each location's recorded checkouts, in order, with their
//! tier and size, and (trace-driven mode) their recorded dwell times.

use super::history::HistoryRecord;
use crate::domain::{LocationKind, Size, Tier};
use crate::engine::Millis;
use crate::metrics::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Where replayed packages' dwell times come from.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TraceDwell {
    /// The recorded pickup time (trace-driven); packages the record never
    /// deposited, or deposited elsewhere, fall back to the scenario's model.
    #[default]
    Recorded,
    /// The scenario's dwell distributions.
    Model,
}

/// What the record says about a package's stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedDwell {
    /// Picked up this long after its deposit.
    PickedUpAfter(Millis),
    /// Deposited and never picked up (expired).
    NeverPickedUp,
    /// No usable record (rejected, never deposited, or rerouted).
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceOrder {
    pub checkout: Millis,
    pub tier: Tier,
    pub size: Size,
    pub dwell: RecordedDwell,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DemandTrace {
    /// Indexed like the scenario's locations, each sorted by checkout time.
    pub per_location: Vec<Vec<TraceOrder>>,
    pub dwell: TraceDwell,
}

impl DemandTrace {
    /// Groups records by home location, indexed like `locations` (the ids
    /// of scenario `scenario`'s locations). A location the scenario lacks is
    /// an error naming it (and the first row that uses it).
    pub fn build<'a>(
        scenario: &str,
        locations: impl IntoIterator<Item = (&'a str, LocationKind)>,
        records: &[HistoryRecord],
        dwell: TraceDwell,
    ) -> Result<DemandTrace, String> {
        let index: HashMap<&str, (usize, LocationKind)> = locations
            .into_iter()
            .enumerate()
            .map(|(i, (id, kind))| (id, (i, kind)))
            .collect();
        let mut per_location: Vec<Vec<(u64, TraceOrder)>> = vec![Vec::new(); index.len()];
        for r in records {
            let Some(&(at, kind)) = index.get(r.location_id.as_str()) else {
                return Err(format!(
                    "location `{}` (order {}) is not in scenario `{}`",
                    r.location_id, r.order_id, scenario
                ));
            };
            // The kind picks the dwell model's features and the demand
            // profile: a history that disagrees is another place's.
            if r.location_kind != kind {
                return Err(format!(
                    "order {}: location `{}` is {} `{}` in the history but {} `{}` in scenario `{}`",
                    r.order_id,
                    r.location_id,
                    article(r.location_kind),
                    r.location_kind.name(),
                    article(kind),
                    kind.name(),
                    scenario
                ));
            }
            let stayed_home = r.deposit_location_id.as_deref() == Some(r.location_id.as_str());
            let recorded = match (r.deposit_ms, r.pickup_ms) {
                (Some(d), Some(p)) if stayed_home => RecordedDwell::PickedUpAfter(p - d),
                (Some(_), None) if stayed_home && r.outcome == Outcome::ExpiredReturned => {
                    RecordedDwell::NeverPickedUp
                }
                _ => RecordedDwell::Unknown,
            };
            per_location[at].push((
                r.order_id,
                TraceOrder {
                    checkout: r.checkout_ms,
                    tier: r.tier,
                    size: r.size,
                    dwell: recorded,
                },
            ));
        }
        Ok(DemandTrace {
            per_location: per_location
                .into_iter()
                .map(|mut v| {
                    v.sort_by_key(|(id, o)| (o.checkout, *id));
                    v.into_iter().map(|(_, o)| o).collect()
                })
                .collect(),
            dwell,
        })
    }

    pub fn orders(&self) -> usize {
        self.per_location.iter().map(Vec::len).sum()
    }
}

fn article(kind: LocationKind) -> &'static str {
    if kind.name().starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

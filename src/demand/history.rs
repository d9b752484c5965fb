//! Package history: one record per order, as a locker operator's data
//! warehouse would hold it (docs/data.md). `lockerlab history` writes these
//! from a simulated run; the forecasting lab trains on them.

use crate::domain::{LocationKind, Size, Tier};
use crate::engine::Millis;
use crate::metrics::Outcome;
use serde::Serialize;

/// One order's life, times in ms since the scenario start (Monday 00:00).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRecord {
    pub order_id: u64,
    /// The locker the customer ordered to (their home locker).
    pub location_id: String,
    pub location_kind: LocationKind,
    pub tier: Tier,
    pub size: Size,
    pub checkout_ms: Millis,
    pub outcome: Outcome,
    /// Where the package was deposited (differs from `location_id` after
    /// discovery or fallback); empty if never deposited.
    pub deposit_location_id: Option<String>,
    pub deposit_ms: Option<Millis>,
    /// Empty if the package was not picked up.
    pub pickup_ms: Option<Millis>,
    /// When operations took an expired package out.
    pub retrieval_ms: Option<Millis>,
    /// Compartments holding a package at the deposit locker just before the
    /// deposit, and its number of compartments.
    pub occupied_at_deposit: Option<u32>,
    pub compartments: Option<u32>,
    /// Checked out during the run's warm-up (lockers filling from empty):
    /// not in a run's counters, and left out of training. False when the
    /// file has no `warmup` column.
    pub warmup: bool,
    /// The compartment the package was deposited in. Kept in memory for the
    /// demo's parity check; not written to history files.
    #[serde(skip)]
    pub compartment: Option<u32>,
    /// Where the order's checkout, its driver's scan and its end (pickup or
    /// retrieval) fell in the simulator's sequence of events (per region),
    /// so a replay can break ties between simultaneous events the same way.
    /// In memory only, like `compartment`.
    #[serde(skip)]
    pub checkout_seq: u64,
    #[serde(skip)]
    pub scan_seq: Option<u64>,
    #[serde(skip)]
    pub end_seq: Option<u64>,
}

impl HistoryRecord {
    /// The record as a history file keeps it: without the in-memory replay
    /// fields (compartment, event sequence numbers).
    pub fn as_stored(&self) -> HistoryRecord {
        HistoryRecord {
            compartment: None,
            checkout_seq: 0,
            scan_seq: None,
            end_seq: None,
            ..self.clone()
        }
    }
}

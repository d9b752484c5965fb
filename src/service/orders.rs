//! What the service remembers of one order, and its timers.

use super::io::{LockerIdx, Reply, ReserveRequest};
use crate::access::PickupCode;
use crate::domain::{CompartmentId, Size};
use crate::policy::AdmissionRequest;
use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) enum OrderState {
    Rejected,
    /// Accepted at `Order::at`; `held` binds a compartment there.
    Reserved {
        held: bool,
    },
    /// The reservation lapsed; the locker's confirmation ends the order.
    CancelSent,
    Deposited,
    ExpireSent,
    Expired,
    Done,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Order {
    pub request: ReserveRequest,
    /// The first answer, repeated to a client that asks again.
    pub reply: Reply,
    pub state: OrderState,
    /// Where it is reserved or deposited (the requested locker, a
    /// discovered one, or the fallback after a failed drop-off).
    pub at: LockerIdx,
    pub rerouted: bool,
    pub code: Option<PickupCode>,
    pub checkout_at: Millis,
    pub due_by: Millis,
    /// While deposited: when, in what compartment size, its dwell
    /// prediction (with a model) and its place in the locker's occupants.
    pub deposit_at: Millis,
    /// Its compartment, for the code's reply.
    pub compartment: CompartmentId,
    pub compartment_size: Option<Size>,
    pub expires_at: Millis,
    pub forecast: u32,
    pub occ_pos: usize,
}

impl Order {
    /// The admission request it was accepted on.
    pub fn admission(&self) -> AdmissionRequest {
        AdmissionRequest {
            now: self.checkout_at,
            tier: self.request.tier,
            size: self.request.size,
            due_by: self.due_by,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub(super) enum Timer {
    ReservationDue,
    Reminder,
    Expiry,
}

impl Timer {
    /// Whether the timer still has something to do for an order in `state`.
    pub fn applies_to(self, state: OrderState) -> bool {
        match self {
            Timer::ReservationDue => matches!(state, OrderState::Reserved { .. }),
            Timer::Reminder | Timer::Expiry => state == OrderState::Deposited,
        }
    }
}

/// How long a finished (or rejected) order is remembered, so a client's
/// retry gets the same answer; then it is forgotten and memory stays
/// bounded by the orders of about a day.
pub(super) const KEEP_FINISHED: Millis = 24 * 3_600_000;

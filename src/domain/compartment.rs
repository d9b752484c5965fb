//! The compartment state machine (the article's transition table):
//!
//! | from        | trigger                       | to          |
//! |-------------|-------------------------------|-------------|
//! | Available   | reservation confirmed         | Reserved    |
//! | Reserved    | reservation timeout           | Available   |
//! | Reserved    | driver deposits package       | Occupied    |
//! | Occupied    | customer picks up             | Available   |
//! | Occupied    | pickup window elapses         | Expired     |
//! | Expired     | operations retrieve package   | Available   |
//! | any         | hardware fault                | Maintenance |
//! | Maintenance | repair                        | Available   |
//!
//! Every transition carries a request id. Applying the same request again
//! changes nothing and returns the first result, so a retried command (a
//! driver's drop-off confirmation lost on the network) is harmless.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompartmentState {
    Available,
    Reserved,
    Occupied,
    Expired,
    Maintenance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Reserve,
    ReleaseReservation,
    Deposit,
    Pickup,
    Expire,
    Retrieve,
    Fault,
    Repair,
}

/// Identifies one request to change state; the unit of idempotency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("{transition:?} is not allowed from {from:?}")]
    Illegal {
        from: CompartmentState,
        transition: Transition,
    },
    #[error("request {request:?} was already used for {first:?}, not {now:?}")]
    RequestReused {
        request: RequestId,
        first: Transition,
        now: Transition,
    },
}

/// How many recent requests a compartment remembers for deduplication. A
/// retry arrives within seconds; by then a compartment sees at most a handful
/// of other transitions.
const REMEMBERED: usize = 4;

/// Marks an empty slot of the request ring (no request uses this id: ids are
/// built from small counters).
const NO_REQUEST: u64 = u64::MAX;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compartment {
    state: CompartmentState,
    /// The ring of recent requests, ids apart from outcomes so the lookup on
    /// every transition scans four integers.
    recent_ids: [u64; REMEMBERED],
    recent: [(Transition, CompartmentState); REMEMBERED],
    next_slot: u8,
}

impl Default for Compartment {
    fn default() -> Self {
        Self::new()
    }
}

impl Compartment {
    pub fn new() -> Self {
        Self {
            state: CompartmentState::Available,
            recent_ids: [NO_REQUEST; REMEMBERED],
            recent: [(Transition::Repair, CompartmentState::Available); REMEMBERED],
            next_slot: 0,
        }
    }

    pub fn state(&self) -> CompartmentState {
        self.state
    }

    /// Whether the request ring is one `apply` can continue (a compartment
    /// read back from a store might not be).
    pub(crate) fn is_sound(&self) -> bool {
        (self.next_slot as usize) < REMEMBERED
    }

    /// The state `transition` leads to from `from`, if it is legal.
    pub fn next_state(from: CompartmentState, transition: Transition) -> Option<CompartmentState> {
        use CompartmentState::*;
        use Transition::*;
        Some(match (from, transition) {
            (_, Fault) => Maintenance,
            (Available, Reserve) => Reserved,
            (Reserved, ReleaseReservation) => Available,
            (Reserved, Deposit) => Occupied,
            (Occupied, Pickup) => Available,
            (Occupied, Expire) => Expired,
            (Expired, Retrieve) => Available,
            (Maintenance, Repair) => Available,
            _ => return None,
        })
    }

    /// Whether `request` is among the recent requests applied here.
    pub fn applied(&self, request: RequestId) -> bool {
        self.recent_ids.contains(&request.0)
    }

    /// Applies `transition` for `request`, or returns the first result if this
    /// request was already applied.
    pub fn apply(
        &mut self,
        request: RequestId,
        transition: Transition,
    ) -> Result<CompartmentState, TransitionError> {
        if let Some(i) = self.recent_ids.iter().position(|&r| r == request.0) {
            let (first, result) = self.recent[i];
            if first != transition {
                return Err(TransitionError::RequestReused {
                    request,
                    first,
                    now: transition,
                });
            }
            return Ok(result);
        }
        let to = Self::next_state(self.state, transition).ok_or(TransitionError::Illegal {
            from: self.state,
            transition,
        })?;
        self.state = to;
        self.recent_ids[self.next_slot as usize] = request.0;
        self.recent[self.next_slot as usize] = (transition, to);
        self.next_slot = ((self.next_slot as usize + 1) % REMEMBERED) as u8;
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use CompartmentState::*;
    use Transition::*;

    const STATES: [CompartmentState; 5] = [Available, Reserved, Occupied, Expired, Maintenance];
    const TRANSITIONS: [Transition; 8] = [
        Reserve,
        ReleaseReservation,
        Deposit,
        Pickup,
        Expire,
        Retrieve,
        Fault,
        Repair,
    ];

    #[test]
    fn the_article_table_exactly() {
        let legal = [
            (Available, Reserve, Reserved),
            (Reserved, ReleaseReservation, Available),
            (Reserved, Deposit, Occupied),
            (Occupied, Pickup, Available),
            (Occupied, Expire, Expired),
            (Expired, Retrieve, Available),
            (Maintenance, Repair, Available),
        ];
        for from in STATES {
            for t in TRANSITIONS {
                let expected = if t == Fault {
                    Some(Maintenance)
                } else {
                    legal
                        .iter()
                        .find(|(f, tr, _)| *f == from && *tr == t)
                        .map(|x| x.2)
                };
                assert_eq!(
                    Compartment::next_state(from, t),
                    expected,
                    "{from:?} --{t:?}-->"
                );
            }
        }
    }

    #[test]
    fn illegal_transition_is_a_typed_error_and_changes_nothing() {
        let mut c = Compartment::new();
        let err = c.apply(RequestId(1), Pickup).unwrap_err();
        assert_eq!(
            err,
            TransitionError::Illegal {
                from: Available,
                transition: Pickup
            }
        );
        assert_eq!(c.state(), Available);
    }

    #[test]
    fn retried_request_returns_the_first_result() {
        let mut c = Compartment::new();
        assert_eq!(c.apply(RequestId(1), Reserve), Ok(Reserved));
        assert_eq!(c.apply(RequestId(2), Deposit), Ok(Occupied));
        // The drop-off confirmation is retried: nothing changes.
        assert_eq!(c.apply(RequestId(2), Deposit), Ok(Occupied));
        assert_eq!(c.apply(RequestId(3), Pickup), Ok(Available));
        // A late retry of the deposit must not put a package back.
        assert_eq!(c.apply(RequestId(2), Deposit), Ok(Occupied));
        assert_eq!(c.state(), Available);
    }

    #[test]
    fn request_id_reused_for_another_transition_is_an_error() {
        let mut c = Compartment::new();
        c.apply(RequestId(9), Reserve).unwrap();
        assert!(matches!(
            c.apply(RequestId(9), Deposit),
            Err(TransitionError::RequestReused { .. })
        ));
        assert_eq!(c.state(), Reserved);
    }

    proptest! {
        /// Random sequences of (request, transition) — including retries — only
        /// ever move along the table, and a retry never changes the state.
        #[test]
        fn random_sequences_follow_the_table(ops in proptest::collection::vec((0u64..12, 0usize..8), 0..200)) {
            let mut c = Compartment::new();
            let mut seen = std::collections::HashMap::new();
            for (req, t) in ops {
                let t = TRANSITIONS[t];
                let before = c.state();
                let res = c.apply(RequestId(req), t);
                match res {
                    Ok(after) => {
                        if let Some(&(first_t, first_res)) = seen.get(&req) {
                            // Either remembered (no change) or forgotten and re-applied legally.
                            if c.state() == before && first_t == t && after == first_res {
                                continue;
                            }
                        }
                        prop_assert_eq!(Compartment::next_state(before, t), Some(after));
                        prop_assert_eq!(c.state(), after);
                        seen.insert(req, (t, after));
                    }
                    Err(_) => prop_assert_eq!(c.state(), before),
                }
            }
        }
    }
}

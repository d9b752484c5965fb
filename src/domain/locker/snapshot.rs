//! A locker's state as data, for a controller's store snapshot: what
//! cannot be derived (each compartment's state and recent requests, who
//! holds what, the recently finished), never the caches (the ledger counts
//! and the free-compartment bitset), which `restore` recomputes and checks.

use super::{Holding, Locker, LockerError, PackageId, MAX_LOCKER_COUNT, RECENTLY_DONE};
use crate::domain::compartment::{Compartment, Transition};
use crate::domain::{CompartmentId, CompartmentState, Size};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockerState {
    capacity: [u32; Size::COUNT],
    compartments: Vec<Compartment>,
    occupant: Vec<Option<PackageId>>,
    /// By package id, so equal lockers give equal snapshots.
    holdings: Vec<(PackageId, Holding)>,
    done: Vec<(PackageId, Transition, CompartmentId)>,
}

impl Locker {
    pub fn snapshot(&self) -> LockerState {
        let mut holdings: Vec<_> = self.holdings.iter().map(|(&p, &h)| (p, h)).collect();
        holdings.sort_unstable_by_key(|&(p, _)| p);
        LockerState {
            capacity: self.view.capacity,
            compartments: self.compartments.clone(),
            occupant: self.occupant.clone(),
            holdings,
            done: self.done.iter().copied().collect(),
        }
    }

    /// The locker `state` describes, its counts rebuilt; an inconsistent
    /// state (a corrupt or edited store) is refused with what is wrong.
    pub fn restore(state: LockerState) -> Result<Locker, String> {
        let LockerState {
            capacity,
            compartments,
            occupant,
            holdings,
            done,
        } = state;
        let total: u64 = capacity.iter().map(|&c| c as u64).sum();
        if total > MAX_LOCKER_COUNT as u64 {
            return Err(format!("{total} compartments is more than any locker has"));
        }
        let mut l = Locker::new(capacity);
        let n = l.compartments.len();
        if compartments.len() != n || occupant.len() != n {
            return Err(format!(
                "{} compartments and {} occupants for a layout of {n}",
                compartments.len(),
                occupant.len()
            ));
        }
        if let Some(c) = compartments.iter().position(|c| !c.is_sound()) {
            return Err(format!("compartment {c}: corrupt request ring"));
        }
        if done.len() > RECENTLY_DONE {
            return Err(format!(
                "{} finished packages remembered, at most {RECENTLY_DONE}",
                done.len()
            ));
        }
        l.view.available = [0; Size::COUNT];
        for (i, comp) in compartments.iter().enumerate() {
            let state = comp.state();
            if state == CompartmentState::Available {
                l.view.available[l.sizes[i].index()] += 1;
            } else {
                l.available_bits[i / 64] &= !(1 << (i % 64));
            }
            let holds = matches!(
                state,
                CompartmentState::Occupied | CompartmentState::Expired
            );
            l.view.occupied += holds as u32;
            l.view.maintenance += (state == CompartmentState::Maintenance) as u32;
        }
        l.compartments = compartments;
        l.occupant = occupant;
        for (package, h) in holdings {
            if h.compartment.is_some_and(|c| c as usize >= n) {
                return Err(format!("package {package} is bound to no compartment here"));
            }
            if l.holdings.insert(package, h).is_some() {
                return Err(LockerError::AlreadyHeld(package).to_string());
            }
            if h.compartment.is_none() {
                l.view.pending[h.size.index()] += 1;
            }
            l.view.held_by_tier[h.tier.index()] += 1;
        }
        l.done = done.into();
        l.check_invariants()?;
        // `check_invariants` follows holdings to their compartments; a
        // compartment's occupant nobody holds would never be freed.
        if let Some((c, p)) = (l.occupant.iter().enumerate()).find_map(|(c, p)| {
            p.filter(|p| l.compartment_of(*p) != Some(c as CompartmentId))
                .map(|p| (c, p))
        }) {
            return Err(format!(
                "compartment {c} holds package {p}, which holds no compartment here"
            ));
        }
        Ok(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::compartment::RequestId;
    use crate::domain::Tier;

    fn busy_locker() -> Locker {
        let mut l = Locker::new([3, 2, 1, 1]);
        for p in 1..=5u64 {
            l.reserve_capacity(p, Tier::ALL[p as usize % 4], Size::S)
                .unwrap();
        }
        for p in 1..=3u64 {
            l.assign(RequestId(10 + p), p).unwrap();
            l.deposit(RequestId(20 + p), p).unwrap();
        }
        l.pickup(RequestId(31), 1).unwrap();
        l.expire(RequestId(32), 2).unwrap();
        l.fault(RequestId(33), 6).unwrap();
        l.hold_compartment(RequestId(34), 9, Tier::SameDay, Size::M)
            .unwrap();
        l
    }

    #[test]
    fn a_restored_locker_has_the_same_state_counts_and_answers() {
        let mut l = busy_locker();
        let json = serde_json::to_string(&l.snapshot()).unwrap();
        let mut back = Locker::restore(serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(back.view(), l.view());
        assert_eq!(back.snapshot(), l.snapshot());
        // The caches work: the same next compartment, the same retried
        // answers, the same refusals.
        assert_eq!(back.assign(RequestId(40), 4), l.assign(RequestId(40), 4));
        assert_eq!(back.pickup(RequestId(31), 1), l.pickup(RequestId(31), 1));
        assert_eq!(back.deposit(RequestId(23), 3), l.deposit(RequestId(23), 3));
        assert_eq!(back.assign(RequestId(41), 3), l.assign(RequestId(41), 3));
        assert_eq!(back.view(), l.view());
        back.check_invariants().unwrap();
    }

    #[test]
    fn an_inconsistent_state_is_refused_with_what_is_wrong() {
        let good = serde_json::to_value(busy_locker().snapshot()).unwrap();
        let broken = |path: &str, value: serde_json::Value| {
            let mut v = good.clone();
            *v.pointer_mut(path).unwrap() = value;
            let state: LockerState = serde_json::from_value(v).unwrap();
            Locker::restore(state).unwrap_err()
        };
        // One compartment fewer than the layout.
        let mut fewer = good["compartments"].as_array().unwrap().clone();
        fewer.pop();
        assert!(broken("/compartments", fewer.into()).contains("for a layout of 7"));
        // A package bound beyond the last compartment.
        let err = broken("/holdings/0/1/compartment", 99.into());
        assert!(err.contains("bound to no compartment"), "{err}");
        // An occupant the ledger does not know.
        let err = broken("/occupant/0", 77.into());
        assert!(err.contains("compartment 0"), "{err}");
        // An occupant nobody holds, in a compartment out of service.
        let err = broken("/occupant/6", 77.into());
        assert!(err.contains("holds no compartment"), "{err}");
        let err = broken("/capacity/0", u32::MAX.into());
        assert!(err.contains("more than any locker"), "{err}");
    }
}

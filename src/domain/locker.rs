//! One locker location's bank of compartments plus its capacity ledger: which
//! packages hold capacity (a pending reservation or a bound compartment), by
//! size and tier. Admission policies read the ledger through [`LockerView`].
//!
//! Compartments are numbered by size (all S first, then M, L, XL), and
//! assignment takes the lowest-numbered available compartment of the smallest
//! size that fits, so every driver of this code (simulator, controller,
//! service) assigns identically.

use super::compartment::{Compartment, CompartmentState, RequestId, Transition, TransitionError};
use super::size::Size;
use super::tier::Tier;
use std::collections::{HashMap, VecDeque};

mod snapshot;
pub use snapshot::LockerState;

pub type PackageId = u64;
pub type CompartmentId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LockerError {
    #[error("no available compartment fits a {0} package")]
    NoFit(Size),
    #[error("package {0} is not held at this locker")]
    UnknownPackage(PackageId),
    #[error("package {0} already holds capacity at this locker")]
    AlreadyHeld(PackageId),
    #[error("compartment {0} does not exist")]
    UnknownCompartment(CompartmentId),
    #[error("package {0} is in its compartment: its reservation is used")]
    Deposited(PackageId),
    #[error("package {package}: {source}")]
    Transition {
        package: PackageId,
        #[source]
        source: TransitionError,
    },
}

/// What the locker holds for one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Holding {
    tier: Tier,
    size: Size,
    compartment: Option<CompartmentId>,
}

/// A read-only snapshot of the ledger, in the form policies need. Lockers
/// report it with every message, so the capacity service admits against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockerView {
    /// Compartments per size.
    pub capacity: [u32; Size::COUNT],
    /// Compartments in state Available, per size.
    pub available: [u32; Size::COUNT],
    /// Accepted reservations not yet bound to a compartment, per package size.
    pub pending: [u32; Size::COUNT],
    /// Packages holding capacity (pending, reserved, occupied or expired), per tier.
    pub held_by_tier: [u32; 4],
    /// Compartments holding a package (Occupied or Expired).
    pub occupied: u32,
    /// Compartments out of service.
    pub maintenance: u32,
}

/// More compartments (or packages) than any locker has: a reported count
/// above it is corrupt, and sums of such counts could overflow.
pub const MAX_LOCKER_COUNT: u32 = 1 << 20;

impl LockerView {
    /// A ledger a locker could report: counts bounded, no more compartments
    /// available than exist, and no more in any state than in all.
    pub fn check(&self) -> Result<(), String> {
        let counts = [
            ("capacity", &self.capacity[..]),
            ("available", &self.available[..]),
            ("pending", &self.pending[..]),
            ("held_by_tier", &self.held_by_tier[..]),
            ("occupied", std::slice::from_ref(&self.occupied)),
            ("maintenance", std::slice::from_ref(&self.maintenance)),
        ];
        for (name, values) in counts {
            if let Some(v) = values.iter().find(|&&v| v > MAX_LOCKER_COUNT) {
                return Err(format!("{name} {v} is more than {MAX_LOCKER_COUNT}"));
            }
        }
        for size in Size::ALL {
            let k = size.index();
            if self.available[k] > self.capacity[k] {
                return Err(format!(
                    "available[{k}] = {} exceeds capacity[{k}] = {}",
                    self.available[k], self.capacity[k]
                ));
            }
        }
        let in_states: u32 = self.available.iter().sum::<u32>() + self.occupied + self.maintenance;
        if in_states > self.total_capacity() {
            return Err(format!(
                "available, occupied and in maintenance add up to {in_states}, more than the {} compartments",
                self.total_capacity()
            ));
        }
        Ok(())
    }

    pub fn total_capacity(&self) -> u32 {
        self.capacity.iter().sum()
    }

    /// Available compartments a package of `size` fits in, ignoring pending
    /// reservations ("free now").
    pub fn free_fitting(&self, size: Size) -> u32 {
        self.available[size.index()..].iter().sum()
    }

    /// True if one more reservation of `size` can be honoured from the
    /// compartments available now, together with every pending reservation.
    /// With nested fits (a package fits its size or larger) Hall's condition
    /// reduces to: for every size k <= size, the pending packages of size >= k,
    /// plus this one, do not outnumber the available compartments of size >= k.
    pub fn can_commit(&self, size: Size) -> bool {
        (0..=size.index()).all(|k| {
            let pending: u32 = self.pending[k..].iter().sum();
            let available: u32 = self.available[k..].iter().sum();
            pending < available
        })
    }
}

/// How many finished packages the locker remembers so that a retried
/// pickup/retrieval is answered with its first result instead of an error.
const RECENTLY_DONE: usize = 64;

#[derive(Debug, Clone)]
pub struct Locker {
    sizes: Vec<Size>,
    compartments: Vec<Compartment>,
    /// First compartment id of each size, plus the end: sizes k occupy
    /// `start[k]..start[k + 1]`.
    start: [u32; Size::COUNT + 1],
    available_bits: Vec<u64>,
    view: LockerView,
    holdings: HashMap<PackageId, Holding, BuildPackageHasher>,
    done: VecDeque<(PackageId, Transition, CompartmentId)>,
    occupant: Vec<Option<PackageId>>,
}

impl Locker {
    /// A locker with `counts[k]` compartments of size k, all available.
    pub fn new(counts: [u32; Size::COUNT]) -> Self {
        let mut start = [0u32; Size::COUNT + 1];
        for k in 0..Size::COUNT {
            start[k + 1] = start[k] + counts[k];
        }
        let n = start[Size::COUNT] as usize;
        let sizes = Size::ALL
            .iter()
            .flat_map(|&s| std::iter::repeat_n(s, counts[s.index()] as usize))
            .collect();
        let mut available_bits = vec![0u64; n.div_ceil(64)];
        for i in 0..n {
            available_bits[i / 64] |= 1 << (i % 64);
        }
        Self {
            sizes,
            compartments: vec![Compartment::new(); n],
            start,
            available_bits,
            view: LockerView {
                capacity: counts,
                available: counts,
                ..LockerView::default()
            },
            holdings: HashMap::default(),
            done: VecDeque::with_capacity(RECENTLY_DONE),
            occupant: vec![None; n],
        }
    }

    pub fn view(&self) -> &LockerView {
        &self.view
    }

    pub fn compartment_count(&self) -> usize {
        self.compartments.len()
    }

    pub fn state(&self, c: CompartmentId) -> Option<CompartmentState> {
        self.compartments.get(c as usize).map(Compartment::state)
    }

    pub fn size_of(&self, c: CompartmentId) -> Option<Size> {
        self.sizes.get(c as usize).copied()
    }

    /// The package physically in (or bound to) compartment `c`.
    pub fn occupant(&self, c: CompartmentId) -> Option<PackageId> {
        self.occupant.get(c as usize).copied().flatten()
    }

    /// The compartment bound to `package`, if any.
    pub fn compartment_of(&self, package: PackageId) -> Option<CompartmentId> {
        self.holdings.get(&package).and_then(|h| h.compartment)
    }

    /// Packages currently holding capacity here.
    pub fn holdings_len(&self) -> usize {
        self.holdings.len()
    }

    /// Packages holding capacity as (package, tier, size, bound compartment),
    /// in no particular order.
    pub fn holdings(
        &self,
    ) -> impl Iterator<Item = (PackageId, Tier, Size, Option<CompartmentId>)> + '_ {
        self.holdings
            .iter()
            .map(|(&p, h)| (p, h.tier, h.size, h.compartment))
    }

    /// Accepts a capacity reservation: a size class is held, no compartment yet.
    pub fn reserve_capacity(
        &mut self,
        package: PackageId,
        tier: Tier,
        size: Size,
    ) -> Result<(), LockerError> {
        if let Some(h) = self.holdings.get(&package) {
            return if h.compartment.is_none() && h.tier == tier && h.size == size {
                Ok(())
            } else {
                Err(LockerError::AlreadyHeld(package))
            };
        }
        self.holdings.insert(
            package,
            Holding {
                tier,
                size,
                compartment: None,
            },
        );
        self.view.pending[size.index()] += 1;
        self.view.held_by_tier[tier.index()] += 1;
        Ok(())
    }

    /// Holds a specific compartment from checkout (the naive policy).
    pub fn hold_compartment(
        &mut self,
        request: RequestId,
        package: PackageId,
        tier: Tier,
        size: Size,
    ) -> Result<CompartmentId, LockerError> {
        if let Some(h) = self.holdings.get(&package) {
            return h.compartment.ok_or(LockerError::AlreadyHeld(package));
        }
        let c = self
            .smallest_available(size)
            .ok_or(LockerError::NoFit(size))?;
        self.transition(package, c, request, Transition::Reserve)?;
        self.holdings.insert(
            package,
            Holding {
                tier,
                size,
                compartment: Some(c),
            },
        );
        self.occupant[c as usize] = Some(package);
        self.view.held_by_tier[tier.index()] += 1;
        Ok(c)
    }

    /// Binds a compartment for the driver at the kiosk. Idempotent: a retried
    /// drop-off gets the same compartment back, never a second one. But once
    /// the package is inside, a new scan (not the binding request replayed)
    /// is `Deposited`: a label is no key (order ids are sequential), so a
    /// scan must not reopen a full compartment.
    pub fn assign(
        &mut self,
        request: RequestId,
        package: PackageId,
    ) -> Result<CompartmentId, LockerError> {
        let h = *self
            .holdings
            .get(&package)
            .ok_or(LockerError::UnknownPackage(package))?;
        if let Some(c) = h.compartment {
            let compartment = &self.compartments[c as usize];
            let inside = matches!(
                compartment.state(),
                CompartmentState::Occupied | CompartmentState::Expired
            );
            // The request that bound it, replayed, still gets its answer.
            if inside && !compartment.applied(request) {
                return Err(LockerError::Deposited(package));
            }
            return Ok(c);
        }
        let c = self
            .smallest_available(h.size)
            .ok_or(LockerError::NoFit(h.size))?;
        self.transition(package, c, request, Transition::Reserve)?;
        self.view.pending[h.size.index()] -= 1;
        self.holdings
            .get_mut(&package)
            .expect("checked above")
            .compartment = Some(c);
        self.occupant[c as usize] = Some(package);
        Ok(c)
    }

    /// The door closed on the package: Reserved → Occupied.
    pub fn deposit(
        &mut self,
        request: RequestId,
        package: PackageId,
    ) -> Result<CompartmentId, LockerError> {
        let c = self.bound(package)?;
        self.transition(package, c, request, Transition::Deposit)?;
        Ok(c)
    }

    /// Releases what `package` holds without it ever being deposited: a
    /// reservation timeout, or a driver who found no usable compartment.
    pub fn release(&mut self, request: RequestId, package: PackageId) -> Result<(), LockerError> {
        let h = *self
            .holdings
            .get(&package)
            .ok_or(LockerError::UnknownPackage(package))?;
        match h.compartment {
            Some(c) => {
                // A cancel that crossed the deposit must not orphan the
                // package inside.
                if matches!(
                    self.compartments[c as usize].state(),
                    CompartmentState::Occupied | CompartmentState::Expired
                ) {
                    return Err(LockerError::Deposited(package));
                }
                if self.compartments[c as usize].state() == CompartmentState::Reserved {
                    self.transition(package, c, request, Transition::ReleaseReservation)?;
                }
                self.occupant[c as usize] = None;
            }
            None => self.view.pending[h.size.index()] -= 1,
        }
        self.forget(package, h.tier);
        Ok(())
    }

    /// Customer picked up: Occupied → Available.
    pub fn pickup(
        &mut self,
        request: RequestId,
        package: PackageId,
    ) -> Result<CompartmentId, LockerError> {
        self.finish(request, package, Transition::Pickup)
    }

    /// Pickup window elapsed: Occupied → Expired (the package stays inside).
    pub fn expire(
        &mut self,
        request: RequestId,
        package: PackageId,
    ) -> Result<CompartmentId, LockerError> {
        let c = self.bound(package)?;
        self.transition(package, c, request, Transition::Expire)?;
        Ok(c)
    }

    /// Operations took the expired package out: Expired → Available.
    pub fn retrieve(
        &mut self,
        request: RequestId,
        package: PackageId,
    ) -> Result<CompartmentId, LockerError> {
        self.finish(request, package, Transition::Retrieve)
    }

    /// A hardware fault takes compartment `c` out of service. Returns the
    /// package bound to it, if any, which the caller must re-home.
    pub fn fault(
        &mut self,
        request: RequestId,
        c: CompartmentId,
    ) -> Result<Option<PackageId>, LockerError> {
        let comp = self
            .compartments
            .get(c as usize)
            .ok_or(LockerError::UnknownCompartment(c))?;
        if comp.state() == CompartmentState::Maintenance {
            return Ok(None);
        }
        let displaced = self.occupant[c as usize];
        self.transition(displaced.unwrap_or(u64::MAX), c, request, Transition::Fault)?;
        if let Some(p) = displaced {
            if let Some(h) = self.holdings.get_mut(&p) {
                h.compartment = None;
                self.view.pending[h.size.index()] += 1;
            }
            self.occupant[c as usize] = None;
        }
        Ok(displaced)
    }

    /// The compartment is repaired: Maintenance → Available.
    pub fn repair(&mut self, request: RequestId, c: CompartmentId) -> Result<(), LockerError> {
        if c as usize >= self.compartments.len() {
            return Err(LockerError::UnknownCompartment(c));
        }
        self.transition(u64::MAX, c, request, Transition::Repair)?;
        Ok(())
    }

    fn finish(
        &mut self,
        request: RequestId,
        package: PackageId,
        t: Transition,
    ) -> Result<CompartmentId, LockerError> {
        let Some(h) = self.holdings.get(&package).copied() else {
            // A retry of a finished operation gets its first answer.
            return self
                .done
                .iter()
                .find(|(p, tr, _)| *p == package && *tr == t)
                .map(|&(_, _, c)| c)
                .ok_or(LockerError::UnknownPackage(package));
        };
        let c = h.compartment.ok_or(LockerError::UnknownPackage(package))?;
        self.transition(package, c, request, t)?;
        self.occupant[c as usize] = None;
        self.forget(package, h.tier);
        if self.done.len() == RECENTLY_DONE {
            self.done.pop_front();
        }
        self.done.push_back((package, t, c));
        Ok(c)
    }

    fn forget(&mut self, package: PackageId, tier: Tier) {
        self.holdings.remove(&package);
        self.view.held_by_tier[tier.index()] -= 1;
    }

    fn bound(&self, package: PackageId) -> Result<CompartmentId, LockerError> {
        self.holdings
            .get(&package)
            .and_then(|h| h.compartment)
            .ok_or(LockerError::UnknownPackage(package))
    }

    /// Applies a state-machine transition and keeps the counts in step.
    fn transition(
        &mut self,
        package: PackageId,
        c: CompartmentId,
        request: RequestId,
        t: Transition,
    ) -> Result<CompartmentState, LockerError> {
        let comp = &mut self.compartments[c as usize];
        let from = comp.state();
        let result = comp
            .apply(request, t)
            .map_err(|source| LockerError::Transition { package, source })?;
        // A deduplicated retry returns its first result without moving the
        // state: account for what actually changed.
        let to = comp.state();
        if from != to {
            let k = self.sizes[c as usize].index();
            let holds = |s| matches!(s, CompartmentState::Occupied | CompartmentState::Expired);
            if from == CompartmentState::Available {
                self.view.available[k] -= 1;
                self.available_bits[c as usize / 64] &= !(1 << (c % 64));
            }
            if to == CompartmentState::Available {
                self.view.available[k] += 1;
                self.available_bits[c as usize / 64] |= 1 << (c % 64);
            }
            self.view.occupied = self.view.occupied + holds(to) as u32 - holds(from) as u32;
            let down = |s| (s == CompartmentState::Maintenance) as u32;
            self.view.maintenance = self.view.maintenance + down(to) - down(from);
        }
        Ok(result)
    }

    /// Lowest-numbered available compartment of the smallest size that fits.
    fn smallest_available(&self, size: Size) -> Option<CompartmentId> {
        (size.index()..Size::COUNT)
            .filter(|&k| self.view.available[k] > 0)
            .find_map(|k| self.first_available_in(self.start[k], self.start[k + 1]))
    }

    fn first_available_in(&self, lo: u32, hi: u32) -> Option<CompartmentId> {
        let mut i = lo;
        while i < hi {
            let word = self.available_bits[i as usize / 64] >> (i % 64);
            if word != 0 {
                let c = i + word.trailing_zeros();
                return (c < hi).then_some(c);
            }
            i = (i / 64 + 1) * 64;
        }
        None
    }

    /// Checks the ledger against the compartments. Used by tests and debug
    /// builds: the counts are caches and must never drift.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut available = [0u32; Size::COUNT];
        let mut occupied = 0;
        let mut maintenance = 0;
        for (i, comp) in self.compartments.iter().enumerate() {
            let k = self.sizes[i].index();
            let bit = self.available_bits[i / 64] >> (i % 64) & 1 == 1;
            let is_avail = comp.state() == CompartmentState::Available;
            if bit != is_avail {
                return Err(format!(
                    "compartment {i}: bitset says {bit}, state {:?}",
                    comp.state()
                ));
            }
            available[k] += is_avail as u32;
            occupied += matches!(
                comp.state(),
                CompartmentState::Occupied | CompartmentState::Expired
            ) as u32;
            maintenance += (comp.state() == CompartmentState::Maintenance) as u32;
            if is_avail && self.occupant[i].is_some() {
                return Err(format!(
                    "compartment {i} is available but bound to {:?}",
                    self.occupant[i]
                ));
            }
        }
        if available != self.view.available
            || occupied != self.view.occupied
            || maintenance != self.view.maintenance
        {
            return Err(format!(
                "counts drifted: available {:?} vs {:?}, occupied {} vs {}",
                available, self.view.available, occupied, self.view.occupied
            ));
        }
        let mut pending = [0u32; Size::COUNT];
        let mut tiers = [0u32; 4];
        let mut bound = std::collections::HashSet::new();
        for (p, h) in &self.holdings {
            tiers[h.tier.index()] += 1;
            match h.compartment {
                None => pending[h.size.index()] += 1,
                Some(c) => {
                    if !bound.insert(c) {
                        return Err(format!("compartment {c} bound to two packages"));
                    }
                    if self.occupant[c as usize] != Some(*p) {
                        return Err(format!(
                            "compartment {c}: occupant mismatch for package {p}"
                        ));
                    }
                    if !h.size.fits_in(self.sizes[c as usize]) {
                        return Err(format!(
                            "package {p} ({}) in a {} compartment",
                            h.size, self.sizes[c as usize]
                        ));
                    }
                }
            }
        }
        if pending != self.view.pending || tiers != self.view.held_by_tier {
            return Err(format!(
                "ledger drifted: pending {:?} vs {:?}, tiers {:?} vs {:?}",
                pending, self.view.pending, tiers, self.view.held_by_tier
            ));
        }
        Ok(())
    }
}

/// Package ids are dense integers chosen by us, not an attacker: a
/// multiplicative hash is enough and much cheaper than SipHash on the hot path.
#[derive(Default, Clone, Copy, Debug)]
pub struct BuildPackageHasher;

impl std::hash::BuildHasher for BuildPackageHasher {
    type Hasher = PackageHasher;
    fn build_hasher(&self) -> PackageHasher {
        PackageHasher(0)
    }
}

#[derive(Default, Clone, Copy, Debug)]
pub struct PackageHasher(u64);

impl std::hash::Hasher for PackageHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(n: u64) -> RequestId {
        RequestId(n)
    }

    #[test]
    fn assignment_takes_the_smallest_fitting_lowest_numbered() {
        let mut l = Locker::new([1, 2, 1, 1]);
        l.reserve_capacity(1, Tier::NextDay, Size::M).unwrap();
        l.reserve_capacity(2, Tier::NextDay, Size::S).unwrap();
        l.reserve_capacity(3, Tier::NextDay, Size::S).unwrap();
        assert_eq!(l.assign(req(10), 1), Ok(1)); // first M
        assert_eq!(l.assign(req(11), 2), Ok(0)); // the S
        assert_eq!(l.assign(req(12), 3), Ok(2)); // S full → second M
        assert_eq!(l.size_of(2), Some(Size::M));
        l.check_invariants().unwrap();
    }

    #[test]
    fn retried_drop_off_never_binds_a_second_compartment() {
        let mut l = Locker::new([0, 3, 0, 0]);
        l.reserve_capacity(7, Tier::SameDay, Size::M).unwrap();
        let c = l.assign(req(1), 7).unwrap();
        assert_eq!(l.deposit(req(2), 7), Ok(c));
        // The confirmation was lost; the driver's app retries both steps.
        assert_eq!(l.assign(req(1), 7), Ok(c));
        assert_eq!(l.deposit(req(2), 7), Ok(c));
        // A new scan of the package inside opens nothing.
        assert_eq!(l.assign(req(3), 7), Err(LockerError::Deposited(7)));
        assert_eq!(l.view().available[Size::M.index()], 2);
        assert_eq!(l.view().occupied, 1);
        l.check_invariants().unwrap();
    }

    #[test]
    fn retried_pickup_returns_the_first_result() {
        let mut l = Locker::new([1, 0, 0, 0]);
        l.reserve_capacity(7, Tier::SameDay, Size::S).unwrap();
        l.assign(req(1), 7).unwrap();
        l.deposit(req(2), 7).unwrap();
        assert_eq!(l.pickup(req(3), 7), Ok(0));
        assert_eq!(l.pickup(req(3), 7), Ok(0));
        assert_eq!(l.view().available[0], 1);
        assert_eq!(l.pickup(req(4), 8), Err(LockerError::UnknownPackage(8)));
    }

    #[test]
    fn full_locker_is_a_typed_no_fit() {
        let mut l = Locker::new([1, 0, 0, 0]);
        l.reserve_capacity(1, Tier::SameDay, Size::S).unwrap();
        l.reserve_capacity(2, Tier::SameDay, Size::M).unwrap();
        assert_eq!(l.assign(req(1), 2), Err(LockerError::NoFit(Size::M)));
        l.assign(req(2), 1).unwrap();
        l.reserve_capacity(3, Tier::SameDay, Size::S).unwrap();
        assert_eq!(l.assign(req(3), 3), Err(LockerError::NoFit(Size::S)));
        l.release(req(4), 3).unwrap();
        l.release(req(5), 2).unwrap();
        l.check_invariants().unwrap();
    }

    #[test]
    fn can_commit_respects_nested_fits() {
        let mut l = Locker::new([0, 1, 1, 0]);
        assert!(l.view().can_commit(Size::S));
        l.reserve_capacity(1, Tier::SameDay, Size::L).unwrap();
        // One L pending; an M can still take the M compartment.
        assert!(l.view().can_commit(Size::M));
        assert!(!l.view().can_commit(Size::L));
        l.reserve_capacity(2, Tier::SameDay, Size::S).unwrap();
        assert!(!l.view().can_commit(Size::S));
    }

    #[test]
    fn fault_displaces_and_repair_restores() {
        let mut l = Locker::new([2, 0, 0, 0]);
        let c = l
            .hold_compartment(req(1), 5, Tier::TwoDay, Size::S)
            .unwrap();
        assert_eq!(l.fault(req(2), c), Ok(Some(5)));
        assert_eq!(l.state(c), Some(CompartmentState::Maintenance));
        assert_eq!(
            l.view().pending[0],
            1,
            "displaced package needs a new compartment"
        );
        assert_eq!(l.assign(req(3), 5), Ok(1));
        l.repair(req(4), c).unwrap();
        assert_eq!(l.view().available[0], 1);
        l.check_invariants().unwrap();
    }

    #[derive(Debug, Clone)]
    enum Op {
        Reserve(u64, usize),
        Hold(u64, usize),
        Assign(u64),
        Deposit(u64),
        Release(u64),
        Pickup(u64),
        Expire(u64),
        Retrieve(u64),
        Fault(u32),
        Repair(u32),
        /// Deliver the previous operation again, with its request id.
        Retry,
    }

    fn op() -> impl Strategy<Value = Op> {
        let p = 0u64..16;
        prop_oneof![
            (p.clone(), 0usize..4).prop_map(|(a, s)| Op::Reserve(a, s)),
            (p.clone(), 0usize..4).prop_map(|(a, s)| Op::Hold(a, s)),
            p.clone().prop_map(Op::Assign),
            p.clone().prop_map(Op::Deposit),
            p.clone().prop_map(Op::Release),
            p.clone().prop_map(Op::Pickup),
            p.clone().prop_map(Op::Expire),
            p.prop_map(Op::Retrieve),
            (0u32..8).prop_map(Op::Fault),
            (0u32..8).prop_map(Op::Repair),
            Just(Op::Retry),
        ]
    }

    proptest! {
        /// Whatever the callers do (including nonsense and retries), no
        /// compartment ever holds two packages and the ledger never drifts.
        #[test]
        fn ledger_never_drifts(ops in proptest::collection::vec(op(), 0..300)) {
            let mut l = Locker::new([2, 2, 2, 1]);
            let mut previous: Option<(Op, RequestId)> = None;
            for (i, op) in ops.into_iter().enumerate() {
                let (op, r) = match (op, &previous) {
                    (Op::Retry, Some(p)) => p.clone(),
                    (Op::Retry, None) => continue,
                    (op, _) => (op, req(i as u64)),
                };
                previous = Some((op.clone(), r));
                let _ = match op {
                    Op::Retry => unreachable!(),
                    Op::Reserve(p, s) => l.reserve_capacity(p, Tier::ALL[s], Size::ALL[s]).map(|_| ()),
                    Op::Hold(p, s) => l.hold_compartment(r, p, Tier::ALL[s], Size::ALL[s]).map(|_| ()),
                    Op::Assign(p) => l.assign(r, p).map(|_| ()),
                    Op::Deposit(p) => l.deposit(r, p).map(|_| ()),
                    Op::Release(p) => l.release(r, p),
                    Op::Pickup(p) => l.pickup(r, p).map(|_| ()),
                    Op::Expire(p) => l.expire(r, p).map(|_| ()),
                    Op::Retrieve(p) => l.retrieve(r, p).map(|_| ()),
                    Op::Fault(c) => l.fault(r, c).map(|_| ()),
                    Op::Repair(c) => l.repair(r, c),
                };
                if let Err(e) = l.check_invariants() {
                    return Err(TestCaseError::fail(e));
                }
            }
        }
    }
}

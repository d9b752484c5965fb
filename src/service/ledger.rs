//! What the service knows of one locker: the ledger the locker last
//! reported, the commands sent since that the locker has not applied yet,
//! and when it was last heard from.

use crate::controller::ReplayWindow;
use crate::domain::locker::BuildPackageHasher;
use crate::domain::{LockerView, PackageId, Size, Tier};
use crate::time::Millis;
use std::collections::{HashSet, VecDeque};

/// How a command in flight changes the ledger once the locker applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Effect {
    Reserve { size: Size, tier: Tier },
    Cancel { size: Size, tier: Tier, held: bool },
    None,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct LockerLedger {
    /// The locker's own ledger, as of its latest report.
    view: Option<LockerView>,
    view_seq: u64,
    /// The highest service command the locker had applied at that report.
    applied: u64,
    /// Service command numbers; the next command gets `sent + 1`.
    sent: u64,
    inflight: VecDeque<(u64, Effect)>,
    /// Duplicate suppression of the locker's reports (by outbox number).
    pub reports: ReplayWindow,
    pub online: bool,
    /// Since when the broker says the locker is gone (its will).
    pub offline_since: Option<Millis>,
    pub stale: bool,
    /// Pickup codes active here, so a new one is unique at the locker
    /// (codes are drawn by the service, not chosen by a client, so the
    /// cheap hash is safe). Not in a snapshot (no code is at rest): rebuilt
    /// from the orders.
    #[serde(skip)]
    pub codes: HashSet<u32, BuildPackageHasher>,
    /// Accepted orders not yet deposited (nor cancelled), ascending: the
    /// optimized plan sums over them in this order. A sorted vector: a
    /// locker has tens of them, and new ids come last.
    pending: Vec<PackageId>,
    /// With a forecast rule, the same reservations as (promised time,
    /// size), ascending: the
    /// forecast check's checkpoints are order statistics of these times and
    /// its counts are prefixes, so a checkout reads them without a lookup
    /// or a sort.
    due: Vec<(Millis, Size)>,
    /// Deposited orders with what the forecast check reads of them
    /// (appended at deposit, swap-removed when they leave), with a dwell
    /// model only.
    pub occupants: Vec<Occupant>,
}

/// A deposited package as the forecast check sees it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Occupant {
    pub package: PackageId,
    /// Its compartment's size.
    pub size: Size,
    /// Its prediction's index in the service's forecast cache.
    pub forecast: u32,
    pub deposit_at: Millis,
}

impl Default for LockerLedger {
    fn default() -> Self {
        Self::new()
    }
}

impl LockerLedger {
    pub fn new() -> Self {
        Self {
            view: None,
            view_seq: 0,
            applied: 0,
            sent: 0,
            inflight: VecDeque::new(),
            reports: ReplayWindow::default(),
            online: true,
            offline_since: None,
            stale: false,
            codes: HashSet::default(),
            pending: Vec::new(),
            due: Vec::new(),
            occupants: Vec::new(),
        }
    }

    /// Every command up to this number has been applied, as the locker's
    /// latest report says.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Numbers the next command and remembers its effect until applied.
    pub fn send(&mut self, effect: Effect) -> u64 {
        self.sent += 1;
        if effect != Effect::None {
            self.inflight.push_back((self.sent, effect));
        }
        self.sent
    }

    /// A report's ledger replaces the one held if it is newer.
    pub fn observe(&mut self, seq: u64, applied: u64, view: LockerView) {
        if seq <= self.view_seq {
            return;
        }
        self.view_seq = seq;
        self.view = Some(view);
        self.applied = self.applied.max(applied);
        while self
            .inflight
            .front()
            .is_some_and(|&(s, _)| s <= self.applied)
        {
            self.inflight.pop_front();
        }
    }

    /// An accepted order now awaits its drop-off here, promised at `at`
    /// for a package of `size` (with a forecast rule at this locker, which
    /// alone reads the promised times).
    pub fn promise(&mut self, order: PackageId, at: Option<Millis>, size: Size) {
        if let Err(i) = self.pending.binary_search(&order) {
            self.pending.insert(i, order);
            let Some(at) = at else { return };
            let key = (at, size.index());
            let j = self.due.partition_point(|&(t, s)| (t, s.index()) <= key);
            self.due.insert(j, (at, size));
        }
    }

    /// The order (promised as `promise` was told) was deposited, cancelled
    /// or sent elsewhere.
    pub fn unpromise(&mut self, order: PackageId, at: Option<Millis>, size: Size) {
        if let Ok(i) = self.pending.binary_search(&order) {
            self.pending.remove(i);
            let Some(at) = at else { return };
            // Equal entries are interchangeable: remove any one of them.
            let key = (at, size.index());
            let j = self.due.partition_point(|&(t, s)| (t, s.index()) < key);
            if self.due.get(j).is_some_and(|&(t, s)| (t, s.index()) == key) {
                self.due.remove(j);
            }
        }
    }

    /// Orders awaiting their drop-off here, ascending.
    pub fn pending(&self) -> &[PackageId] {
        &self.pending
    }

    /// Their promised times and sizes, ascending by time.
    pub fn due(&self) -> &[(Millis, Size)] {
        &self.due
    }

    /// The locker spoke: it is online and offered again.
    pub fn heard(&mut self) {
        self.online = true;
        self.offline_since = None;
        self.stale = false;
    }

    /// The broker says it is gone (its will).
    pub fn lost(&mut self, now: Millis) {
        self.online = false;
        self.offline_since.get_or_insert(now);
    }

    pub fn known(&self) -> bool {
        self.view.is_some()
    }

    /// The ledger as admission reads it: the locker's plus what is on its
    /// way there (as the simulator's service view does).
    pub fn view(&self) -> Option<LockerView> {
        let mut v = self.view?;
        for &(_, effect) in &self.inflight {
            match effect {
                Effect::Reserve { size, tier } => {
                    v.pending[size.index()] += 1;
                    v.held_by_tier[tier.index()] += 1;
                }
                Effect::Cancel { size, tier, held } => {
                    // A cancelled hold frees a compartment the view cannot
                    // name; it is credited when the locker applies it.
                    if !held {
                        v.pending[size.index()] = v.pending[size.index()].saturating_sub(1);
                    }
                    v.held_by_tier[tier.index()] = v.held_by_tier[tier.index()].saturating_sub(1);
                }
                Effect::None => {}
            }
        }
        Some(v)
    }

    /// Compartments are numbered by size, smallest first: the size of
    /// compartment `c` follows from the capacities.
    pub fn size_of(&self, c: u32) -> Option<Size> {
        let cap = self.view?.capacity;
        let mut end = 0;
        for size in Size::ALL {
            end += cap[size.index()];
            if c < end {
                return Some(size);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_commands_count_until_the_locker_reports_them_applied() {
        let mut l = LockerLedger::new();
        let base = LockerView {
            capacity: [2, 2, 0, 0],
            available: [2, 2, 0, 0],
            ..LockerView::default()
        };
        l.observe(1, 0, base);
        let s1 = l.send(Effect::Reserve {
            size: Size::M,
            tier: Tier::SameDay,
        });
        assert_eq!(l.view().unwrap().pending, [0, 1, 0, 0]);
        // The locker applied it: its own ledger now shows the reservation.
        let mut after = base;
        after.pending[1] = 1;
        after.held_by_tier[0] = 1;
        l.observe(2, s1, after);
        assert_eq!(l.view().unwrap().pending, [0, 1, 0, 0]);
        assert_eq!(l.view().unwrap().held_by_tier[0], 1);
        // An older report arriving late changes nothing.
        l.observe(1, 0, base);
        assert_eq!(l.view().unwrap().pending, [0, 1, 0, 0]);
        assert_eq!(l.size_of(1), Some(Size::S));
        assert_eq!(l.size_of(3), Some(Size::M));
        assert_eq!(l.size_of(4), None);
    }
}

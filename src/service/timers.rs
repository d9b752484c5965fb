//! The service's timers. They fire in due order, ties in the order they
//! were set, as one priority queue would fire them; but reservation
//! deadlines, one per accepted order and nearly all void by the time they
//! come (the package was deposited), do not sit in the heap: a tier's
//! deadlines are set a fixed time after "now", so they come due in the
//! order they were set, and a deque per tier holds them, appended at the
//! back and dropped from the front at O(1). The heap keeps the few timers
//! of deposited packages (a reminder, then the expiry).

use super::orders::Timer;
use crate::domain::{PackageId, Tier};
use crate::time::Millis;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// (due, setting order, order)
type Entry = (Millis, u64, PackageId);

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Timers {
    deadlines: [VecDeque<Entry>; Tier::COUNT],
    heap: BinaryHeap<Reverse<(Millis, u64, PackageId, Timer)>>,
    set: u64,
    /// The next timer (asked far more often than timers are set or fire).
    first: Option<First>,
}

/// The next timer and where it is.
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
struct First {
    at: Millis,
    seq: u64,
    order: PackageId,
    timer: Timer,
    lane: Lane,
}

#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
enum Lane {
    Deadline(usize),
    Heap,
}

impl Timers {
    pub fn set(&mut self, at: Millis, order: PackageId, timer: Timer, tier: Tier) {
        self.set += 1;
        let seq = self.set;
        let lane = if timer == Timer::ReservationDue {
            Lane::Deadline(tier.index())
        } else {
            Lane::Heap
        };
        if self.first.is_none_or(|f| (at, seq) < (f.at, f.seq)) {
            self.first = Some(First {
                at,
                seq,
                order,
                timer,
                lane,
            });
        }
        if timer != Timer::ReservationDue {
            self.heap.push(Reverse((at, seq, order, timer)));
            return;
        }
        let lane = &mut self.deadlines[tier.index()];
        let entry = (at, seq, order);
        // Setting orders only grow, so a deadline no earlier than the last
        // goes last; an earlier one (a clock that stepped back) goes in its
        // place.
        if lane.back().is_none_or(|b| b.0 <= at) {
            lane.push_back(entry);
        } else {
            let i = lane.partition_point(|e| (e.0, e.1) <= (at, entry.1));
            lane.insert(i, entry);
        }
    }

    fn find_first(&self) -> Option<First> {
        let mut best = self
            .heap
            .peek()
            .map(|&Reverse((at, seq, order, timer))| First {
                at,
                seq,
                order,
                timer,
                lane: Lane::Heap,
            });
        for (i, lane) in self.deadlines.iter().enumerate() {
            if let Some(&(at, seq, order)) = lane.front() {
                if best.is_none_or(|b| (at, seq) < (b.at, b.seq)) {
                    best = Some(First {
                        at,
                        seq,
                        order,
                        timer: Timer::ReservationDue,
                        lane: Lane::Deadline(i),
                    });
                }
            }
        }
        best
    }

    /// The next timer due: (due, order, timer).
    pub fn peek(&self) -> Option<(Millis, PackageId, Timer)> {
        self.first.map(|f| (f.at, f.order, f.timer))
    }

    pub fn pop(&mut self) -> Option<(Millis, PackageId, Timer)> {
        let f = self.first?;
        match f.lane {
            Lane::Heap => {
                self.heap.pop();
            }
            Lane::Deadline(i) => {
                self.deadlines[i].pop_front();
            }
        }
        self.first = self.find_first();
        Some((f.at, f.order, f.timer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_due_order_and_ties_in_setting_order() {
        let mut t = Timers::default();
        t.set(50, 1, Timer::ReservationDue, Tier::Standard);
        t.set(30, 2, Timer::Expiry, Tier::SameDay);
        t.set(30, 3, Timer::ReservationDue, Tier::SameDay);
        t.set(10, 4, Timer::Expiry, Tier::NextDay);
        t.set(30, 5, Timer::ReservationDue, Tier::Standard);
        // Out of order within a tier: a clock that stepped back.
        t.set(20, 6, Timer::ReservationDue, Tier::Standard);
        t.set(20, 7, Timer::Reminder, Tier::TwoDay);
        let mut fired = Vec::new();
        while let Some((at, order, _)) = t.pop() {
            fired.push((at, order));
        }
        assert_eq!(
            fired,
            [
                (10, 4),
                (20, 6),
                (20, 7),
                (30, 2),
                (30, 3),
                (30, 5),
                (50, 1)
            ]
        );
        assert_eq!(t.peek(), None);
    }
}

//! A min-priority event queue. Events at the same instant pop in the order
//! they were scheduled (insertion sequence), so a run is a pure function of its
//! inputs: no heap-internal order, no float comparison.

use super::time::Millis;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// (time, insertion sequence) packed into one `u128`, so that ordering an
/// event is a single integer comparison.
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// The virtual clock and its agenda.
///
/// Besides the heap there is one *lane*: a slot for a recurring process that
/// always has exactly one next event (order arrivals). Keeping it out of the
/// heap saves a push and a pop per arrival, often the majority of events; the
/// lane's entry is numbered like any other, so the order of events is exactly
/// the same as with one heap.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    lane: Option<Entry<E>>,
    next_seq: u64,
    now: Millis,
    popped: u64,
}

/// Scheduling into the past would make the clock run backwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event scheduled at {at} ms, before the current time {now} ms")]
pub struct PastEvent {
    pub at: Millis,
    pub now: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaneError {
    #[error(transparent)]
    Past(PastEvent),
    #[error("the lane already holds an event")]
    Occupied,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

fn key(time: Millis, seq: u64) -> u128 {
    // Times are never negative (the clock starts at 0 and never goes back),
    // so the cast keeps their order.
    (time as u64 as u128) << 64 | seq as u128
}

fn time_of(key: u128) -> Millis {
    (key >> 64) as Millis
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            lane: None,
            next_seq: 0,
            now: 0,
            popped: 0,
        }
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    /// Number of events popped so far.
    pub fn processed(&self) -> u64 {
        self.popped
    }

    pub fn len(&self) -> usize {
        self.heap.len() + self.lane.is_some() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Schedules `event` at absolute time `at` (not before now).
    pub fn schedule(&mut self, at: Millis, event: E) -> Result<(), PastEvent> {
        if at < self.now {
            return Err(PastEvent { at, now: self.now });
        }
        self.heap.push(Entry {
            key: key(at, self.next_seq),
            event,
        });
        self.next_seq += 1;
        Ok(())
    }

    /// Schedules the lane's next event. The lane holds one event: scheduling
    /// while it is occupied is an error (the caller lost track of its process).
    pub fn schedule_lane(&mut self, at: Millis, event: E) -> Result<(), LaneError> {
        if at < self.now {
            return Err(LaneError::Past(PastEvent { at, now: self.now }));
        }
        if self.lane.is_some() {
            return Err(LaneError::Occupied);
        }
        self.lane = Some(Entry {
            key: key(at, self.next_seq),
            event,
        });
        self.next_seq += 1;
        Ok(())
    }

    fn lane_is_next(&self) -> bool {
        match (&self.lane, self.heap.peek()) {
            (Some(l), Some(h)) => l.key < h.key,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Time of the next event, if any.
    pub fn peek_time(&self) -> Option<Millis> {
        if self.lane_is_next() {
            self.lane.as_ref().map(|e| time_of(e.key))
        } else {
            self.heap.peek().map(|e| time_of(e.key))
        }
    }

    /// Advances the clock to the next event and returns it.
    pub fn pop(&mut self) -> Option<(Millis, E)> {
        let entry = if self.lane_is_next() {
            self.lane.take()?
        } else {
            self.heap.pop()?
        };
        self.now = time_of(entry.key);
        self.popped += 1;
        Some((self.now, entry.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        q.schedule(5, 'a').unwrap();
        q.schedule(3, 'b').unwrap();
        q.schedule(5, 'c').unwrap();
        q.schedule(3, 'd').unwrap();
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['b', 'd', 'a', 'c']);
        assert_eq!(q.now(), 5);
    }

    #[test]
    fn rejects_events_in_the_past() {
        let mut q = EventQueue::new();
        q.schedule(10, ()).unwrap();
        q.pop();
        assert_eq!(q.schedule(9, ()), Err(PastEvent { at: 9, now: 10 }));
        assert!(q.schedule(10, ()).is_ok());
    }

    proptest! {
        /// Events through the lane pop in exactly the order they would from
        /// the heap alone.
        #[test]
        fn lane_keeps_the_total_order(ops in proptest::collection::vec((0i64..30, any::<bool>()), 1..200)) {
            let mut with_lane = EventQueue::new();
            let mut heap_only = EventQueue::new();
            let mut got = Vec::new();
            let mut expected = Vec::new();
            for (i, &(dt, lane)) in ops.iter().enumerate() {
                let at = with_lane.now() + dt;
                if lane && with_lane.lane.is_none() {
                    with_lane.schedule_lane(at, i).unwrap();
                } else {
                    with_lane.schedule(at, i).unwrap();
                }
                heap_only.schedule(heap_only.now() + dt, i).unwrap();
                if i % 3 == 2 {
                    got.push(with_lane.pop());
                    expected.push(heap_only.pop());
                }
            }
            while let Some(x) = with_lane.pop() { got.push(Some(x)); }
            while let Some(x) = heap_only.pop() { expected.push(Some(x)); }
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn pops_sorted_by_time_then_sequence(times in proptest::collection::vec(0i64..50, 0..200)) {
            let mut q = EventQueue::new();
            for (i, &t) in times.iter().enumerate() {
                q.schedule(t, i).unwrap();
            }
            let mut expected: Vec<(i64, usize)> = times.iter().copied().zip(0..).collect();
            expected.sort();
            let got: Vec<(i64, usize)> = std::iter::from_fn(|| q.pop()).collect();
            prop_assert_eq!(got, expected);
        }
    }
}

//! Duplicate suppression for inputs, per source: an anti-replay window (as in
//! IPsec, RFC 4303). Each source numbers its inputs 1, 2, 3, …; an input
//! seen before, or older than the window, is dropped. O(1) time and memory.

const WIDTH: u64 = 128;

/// No sender numbers this far: one message a microsecond would take nine
/// years. A larger number is forged or corrupt.
pub const MAX_SEQ: u64 = 1 << 48;

/// The largest step forward a window takes once it has seen a number:
/// more than a sender can have had in flight or lost (brokers queue far
/// fewer for a client). A forged leap would otherwise make every later
/// genuine input look too old.
pub const MAX_JUMP: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplayWindow {
    high: u64,
    /// Bit i set ⇔ sequence `high - i` was seen.
    #[serde(with = "halves")]
    seen: u128,
}

/// A `u128` as its high and low halves: JSON numbers stop at 64 bits.
pub(crate) mod halves {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn split(v: u128) -> [u64; 2] {
        [(v >> 64) as u64, v as u64]
    }

    pub fn join([hi, lo]: [u64; 2]) -> u128 {
        (u128::from(hi) << 64) | u128::from(lo)
    }

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        split(*v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        Ok(join(<[u64; 2]>::deserialize(d)?))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    New,
    Duplicate,
    /// Older than the window: cannot be told apart from a duplicate, so dropped.
    TooOld,
    /// Beyond `MAX_SEQ`, or more than `MAX_JUMP` past the highest seen:
    /// refused, and the window is left as it was.
    Implausible,
}

impl ReplayWindow {
    pub fn check_and_mark(&mut self, seq: u64) -> Admit {
        if seq > MAX_SEQ || (self.high > 0 && seq > self.high.saturating_add(MAX_JUMP)) {
            return Admit::Implausible;
        }
        if seq > self.high {
            let shift = seq - self.high;
            self.seen = if shift >= WIDTH {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.high = seq;
            return Admit::New;
        }
        let age = self.high - seq;
        if age >= WIDTH {
            return Admit::TooOld;
        }
        let bit = 1u128 << age;
        if self.seen & bit != 0 {
            Admit::Duplicate
        } else {
            self.seen |= bit;
            Admit::New
        }
    }

    /// The highest sequence number seen (0 if none): persisted by drivers so a
    /// restarted controller still refuses old inputs.
    pub fn high(&self) -> u64 {
        self.high
    }

    /// The highest `n` such that every number up to `n` has been seen (those
    /// older than the window count as seen: a sender hears of them as too
    /// old). A sender resends what is above it: a lost message leaves a gap
    /// that the highest number seen would hide.
    pub fn contiguous(&self) -> u64 {
        // The oldest unseen number in the window is the highest zero bit
        // among the low `span` bits: one instruction, where a bit-by-bit
        // scan made this the simulator's hottest line (it runs per report).
        let span = WIDTH.min(self.high);
        let mask = if span == WIDTH {
            u128::MAX
        } else {
            (1u128 << span) - 1
        };
        match !self.seen & mask {
            0 => self.high,
            unseen => self.high - u64::from(127 - unseen.leading_zeros()) - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_reordering() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.check_and_mark(1), Admit::New);
        assert_eq!(w.check_and_mark(3), Admit::New);
        assert_eq!(w.check_and_mark(2), Admit::New); // late, not a duplicate
        assert_eq!(w.check_and_mark(3), Admit::Duplicate);
        assert_eq!(w.check_and_mark(1), Admit::Duplicate);
        assert_eq!(w.check_and_mark(1000), Admit::New);
        assert_eq!(w.check_and_mark(872), Admit::TooOld);
        assert_eq!(w.check_and_mark(873), Admit::New);
        assert_eq!(w.check_and_mark(873), Admit::Duplicate);
    }

    #[test]
    fn a_forged_leap_is_refused_and_changes_nothing() {
        let mut fresh = ReplayWindow::default();
        assert_eq!(fresh.check_and_mark(u64::MAX), Admit::Implausible);
        assert_eq!(fresh.check_and_mark(MAX_SEQ + 1), Admit::Implausible);
        // A fresh window (its receiver restarted) takes the sender's count.
        assert_eq!(fresh.check_and_mark(50_000), Admit::New);
        let mut w = ReplayWindow::default();
        assert_eq!(w.check_and_mark(7), Admit::New);
        assert_eq!(w.check_and_mark(7 + MAX_JUMP + 1), Admit::Implausible);
        assert_eq!(w.check_and_mark(u64::MAX), Admit::Implausible);
        assert_eq!(w.high(), 7);
        // The genuine sender carries on.
        assert_eq!(w.check_and_mark(8), Admit::New);
        assert_eq!(w.check_and_mark(8 + MAX_JUMP), Admit::New);
    }

    proptest::proptest! {
        #[test]
        fn the_contiguous_mark_is_the_number_below_the_oldest_gap(
            seqs in proptest::collection::vec(1u64..400, 0..300)
        ) {
            let mut w = ReplayWindow::default();
            for s in seqs {
                w.check_and_mark(s);
                let span = WIDTH.min(w.high);
                let scanned = (0..span)
                    .rev()
                    .find(|&age| w.seen & (1u128 << age) == 0)
                    .map_or(w.high, |age| w.high - age - 1);
                proptest::prop_assert_eq!(w.contiguous(), scanned);
            }
        }
    }

    #[test]
    fn a_full_window_survives_json() {
        let mut w = ReplayWindow::default();
        for s in (1..=300).filter(|s| s % 7 != 0) {
            w.check_and_mark(s);
        }
        let text = serde_json::to_string(&w).unwrap();
        let back: ReplayWindow = serde_json::from_str(&text).unwrap();
        assert_eq!(back, w);
        assert!(w.seen >> 64 != 0, "the high half is in use");
    }

    #[test]
    fn the_contiguous_mark_stops_below_the_first_gap() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.contiguous(), 0);
        w.check_and_mark(1);
        w.check_and_mark(3);
        assert_eq!((w.high(), w.contiguous()), (3, 1), "2 was lost");
        w.check_and_mark(2);
        assert_eq!(w.contiguous(), 3);
        // 4 is lost; once it falls out of the window (its sender hears it
        // is too old) it no longer holds the mark back.
        w.check_and_mark(5);
        assert_eq!(w.contiguous(), 3);
        for seq in 6..=3 + WIDTH {
            w.check_and_mark(seq);
        }
        assert_eq!(w.contiguous(), 3, "4 is still in the window");
        w.check_and_mark(4 + WIDTH);
        assert_eq!(w.contiguous(), 4 + WIDTH);
        // A jump past the window: the numbers skipped are missing.
        w.check_and_mark(10 + 3 * WIDTH);
        assert_eq!(w.contiguous(), 10 + 2 * WIDTH);
    }
}

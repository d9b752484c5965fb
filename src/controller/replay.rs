//! Duplicate suppression for inputs, per source: an anti-replay window (as in
//! IPsec, RFC 4303). Each source numbers its inputs 1, 2, 3, …; an input
//! seen before, or older than the window, is dropped. O(1) time and memory.

const WIDTH: u64 = 128;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    high: u64,
    /// Bit i set ⇔ sequence `high - i` was seen.
    seen: u128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    New,
    Duplicate,
    /// Older than the window: cannot be told apart from a duplicate, so dropped.
    TooOld,
}

impl ReplayWindow {
    pub fn check_and_mark(&mut self, seq: u64) -> Admit {
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
}

//! The network's orders week by week, by checkout week: what a planner
//! reads through a season (acceptance and broken promises at the peak).

use super::location::Outcome;
use crate::time::{Millis, WEEK};

/// One week's orders (placed after the warm-up) by final outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WeekCounts {
    pub offered: u64,
    pub accepted: u64,
    /// Accepted and rerouted (to another locker or the door).
    pub broken_promises: u64,
    pub picked_up: u64,
    pub expired: u64,
}

/// Week `i` covers checkouts in [i·7 d, (i + 1)·7 d) from the run's start.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Weekly {
    pub weeks: Vec<WeekCounts>,
}

impl Weekly {
    /// Counts an order placed at `checkout` that ended with `outcome`.
    pub fn record(&mut self, checkout: Millis, outcome: Outcome) {
        let i = (checkout.max(0) / WEEK) as usize;
        if self.weeks.len() <= i {
            self.weeks.resize(i + 1, WeekCounts::default());
        }
        let w = &mut self.weeks[i];
        w.offered += 1;
        match outcome {
            Outcome::RejectedAtCheckout => return,
            Outcome::PickedUp => w.picked_up += 1,
            Outcome::ExpiredReturned => w.expired += 1,
            Outcome::ReroutedAlternateLocker | Outcome::ReroutedDoorstep => w.broken_promises += 1,
        }
        w.accepted += 1;
    }

    pub fn merge(&mut self, other: &Weekly) {
        if self.weeks.len() < other.weeks.len() {
            self.weeks.resize(other.weeks.len(), WeekCounts::default());
        }
        for (a, b) in self.weeks.iter_mut().zip(&other.weeks) {
            a.offered += b.offered;
            a.accepted += b.accepted;
            a.broken_promises += b.broken_promises;
            a.picked_up += b.picked_up;
            a.expired += b.expired;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_land_in_their_checkout_week() {
        let mut w = Weekly::default();
        w.record(0, Outcome::PickedUp);
        w.record(WEEK - 1, Outcome::RejectedAtCheckout);
        w.record(2 * WEEK, Outcome::ReroutedDoorstep);
        let mut other = Weekly::default();
        other.record(WEEK, Outcome::ExpiredReturned);
        w.merge(&other);
        let c = |offered, accepted, broken_promises, picked_up, expired| WeekCounts {
            offered,
            accepted,
            broken_promises,
            picked_up,
            expired,
        };
        assert_eq!(
            w.weeks,
            vec![c(2, 1, 0, 1, 0), c(1, 1, 0, 0, 1), c(1, 1, 1, 0, 0)]
        );
    }
}

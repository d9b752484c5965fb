//! A service with a journal (`serve --store`) killed after any step, its
//! outputs lost with it or sent but not recorded as sent, and rebuilt from
//! the journal: every parcel still reaches its customer, who gets one code
//! (the one the locker holds) and one outcome, and nothing is applied twice.

use super::service_link_tests::{connected, Crash, Wire};
use super::*;
use crate::engine::Millis;
use crate::protocol::{OrderOutcome, Reply};
use crate::serve::journal::{Identity, Journal};
use std::collections::{BTreeMap, BTreeSet};

const HOUR: Millis = 3_600_000;
const EPOCH: u64 = 7;
const ORDERS: u64 = 4;

/// What the customers saw, and how the run ended.
#[derive(Debug, PartialEq)]
struct Seen {
    /// Each order's distinct outcomes and distinct codes.
    outcomes: BTreeMap<u64, BTreeSet<String>>,
    codes: BTreeMap<u64, BTreeSet<String>>,
    picked_up: u64,
    occupied_at_the_end: usize,
}

/// `ORDERS` parcels through one locker — checkout, drop-off, pickup with
/// the code the customer was sent — with the service killed after the
/// steps in `crashes`; what was seen and the steps the service took.
fn run(crashes: BTreeMap<u64, Crash>) -> (Seen, u64) {
    run_with(crashes, 0)
}

/// `run`, the service keeping a snapshot every `snapshot_every` steps
/// (once all are published) and dropping the steps before it.
fn run_with(crashes: BTreeMap<u64, Crash>, snapshot_every: i64) -> (Seen, u64) {
    let dir = tempfile::tempdir().unwrap();
    let fresh = Identity {
        epoch: EPOCH,
        code_nonce: [3; 32],
    };
    let (mut journal, _) = Journal::open(
        &dir.path().join("service.sqlite"),
        "config",
        "key",
        None,
        fresh,
        false,
    )
    .unwrap();
    journal.set_snapshot_every(snapshot_every);
    let wire = Wire {
        journal: Some(journal),
        crashes,
        epoch: EPOCH,
        ..Wire::default()
    };
    let (mut st, mut w, mut svc) = connected(dir.path(), EPOCH, wire);
    for order in 1..=ORDERS {
        let t = order as Millis * HOUR;
        w.order(t, &mut svc, &mut st, order);
        w.drop_off(t + 60_000, &mut svc, &mut st, order);
        let code = w
            .replies
            .iter()
            .rev()
            .find_map(|r| match r {
                Reply::Code { order: o, code, .. } if *o == order => Some(*code),
                _ => None,
            })
            .unwrap_or_else(|| panic!("order {order} got no code: {:?}", w.replies));
        let opened = st
            .act_on(t + 120_000, &Action::Keypad { code })
            .unwrap()
            .door;
        assert!(opened.is_some(), "order {order}'s code opens its door");
        st.act_on(t + 120_000, &Action::Take).unwrap();
        w.settle(t + 120_000, &mut svc, &mut st, Vec::new());
    }
    assert!(w.refused.is_empty(), "no command refused: {:?}", w.refused);
    let mut seen = Seen {
        outcomes: BTreeMap::new(),
        codes: BTreeMap::new(),
        picked_up: svc.stats().picked_up,
        occupied_at_the_end: st.node.controller().locker().view().occupied as usize,
    };
    for r in &w.replies {
        match r {
            Reply::Outcome { order, outcome } => {
                let name = match outcome {
                    OrderOutcome::PickedUp => "picked_up".to_string(),
                    other => format!("{other:?}"),
                };
                seen.outcomes.entry(*order).or_default().insert(name);
            }
            Reply::Code { order, code, .. } => {
                seen.codes
                    .entry(*order)
                    .or_default()
                    .insert(code.to_string());
            }
            _ => {}
        }
    }
    (seen, w.steps)
}

#[test]
fn a_service_killed_after_any_step_and_rebuilt_from_its_journal_loses_nothing() {
    let (baseline, steps) = run(BTreeMap::new());
    assert_eq!(baseline.picked_up, ORDERS);
    assert_eq!(baseline.occupied_at_the_end, 0);
    for order in 1..=ORDERS {
        assert_eq!(baseline.outcomes[&order].len(), 1, "{baseline:?}");
        assert_eq!(baseline.codes[&order].len(), 1, "{baseline:?}");
    }
    assert!(
        steps >= 4 * ORDERS,
        "a parcel's life is several steps: {steps}"
    );
    let mut kills = 0;
    for step in 1..=steps {
        for crash in [Crash::Lost, Crash::Unrecorded] {
            let (seen, _) = run(BTreeMap::from([(step, crash)]));
            assert_eq!(seen, baseline, "killed after step {step} ({crash:?})");
            kills += 1;
        }
    }
    // Killed again and again in one run: after every third step.
    let every_third = (1..=steps)
        .filter(|s| s % 3 == 0)
        .map(|s| {
            (
                s,
                if s % 2 == 0 {
                    Crash::Lost
                } else {
                    Crash::Unrecorded
                },
            )
        })
        .collect();
    assert_eq!(run(every_third).0, baseline);
    assert!(kills >= 40, "{kills}");
    eprintln!("{steps} steps, killed after each (both ways) and every third: all the same");
}

#[test]
fn a_service_restarted_from_a_snapshot_and_the_steps_since_loses_nothing() {
    let (baseline, steps) = run(BTreeMap::new());
    let mut kills = 0;
    // A snapshot whenever all is published (every 1) or now and then (3):
    // each kill restarts from the latest snapshot and the steps after it.
    for every in [1, 3] {
        assert_eq!(run_with(BTreeMap::new(), every).0, baseline);
        for step in 1..=steps {
            for crash in [Crash::Lost, Crash::Unrecorded] {
                let (seen, _) = run_with(BTreeMap::from([(step, crash)]), every);
                assert_eq!(
                    seen, baseline,
                    "snapshots every {every}, killed after {step} ({crash:?})"
                );
                kills += 1;
            }
        }
    }
    assert!(kills >= 80, "{kills}");
}

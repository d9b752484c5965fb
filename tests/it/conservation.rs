//! Whole runs under random scenarios: the locker ledger is checked after
//! every event (no compartment ever holds two packages, counts never drift),
//! and every offered package ends in exactly one outcome.

use lockerlab::domain::OpeningHours;
use lockerlab::metrics::{LocationMetrics, Outcome};
use lockerlab::policy::{Policy, TierPartition, TierShares};
use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};
use proptest::prelude::*;
use std::path::Path;

const DAY: i64 = 86_400_000;

fn policy(i: usize, a: f64, b: f64) -> Policy {
    match i {
        0 => Policy::NaiveHold {},
        1 => Policy::Snapshot {},
        _ => Policy::TierPartition(TierPartition {
            shares: TierShares {
                same_day: a * 0.5,
                next_day: b * 0.5,
                ..TierShares::default()
            },
        }),
    }
}

fn hours(i: usize) -> OpeningHours {
    let text = [
        "\"24/7\"",
        "\"07:00-22:00\"",
        r#"{"default":"08:00-18:00","sat":"closed","sun":"closed"}"#,
    ][i];
    serde_json::from_str(text).unwrap()
}

fn check_conservation(m: &LocationMetrics) -> Result<(), TestCaseError> {
    let outcomes: u64 = Outcome::ALL.iter().map(|&o| m.outcome(o)).sum();
    prop_assert_eq!(
        m.offered,
        outcomes,
        "every offered package has exactly one outcome"
    );
    prop_assert_eq!(
        m.accepted + m.outcome(Outcome::RejectedAtCheckout),
        m.offered
    );
    prop_assert_eq!(
        m.accepted,
        m.deposited + m.failed_deliveries + m.reservation_timeouts
    );
    prop_assert_eq!(m.deposited, m.outcome(Outcome::PickedUp) + m.expired);
    prop_assert_eq!(m.expired, m.outcome(Outcome::ExpiredReturned));
    prop_assert_eq!(
        m.outcome(Outcome::ReroutedDoorstep),
        m.failed_deliveries + m.reservation_timeouts
    );
    prop_assert!(m.occupied_area <= m.capacity_area);
    prop_assert!(m.lockouts <= m.wrong_code_attempts);
    prop_assert!(m.lockouts <= m.wrong_code_attempts);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_package_ends_once_and_no_compartment_is_shared(
        seed in any::<u64>(),
        policy_kind in 0usize..3,
        share_a in 0.0f64..1.0,
        share_b in 0.0f64..1.0,
        counts in proptest::array::uniform4(0u32..5),
        orders_per_day in 0.0f64..150.0,
        window_hours in 1.0f64..120.0,
        hours_kind in 0usize..3,
        horizon_days in 2i64..8,
        mistype_share in 0.0f64..1.0,
        qr_share in 0.0f64..1.0,
        max_wrong_codes in 1u32..6,
        lockout_minutes in 0i64..120,
    ) {
        let mut sc = Scenario::from_file(Path::new("scenarios/quickstart.toml")).unwrap();
        sc.policy = policy(policy_kind, share_a, share_b);
        sc.warmup = 0;
        sc.horizon = horizon_days * DAY;
        sc.pickup_window = (window_hours * 3_600_000.0) as i64;
        sc.reminder_before_expiry = sc.pickup_window / 3;
        sc.access.mistype_share = mistype_share;
        sc.access.qr_share = qr_share;
        sc.access.controller.max_wrong_codes = max_wrong_codes;
        sc.access.controller.lockout_ms = lockout_minutes * 60_000;
        for loc in &mut sc.locations {
            loc.compartments = counts;
            if counts.iter().sum::<u32>() == 0 {
                loc.compartments[0] = 1;
            }
            loc.orders_per_day = orders_per_day;
            loc.hours = hours(hours_kind);
        }
        let opts = RunOptions { seed, replications: 1, check_invariants: true, audit_dir: None, record_history: false, record_occupancy: false, record_world: false, pool_locations: false, keep_location_metrics: true, cancel: None };
        let result = sim::run(&sc, &opts, &|_| {}).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for m in &result.metrics[0] {
            check_conservation(m)?;
        }
    }
}

#[test]
fn city_conserves_with_invariant_checks() {
    let mut sc = Scenario::builtin();
    sc.locations.truncate(20);
    let opts = RunOptions {
        seed: 3,
        replications: 1,
        check_invariants: true,
        audit_dir: None,
        record_history: false,
        record_occupancy: false,
        record_world: false,
        pool_locations: false,
        keep_location_metrics: true,
        cancel: None,
    };
    let result = sim::run(&sc, &opts, &|_| {}).unwrap();
    let mut offered = 0;
    for m in &result.metrics[0] {
        check_conservation(m).unwrap();
        offered += m.offered;
    }
    assert!(
        offered > 10_000,
        "the run must actually exercise the pipeline ({offered} offered)"
    );
}

#[test]
fn careless_customers_get_locked_out_and_still_every_package_ends_once() {
    let mut sc = Scenario::from_file(Path::new("scenarios/quickstart.toml")).unwrap();
    sc.access.mistype_share = 1.0;
    sc.access.controller.max_wrong_codes = 1;
    sc.access.controller.lockout_ms = 30 * 60_000;
    // Without escalation: every typo a lockout of its own, many of them.
    sc.access.controller.max_lockout_ms = 30 * 60_000;
    let opts = RunOptions {
        seed: 5,
        replications: 1,
        check_invariants: true,
        audit_dir: None,
        record_history: false,
        record_occupancy: false,
        record_world: false,
        pool_locations: false,
        keep_location_metrics: true,
        cancel: None,
    };
    let result = sim::run(&sc, &opts, &|_| {}).unwrap();
    let mut total = LocationMetrics::default();
    for m in &result.metrics[0] {
        check_conservation(m).unwrap();
        total.merge(m);
    }
    assert!(
        total.lockouts > 100,
        "every typo locks the keypad: {}",
        total.lockouts
    );
    assert!(total.access_denials > 0, "customers arrive during lockouts");
    assert!(total.outcome(Outcome::PickedUp) > 0);
}

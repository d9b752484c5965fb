//! Every broken promise is counted: orders no driver could deliver in time
//! are refused at checkout (they used to be accepted and lapse to the
//! doorstep, counted in no failure rate), reroutes of any cause are broken
//! promises, and customers turned away at pickup are failed pickups.

use lockerlab::scenario::Scenario;
use lockerlab::sim::{self, RunOptions};
use std::path::Path;

fn totals(file: &str) -> lockerlab::metrics::Summary {
    let sc = Scenario::from_file(Path::new(file)).unwrap();
    let opts = RunOptions {
        replications: 1,
        ..RunOptions::from_scenario(&sc)
    };
    sim::run(&sc, &opts, &|_| {}).unwrap().totals.remove(0)
}

fn check_identities(t: &lockerlab::metrics::Summary) {
    let v = |n: &str| t.get(n).unwrap();
    assert_eq!(
        v("broken_promises"),
        v("rerouted_doorstep") + v("rerouted_alternate_locker")
    );
    assert_eq!(
        v("broken_promise_rate"),
        v("broken_promises") / v("accepted")
    );
    assert!(v("broken_promises") >= v("reservation_timeouts"));
    assert_eq!(
        v("doorstep_deliveries"),
        v("rejected") + v("rerouted_doorstep")
    );
    let visits = v("failed_pickups") + v("picked_up");
    assert_eq!(v("failed_pickup_rate"), v("failed_pickups") / visits);
}

#[test]
fn the_city_refuses_at_checkout_what_no_driver_could_deliver() {
    let t = totals("scenarios/city.toml");
    check_identities(&t);
    let v = |n: &str| t.get(n).unwrap();
    // Once 2,154 reservations a run lapsed to the doorstep (grocery and
    // office lockers closed when the driver could come).
    assert_eq!(v("reservation_timeouts"), 0.0);
    assert!(
        v("rejected_unreachable") > 1000.0,
        "{}",
        v("rejected_unreachable")
    );
    assert_eq!(v("broken_promises"), 0.0, "no faults, no broken promise");
}

#[test]
fn faults_break_promises_and_turn_customers_away() {
    let t = totals("scenarios/faulty-city.toml");
    check_identities(&t);
    let v = |n: &str| t.get(n).unwrap();
    assert!(v("broken_promises") > 0.0);
    assert!(v("failed_pickups") >= v("access_denials"));
    assert!(
        v("failed_pickups") > v("access_denials"),
        "outages turn customers away too"
    );
    assert!(v("failed_pickup_rate") > 0.0 && v("failed_pickup_rate") < 0.1);
}

/// A warm-up shorter than the longest life cycle is said, with the key
/// that fixes it; one long enough is not.
#[test]
fn a_short_warm_up_is_named() {
    let city = Scenario::from_file(Path::new("scenarios/city.toml")).unwrap();
    let day = 86_400_000;
    // Standard orders' 168 h reservation + the 72 h window + the 14 h mean
    // retrieval wait.
    assert_eq!(city.longest_life_cycle(), (168 + 72 + 14) * 3_600_000);
    let note = city.warmup_note().unwrap();
    assert!(
        note.contains("warm-up (7.0 days) is shorter than the longest life cycle (10.6 days")
            && note.contains("`simulation.warmup_days = 11`"),
        "{note}"
    );
    let mut long = city.clone();
    long.warmup = 11 * day;
    assert_eq!(long.warmup_note(), None);
}

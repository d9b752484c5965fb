//! Every failure path, driven deterministically, and conservation under
//! random fault injection.

use lockerlab::metrics::{LocationMetrics, Outcome};
use lockerlab::policy::Policy;
use lockerlab::scenario::{Discovery, Dist, Scenario};
use lockerlab::sim::{self, RunOptions, RunReport};
use proptest::prelude::*;
use std::path::Path;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

fn quickstart() -> Scenario {
    Scenario::from_file(Path::new("scenarios/quickstart.toml")).unwrap()
}

fn run(sc: &Scenario, seed: u64) -> Vec<LocationMetrics> {
    let opts = RunOptions {
        seed,
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
    sim::run(sc, &opts, &|_| {}).unwrap().metrics.remove(0)
}

fn total(ms: &[LocationMetrics]) -> LocationMetrics {
    let mut t = LocationMetrics::default();
    for m in ms {
        t.merge(m);
    }
    t
}

/// Every offered package has exactly one outcome, and the counts agree.
fn conserves(m: &LocationMetrics) -> Result<(), String> {
    let outcomes: u64 = Outcome::ALL.iter().map(|&o| m.outcome(o)).sum();
    let checks = [
        (m.offered, outcomes, "offered = outcomes"),
        (
            m.accepted + m.outcome(Outcome::RejectedAtCheckout),
            m.offered,
            "accepted + rejected = offered",
        ),
        (
            m.accepted,
            m.deposited + m.failed_deliveries + m.reservation_timeouts,
            "accepted = deposited + failed + timeouts",
        ),
        (
            m.deposited,
            m.outcome(Outcome::PickedUp) + m.expired,
            "deposited = picked up + expired",
        ),
        (
            m.expired,
            m.outcome(Outcome::ExpiredReturned),
            "expired = returned",
        ),
        (
            m.outcome(Outcome::ReroutedDoorstep) + m.outcome(Outcome::ReroutedAlternateLocker),
            m.failed_deliveries + m.reservation_timeouts,
            "reroutes = failed + timeouts",
        ),
        (
            m.failed_by_cause.iter().sum::<u64>(),
            m.failed_deliveries,
            "causes add up",
        ),
    ];
    for (a, b, what) in checks {
        if a != b {
            return Err(format!("{what}: {a} vs {b}"));
        }
    }
    Ok(())
}

fn assert_conserves(ms: &[LocationMetrics]) {
    for m in ms {
        conserves(m).unwrap();
    }
}

#[test]
fn jammed_doors_go_to_maintenance_and_the_driver_gets_another_compartment() {
    let mut sc = quickstart();
    sc.faults.door_jam_probability = 0.3;
    let t = total(&run(&sc, 1));
    assert!(t.door_jams > 50, "jams: {}", t.door_jams);
    assert!(t.maintenance_area > 0);
    // Most jams find another compartment; only a locker with none left fails.
    assert!(
        t.failed_by_cause[1] < t.door_jams / 2,
        "{} failed of {} jams",
        t.failed_by_cause[1],
        t.door_jams
    );
    assert!(t.deposited > 0);
}

#[test]
fn when_every_door_jams_every_delivery_fails_for_jam() {
    let mut sc = quickstart();
    sc.warmup = 0;
    sc.faults.door_jam_probability = 1.0;
    sc.faults.repair_time = Dist::Fixed(1000 * DAY);
    let ms = run(&sc, 2);
    assert_conserves(&ms);
    let t = total(&ms);
    assert_eq!(t.deposited, 0);
    // The first driver at each locker meets one jammed door after another
    // until none is left; later drivers find every compartment out of
    // service, which the locker reports as full.
    // (A large package exhausts only the large compartments, so a locker
    // can see up to one such cascade per size.)
    assert!(
        (3..=12).contains(&t.failed_by_cause[1]),
        "{}",
        t.failed_by_cause[1]
    );
    assert_eq!(
        t.failed_deliveries,
        t.failed_by_cause[0] + t.failed_by_cause[1]
    );
    // Every compartment of the three lockers has jammed once and stays broken.
    assert_eq!(t.door_jams, 42 + 34 + 46);
}

#[test]
fn forgotten_items_are_found_by_reconciliation_or_the_next_driver() {
    let mut sc = quickstart();
    sc.faults.forgotten_item_probability = 0.2;
    let ms = run(&sc, 3);
    assert_conserves(&ms);
    let t = total(&ms);
    assert!(t.sensor_mismatches > 20, "{}", t.sensor_mismatches);
    assert!(t.maintenance_area > 0);
    // Without reconciliation finding them first, drivers would keep hitting them.
    let mut never = sc.clone();
    never.faults.reconciliation_interval = 10_000 * DAY;
    let late = total(&run(&never, 3));
    assert!(
        late.sensor_mismatches > 0,
        "drivers find blocked compartments"
    );
}

#[test]
fn wrong_compartment_parcels_are_found_and_cleared() {
    let mut sc = quickstart();
    sc.faults.wrong_compartment_probability = 0.2;
    let ms = run(&sc, 4);
    assert_conserves(&ms);
    assert!(total(&ms).sensor_mismatches > 10);
}

#[test]
fn size_mismatches_go_to_the_doorstep() {
    let mut sc = quickstart();
    sc.faults.size_mismatch_probability = 1.0;
    sc.fallback_radius_km = 50.0;
    let ms = run(&sc, 5);
    assert_conserves(&ms);
    let t = total(&ms);
    assert_eq!(t.deposited, 0);
    assert_eq!(t.failed_by_cause[4], t.failed_deliveries);
    assert_eq!(
        t.outcome(Outcome::ReroutedAlternateLocker),
        0,
        "a package that does not fit is not tried elsewhere"
    );
}

#[test]
fn a_broken_screen_sends_customers_to_the_app() {
    let mut sc = quickstart();
    sc.faults.screen_failures_per_day = 0.5;
    sc.faults.screen_repair_time = Dist::Fixed(12 * HOUR);
    sc.faults.app_unlock_success_share = 1.0;
    let all_app = total(&run(&sc, 6));
    assert!(all_app.app_unlocks > 20, "{}", all_app.app_unlocks);
    assert_eq!(all_app.outage_delays, 0);
    sc.faults.app_unlock_success_share = 0.0;
    let no_app = run(&sc, 6);
    assert_conserves(&no_app);
    let no_app = total(&no_app);
    assert_eq!(no_app.app_unlocks, 0);
    assert!(
        no_app.outage_delays > 20,
        "customers come back after the repair"
    );
}

#[test]
fn network_outages_keep_pickups_going_and_make_lockers_stale() {
    let mut sc = quickstart();
    sc.faults.network_outages_per_day = 0.5;
    sc.faults.network_outage_duration = Dist::Fixed(10 * HOUR);
    sc.faults.stale_after = HOUR;
    let ms = run(&sc, 7);
    assert_conserves(&ms);
    let t = total(&ms);
    assert!(
        t.pickups_offline > 20,
        "cached credentials keep working: {}",
        t.pickups_offline
    );
    assert!(t.stale_ms > 0);
    // Reservations accepted in the first hour, before the locker went stale,
    // never reached it: those drivers fail for "offline".
    assert!(t.failed_by_cause[2] > 0, "{:?}", t.failed_by_cause);
    let offline = total(&run(&sc, 7));
    assert_eq!(offline, t, "deterministic");
}

#[test]
fn power_cuts_fail_drop_offs_and_hold_up_customers() {
    let mut sc = quickstart();
    sc.faults.power_outages_per_day = 0.5;
    sc.faults.power_outage_duration = Dist::Fixed(6 * HOUR);
    let ms = run(&sc, 8);
    assert_conserves(&ms);
    let t = total(&ms);
    assert!(t.failed_by_cause[3] > 0);
    assert!(t.outage_delays > 0);
}

#[test]
fn a_failed_drop_off_falls_back_to_a_nearby_locker() {
    let mut sc = quickstart();
    sc.policy = Policy::Snapshot {}; // overbooks, so drivers find full lockers
                                     // One overloaded locker with quiet neighbours.
    sc.locations[0].orders_per_day = 150.0;
    sc.locations[1].orders_per_day = 5.0;
    sc.locations[2].orders_per_day = 5.0;
    sc.fallback_radius_km = 0.0;
    let alone = total(&run(&sc, 9));
    assert!(alone.failed_by_cause[0] > 0);
    assert_eq!(alone.outcome(Outcome::ReroutedAlternateLocker), 0);
    sc.fallback_radius_km = 10.0;
    let ms = run(&sc, 9);
    assert_conserves(&ms);
    let t = total(&ms);
    assert!(t.outcome(Outcome::ReroutedAlternateLocker) > 0);
}

#[test]
fn discovery_offers_a_nearby_locker_when_home_is_full() {
    let mut sc = quickstart();
    sc.locations[0].orders_per_day = 200.0;
    let home_only = total(&run(&sc, 10));
    sc.discovery = Some(Discovery {
        radius_km: 10.0,
        hide_below_free_share: 0.0,
    });
    let ms = run(&sc, 10);
    assert_conserves(&ms);
    assert!(ms[0].served_elsewhere > 100, "{}", ms[0].served_elsewhere);
    assert!(total(&ms).accepted > home_only.accepted);
}

#[test]
fn pessimistic_surfacing_hides_nearly_full_lockers() {
    let mut sc = quickstart();
    sc.policy = Policy::Snapshot {};
    sc.discovery = Some(Discovery {
        radius_km: 0.0,
        hide_below_free_share: 0.0,
    });
    let shown = total(&run(&sc, 11));
    sc.discovery = Some(Discovery {
        radius_km: 0.0,
        hide_below_free_share: 0.3,
    });
    let hidden = total(&run(&sc, 11));
    assert!(hidden.accepted < shown.accepted);
    assert!(hidden.failed_by_cause[0] <= shown.failed_by_cause[0]);
}

#[test]
fn customers_wait_while_a_driver_holds_the_kiosk() {
    let mut sc = quickstart();
    sc.kiosk.dropoff = 20 * 60_000; // slow drivers
    sc.kiosk.pickup = 5 * 60_000;
    let ms = run(&sc, 12);
    assert_conserves(&ms);
    assert!(total(&ms).kiosk_waits > 10);
}

/// Builds the JSON a run prints (without timing).
fn json(sc: &Scenario) -> String {
    let opts = RunOptions::from_scenario(sc);
    let r = sim::run(sc, &opts, &|_| {}).unwrap();
    serde_json::to_string(&RunReport::new(sc, opts.seed, &r).to_json(None)).unwrap()
}

#[test]
fn zero_fault_rates_are_byte_identical_to_no_fault_section() {
    let city = std::fs::read_to_string("scenarios/city.toml").unwrap();
    let zero = city.replacen(
        "[policy]",
        "[faults]\ndoor_jam_probability = 0\nforgotten_item_probability = 0\nwrong_compartment_probability = 0\n\
         size_mismatch_probability = 0\nscreen_failures_per_day = 0\nnetwork_outages_per_day = 0\n\
         power_outages_per_day = 0\nreconciliation_interval_hours = 1\nstale_after_hours = 0.5\n\
         repair_time = { dist = \"fixed\", hours = 1 }\n\n[policy]",
        1,
    );
    let a = Scenario::from_toml(&city, "city.toml").unwrap();
    let b = Scenario::from_toml(&zero, "city.toml").unwrap();
    assert_ne!(a.faults, b.faults, "the section was parsed");
    assert_eq!(json(&a), json(&b));

    // The same for the faulty city itself: its rates at zero vs no [faults].
    let faulty = std::fs::read_to_string("scenarios/faulty-city.toml").unwrap();
    let start = faulty.find("[faults]").unwrap();
    let end = faulty.find("[kiosk]").unwrap();
    let without = format!("{}{}", &faulty[..start], &faulty[end..]);
    let mut zeroed = Scenario::from_toml(&faulty, "faulty-city.toml").unwrap();
    let f = &mut zeroed.faults;
    f.door_jam_probability = 0.0;
    f.forgotten_item_probability = 0.0;
    f.wrong_compartment_probability = 0.0;
    f.size_mismatch_probability = 0.0;
    f.screen_failures_per_day = 0.0;
    f.network_outages_per_day = 0.0;
    f.power_outages_per_day = 0.0;
    let without = Scenario::from_toml(&without, "faulty-city.toml").unwrap();
    assert_eq!(json(&zeroed), json(&without));
}

#[test]
fn the_faulty_city_exercises_every_failure() {
    let sc = Scenario::from_file(Path::new("scenarios/faulty-city.toml")).unwrap();
    // A drop-off that fails because every fitting compartment jammed is
    // rare (about one a run): three replications make it certain enough.
    let opts = RunOptions {
        check_invariants: false,
        replications: 3,
        keep_location_metrics: true,
        ..RunOptions::from_scenario(&sc)
    };
    let reps = sim::run(&sc, &opts, &|_| {}).unwrap().metrics;
    for ms in &reps {
        assert_conserves(ms);
    }
    let all: Vec<_> = reps.into_iter().flatten().collect();
    let t = total(&all);
    for (name, v) in [
        ("failed full", t.failed_by_cause[0]),
        ("failed jam", t.failed_by_cause[1]),
        ("failed offline", t.failed_by_cause[2]),
        ("failed power", t.failed_by_cause[3]),
        ("failed size mismatch", t.failed_by_cause[4]),
        (
            "rerouted alternate",
            t.outcome(Outcome::ReroutedAlternateLocker),
        ),
        ("rerouted doorstep", t.outcome(Outcome::ReroutedDoorstep)),
        ("door jams", t.door_jams),
        ("sensor mismatches", t.sensor_mismatches),
        ("maintenance", t.maintenance_area as u64),
        ("pickups offline", t.pickups_offline),
        ("stale time", t.stale_ms as u64),
        ("kiosk waits", t.kiosk_waits),
        ("app unlocks", t.app_unlocks),
        ("outage delays", t.outage_delays),
        ("served elsewhere", t.served_elsewhere),
    ] {
        assert!(v > 0, "{name} never happened");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// No compartment ever holds two packages (the ledger is checked after
    /// every event) and every package ends once, whatever fails.
    #[test]
    fn conservation_under_random_fault_injection(
        seed in any::<u64>(),
        jam in 0.0f64..0.5,
        forgot in 0.0f64..0.5,
        wrong in 0.0f64..0.5,
        size in 0.0f64..0.3,
        screen in 0.0f64..2.0,
        app in 0.0f64..1.0,
        net in 0.0f64..2.0,
        power in 0.0f64..2.0,
        fallback in 0.0f64..10.0,
        discovery in proptest::option::of((0.0f64..10.0, 0.0f64..0.5)),
        dropoff_s in 0i64..600,
        snapshot in any::<bool>(),
    ) {
        let mut sc = quickstart();
        sc.warmup = 0;
        sc.horizon = 5 * DAY;
        let f = &mut sc.faults;
        f.door_jam_probability = jam;
        f.forgotten_item_probability = forgot;
        f.wrong_compartment_probability = wrong;
        f.size_mismatch_probability = size;
        f.screen_failures_per_day = screen;
        f.app_unlock_success_share = app;
        f.network_outages_per_day = net;
        f.power_outages_per_day = power;
        f.reconciliation_interval = 3 * HOUR;
        sc.fallback_radius_km = fallback;
        sc.discovery = discovery.map(|(radius_km, hide_below_free_share)| Discovery { radius_km, hide_below_free_share });
        sc.kiosk.dropoff = dropoff_s * 1000;
        sc.kiosk.pickup = dropoff_s * 500;
        if snapshot {
            sc.policy = Policy::Snapshot {};
        }
        let opts = RunOptions { seed, replications: 1, check_invariants: true, audit_dir: None, record_history: false, record_occupancy: false, record_world: false, pool_locations: false, keep_location_metrics: true, cancel: None };
        let r = sim::run(&sc, &opts, &|_| {}).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for m in &r.metrics[0] {
            conserves(m).map_err(TestCaseError::fail)?;
        }
    }
}

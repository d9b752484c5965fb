//! `lockerlab size`: the layout it names meets the target, one step smaller
//! does not, and a target no capacity reaches is said to be out of reach.

use lockerlab::scenario::Scenario;
use lockerlab::service::network::Network;
use lockerlab::sizing::{self, measure, scaled, with_scales, SizeOptions, Target};
use std::path::Path;

fn quickstart() -> Scenario {
    let mut sc = Scenario::from_file(Path::new("scenarios/quickstart.toml")).unwrap();
    sc.policy = lockerlab::policy::Policy::Snapshot {};
    sc
}

fn options(min_acceptance: f64) -> SizeOptions {
    SizeOptions {
        seed: 11,
        replications: 4,
        target: Target {
            min_acceptance,
            max_broken_promise_rate: 0.02,
        },
        max_scale: 4.0,
        steps: 8,
    }
}

#[test]
fn the_named_layout_is_the_smallest_that_meets_the_target() {
    let sc = quickstart();
    let o = options(0.95);
    let r = sizing::size(&sc, &o, &|| {}).unwrap();
    assert!(r.locations.iter().all(|l| l.reachable));
    let net = Network::build(&sc);
    let scales: Vec<f64> = r.locations.iter().map(|l| l.scale).collect();
    let (at, _) = measure(&with_scales(&sc, &scales), &net, o.seed, o.replications).unwrap();
    let below: Vec<f64> = r.locations.iter().map(|l| l.below).collect();
    let (short, _) = measure(&with_scales(&sc, &below), &net, o.seed, o.replications).unwrap();
    for (i, l) in r.locations.iter().enumerate() {
        assert!(o.target.met(&at[i].0, &at[i].1), "{i} at x{}", l.scale);
        assert_eq!(
            l.compartments,
            scaled(sc.locations[i].compartments, l.scale)
        );
        // Bisection left the interval one layout wide: just below misses.
        assert!(l.below < l.scale);
        if l.below > 0.0 {
            assert!(
                !o.target.met(&short[i].0, &short[i].1),
                "{i} at x{}",
                l.below
            );
        }
    }
    // Every location needed more than it had (the quickstart turns orders away).
    let now: u32 = sc.locations.iter().flat_map(|l| l.compartments).sum();
    let needed: u32 = r.locations.iter().flat_map(|l| l.compartments).sum();
    assert!(needed > now, "{needed} vs {now}");
}

#[test]
fn a_target_no_capacity_reaches_is_out_of_reach() {
    // Orders whose driver arrives after their deadline are refused whatever
    // the compartments: full acceptance is out of reach.
    let mut sc = quickstart();
    sc.locations[0].hours = serde_json::from_str("\"09:00-10:00\"").unwrap();
    let r = sizing::size(&sc, &options(0.999), &|| {}).unwrap();
    assert!(!r.locations[0].reachable);
    assert_eq!(r.locations[0].scale, 4.0);
}

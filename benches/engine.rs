//! Engine throughput on one core: simulated packages (orders offered) per
//! second, on scenarios/city.toml (200 locations, 35 days; target ≥ 1 M/s)
//! and on scenarios/lifecycle.toml, where ~97% of orders are accepted and
//! run the whole life cycle (target ≥ 3 M/s, 100× tools/simpy_lifecycle.py,
//! the same model in SimPy).
//!
//!     cargo bench --bench engine
//!
//! Criterion reports "thrpt" in packages/s (elements/s).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lockerlab::policy::Policy;
use lockerlab::scenario::Scenario;
use lockerlab::sim::{run_region, Network, RunOptions};
use std::hint::black_box;
use std::path::Path;

/// Every region of the city in turn, on this thread.
fn run_all(sc: &Scenario, net: &Network, opts: &RunOptions) -> u64 {
    (0..net.regions.len())
        .map(|r| {
            let out = run_region(sc, net, r, 0, opts).expect("the scenario runs");
            out.metrics.iter().map(|(_, m)| m.offered).sum::<u64>()
        })
        .sum()
}

fn lifecycle(c: &mut Criterion) {
    let sc = Scenario::from_file(Path::new("scenarios/lifecycle.toml")).expect("lifecycle.toml");
    let opts = RunOptions::from_scenario(&sc);
    let net = Network::build(&sc);
    let packages = run_all(&sc, &net, &opts);
    let mut group = c.benchmark_group("engine");
    group.sample_size(20);
    group.throughput(Throughput::Elements(packages));
    group.bench_function("lifecycle_one_core", |b| {
        b.iter(|| black_box(run_all(&sc, &net, &opts)))
    });
    group.finish();
}

fn city(c: &mut Criterion) {
    let mut sc = Scenario::from_file(Path::new("scenarios/city.toml")).expect("city.toml");
    // Count every package: the warm-up only hides packages from the metrics.
    sc.warmup = 0;
    let mut group = c.benchmark_group("engine");
    group.sample_size(20);
    // The scenario's own policy rejects ~60% at checkout (cheap packages);
    // snapshot accepts ~92%, so nearly every package runs its whole life cycle.
    for (name, policy) in [
        ("city_one_core", sc.policy.clone()),
        ("city_one_core_snapshot", Policy::Snapshot {}),
    ] {
        let sc = Scenario {
            policy,
            ..sc.clone()
        };
        let opts = RunOptions::from_scenario(&sc);
        let net = Network::build(&sc);
        let packages = run_all(&sc, &net, &opts);
        group.throughput(Throughput::Elements(packages));
        group.bench_function(name, |b| b.iter(|| black_box(run_all(&sc, &net, &opts))));
    }
    group.finish();
}

criterion_group!(benches, lifecycle, city);
criterion_main!(benches);

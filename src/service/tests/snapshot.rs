//! A snapshot of the service core holds its whole state but no code in
//! clear, and a service loaded from it goes on exactly as the original.

use super::*;
use crate::access::PickupCode;
use crate::service::CodeSeed;

fn world() -> World {
    let mut cfg = config(2, Policy::Snapshot {});
    for (i, l) in cfg.lockers.iter_mut().enumerate() {
        l.codes = CodeSeed::durable(&SECRET, &[7; 32]).rng(i);
    }
    World::new(cfg, &[[2, 1, 0, 0], [2, 1, 0, 0]])
}

fn codes(w: &World) -> Vec<(PackageId, PickupCode)> {
    w.replies
        .iter()
        .filter_map(|r| match r {
            Reply::Code { order, code, .. } => Some((*order, *code)),
            _ => None,
        })
        .collect()
}

/// Orders 1–3 reserved, 1 and 2 deposited with codes, 3 still pending.
fn busy(w: &mut World) {
    for order in 1..=3 {
        w.reserve(0, order, (order % 2) as LockerIdx, Tier::NextDay);
    }
    for order in 1..=2 {
        let l = (order % 2) as LockerIdx;
        let c = w
            .kiosk(HOUR, l, Ctl::DriverScan { package: order })
            .unwrap();
        w.close(HOUR, l, c, true);
    }
    assert_eq!(codes(w).len(), 2, "{:?}", w.replies);
}

#[test]
fn a_loaded_snapshot_is_the_service_it_was_taken_from_without_a_code_in_clear() {
    let mut w = world();
    busy(&mut w);
    let snap = w.svc.snapshot().unwrap();
    let text = serde_json::to_string(&snap).unwrap();
    for (order, code) in codes(&w) {
        let held = snap["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o[0] == order)
            .unwrap()[1]["code"]
            .clone();
        assert_ne!(held, serde_json::json!(code.to_string()), "order {order}");
        assert!(!text.contains(&format!("\"{code}\"")), "{code} in clear");
    }
    // A fresh service from the same configuration, loaded, gives the same
    // snapshot back, takes over the lockers and goes on as the original
    // would have.
    let mut twin = world();
    twin.svc.load(snap.clone()).unwrap();
    assert_eq!(twin.svc.snapshot().unwrap(), snap);
    twin.lockers = std::mem::take(&mut w.lockers);
    twin.outbox = w.outbox.clone();
    twin.kiosk = w.kiosk;
    let c = twin
        .kiosk(2 * HOUR, 1, Ctl::DriverScan { package: 3 })
        .unwrap();
    twin.close(2 * HOUR, 1, c, true);
    let third = codes(&twin);
    let mut straight = world();
    busy(&mut straight);
    let c = straight
        .kiosk(2 * HOUR, 1, Ctl::DriverScan { package: 3 })
        .unwrap();
    straight.close(2 * HOUR, 1, c, true);
    let want: Vec<_> = codes(&straight)
        .into_iter()
        .filter(|&(o, _)| o == 3)
        .collect();
    assert_eq!(third, want, "the same code from the same stream position");
    // The codes given out before the snapshot still open their doors.
    for (order, code) in codes(&w) {
        let l = (order % 2) as LockerIdx;
        let door = twin.kiosk(3 * HOUR, l, Ctl::Keypad { code }).unwrap();
        twin.close(3 * HOUR, l, door, false);
        assert_eq!(
            twin.outcome(order),
            Some(Outcome::PickedUp),
            "order {order}"
        );
    }
}

#[test]
fn a_snapshot_is_refused_for_seeded_codes_and_from_another_region() {
    let mut w = World::new(
        config(2, Policy::Snapshot {}),
        &[[1, 0, 0, 0], [1, 0, 0, 0]],
    );
    assert!(w.svc.snapshot().unwrap_err().contains("seeded"));
    let mut durable = world();
    busy(&mut durable);
    let snap = durable.svc.snapshot().unwrap();
    // Three lockers is another region.
    let mut cfg = config(3, Policy::Snapshot {});
    for (i, l) in cfg.lockers.iter_mut().enumerate() {
        l.codes = CodeSeed::durable(&SECRET, &[7; 32]).rng(i);
    }
    let mut other = Service::new(cfg).unwrap();
    assert!(other.load(snap.clone()).unwrap_err().contains("lockers"));
    // A seeded service cannot take a stream position.
    w.svc = Service::new(config(2, Policy::Snapshot {})).unwrap();
    assert!(w.svc.load(snap).unwrap_err().contains("seeded"));
}

#[test]
fn the_forecast_memo_and_the_days_quotas_come_back_bit_for_bit() {
    let (_, _, w) = two_days("optimized:buffer=0.5,check.confidence=0.5", 40);
    let cache = w.svc.forecast.as_ref().expect("a dwell model");
    assert!(cache.misses > 0, "predictions were memoized");
    let json = serde_json::to_value(cache.state()).unwrap();
    let model = w.svc.cfg.model.clone().unwrap();
    let back =
        ForecastCache::from_state(model, serde_json::from_value(json.clone()).unwrap()).unwrap();
    assert_eq!(serde_json::to_value(back.state()).unwrap(), json);
    for i in 0..cache.misses as u32 {
        assert_eq!(back.get(i), cache.get(i), "prediction {i}");
    }
    // Quotas are infinite where none is set, finite where planned: both
    // survive JSON.
    let day = &w.svc.sites[0].day;
    let text = serde_json::to_string(day).unwrap();
    let again: crate::service::plan::DayCounts = serde_json::from_str(&text).unwrap();
    for (a, b) in day.quota.iter().flatten().zip(again.quota.iter().flatten()) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
}

//! `serve` flooded with junk keeps its memory: state only for the lockers in
//! its registry and the orders it took. Once 10,000 requests naming a 15 KB
//! locker id grew it from 16 to 166 MB, and statuses from made-up lockers
//! created entries never freed.
//!
//! The heap is measured with a counting allocator, in a binary of its own
//! so no other test's allocations are counted.

mod common;
#[path = "common/heap.rs"]
mod heap;

use lockerlab::access::keys::DEV_REGION_SECRET;
use lockerlab::protocol::Topics;
use lockerlab::serve::{Gateway, Outgoing};
use lockerlab::service::{CodeSeed, LockerSpec, Service};

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

fn gateway() -> Gateway {
    let cfg = common::snapshot_config(vec![
        LockerSpec::live("L1", 0, &DEV_REGION_SECRET, &CodeSeed::Insecure(1)),
        LockerSpec::live("L2", 1, &DEV_REGION_SECRET, &CodeSeed::Insecure(2)),
    ]);
    Gateway::new(
        Service::new(cfg).unwrap(),
        Topics::new("lockerlab", "r1").unwrap(),
    )
}

const LEDGER: &str = r#"{"capacity":[4,2,1,1],"available":[4,2,1,1],"pending":[0,0,0,0],"held_by_tier":[0,0,0,0],"occupied":0,"maintenance":0}"#;

/// Message `i` of the flood: every kind of junk a client or a stranger on
/// the broker can send.
fn junk(i: usize, long_id: &str) -> (String, String) {
    let t = |suffix: &str| format!("lockerlab/r1/{suffix}");
    match i % 7 {
        0 => (
            t("svc/reserve"),
            format!(
                r#"{{"v":1,"id":"r{i}","ts":0,"body":{{"order":{i},"locker":"{long_id}{i}","tier":"same_day","size":"S","client":"shop"}}}}"#
            ),
        ),
        1 => (
            t(&format!("made-up-{i}/status")),
            r#"{"v":1,"id":"status","ts":0,"body":{"state":"online"}}"#.into(),
        ),
        2 => (
            t(&format!("made-up-{i}/evt/ledger")),
            format!(
                r#"{{"v":1,"id":"{i}","ts":0,"body":{{"applied":0,"view":{LEDGER},"what":{{"type":"ledger"}}}}}}"#
            ),
        ),
        3 => (
            t("L1/evt/ledger"),
            format!(
                r#"{{"v":1,"id":"18446744073709551615","ts":0,"body":{{"applied":0,"view":{LEDGER},"what":{{"type":"ledger"}}}}}}"#
            ),
        ),
        4 => (t("svc/reserve"), format!("{{not json {i} {long_id}")),
        5 => (
            t("svc/dropoff-failed"),
            format!(
                r#"{{"v":1,"id":"df{i}","ts":0,"body":{{"order":{i},"locker":"L1","reroute":true}}}}"#
            ),
        ),
        _ => (t(&format!("{long_id}/evt/deposited")), long_id.to_string()),
    }
}

#[test]
fn junk_does_not_grow_the_service() {
    let long_id = "x".repeat(15_000);
    let mut gw = gateway();
    let mut out: Vec<Outgoing> = Vec::new();
    let send = |gw: &mut Gateway, i: usize, out: &mut Vec<Outgoing>| {
        let (topic, payload) = junk(i, &long_id);
        gw.handle(i as i64, &topic, payload.as_bytes(), out);
        // What the broker loop does with the answers: publish and drop them.
        out.clear();
    };
    // Warm up: every kind once, so lazily made buffers are counted before.
    for i in 0..70 {
        send(&mut gw, i, &mut out);
    }
    let before = heap::live();
    let messages = 20_000;
    for i in 70..70 + messages {
        send(&mut gw, i, &mut out);
    }
    let grown = heap::live() - before;
    eprintln!("heap grew {grown} bytes over {messages} junk messages");
    // 20,000 messages carried ~120 MB of ids; a few kilobytes of growth
    // (a hash table resized, a counter's string) is all there may be.
    assert!(grown < 64 * 1024, "heap grew {grown} bytes");
    assert_eq!(gw.ids().len(), 2);
    assert_eq!(gw.traffic().len(), 2);
    assert_eq!(gw.remembered_orders(), 0);
    assert!(gw.stats().implausible_reports > 0, "{:?}", gw.stats());
}

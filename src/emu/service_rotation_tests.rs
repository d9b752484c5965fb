//! A region-secret rotation end to end: lockers first (both keys), then
//! the service's store (`serve::rotate`), then lockers without the old
//! key. Every code a customer holds keeps opening, none is sent twice,
//! and codes issued after the rotation open under the new key alone.

use super::service_link_tests::{connected, Wire};
use super::*;
use crate::access::keys::{region_fingerprint, DEV_REGION_SECRET};
use crate::access::{LockerKeys, PickupCode};
use crate::engine::Millis;
use crate::policy::Policy;
use crate::protocol::{Reply, Topics};
use crate::serve::journal::{Identity, Journal};
use crate::serve::Gateway;
use crate::service::{CodeSeed, Service};
use std::path::Path;

const OLD: [u8; 32] = DEV_REGION_SECRET;
const NEW: [u8; 32] = [9; 32];
const EPOCH: u64 = 5;
/// The code nonce `service_link_tests::service(EPOCH)` draws with.
const OLD_NONCE: [u8; 32] = [EPOCH as u8; 32];
const HOUR: Millis = 3_600_000;

/// L1's service under `secret`, its codes keyed with `nonce`.
fn service(secret: &[u8; 32], nonce: [u8; 32]) -> (Gateway, crate::service::ServiceConfig) {
    let make = || {
        let mut cfg = crate::serve::tests::one_locker(Policy::Snapshot {}, secret, 0);
        cfg.lockers[0].codes = CodeSeed::durable(secret, &nonce).rng(0);
        cfg
    };
    let topics = Topics::new("lockerlab", "r1").unwrap();
    let gateway = Gateway::new(Service::new(make()).unwrap(), topics).with_epoch(EPOCH);
    (gateway, make())
}

fn journal(path: &Path, previous: Option<&[u8; 32]>, nonce: [u8; 32]) -> Journal {
    let fresh = Identity {
        epoch: EPOCH,
        code_nonce: nonce,
    };
    let key = if previous.is_some() { &NEW } else { &OLD };
    let previous = previous.map(region_fingerprint);
    Journal::open(
        path,
        "config",
        &region_fingerprint(key),
        previous.as_deref(),
        fresh,
        false,
    )
    .unwrap()
    .0
}

fn locker(path: &Path, keys: LockerKeys) -> Station {
    Station::new(super::tests::node_with_keys(path, "L1", keys).unwrap())
}

fn codes(w: &Wire, order: u64) -> Vec<PickupCode> {
    w.replies
        .iter()
        .filter_map(|r| match r {
            Reply::Code { order: o, code, .. } if *o == order => Some(*code),
            _ => None,
        })
        .collect()
}

fn opens(st: &mut Station, now: Millis, code: PickupCode) -> bool {
    let r = st.act_on(now, &Action::Keypad { code }).unwrap();
    if r.door.is_some() {
        st.act_on(now, &Action::Take).unwrap();
    }
    r.door.is_some()
}

#[test]
fn a_rotation_keeps_every_code_a_customer_holds_and_sends_none_twice() {
    rotation(false);
}

/// Once, a credential lost just before the rotation (still waiting to be
/// resent under the old key) could land after the re-sent one and replace
/// it: after the overlap its code no longer opened.
#[test]
fn a_credential_lost_just_before_the_rotation_cannot_replace_the_new_one() {
    rotation(true);
}

/// Two parcels, then a rotation, then a third; with `lose_last`, the
/// second parcel's credential is lost on its way, seconds before.
fn rotation(lose_last: bool) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("service.sqlite");
    let wire = Wire {
        journal: Some(journal(&store, None, OLD_NONCE)),
        epoch: EPOCH,
        ..Wire::default()
    };
    // Before: two parcels deposited under the old secret, codes sent.
    let (mut st, mut w, mut svc) = connected(dir.path(), EPOCH, wire);
    for order in 1..=2 {
        w.order(order as Millis * HOUR, &mut svc, &mut st, order);
        let lost = lose_last && order == 2;
        w.lose_commands = lost as u32;
        w.drop_off(order as Millis * HOUR, &mut svc, &mut st, order);
        // A code is sent once its locker holds the credential.
        assert_eq!(codes(&w, order).len(), !lost as usize, "{:?}", w.replies);
    }

    // The lockers take both keys; then the service's store moves.
    let locker_store = dir.path().join("l1.sqlite");
    drop(st);
    let both = LockerKeys::for_locker(&NEW, "L1").with_previous(LockerKeys::for_locker(&OLD, "L1"));
    let mut st = locker(&locker_store, both);
    drop(svc);
    let mut j = journal(&store, Some(&OLD), [2; 32]);
    assert!(j.rotating());
    let (old, _) = service(&OLD, OLD_NONCE);
    let (_, new_cfg) = service(&NEW, [2; 32]);
    let keys = new_cfg.lockers.into_iter().map(|l| (l.keys, l.codes));
    let now = if lose_last {
        2 * HOUR + 10_000
    } else {
        3 * HOUR
    };
    let r =
        crate::serve::rotate(&mut j, old, keys, &region_fingerprint(&NEW), &[2; 32], now).unwrap();
    assert_eq!(r.resent, 2);
    assert!(!j.rotating());
    drop(j);
    // Reopened, the store is the new secret's alone.
    let (j, id) = {
        let fresh = Identity {
            epoch: 1,
            code_nonce: [7; 32],
        };
        Journal::open(
            &store,
            "config",
            &region_fingerprint(&NEW),
            None,
            fresh,
            false,
        )
        .unwrap()
    };
    assert_eq!(id.code_nonce, [2; 32], "the new nonce is kept");
    assert_eq!(
        id.epoch, EPOCH,
        "the epoch is kept: lockers know this service"
    );
    let (mut svc, _) = service(&NEW, id.code_nonce);
    assert!(svc.recover(&j).unwrap().republish.is_empty());
    w.journal = Some(j);
    let waiting = 2 + lose_last as usize;
    assert_eq!(
        svc.unapplied(),
        waiting,
        "the re-sent credentials wait to go out"
    );
    let mut out = Vec::new();
    svc.retransmit(now, &mut out);
    assert_eq!(out.len(), waiting, "{out:?}");
    w.settle(now, &mut svc, &mut st, out);
    assert_eq!(svc.unapplied(), 0);
    assert!(w.refused.is_empty(), "{:?}", w.refused);

    // A parcel during the overlap gets a code under the new key.
    w.order(4 * HOUR, &mut svc, &mut st, 3);
    w.drop_off(4 * HOUR, &mut svc, &mut st, 3);

    // The rotation is over: the locker forgets the old key. Every code
    // still opens, and each customer got exactly one.
    drop(st);
    let mut st = locker(&locker_store, LockerKeys::for_locker(&NEW, "L1"));
    for order in 1..=3 {
        let sent = codes(&w, order);
        assert_eq!(sent.len(), 1, "order {order}: {sent:?}");
        assert!(
            opens(&mut st, 5 * HOUR + order as Millis, sent[0]),
            "order {order}'s code"
        );
    }
}

#[test]
fn a_store_with_unpublished_steps_is_not_rotated_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("service.sqlite");
    let mut j = journal(&store, None, OLD_NONCE);
    let (mut svc, _) = service(&OLD, OLD_NONCE);
    let reserve = crate::protocol::ReserveRequest {
        order: 1,
        locker: "L1".into(),
        tier: crate::domain::Tier::NextDay,
        size: crate::domain::Size::S,
        client: "shop".into(),
        lead_ms: 0,
        kind: Default::default(),
    };
    let message = crate::serve::Entry::Message {
        now: HOUR,
        topic: svc.topics().reserve(),
        payload: crate::protocol::encode("r1".to_string(), HOUR, &reserve),
    };
    let mut out = Vec::new();
    svc.step(Some(&mut j), message, &mut out).unwrap();
    assert!(!out.is_empty(), "the order's reply is not published yet");
    drop(j);
    let mut j = journal(&store, Some(&OLD), [2; 32]);
    let (old, _) = service(&OLD, OLD_NONCE);
    let (_, new_cfg) = service(&NEW, [2; 32]);
    let keys = new_cfg.lockers.into_iter().map(|l| (l.keys, l.codes));
    let e = crate::serve::rotate(&mut j, old, keys, &region_fingerprint(&NEW), &[2; 32], HOUR)
        .unwrap_err();
    assert!(e.contains("may not have been published"), "{e}");
    assert!(e.contains("start once under the old secret"), "{e}");
    assert!(j.rotating(), "nothing changed");
}

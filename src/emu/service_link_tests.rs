//! An emulated locker (store and all) and the service's MQTT gateway, wired
//! in memory. A restarted service numbers its commands from 1 again: its
//! epoch (its start time) tells lockers it is new, not a replay, so they
//! take its commands, refuse an earlier run's, and answer what they will
//! not apply. Alerts reach the service through the outbox, once each.

use super::tests::open;
use super::*;
use crate::access::keys::DEV_REGION_SECRET;
use crate::domain::{Size, Tier};
use crate::engine::Millis;
use crate::policy::Policy;
use crate::protocol::{self, decode, encode, Command, Reply, ReserveRequest, Route, Topics};
use crate::serve::{Gateway, Outgoing};
use crate::service::Service;

const HOUR: Millis = 3_600_000;

/// L1's service, its codes from the key a durable store would give it
/// (the nonce from `epoch`), so its state can be snapshotted.
pub(super) fn service(epoch: u64) -> Gateway {
    let mut cfg = crate::serve::tests::one_locker(Policy::Snapshot {}, &DEV_REGION_SECRET, epoch);
    let codes = crate::service::CodeSeed::durable(&DEV_REGION_SECRET, &[epoch as u8; 32]);
    cfg.lockers[0].codes = codes.rng(0);
    let topics = Topics::new("lockerlab", "r1").unwrap();
    Gateway::new(Service::new(cfg).unwrap(), topics).with_epoch(epoch)
}

/// The broker between one service and one locker, in memory.
#[derive(Default)]
pub(super) struct Wire {
    pub acked: u64,
    /// Every report delivered (topic, payload), to redeliver.
    pub delivered: Vec<(String, Vec<u8>)>,
    pub replies: Vec<Reply>,
    pub refused: Vec<String>,
    /// The service's journal (`serve --store`), if it keeps one.
    pub journal: Option<crate::serve::journal::Journal>,
    /// Kills the service after journaling this step (1, 2, ...), before its
    /// outputs leave (`Lost`) or after they left but before it recorded so
    /// (`Unrecorded`), and rebuilds it from the journal.
    pub crashes: std::collections::BTreeMap<u64, Crash>,
    pub steps: u64,
    /// The epoch the service is rebuilt with (its store keeps it).
    pub epoch: u64,
    /// The broker loses this many of the next commands.
    pub lose_commands: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Crash {
    Lost,
    Unrecorded,
}

impl Wire {
    /// The service takes one message (journaled first when it has a
    /// journal), and dies there if this step is one of `crashes`.
    fn take(
        &mut self,
        now: Millis,
        svc: &mut Gateway,
        st: &mut Station,
        topic: &str,
        payload: &[u8],
        out: &mut Vec<Outgoing>,
    ) {
        let entry = crate::serve::Entry::Message {
            now,
            topic: topic.into(),
            payload: payload.to_vec(),
        };
        svc.step(self.journal.as_mut(), entry, out).unwrap();
        self.steps += 1;
        let Some(crash) = self.crashes.get(&self.steps).copied() else {
            return;
        };
        if crash == Crash::Unrecorded {
            let sent = std::mem::take(out);
            self.deliver(now, svc, st, sent);
        }
        out.clear();
        let journal = self.journal.as_ref().expect("a crash needs a journal");
        let mut reborn = service(self.epoch);
        let recovered = reborn.recover(journal).unwrap();
        *svc = reborn;
        out.extend(recovered.republish);
    }

    /// Hands the service's messages to the locker and the shop.
    fn deliver(&mut self, now: Millis, svc: &Gateway, st: &mut Station, out: Vec<Outgoing>) {
        for m in out {
            match svc.topics().parse(&m.topic).unwrap() {
                Route::Command { .. } if self.lose_commands > 0 => self.lose_commands -= 1,
                Route::Command { kind, .. } => {
                    let r = st.command(now, kind, &m.payload).unwrap();
                    self.refused.extend(r.error);
                }
                Route::Reply { .. } => self.replies.push(decode::<Reply>(&m.payload).unwrap().body),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Delivers everything in flight both ways until nothing moves.
    pub fn settle(
        &mut self,
        now: Millis,
        svc: &mut Gateway,
        st: &mut Station,
        mut out: Vec<Outgoing>,
    ) {
        loop {
            let sent = std::mem::take(&mut out);
            self.deliver(now, svc, st, sent);
            // Everything sent is out: as `serve`, mark it published and,
            // when one is due, keep a snapshot.
            if let Some(j) = &mut self.journal {
                j.set_published_through(j.last()).unwrap();
                if j.snapshot_due() {
                    j.save_snapshot(j.last(), &svc.snapshot().unwrap()).unwrap();
                }
            }
            let reports = st.node.store().outbox_after(self.acked, 100).unwrap();
            if reports.is_empty() {
                return;
            }
            for r in reports {
                self.acked = r.seq;
                st.node.store().ack(r.seq).unwrap();
                self.take(now, svc, st, &r.topic, &r.payload, &mut out);
                self.delivered.push((r.topic, r.payload));
            }
        }
    }

    pub fn order(&mut self, now: Millis, svc: &mut Gateway, st: &mut Station, order: u64) {
        let req = ReserveRequest {
            order,
            locker: "L1".into(),
            tier: Tier::NextDay,
            size: Size::S,
            client: "shop".into(),
            lead_ms: 0,
            kind: Default::default(),
        };
        let mut out = Vec::new();
        let topic = svc.topics().reserve();
        let payload = encode(format!("r{order}"), now, &req);
        self.take(now, svc, st, &topic, &payload, &mut out);
        self.settle(now, svc, st, out);
    }

    pub fn drop_off(&mut self, now: Millis, svc: &mut Gateway, st: &mut Station, package: u64) {
        let scan = crate::emu::tests::scan(st, now, package);
        assert!(
            scan.door.is_some(),
            "the driver's door opens for {package}: {scan:?}"
        );
        st.act_on(now, &Action::Put).unwrap();
        self.settle(now, svc, st, Vec::new());
    }

    fn has_code(&self, order: u64) -> bool {
        self.replies
            .iter()
            .any(|r| matches!(r, Reply::Code { order: o, .. } if *o == order))
    }
}

/// Locker L1, its store in `dir`, announced over `w` to a new service of
/// `epoch`.
pub(super) fn connected(
    dir: &std::path::Path,
    epoch: u64,
    mut w: Wire,
) -> (Station, Wire, Gateway) {
    let mut st = open(&dir.join("l1.sqlite"));
    let mut svc = service(epoch);
    st.node.announce(0).unwrap();
    w.settle(0, &mut svc, &mut st, Vec::new());
    (st, w, svc)
}

#[test]
fn a_restarted_service_is_heard_and_an_earlier_runs_commands_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut st, mut w, mut first) = connected(dir.path(), 1_000, Wire::default());
    for order in 1..=2 {
        w.order(HOUR, &mut first, &mut st, order);
        w.drop_off(HOUR, &mut first, &mut st, order);
        assert!(w.has_code(order));
    }
    // A command of the first run, kept for a replay.
    let old = protocol::encode_command(
        1_000,
        9,
        HOUR,
        &Command::Cancel(protocol::PackageCmd { package: 1 }),
    );

    // The service restarts: its numbers start at 1 again, in a new epoch.
    let mut second = service(2_000);
    st.node.announce(2 * HOUR).unwrap();
    w.settle(2 * HOUR, &mut second, &mut st, Vec::new());
    w.order(2 * HOUR, &mut second, &mut st, 4);
    assert!(
        w.refused.is_empty(),
        "the new run's first command is applied: {:?}",
        w.refused
    );
    w.drop_off(3 * HOUR, &mut second, &mut st, 4);
    assert!(w.has_code(4), "the new run's order got its code");
    assert_eq!(st.node.controller().service_epoch(), 2_000);

    // The first run's command, replayed: refused and answered.
    let r = st
        .command(3 * HOUR, protocol::CommandKind::Cancel, &old)
        .unwrap();
    let reason = r.error.expect("refused");
    assert!(reason.contains("before the service's restart"), "{reason}");
    assert!(st.node.controller().locker().compartment_of(1).is_some());

    // The epoch survives the locker's own restart (it is journaled).
    drop(st);
    let st = open(&dir.path().join("l1.sqlite"));
    assert_eq!(st.node.controller().service_epoch(), 2_000);
}

#[test]
fn a_command_older_than_the_window_is_answered_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = open(&dir.path().join("l1.sqlite"));
    let cancel = |seq| {
        protocol::encode_command(
            5,
            seq,
            0,
            &Command::Cancel(protocol::PackageCmd { package: 77 }),
        )
    };
    // 300 is applied (refused by the core: no such package, and answered);
    // 1 is far behind it.
    let r = st
        .command(0, protocol::CommandKind::Cancel, &cancel(300))
        .unwrap();
    assert!(r.error.is_some());
    let r = st
        .command(0, protocol::CommandKind::Cancel, &cancel(1))
        .unwrap();
    let reason = r.error.expect("answered");
    assert!(reason.contains("older than the replay window"), "{reason}");
    // A redelivered command is applied already: a ledger report says so.
    let before = st.node.store().outbox_len().unwrap();
    let r = st
        .command(0, protocol::CommandKind::Cancel, &cancel(300))
        .unwrap();
    assert!(r.error.is_none());
    assert_eq!(st.node.store().outbox_len().unwrap(), before + 1);
}

#[test]
fn alerts_reach_the_service_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = open(&dir.path().join("l1.sqlite"));
    let mut w = Wire::default();
    let mut svc = service(1_000);
    st.node.announce(0).unwrap();
    w.settle(0, &mut svc, &mut st, Vec::new());
    let wrong = Action::Keypad {
        code: crate::access::PickupCode::new(999_999).unwrap(),
    };
    for i in 0..5 {
        st.act_on(HOUR + i, &wrong).unwrap();
    }
    w.settle(HOUR, &mut svc, &mut st, Vec::new());
    let alerts = svc.take_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0, "L1");
    assert!(matches!(
        alerts[0].1,
        crate::controller::Alert::KeypadLockout { level: 1, .. }
    ));
    // The broker redelivers every report: no alert is counted twice.
    let mut out = Vec::new();
    for (topic, payload) in w.delivered.clone() {
        svc.handle(2 * HOUR, &topic, &payload, &mut out);
    }
    assert!(w.delivered.iter().any(|(t, _)| t.ends_with("/evt/alert")));
    assert!(
        svc.take_alerts().is_empty(),
        "a redelivered alert is not new"
    );
}

/// A command the broker lost is sent again once `RETRANSMIT_AFTER` passes
/// without the locker reporting it applied, even when a later one arrived
/// (the locker's `applied` stops below the gap); one applied is not.
#[test]
fn a_lost_command_is_sent_again_until_the_locker_applies_it() {
    use crate::serve::RETRANSMIT_AFTER;
    let dir = tempfile::tempdir().unwrap();
    let (mut st, mut w, mut svc) = connected(dir.path(), 1_000, Wire::default());
    // Order 1's reservation is lost on the way; order 2's arrives.
    w.lose_commands = 1;
    w.order(HOUR, &mut svc, &mut st, 1);
    w.order(HOUR, &mut svc, &mut st, 2);
    assert_eq!(st.node.controller().view().pending[Size::S.index()], 1);
    assert_eq!(
        svc.unapplied(),
        2,
        "2 was applied, but not everything up to it"
    );
    let mut out = Vec::new();
    svc.retransmit(HOUR + RETRANSMIT_AFTER - 1, &mut out);
    assert!(out.is_empty(), "not before its time");
    svc.retransmit(HOUR + RETRANSMIT_AFTER, &mut out);
    assert_eq!(out.len(), 2);
    w.settle(HOUR + RETRANSMIT_AFTER, &mut svc, &mut st, out);
    assert_eq!(st.node.controller().view().pending[Size::S.index()], 2);
    assert_eq!(svc.unapplied(), 0, "both confirmed");
    assert!(
        w.refused.is_empty(),
        "the repeat of 2 is dropped, not refused"
    );
    // The credential is confirmed as soon as it is applied.
    w.drop_off(2 * HOUR, &mut svc, &mut st, 1);
    assert!(w.has_code(1));
    assert_eq!(svc.unapplied(), 0);
    let mut out = Vec::new();
    svc.retransmit(3 * HOUR, &mut out);
    assert!(out.is_empty(), "nothing applied is sent again");
}

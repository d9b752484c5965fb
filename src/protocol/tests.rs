use super::*;
use crate::controller::{Event, EventKind};
use crate::domain::{LockerView, Size, Tier};
use proptest::prelude::*;

fn reserve() -> Command {
    Command::Reserve(ReserveCmd {
        package: 42,
        tier: Tier::NextDay,
        size: Size::M,
        hold: false,
    })
}

#[test]
fn commands_round_trip_through_their_topic_kind() {
    let cmds = [
        reserve(),
        Command::Cancel(PackageCmd { package: 7 }),
        Command::Expire(PackageCmd { package: 7 }),
        Command::Configure(crate::controller::ControllerConfig::default()),
    ];
    for (i, c) in cmds.iter().enumerate() {
        let bytes = encode_command(0, i as u64 + 1, 1000, c);
        let got = decode_command(c.kind(), &bytes).unwrap();
        assert_eq!(got.seq, i as u64 + 1);
        assert_eq!(&got.command, c);
    }
}

#[test]
fn the_documented_mosquitto_pub_example_decodes() {
    // Kept in step with docs/protocol.md.
    let doc = br#"{"v":1,"id":"1","ts":1700000000000,"body":{"package":1001,"tier":"next_day","size":"M"}}"#;
    let got = decode_command(CommandKind::Reserve, doc).unwrap();
    assert_eq!(got.seq, 1);
    assert!(matches!(got.command, Command::Reserve(r) if r.package == 1001 && !r.hold));
    let req = br#"{"v":1,"id":"shop-0001","ts":1700000000000,"body":{"order":1001,"locker":"L001","tier":"same_day","size":"S","client":"shop"}}"#;
    let r = decode::<ReserveRequest>(req).unwrap();
    assert_eq!(r.body.locker, "L001");
    let report = br#"{"v":1,"id":"3","ts":1700000360000,"body":{
  "applied":1,"epoch":1700000000000,
  "view":{"capacity":[20,14,6,2],"available":[19,14,6,2],"pending":[0,0,0,0],
          "held_by_tier":[1,0,0,0],"occupied":1,"maintenance":0},
  "what":{"type":"event","event":{"id":1,"time":1700000360000,
          "event":"deposited","package":1001,"compartment":0}}}}"#;
    let m = decode_report("deposited", report).unwrap();
    assert_eq!((m.report.applied, m.report.epoch), (1, 1_700_000_000_000));
}

#[test]
fn a_command_carries_its_service_epoch_and_other_payloads_none() {
    let bytes = encode_command(1_700_000_000_000, 4, 0, &reserve());
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains(r#""epoch":1700000000000"#), "{text}");
    let got = decode_command(CommandKind::Reserve, &bytes).unwrap();
    assert_eq!((got.epoch, got.seq), (1_700_000_000_000, 4));
    // Without one (an older service), the epoch is 0.
    let old = encode_command(0, 4, 0, &reserve());
    assert!(!String::from_utf8(old).unwrap().contains("epoch"));
}

#[test]
fn bad_payloads_say_what_is_wrong() {
    let cases: [(&[u8], &str); 7] = [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (br#"{"v":2,"id":"1","ts":0,"body":{}}"#, "unsupported schema version 2"),
        (br#"{"id":"1","ts":0,"body":{}}"#, "at `v`"),
        (
            br#"{"v":1,"id":"1","ts":0,"body":{"package":1,"tier":"warp","size":"M"}}"#,
            "body.tier",
        ),
        (
            br#"{"v":1,"id":"x","ts":0,"body":{"package":1,"tier":"same_day","size":"M"}}"#,
            "not a sequence number",
        ),
        (
            br#"{"v":1,"id":"1","ts":-5,"body":{"package":1,"tier":"same_day","size":"M"}}"#,
            "must not be negative",
        ),
        (
            br#"{"v":1,"id":"1","ts":0,"body":{"package":1,"tier":"same_day","size":"M","colour":"red"}}"#,
            "unknown field `colour`",
        ),
    ];
    for (bytes, want) in cases {
        let e = decode_command(CommandKind::Reserve, bytes)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e} (wanted {want})");
    }
    let big = vec![b' '; MAX_PAYLOAD + 1];
    assert!(matches!(
        decode_command(CommandKind::Cancel, &big),
        Err(ProtocolError::TooLarge(_))
    ));
}

/// A pickup report with ledger `view`.
fn picked_up(view: LockerView) -> Report {
    Report {
        applied: 3,
        epoch: 0,
        view,
        what: What::Event {
            event: Event {
                id: 9,
                time: 5,
                kind: EventKind::PickedUp {
                    package: 1,
                    compartment: 2,
                },
            },
        },
    }
}

#[test]
fn a_report_must_match_its_topic() {
    let report = picked_up(LockerView::default());
    let bytes = encode("4", 5, &report);
    assert_eq!(decode_report("picked_up", &bytes).unwrap().report, report);
    let e = decode_report("deposited", &bytes).unwrap_err().to_string();
    assert!(e.contains("topic says `deposited`"), "{e}");
}

/// Once accepted: fields no report has, inside `what` and inside the
/// event (beside its flattened kind), and ledgers no locker can have.
#[test]
fn a_report_with_unknown_fields_or_an_impossible_ledger_is_refused() {
    let view = LockerView {
        capacity: [2, 1, 0, 0],
        available: [1, 1, 0, 0],
        occupied: 1,
        ..LockerView::default()
    };
    let report = picked_up(view);
    let good = String::from_utf8(encode("4", 5, &report)).unwrap();
    assert_eq!(
        decode_report("picked_up", good.as_bytes()).unwrap().report,
        report
    );
    let cases = [
        (
            good.replace(r#""compartment":2"#, r#""compartment":2,"door":"left""#),
            "body.what.event.door",
        ),
        (
            good.replace(r#""type":"event""#, r#""type":"event","extra":1"#),
            "unknown field `extra`",
        ),
        (
            good.replace(r#""available":[1,1,0,0]"#, r#""available":[3,1,0,0]"#),
            "exceeds capacity[0]",
        ),
        (
            good.replace(r#""occupied":1"#, r#""occupied":3"#),
            "more than the 3 compartments",
        ),
        (
            good.replace(r#""pending":[0,0,0,0]"#, r#""pending":[4294967295,0,0,0]"#),
            "pending 4294967295",
        ),
    ];
    for (bytes, want) in cases {
        assert_ne!(bytes, good, "the case must change the report");
        let e = decode_report("picked_up", bytes.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e} (wanted {want})");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any bytes: a message or an error, never a panic.
    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for kind in CommandKind::ALL {
            let _ = decode_command(kind, &bytes);
        }
        let _ = decode_report("ledger", &bytes);
        let _ = decode::<ReserveRequest>(&bytes);
        let _ = decode::<Status>(&bytes);
        let _ = decode::<Reply>(&bytes);
    }

    /// Valid envelopes with one byte changed: still no panic, and whatever
    /// decodes is a well-formed message.
    #[test]
    fn mutated_valid_payloads_never_panic(pos in 0usize..200, byte in any::<u8>(), seq in 1u64..1_000_000) {
        let mut bytes = encode_command(0, seq, 1, &reserve());
        let i = pos % bytes.len();
        bytes[i] = byte;
        if let Ok(m) = decode_command(CommandKind::Reserve, &bytes) {
            prop_assert!(m.seq >= 1);
            prop_assert!(m.ts >= 0);
        }
    }

    /// Arbitrary topic strings route or fail, never panic.
    #[test]
    fn topic_parser_never_panics(topic in ".{0,80}") {
        let t = Topics::new("lockerlab", "r1").unwrap();
        let _ = t.parse(&topic);
        let _ = t.parse(&format!("lockerlab/r1/{topic}"));
    }
}

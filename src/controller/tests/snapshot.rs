//! A controller restored from its snapshot is the controller it was.

use super::*;

/// Feeds `inputs` (numbered per source, one second apart) to `c` from
/// input `from` on; each input's outputs and result.
fn feed(
    c: &mut Controller,
    inputs: &[(Source, Input)],
    from: usize,
    seq: &mut [u64; 4],
) -> Vec<(Vec<Output>, Result<Handled, Rejected>)> {
    inputs[from..]
        .iter()
        .enumerate()
        .map(|(i, (source, input))| {
            seq[source.index()] += 1;
            let mut out = Vec::new();
            let now = (from + i) as Millis * 1000;
            let result = c.handle(now, *source, seq[source.index()], input, &mut out);
            (out, result)
        })
        .collect()
}

fn fresh() -> Controller {
    Controller::new(
        "L1",
        LockerKeys::from_master(&[1; 32]),
        [2, 1, 0, 0],
        ControllerConfig::default(),
    )
}

fn through_json(c: &Controller) -> Controller {
    let text = serde_json::to_string(&c.snapshot()).unwrap();
    let state = serde_json::from_str(&text).unwrap();
    Controller::restore("L1", [2, 1, 0, 0], LockerKeys::from_master(&[1; 32]), state).unwrap()
}

proptest! {
    /// Cut anywhere, through JSON: the rest of the run gives the same
    /// outputs and results, and both end in the same state.
    #[test]
    fn a_restored_controller_carries_on_exactly_as_the_original(
        inputs in proptest::collection::vec(input_strategy(), 1..80),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(inputs.len());
        let mut original = fresh();
        let mut seq = [0u64; 4];
        feed(&mut original, &inputs[..cut], 0, &mut seq);
        let mut restored = through_json(&original);
        let mut seq_restored = seq;
        let tail = feed(&mut original, &inputs, cut, &mut seq);
        let tail_restored = feed(&mut restored, &inputs, cut, &mut seq_restored);
        prop_assert_eq!(tail, tail_restored);
        prop_assert_eq!(
            serde_json::to_string(&original.snapshot()).unwrap(),
            serde_json::to_string(&restored.snapshot()).unwrap()
        );
    }
}

#[test]
fn a_snapshot_holds_no_code_and_restores_under_its_own_locker_only() {
    let mut r = Rig::new("L1", 1);
    r.deposit(0, 1, 123_456);
    let text = serde_json::to_string(&r.c.snapshot()).unwrap();
    assert!(!text.contains("123456"), "{text}");
    let keys = || LockerKeys::from_master(&[1; 32]);
    let other = Controller::restore("L2", [2, 1, 0, 0], keys(), r.c.snapshot());
    assert!(other.err().unwrap().contains("locker `L1`, not `L2`"));
    let bigger = Controller::restore("L1", [3, 1, 0, 0], keys(), r.c.snapshot());
    assert!(bigger.is_err());
    // The code still opens after a restore.
    let mut back = Controller::restore("L1", [2, 1, 0, 0], keys(), r.c.snapshot()).unwrap();
    let mut out = Vec::new();
    let code = Input::Keypad {
        code: PickupCode::new(123_456).unwrap(),
    };
    back.handle(MIN, Source::Kiosk, 99, &code, &mut out)
        .unwrap();
    assert_eq!(opened(&out), r.c.locker().compartment_of(1));
}

#[test]
fn a_snapshot_that_contradicts_itself_is_refused() {
    let mut r = Rig::new("L1", 1);
    r.deposit(0, 1, 123_456);
    let err = |v: serde_json::Value| {
        let state = serde_json::from_value(v).unwrap();
        Controller::restore("L1", [2, 1, 0, 0], LockerKeys::from_master(&[1; 32]), state)
            .err()
            .unwrap()
    };
    let good = serde_json::to_value(r.c.snapshot()).unwrap();
    let mut v = good.clone();
    // The credential names a compartment the locker does not have.
    v["credentials"][0]["compartment"] = 9.into();
    assert!(err(v).contains("compartment 9"));
    // A clock no locker has (its arithmetic would overflow).
    let mut v = good.clone();
    v["keypad"]["last_wrong"] = i64::MIN.into();
    assert!(err(v).contains("beyond any clock"));
    // A keypad that never locks.
    let mut v = good.clone();
    v["config"]["max_wrong_codes"] = 0.into();
    assert!(err(v).contains("max_wrong_codes"));
    // Counters no controller reaches: the next wrong code would overflow.
    for (field, value) in [("level", u32::MAX), ("wrong", u32::MAX)] {
        let mut v = good.clone();
        v["keypad"][field] = value.into();
        assert!(err(v).contains("beyond its settings"), "{field}");
    }
    let mut v = good;
    v["next_event_id"] = u64::MAX.into();
    assert!(err(v).contains("beyond any count"));
}

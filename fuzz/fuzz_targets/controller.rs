//! A locker controller's inputs as they arrive: commands as MQTT payloads
//! (decoded as `controller-emu` decodes them) and kiosk, sensor and runtime
//! inputs as JSON. One input per line:
//!
//!   cmd <kind> <payload>        a command on `{locker}/cmd/<kind>`
//!   <source> <seq> <json input> a local input (`kiosk 3 {"input":"keypad",...}`)
//!   time <ms>                   the clock moves forward
//!   restore <json>              the controller becomes this snapshot
//!                               (`ControllerState`), if it is accepted
//!   snapshot                    the controller goes through its snapshot
//!
//! After every input the locker's ledger must hold its invariants; a
//! snapshot of any state reached must restore to the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockerlab::access::keys::DEV_REGION_SECRET;
use lockerlab::access::LockerKeys;
use lockerlab::controller::{Controller, ControllerConfig, ControllerState, Input, Source};
use lockerlab::protocol::{self, CommandKind};

/// `FUZZ_TRACE=1` prints each input's result and outputs (to check a seed).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

const LAYOUT: [u32; 4] = [3, 2, 1, 1];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let keys = || LockerKeys::for_locker(&DEV_REGION_SECRET, "L1");
    let restore = |state| Controller::restore("L1", LAYOUT, keys(), state);
    let mut ctl = Controller::new("L1", keys(), LAYOUT, ControllerConfig::default());
    let mut now = 0i64;
    let mut out = Vec::new();
    for line in text.lines().take(256) {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        match verb {
            "time" => {
                if let Ok(t) = rest.trim().parse::<i64>() {
                    now = now.max(t);
                }
            }
            "restore" => {
                if let Ok(state) = serde_json::from_str::<ControllerState>(rest) {
                    if let Ok(restored) = restore(state) {
                        ctl = restored;
                    }
                }
            }
            "snapshot" => {
                let text = serde_json::to_string(&ctl.snapshot()).unwrap();
                let state = serde_json::from_str(&text).unwrap();
                ctl = restore(state).unwrap_or_else(|e| panic!("{text}\nrefused: {e}"));
                let again = serde_json::to_string(&ctl.snapshot()).unwrap();
                assert_eq!(again, text, "a snapshot restores to itself");
            }
            "cmd" => {
                let (kind, payload) = rest.split_once(' ').unwrap_or((rest, ""));
                let Some(kind) = CommandKind::parse(kind) else {
                    continue;
                };
                if kind == CommandKind::Sync {
                    let _ = protocol::decode_sync(payload.as_bytes());
                    continue;
                }
                match protocol::decode_command(kind, payload.as_bytes()) {
                    Ok(msg) => {
                        let r = ctl.handle(
                            now,
                            Source::Service,
                            msg.seq,
                            &msg.command.to_input(),
                            &mut out,
                        );
                        if tracing() {
                            eprintln!("{line}\n  -> {r:?} {out:?}");
                        }
                    }
                    Err(e) if tracing() => eprintln!("{line}\n  -> {e}"),
                    Err(_) => {}
                }
            }
            source => {
                let source = match source {
                    "kiosk" => Source::Kiosk,
                    "sensors" => Source::Sensors,
                    "runtime" => Source::Runtime,
                    _ => continue,
                };
                let (seq, json) = rest.split_once(' ').unwrap_or((rest, ""));
                let (Ok(seq), Ok(input)) =
                    (seq.parse::<u64>(), serde_json::from_str::<Input>(json))
                else {
                    if tracing() {
                        eprintln!("{line}\n  -> not an input");
                    }
                    continue;
                };
                let r = ctl.handle(now, source, seq, &input, &mut out);
                if tracing() {
                    eprintln!("{line}\n  -> {r:?} {out:?}");
                }
            }
        }
        if let Err(e) = ctl.locker().check_invariants() {
            panic!("ledger broken after `{line}`: {e}");
        }
        if let Err(e) = ctl.view().check() {
            panic!("view broken after `{line}`: {e}");
        }
        out.clear();
    }
});

//! The capacity service as `lockerlab serve` runs it (its MQTT gateway in
//! front of the core), fed one message per line:
//!
//!   <topic under lockerlab/r1/> <payload>   e.g. `svc/reserve {"v":1,…}`
//!   tick <ms>                               the clock moves forward
//!
//! Every message the service publishes must be JSON, and its memory must
//! stay bounded by its lockers and the orders it accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockerlab::access::keys::DEV_REGION_SECRET;
use lockerlab::policy::{Policy, TierPartition, TierShares};
use lockerlab::protocol::Topics;
use lockerlab::serve::Gateway;
use lockerlab::service::{CodeSeed, LockerSpec, Service, ServiceConfig};
use lockerlab::time::Calendar;

const HOUR: i64 = 3_600_000;

static CALENDAR: std::sync::OnceLock<Calendar> = std::sync::OnceLock::new();

fn gateway() -> Gateway {
    let cfg = ServiceConfig {
        lockers: vec![
            LockerSpec::live("L1", 0, &DEV_REGION_SECRET, &CodeSeed::Insecure(1)),
            LockerSpec::live("L2", 1, &DEV_REGION_SECRET, &CodeSeed::Insecure(2)),
        ],
        policy: Policy::TierPartition(TierPartition {
            shares: TierShares::default(),
        }),
        discovery: None,
        pickup_window: 72 * HOUR,
        reminder_before_expiry: 12 * HOUR,
        reservation_timeout: [12 * HOUR, 36 * HOUR, 60 * HOUR, 130 * HOUR],
        stale_after: HOUR,
        model: None,
        demand_model: None,
        // Tabulating the zone's offsets is most of a fresh service's cost:
        // once per process, not per input.
        calendar: CALENDAR.get_or_init(Calendar::default).clone(),
    };
    Gateway::new(
        Service::new(cfg).expect("a valid service config"),
        Topics::new("lockerlab", "r1").expect("valid topics"),
    )
}

/// `FUZZ_TRACE=1` prints what the service publishes (to check a seed).
fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut gw = gateway();
    let mut now = 0i64;
    let mut out = Vec::new();
    let mut messages = 0usize;
    for line in text.lines().take(256) {
        let (head, payload) = line.split_once(' ').unwrap_or((line, ""));
        if head == "tick" {
            if let Ok(t) = payload.trim().parse::<i64>() {
                now = now.max(t);
            }
            gw.tick(now, &mut out);
        } else {
            messages += 1;
            gw.handle(
                now,
                &format!("lockerlab/r1/{head}"),
                payload.as_bytes(),
                &mut out,
            );
        }
        for o in out.drain(..) {
            if tracing() {
                eprintln!("{} <- {}", o.topic, String::from_utf8_lossy(&o.payload));
            }
            assert!(
                serde_json::from_slice::<serde_json::Value>(&o.payload).is_ok(),
                "published something not JSON on {}",
                o.topic
            );
        }
        // Each message creates at most one order.
        assert!(
            gw.remembered_orders() <= messages,
            "{} orders from {messages} messages",
            gw.remembered_orders()
        );
        assert_eq!(gw.ids().len(), 2, "lockers appeared from messages");
    }
});

//! `audit verify` on any bytes: the first line is the published head, the
//! rest the log. A log it accepts must be exactly what a chain under the
//! right key writes for those events (nothing else verifies).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockerlab::access::audit::{verify, AuditRecord};
use lockerlab::access::keys::DEV_REGION_SECRET;
use lockerlab::access::{AuditChain, AuditKey};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(head) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let log = data.get(split + 1..).unwrap_or_default();
    let key = |locker: &str| AuditKey::for_locker(&DEV_REGION_SECRET, locker);
    let Ok(v) = verify(log, head, |l| vec![key(l)]) else {
        return;
    };
    let text = std::str::from_utf8(log).expect("a verified log is UTF-8");
    let mut chain = AuditChain::new(key(&v.locker), v.locker.clone());
    let mut rewritten = format!("{}\n", chain.header_line());
    for line in text.lines().skip(1) {
        let r: AuditRecord = serde_json::from_str(line).expect("a verified record parses");
        let again = chain.append(r.time, r.event);
        rewritten.push_str(&serde_json::to_string(&again).expect("records serialize"));
        rewritten.push('\n');
    }
    assert_eq!(rewritten, text, "a log verified that its key did not write");
    assert_eq!(chain.head(), v.head);
    assert_eq!(chain.len(), v.records);
});

//! A tamper-evident audit log: each record carries an HMAC over its content
//! and the previous record's tag, keyed with the locker's audit key, so
//! changing, deleting, inserting or reordering any record breaks the chain
//! at that point, and no one without the key can re-tag a changed log.
//! Records cut off the end are caught against the published head (the
//! `.head` file beside the log, or a head reported elsewhere); cutting the
//! log and its head back together to an earlier state is only visible
//! against a head kept somewhere the attacker cannot write.
//!
//! On disk: a header line `{"audit":2,"locker":"ID"}`, then one JSON object
//! per record, `{"seq","time","event","prev","hash"}`, each line exactly as
//! this module writes it and ended by `\n`: a log re-indented, re-ordered,
//! re-encoded with CRLF or with blank lines added is not the log written.

use super::keys::{hex, AuditKey};
use super::pass::{PassError, Role};
use crate::engine::Millis;
use serde::{Deserialize, Serialize};

/// Why an access attempt or door operation happened, as recorded.
/// Why a QR token did not open a door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QrRejection {
    Malformed,
    BadSignature,
    WrongLocker,
    Expired,
    Version,
    /// Signed and current, but its package is picked up, expired or elsewhere.
    NotLive,
}

impl From<&super::qr::QrError> for QrRejection {
    fn from(e: &super::qr::QrError) -> Self {
        use super::qr::QrError;
        match e {
            QrError::Malformed => QrRejection::Malformed,
            QrError::BadSignature => QrRejection::BadSignature,
            QrError::WrongLocker(_) => QrRejection::WrongLocker,
            QrError::Expired => QrRejection::Expired,
            QrError::Version(_) => QrRejection::Version,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuditEvent {
    CodeAccepted {
        compartment: u32,
        package: u64,
    },
    CodeRejected,
    KeypadLocked,
    /// A code typed while the screen (keypad) is broken.
    KeypadUnavailable,
    CompartmentFault {
        compartment: u32,
    },
    Repaired {
        compartment: u32,
    },
    LockoutStarted {
        until: Millis,
    },
    QrAccepted {
        compartment: u32,
        package: u64,
    },
    QrRejected {
        reason: QrRejection,
    },
    DriverScan {
        package: u64,
        compartment: Option<u32>,
    },
    OpsRetrieval {
        package: u64,
        compartment: u32,
    },
    DoorOpened {
        compartment: u32,
    },
    DoorClosed {
        compartment: u32,
        occupied: bool,
    },
    /// A session's door stayed open past the timeout; the kiosk moved on.
    SessionTimedOut {
        compartment: u32,
    },
    /// Staff signed in with the pass whose id (at this locker) is `pass`.
    SignedIn {
        role: Role,
        pass: u64,
    },
    SignedOut {
        pass: u64,
    },
    PassRejected {
        reason: PassError,
    },
    /// A pass locked out for refused scans, until `until`.
    PassLocked {
        pass: u64,
        until: Millis,
    },
    /// A staff action (scan, retrieval, repair) without a `role` sign-in.
    NotSignedIn {
        role: Role,
    },
    /// The locker's keys were rotated: this record is the last tagged
    /// under the old audit key, the next ones are tagged under the key
    /// with this fingerprint (`AuditKey::fingerprint`).
    KeyRotated {
        key: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    pub seq: u64,
    pub time: Millis,
    pub event: AuditEvent,
    pub prev: String,
    pub hash: String,
}

/// The log format this build writes and reads.
pub const AUDIT_FORMAT: u32 = 2;

/// The first line of a log: which locker's key tags it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditHeader {
    pub audit: u32,
    pub locker: String,
}

const GENESIS: [u8; 32] = [0; 32];

fn record_tag(
    key: &AuditKey,
    seq: u64,
    time: Millis,
    event: &AuditEvent,
    prev: &[u8; 32],
) -> [u8; 32] {
    let event = serde_json::to_vec(event).expect("audit events serialize");
    key.tag(&[
        b"lockerlab-audit-v2",
        &seq.to_le_bytes(),
        &time.to_le_bytes(),
        &event,
        prev,
    ])
}

/// Appends records to one locker's chain.
#[derive(Debug, Clone)]
pub struct AuditChain {
    key: AuditKey,
    locker: String,
    next_seq: u64,
    head: [u8; 32],
}

impl AuditChain {
    pub fn new(key: AuditKey, locker: impl Into<String>) -> Self {
        Self {
            key,
            locker: locker.into(),
            next_seq: 0,
            head: GENESIS,
        }
    }

    /// The log's first line (without its newline).
    pub fn header_line(&self) -> String {
        serde_json::to_string(&AuditHeader {
            audit: AUDIT_FORMAT,
            locker: self.locker.clone(),
        })
        .expect("audit headers serialize")
    }

    pub fn append(&mut self, time: Millis, event: AuditEvent) -> AuditRecord {
        let tag = record_tag(&self.key, self.next_seq, time, &event, &self.head);
        let record = AuditRecord {
            seq: self.next_seq,
            time,
            event,
            prev: hex(&self.head),
            hash: hex(&tag),
        };
        self.next_seq += 1;
        self.head = tag;
        record
    }

    /// Records the move to `key` under the current key, then tags every
    /// later record under `key`: the chain stays one chain across a key
    /// rotation, and only a holder of the old key could have moved it.
    pub fn rotate(&mut self, time: Millis, key: AuditKey) -> AuditRecord {
        let record = self.append(
            time,
            AuditEvent::KeyRotated {
                key: key.fingerprint(),
            },
        );
        self.key = key;
        record
    }

    /// Continues a chain whose `len` records end in tag `head` (hex), as a
    /// store kept them; `None` if `head` is not 64 hex digits.
    pub fn resume(key: AuditKey, locker: impl Into<String>, len: u64, head: &str) -> Option<Self> {
        let head: [u8; 32] = super::keys::unhex(head)?.try_into().ok()?;
        Some(Self {
            key,
            locker: locker.into(),
            next_seq: len,
            head,
        })
    }

    /// Hex of the newest record's tag (all zeros for an empty chain).
    pub fn head(&self) -> String {
        hex(&self.head)
    }

    pub fn len(&self) -> u64 {
        self.next_seq
    }

    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }
}

/// The first place a chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ChainBreak {
    /// 1-based line of the first bad record (one past the end for a truncated tail).
    pub line: usize,
    pub reason: String,
}

/// An intact log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub locker: String,
    pub records: u64,
    pub head: String,
}

/// Verifies a whole log file against the head published for it; `keys_of`
/// gives the audit keys the locker its header names may have used, its
/// current key first, then (across key rotations, `KeyRotated` records)
/// those it moved from. The chain starts under whichever tags its first
/// record and must end under the current key: a log forged whole under a
/// retired (perhaps leaked) key does not pass.
pub fn verify(
    bytes: &[u8],
    published_head: &str,
    keys_of: impl FnOnce(&str) -> Vec<AuditKey>,
) -> Result<Verified, ChainBreak> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        ChainBreak {
            line,
            reason: "not UTF-8 (bytes changed)".into(),
        }
    })?;
    let Some(body) = text.strip_suffix('\n') else {
        let line = text.lines().count().max(1);
        let reason = if text.is_empty() {
            "the log is empty (its header and records were removed)"
        } else {
            "the last line does not end with a newline (the log was cut or edited)"
        };
        return Err(ChainBreak {
            line,
            reason: reason.into(),
        });
    };
    let mut lines = body.split('\n');
    let header_line = lines.next().unwrap_or_default();
    let header: AuditHeader = serde_json::from_str(header_line)
        .ok()
        .filter(|h: &AuditHeader| serde_json::to_string(h).ok().as_deref() == Some(header_line))
        .ok_or_else(|| ChainBreak {
            line: 1,
            reason: format!(
                "not an audit log header (expected `{{\"audit\":{AUDIT_FORMAT},\"locker\":\"ID\"}}`)"
            ),
        })?;
    if header.audit != AUDIT_FORMAT {
        return Err(ChainBreak {
            line: 1,
            reason: format!(
                "audit format {}, this build reads {AUDIT_FORMAT}",
                header.audit
            ),
        });
    }
    let keys = keys_of(&header.locker);
    let Some(mut key) = keys.first().cloned() else {
        return Err(ChainBreak {
            line: 1,
            reason: "no key to check it with".into(),
        });
    };
    let mut head = GENESIS;
    let mut n = 0u64;
    let mut line_no = 1;
    for line in lines {
        line_no += 1;
        let brk = |reason: String| ChainBreak {
            line: line_no,
            reason,
        };
        let r: AuditRecord =
            serde_json::from_str(line).map_err(|e| brk(format!("not an audit record: {e}")))?;
        if serde_json::to_string(&r).ok().as_deref() != Some(line) {
            return Err(brk(
                "not written this way (spacing, key order, line ending or number format changed)"
                    .into(),
            ));
        }
        if r.seq != n {
            return Err(brk(format!(
                "sequence {} where {n} was expected (a record was deleted, inserted or moved)",
                r.seq
            )));
        }
        if r.prev != hex(&head) {
            return Err(brk(
                "previous-tag link does not match the record before it".into()
            ));
        }
        if n == 0 {
            // The oldest key the log was written under.
            if let Some(k) = keys
                .iter()
                .find(|k| k.tag_matches(&r.hash, &record_tag(k, r.seq, r.time, &r.event, &head)))
            {
                key = k.clone();
            }
        }
        let tag = record_tag(&key, r.seq, r.time, &r.event, &head);
        if !key.tag_matches(&r.hash, &tag) {
            return Err(brk(
                "record content does not match its tag (modified, or another key)".into(),
            ));
        }
        if let AuditEvent::KeyRotated { key: next } = r.event {
            key = keys
                .iter()
                .find(|k| k.fingerprint() == next)
                .cloned()
                .ok_or_else(|| {
                    brk(format!(
                        "the locker moved to keys not given here (audit key fingerprint \
                         {next:016x}): give the secret it was rotated to as well"
                    ))
                })?;
        }
        head = tag;
        n += 1;
    }
    if n > 0 && key.fingerprint() != keys[0].fingerprint() {
        return Err(ChainBreak {
            line: line_no + 1,
            reason: "the chain ends under a retired key, not the current one (no key_rotated \
                     record moves it to the key given first)"
                .into(),
        });
    }
    let published = published_head.trim();
    if !key.tag_matches(published, &head) {
        return Err(ChainBreak {
            line: line_no + 1,
            reason: format!(
                "chain ends at {} but the published head is {} (records missing at the end, or the head changed)",
                hex(&head),
                published.chars().take(64).collect::<String>()
            ),
        });
    }
    Ok(Verified {
        locker: header.locker,
        records: n,
        head: hex(&head),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(locker: &str) -> AuditKey {
        AuditKey::for_locker(&[5; 32], locker)
    }

    fn event(i: u64) -> AuditEvent {
        match i % 4 {
            0 => AuditEvent::CodeRejected,
            1 => AuditEvent::DoorOpened {
                compartment: i as u32,
            },
            2 => AuditEvent::CodeAccepted {
                compartment: 3,
                package: i,
            },
            _ => AuditEvent::DoorClosed {
                compartment: 1,
                occupied: i.is_multiple_of(2),
            },
        }
    }

    /// The log's lines (header first) and its head.
    fn chain(n: u64) -> (Vec<String>, String) {
        let mut c = AuditChain::new(key("L1"), "L1");
        let mut lines = vec![c.header_line()];
        lines.extend(
            (0..n).map(|i| serde_json::to_string(&c.append(i as Millis * 10, event(i))).unwrap()),
        );
        (lines, c.head())
    }

    fn file(lines: &[String]) -> Vec<u8> {
        lines
            .iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect()
    }

    fn check(bytes: &[u8], head: &str) -> Result<Verified, ChainBreak> {
        verify(bytes, head, |l| vec![key(l)])
    }

    #[test]
    fn a_chain_verifies_across_a_key_rotation_given_both_keys_only() {
        let new = AuditKey::for_locker(&[6; 32], "L1");
        let mut c = AuditChain::new(key("L1"), "L1");
        let mut lines = vec![c.header_line()];
        for i in 0..3 {
            lines.push(serde_json::to_string(&c.append(i * 10, event(i as u64))).unwrap());
        }
        let rotation = c.rotate(40, new.clone());
        lines.push(serde_json::to_string(&rotation).unwrap());
        for i in 5..8 {
            lines.push(serde_json::to_string(&c.append(i * 10, event(i as u64))).unwrap());
        }
        let (log, head) = (file(&lines), c.head());
        let v = verify(&log, &head, |l| vec![new.clone(), key(l)]).unwrap();
        assert_eq!(v.records, 7);
        // Given the keys the other way round, it ends under a key that is
        // not the current one.
        let e = verify(&log, &head, |l| vec![key(l), new.clone()]).unwrap_err();
        assert!(e.reason.contains("retired key"), "{e}");
        // A log forged whole under the old key (the one a rotation
        // retires, perhaps because it leaked) does not pass either.
        let (old_only, old_head) = chain(4);
        let e = verify(&file(&old_only), &old_head, |l| vec![new.clone(), key(l)]).unwrap_err();
        assert!(e.reason.contains("retired key"), "{e}");
        let only_old = verify(&log, &head, |l| vec![key(l)]).unwrap_err();
        assert_eq!(only_old.line, 5, "{only_old}");
        assert!(only_old.reason.contains("keys not given"), "{only_old}");
        let only_new = verify(&log, &head, |_| vec![new.clone()]).unwrap_err();
        assert_eq!(only_new.line, 2, "{only_new}");
        // A record after the rotation re-tagged under the old key (by
        // someone who kept it) breaks the chain.
        let mut forged = AuditChain::resume(key("L1"), "L1", 4, &rotation.hash).unwrap();
        let mut tampered = lines.clone();
        tampered[5] = serde_json::to_string(&forged.append(50, event(5))).unwrap();
        let e = verify(&file(&tampered), &head, |l| vec![new.clone(), key(l)]).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (lines, head) = chain(20);
        let v = check(&file(&lines), &head).unwrap();
        assert_eq!((v.locker.as_str(), v.records, v.head), ("L1", 20, head));
        let (lines, head) = chain(0);
        assert_eq!(check(&file(&lines), &head).unwrap().records, 0);
    }

    /// Once the chain had no key: a changed record with every hash and the
    /// head recomputed verified.
    #[test]
    fn a_log_re_tagged_without_the_key_fails() {
        let (lines, _) = chain(6);
        let mut forged = AuditChain::new(AuditKey::for_locker(&[6; 32], "L1"), "L1");
        let mut out = vec![forged.header_line()];
        for line in &lines[1..] {
            let r: AuditRecord = serde_json::from_str(line).unwrap();
            out.push(serde_json::to_string(&forged.append(r.time + 1, r.event)).unwrap());
        }
        let err = check(&file(&out), &forged.head()).unwrap_err();
        assert_eq!(err.line, 2, "{}", err.reason);
        // Naming another locker in the header selects its key: no better.
        let mut renamed = lines.clone();
        renamed[0] = renamed[0].replace("L1", "L2");
        assert_eq!(check(&file(&renamed), &chain(6).1).unwrap_err().line, 2);
    }

    /// Once these edits verified: the content was the same, the file not.
    #[test]
    fn every_edit_of_the_bytes_is_caught() {
        let (lines, head) = chain(5);
        let good = file(&lines);
        let text = String::from_utf8(good.clone()).unwrap();
        let edits: Vec<(&str, Vec<u8>)> = vec![
            ("crlf", text.replace('\n', "\r\n").into_bytes()),
            ("blank line", text.replacen('\n', "\n\n", 2).into_bytes()),
            ("spaces", text.replace("\"seq\":", "\"seq\": ").into_bytes()),
            ("key order", {
                let mut l = lines.clone();
                let v: serde_json::Value = serde_json::from_str(&l[2]).unwrap();
                let m = v.as_object().unwrap();
                let mut keys: Vec<_> = m.keys().collect();
                keys.reverse();
                let parts: Vec<String> =
                    keys.iter().map(|k| format!("\"{k}\":{}", m[*k])).collect();
                l[2] = format!("{{{}}}", parts.join(","));
                file(&l)
            }),
            ("no final newline", good[..good.len() - 1].to_vec()),
            ("emptied", Vec::new()),
            ("header only", file(&lines[..1])),
            ("not UTF-8", {
                let mut b = good.clone();
                let at = b.len() - 10;
                b[at] = 0xff;
                b
            }),
        ];
        for (what, bytes) in edits {
            assert!(check(&bytes, &head).is_err(), "{what} verified");
        }
        assert!(check(&good, &head).is_ok());
        assert!(check(&good, &head.to_uppercase()).is_err());
        assert!(check(&good, "").is_err());
    }

    #[derive(Debug, Clone)]
    enum Tamper {
        Modify(usize, i64),
        Delete(usize),
        Swap(usize, usize),
        Insert(usize),
    }

    proptest! {
        /// Any change, deletion, reordering or insertion is found, at or
        /// before the tampered record.
        #[test]
        fn random_tampering_is_always_detected(n in 2u64..40, t in prop_oneof![
            (0usize..40, 1i64..1000).prop_map(|(i, d)| Tamper::Modify(i, d)),
            (0usize..40).prop_map(Tamper::Delete),
            (0usize..40, 0usize..40).prop_map(|(i, j)| Tamper::Swap(i, j)),
            (0usize..40).prop_map(Tamper::Insert),
        ]) {
            let (all, head) = chain(n);
            let header = all[0].clone();
            let mut lines = all[1..].to_vec();
            let len = lines.len();
            let first_bad = match t {
                Tamper::Modify(i, d) => {
                    let i = i % len;
                    let mut r: AuditRecord = serde_json::from_str(&lines[i]).unwrap();
                    r.time += d;
                    lines[i] = serde_json::to_string(&r).unwrap();
                    i
                }
                Tamper::Delete(i) => {
                    let i = i % len;
                    lines.remove(i);
                    i
                }
                Tamper::Swap(i, j) => {
                    let (i, j) = (i % len, j % len);
                    prop_assume!(i != j);
                    lines.swap(i, j);
                    i.min(j)
                }
                Tamper::Insert(i) => {
                    let i = i % len;
                    let copy = lines[i].clone();
                    lines.insert(i, copy);
                    i + 1
                }
            };
            lines.insert(0, header);
            let err = check(&file(&lines), &head).unwrap_err();
            // +2: lines are 1-based and the header is line 1.
            prop_assert_eq!(err.line, first_bad + 2, "{:?}: {}", t, err.reason);
        }
    }
}

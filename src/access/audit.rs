//! A tamper-evident audit log: each record carries the hash of the previous
//! one, so changing, deleting or reordering any record breaks the chain at
//! that point. Truncating the tail is only visible against a published head
//! hash (the controller reports its head with its events).
//!
//! On disk: one JSON object per line, `{"seq", "time", "event", "prev", "hash"}`.

use super::keys::hex;
use crate::engine::Millis;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

const GENESIS: [u8; 32] = [0; 32];

fn record_hash(seq: u64, time: Millis, event: &AuditEvent, prev: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"lockerlab-audit-v1");
    h.update(seq.to_le_bytes());
    h.update(time.to_le_bytes());
    h.update(serde_json::to_vec(event).expect("audit events serialize"));
    h.update(prev);
    h.finalize().into()
}

/// Appends records to a chain.
#[derive(Debug, Clone)]
pub struct AuditChain {
    next_seq: u64,
    head: [u8; 32],
}

impl Default for AuditChain {
    fn default() -> Self {
        Self {
            next_seq: 0,
            head: GENESIS,
        }
    }
}

impl AuditChain {
    pub fn append(&mut self, time: Millis, event: AuditEvent) -> AuditRecord {
        let hash = record_hash(self.next_seq, time, &event, &self.head);
        let record = AuditRecord {
            seq: self.next_seq,
            time,
            event,
            prev: hex(&self.head),
            hash: hex(&hash),
        };
        self.next_seq += 1;
        self.head = hash;
        record
    }

    /// Hex of the newest record's hash (all zeros for an empty chain).
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

/// Verifies JSON lines; returns the number of records and the head hash.
/// `expected_head`, if given, also catches a truncated tail.
pub fn verify_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    expected_head: Option<&str>,
) -> Result<(u64, String), ChainBreak> {
    let mut head = GENESIS;
    let mut n = 0u64;
    let mut line_no = 0;
    for (i, line) in lines.into_iter().enumerate() {
        line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let brk = |reason: String| ChainBreak {
            line: line_no,
            reason,
        };
        let r: AuditRecord =
            serde_json::from_str(line).map_err(|e| brk(format!("not an audit record: {e}")))?;
        if r.seq != n {
            return Err(brk(format!(
                "sequence {} where {n} was expected (a record was deleted, inserted or moved)",
                r.seq
            )));
        }
        if r.prev != hex(&head) {
            return Err(brk(
                "previous-hash link does not match the record before it".into(),
            ));
        }
        let h = record_hash(r.seq, r.time, &r.event, &head);
        if r.hash != hex(&h) {
            return Err(brk(
                "record content does not match its hash (modified)".into()
            ));
        }
        head = h;
        n += 1;
    }
    if let Some(expected) = expected_head {
        if !expected.eq_ignore_ascii_case(&hex(&head)) {
            return Err(ChainBreak {
                line: line_no + 1,
                reason: format!("chain ends at {} but the published head is {expected} (records missing at the end)", hex(&head)),
            });
        }
    }
    Ok((n, hex(&head)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
                occupied: i % 2 == 0,
            },
        }
    }

    fn chain(n: u64) -> (Vec<String>, String) {
        let mut c = AuditChain::default();
        let lines = (0..n)
            .map(|i| serde_json::to_string(&c.append(i as Millis * 10, event(i))).unwrap())
            .collect();
        (lines, c.head())
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (lines, head) = chain(20);
        let (n, h) = verify_lines(lines.iter().map(String::as_str), Some(&head)).unwrap();
        assert_eq!((n, h), (20, head));
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
            let (mut lines, head) = chain(n);
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
            let err = verify_lines(lines.iter().map(String::as_str), Some(&head)).unwrap_err();
            prop_assert_eq!(err.line, first_bad + 1, "{:?}: {}", t, err.reason);
        }
    }
}

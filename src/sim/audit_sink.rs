//! Optional: a simulated location's audit chain, written as the controller
//! emits it (one JSON line per record), so `lockerlab audit verify` can be run
//! on real output. Off by default: chaining costs an HMAC per record.
//! Simulated lockers are tagged with their keys under the development region
//! secret (`audit verify --dev-secret` checks them): they guard nothing.

use super::error::SimError;
use crate::access::keys::DEV_REGION_SECRET;
use crate::access::{AuditChain, AuditKey};
use crate::controller::Output;
use crate::engine::Millis;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct AuditSink {
    chain: AuditChain,
    out: BufWriter<File>,
    path: PathBuf,
}

fn io_error(path: &Path, source: std::io::Error) -> SimError {
    SimError::Audit {
        path: path.display().to_string(),
        source,
    }
}

impl AuditSink {
    pub fn create(dir: &Path, location: &str, replication: u64) -> Result<Self, SimError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let path = dir.join(format!(
            "{}-r{replication}.audit.jsonl",
            file_stem(location)
        ));
        let file = File::create(&path).map_err(|e| io_error(&path, e))?;
        let chain = AuditChain::new(AuditKey::for_locker(&DEV_REGION_SECRET, location), location);
        let mut out = BufWriter::new(file);
        writeln!(out, "{}", chain.header_line()).map_err(|e| io_error(&path, e))?;
        Ok(Self { chain, out, path })
    }

    pub fn record(&mut self, now: Millis, outputs: &[Output]) -> Result<(), SimError> {
        for o in outputs {
            if let Output::Audit { event } = o {
                let record = self.chain.append(now, *event);
                let line = serde_json::to_string(&record).expect("audit records serialize");
                writeln!(self.out, "{line}").map_err(|e| io_error(&self.path, e))?;
            }
        }
        Ok(())
    }

    /// Flushes the log and writes its head hash beside it.
    pub fn close(mut self) -> Result<(), SimError> {
        self.out.flush().map_err(|e| io_error(&self.path, e))?;
        let head = self.path.with_extension("head");
        std::fs::write(&head, format!("{}\n", self.chain.head())).map_err(|e| io_error(&head, e))
    }
}

/// A location id as a file name, one to one: letters, digits and `-` as
/// they are, every other byte as `_` and two hex digits (`a/b` → `a_2fb`,
/// `a_b` → `a_5fb`), so two locations never share a log.
fn file_stem(id: &str) -> String {
    let mut stem = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            stem.push(b as char);
        } else {
            stem.push_str(&format!("_{b:02x}"));
        }
    }
    stem
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Once `a/b`, `a_b` and `a.b` wrote one file: two logs lost.
    #[test]
    fn every_location_gets_its_own_file() {
        let ids = ["a/b", "a_b", "a.b", "a b", "ab", "a_2fb", "é"];
        let stems: std::collections::HashSet<String> = ids.iter().map(|i| file_stem(i)).collect();
        assert_eq!(stems.len(), ids.len(), "{stems:?}");
        assert_eq!(file_stem("central-station"), "central-station");
        assert!(stems.iter().all(|s| s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')));
    }
}

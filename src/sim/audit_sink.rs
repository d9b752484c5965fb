//! Optional: a simulated location's audit chain, written as the controller
//! emits it (one JSON line per record), so `lockerlab audit verify` can be run
//! on real output. Off by default: chaining costs a SHA-256 per record.

use super::error::SimError;
use crate::access::AuditChain;
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
        let safe: String = location
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}-r{replication}.audit.jsonl"));
        let file = File::create(&path).map_err(|e| io_error(&path, e))?;
        Ok(Self {
            chain: AuditChain::default(),
            out: BufWriter::new(file),
            path,
        })
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

//! The controller's local SQLite store (WAL). The last snapshot of the
//! controller's state and the journal of inputs accepted since are the
//! source of truth: the core is deterministic, so replaying the journal
//! onto the snapshot rebuilds the controller exactly. Beside them, in the
//! same transactions as each input:
//! the outbox (reports not yet acknowledged by the broker) and readable
//! mirrors of compartment state, reservations and cached credentials.

use crate::access::audit::AuditRecord;
use crate::controller::{Input, Source};
use crate::engine::Millis;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::Path;

const FORMAT: &str = "lockerlab-controller-store/1";

/// The store's schema, step by step (`emu::schema`). Step 1 is every table
/// as of the first versioned release; stores from before versions (at 0)
/// had some of them, hence `IF NOT EXISTS`. Step 2 adds snapshots.
const MIGRATIONS: &[crate::emu::schema::Migration] = &[
    |tx| {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS journal(pos INTEGER PRIMARY KEY, time INTEGER NOT NULL,
             source TEXT NOT NULL, seq INTEGER NOT NULL, input TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS outbox(seq INTEGER PRIMARY KEY, topic TEXT NOT NULL,
             payload BLOB NOT NULL);
         CREATE TABLE IF NOT EXISTS compartments(id INTEGER PRIMARY KEY, size TEXT NOT NULL,
             state TEXT NOT NULL, package INTEGER);
         CREATE TABLE IF NOT EXISTS reservations(package INTEGER PRIMARY KEY,
             tier TEXT NOT NULL, size TEXT NOT NULL, compartment INTEGER);
         CREATE TABLE IF NOT EXISTS credentials(package INTEGER PRIMARY KEY,
             compartment INTEGER NOT NULL, code_hash TEXT NOT NULL, not_after INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, line TEXT NOT NULL);",
        )
    },
    |tx| {
        // The controller's state as of journal row `through`; rows before it
        // are gone (the row itself stays, so row numbers keep rising).
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS snapshot(id INTEGER PRIMARY KEY CHECK (id = 1),
             through INTEGER NOT NULL, state TEXT NOT NULL);",
        )
    },
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("store {path}: {message}")]
    Invalid { path: String, message: String },
}

/// How hard each commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on every commit: survives power loss.
    Full,
    /// WAL without fsync per commit: survives a process crash (SIGKILL),
    /// not a power cut. For the demo and benchmarks.
    Normal,
}

pub struct Store {
    conn: Connection,
    path: String,
    /// Opened under the keys being retired: the node moves it to the new
    /// ones (`Node::open`).
    rotating: bool,
}

/// One journal row.
pub struct JournalEntry {
    pub time: Millis,
    pub source: Source,
    pub seq: u64,
    pub input: Input,
}

/// One report waiting for the broker's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub seq: u64,
    pub topic: String,
    pub payload: Vec<u8>,
}

fn source_name(s: Source) -> &'static str {
    match s {
        Source::Service => "service",
        Source::Kiosk => "kiosk",
        Source::Sensors => "sensors",
        Source::Runtime => "runtime",
    }
}

fn source_of(s: &str) -> Option<Source> {
    Source::ALL.into_iter().find(|&x| source_name(x) == s)
}

impl Store {
    /// Opens or creates the store of `locker` with `layout` compartments per
    /// size, readable by its owner only. A store made for another locker,
    /// layout or key (`key_fingerprint`) is refused, except one made under
    /// `previous_fingerprint` during a key rotation (`rotating`).
    pub fn open(
        path: &Path,
        locker: &str,
        layout: [u32; 4],
        key_fingerprint: &str,
        previous_fingerprint: Option<&str>,
        durability: Durability,
    ) -> Result<Store, StoreError> {
        let p = path.display().to_string();
        let sql = |source| StoreError::Sqlite {
            path: p.clone(),
            source,
        };
        crate::files::owner_only(path).map_err(|e| StoreError::Invalid {
            path: p.clone(),
            message: format!("cannot make it private (mode 0600): {e}"),
        })?;
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync).map_err(sql)?;
        crate::emu::schema::migrate(&mut conn, "controller store", MIGRATIONS).map_err(|e| {
            StoreError::Invalid {
                path: p.clone(),
                message: e,
            }
        })?;
        let mut store = Store {
            conn,
            path: p,
            rotating: false,
        };
        let layout_text = format!("{layout:?}");
        for (key, want) in [
            ("format", FORMAT),
            ("locker", locker),
            ("layout", layout_text.as_str()),
            ("key_fingerprint", key_fingerprint),
        ] {
            match store.meta(key)? {
                None => store.set_meta(key, want)?,
                Some(have) if have == want => {}
                Some(have)
                    if key == "key_fingerprint" && Some(have.as_str()) == previous_fingerprint =>
                {
                    store.rotating = true;
                }
                Some(have) if key == "key_fingerprint" => {
                    return Err(store.invalid(format!(
                        "was written under another secret (key fingerprint `{have}`, this \
                         secret's is `{want}`): its code hashes would never match; use the \
                         secret it was made with, or another --store"
                    )))
                }
                Some(have) => {
                    return Err(store.invalid(format!(
                        "was made with {key} `{have}`, not `{want}`; use another --store"
                    )))
                }
            }
        }
        Ok(store)
    }

    /// Opens an existing store read-only, to read its audit chain or
    /// mirrors without a locker's keys (and without changing it).
    pub fn inspect(path: &Path) -> Result<Store, StoreError> {
        let p = path.display().to_string();
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| StoreError::Sqlite {
                path: p.clone(),
                source,
            })?;
        let store = Store {
            conn,
            path: p,
            rotating: false,
        };
        match store.meta("format") {
            Ok(Some(f)) if f == FORMAT => Ok(store),
            Ok(other) => Err(store.invalid(format!(
                "not a controller store (format {:?}, expected `{FORMAT}`)",
                other.unwrap_or_default()
            ))),
            Err(_) => Err(store.invalid("not a controller store".into())),
        }
    }

    /// Whether it was opened under the keys being retired.
    pub fn rotating(&self) -> bool {
        self.rotating
    }

    pub(super) fn invalid(&self, message: String) -> StoreError {
        StoreError::Invalid {
            path: self.path.clone(),
            message,
        }
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        crate::emu::schema::read_meta(&self.conn, key).map_err(|e| self.err(e))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        crate::emu::schema::write_meta(&self.conn, key, value).map_err(|e| self.err(e))
    }

    /// Every journaled input the store keeps, with its row number, in order.
    pub fn journal(&self) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        self.journal_after(i64::MIN)
    }

    /// The journaled inputs after row `after`, in order.
    pub fn journal_after(&self, after: i64) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT pos, time, source, seq, input FROM journal WHERE pos > ?1 ORDER BY pos",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([after], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (pos, time, source, seq, input) = row.map_err(|e| self.err(e))?;
            let bad = |what: String| self.invalid(format!("journal row {pos}: {what}"));
            let source = source_of(&source).ok_or_else(|| bad(format!("source `{source}`")))?;
            let input: Input =
                serde_json::from_str(&input).map_err(|e| bad(format!("input: {e}")))?;
            out.push((
                pos,
                JournalEntry {
                    time,
                    source,
                    seq: seq as u64,
                    input,
                },
            ));
        }
        Ok(out)
    }

    pub fn begin(&mut self) -> Result<Batch<'_>, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|source| StoreError::Sqlite {
                path: path.clone(),
                source,
            })?;
        Ok(Batch { tx, path })
    }

    /// The last snapshot: the journal row it covers up to and its state.
    pub fn snapshot(&self) -> Result<Option<(i64, String)>, StoreError> {
        self.conn
            .query_row(
                "SELECT through, state FROM snapshot WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Keeps `state` as the state after the newest journal row and drops
    /// the rows before it, in one transaction; the row number it covers.
    pub fn save_snapshot(&mut self, state: &str) -> Result<Option<i64>, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let through: Option<i64> = tx
            .query_row("SELECT MAX(pos) FROM journal", [], |r| r.get(0))
            .map_err(sql)?;
        let Some(through) = through else {
            return Ok(None);
        };
        tx.execute(
            "INSERT OR REPLACE INTO snapshot(id, through, state) VALUES (1, ?1, ?2)",
            params![through, state],
        )
        .map_err(sql)?;
        tx.execute("DELETE FROM journal WHERE pos < ?1", [through])
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Some(through))
    }

    /// Replaces journal rows' inputs in one transaction: rows journaled by
    /// a version that kept typed codes and QR tokens get their sealed form.
    pub fn reseal(&mut self, rows: &[(i64, Input)]) -> Result<(), StoreError> {
        let batch = self.begin()?;
        for (pos, input) in rows {
            let text = serde_json::to_string(input).expect("inputs serialize");
            batch.mirror(
                "UPDATE journal SET input = ?1 WHERE pos = ?2",
                &[&text, pos],
            )?;
        }
        batch.commit()?;
        // The old text may linger in free pages and the WAL: overwrite them.
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
            .map_err(|e| self.err(e))
    }

    /// Reports after `after`, oldest first.
    pub fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, topic, payload FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after as i64, limit as i64], |r| {
                Ok(OutboxRow {
                    seq: r.get::<_, i64>(0)? as u64,
                    topic: r.get(1)?,
                    payload: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// The broker acknowledged report `seq`.
    pub fn ack(&self, seq: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM outbox WHERE seq = ?1")
            .and_then(|mut s| s.execute([seq as i64]))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The next outbox number (numbers are never reused, even after acks).
    pub fn next_outbox_seq(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta("next_outbox")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(1))
    }

    /// The audit chain's records, each the JSON line the audit log holds,
    /// oldest first.
    pub fn audit_lines(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT line FROM audit ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// How many audit records there are and the newest one's tag (hex;
    /// `None` for an empty chain).
    pub fn audit_end(&self) -> Result<(u64, Option<String>), StoreError> {
        let n = self
            .conn
            .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))
            .map_err(|e| self.err(e))?;
        Ok((n as u64, self.meta("audit_head")?))
    }

    /// The mirror tables, for inspection and the restart check.
    pub fn mirror_rows(&self, table: &str) -> Result<Vec<String>, StoreError> {
        let sql = match table {
            "compartments" => "SELECT id || ':' || state || ':' || IFNULL(package, '') FROM compartments ORDER BY id",
            "reservations" => "SELECT package || ':' || tier || ':' || size || ':' || IFNULL(compartment, '') FROM reservations ORDER BY package",
            "credentials" => "SELECT package || ':' || compartment || ':' || code_hash || ':' || not_after FROM credentials ORDER BY package",
            _ => return Err(self.invalid(format!("no mirror table `{table}`"))),
        };
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

/// One transaction: an input, its reports and mirror changes commit together.
pub struct Batch<'a> {
    tx: Transaction<'a>,
    path: String,
}

impl Batch<'_> {
    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    pub fn journal(&self, entry: &JournalEntry) -> Result<(), StoreError> {
        let input = serde_json::to_string(&entry.input).expect("inputs serialize");
        self.tx
            .prepare_cached("INSERT INTO journal(time, source, seq, input) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| {
                s.execute(params![
                    entry.time,
                    source_name(entry.source),
                    entry.seq as i64,
                    input
                ])
            })
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Appends an audit record and makes it the chain's head.
    pub fn audit(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let line = serde_json::to_string(record).expect("audit records serialize");
        self.tx
            .prepare_cached("INSERT INTO audit(seq, line) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![record.seq as i64, line]))
            .and_then(|_| {
                self.tx.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('audit_head', ?1)",
                    [&record.hash],
                )
            })
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn outbox(&self, row: &OutboxRow) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("INSERT INTO outbox(seq, topic, payload) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![row.seq as i64, row.topic, row.payload]))
            .and_then(|_| {
                self.tx.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('next_outbox', ?1)",
                    [(row.seq + 1).to_string()],
                )
            })
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Writes `sql` with `values` (an upsert or a delete of one mirror row).
    pub fn mirror(&self, sql: &str, values: &[&dyn rusqlite::ToSql]) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(values))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn commit(self) -> Result<(), StoreError> {
        let path = self.path;
        self.tx
            .commit()
            .map_err(|source| StoreError::Sqlite { path, source })
    }
}

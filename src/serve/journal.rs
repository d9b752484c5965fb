//! `serve`'s durable memory (`serve --store FILE`): every message the service
//! handled and every timer tick that fired, with the time it happened, in
//! SQLite (WAL) before the service acts on it and before the broker hears
//! it was received. The service is deterministic given its inputs, its
//! configuration and its code key, so replaying the journal through a fresh
//! service rebuilds it exactly: orders, reservations, codes, timers, each
//! locker's command numbers and applied marks, the optimized policy's
//! counts. Outputs of the entries after `published_through` may not have
//! reached the broker (the process died first) and are published again;
//! lockers drop a command they already applied (its number), and a client
//! gets the same reply twice at worst.
//!
//! No code is stored: the service's code key is derived from the region
//! secret and a random nonce kept here (`service::CodeSeed::durable`), so a
//! replay draws the same codes, and the store alone reveals none.

use super::Entry;
use crate::engine::Millis;
use rusqlite::{params, Connection};
use std::path::Path;

const FORMAT: &str = "lockerlab-service-store/1";

/// The store's schema, step by step (`emu::schema`).
const MIGRATIONS: &[crate::emu::schema::Migration] = &[
    |tx| {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS journal(pos INTEGER PRIMARY KEY, now INTEGER NOT NULL,
                 topic TEXT, payload BLOB);",
        )
    },
    // Snapshots: the service's state through a journal position; the
    // entries up to it are dropped.
    |tx| {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS snapshot(through INTEGER PRIMARY KEY,
                 state BLOB NOT NULL);",
        )
    },
];

/// What a store fixes for the life of the service it remembers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The command epoch lockers know this service by (its first start).
    pub epoch: u64,
    /// Mixed with the region secret into the code key.
    pub code_nonce: [u8; 32],
}

pub struct Journal {
    conn: Connection,
    path: String,
    last: i64,
    /// The position the latest snapshot covers.
    snapshotted: i64,
    /// Entries between snapshots (0: none taken).
    snapshot_every: i64,
    /// Made under the secret being retired: `rotate` moves it to the new.
    rotating: bool,
}

/// Entries between snapshots unless told otherwise: a restart replays at
/// most this many (about a quarter of a second's work) plus what came
/// since the last time everything was published.
pub const SNAPSHOT_EVERY: i64 = 10_000;

impl Journal {
    /// Opens or creates the store at `path` (owner-only). A new store takes
    /// `fresh` as its identity; an existing one keeps its own. `config` (a
    /// fingerprint of the scenario, policy and model) and `key` (the region
    /// secret's fingerprint) must match what the store was made with: a
    /// replay under another configuration would rebuild a service that
    /// never ran.
    ///
    /// During a key rotation, a store made under `previous_key` (the
    /// fingerprint of the secret being retired) opens too, `rotating`,
    /// for `serve::rotate` to move to `key`.
    pub fn open(
        path: &Path,
        config: &str,
        key: &str,
        previous_key: Option<&str>,
        fresh: Identity,
        fsync_each: bool,
    ) -> Result<(Journal, Identity), String> {
        let p = path.display().to_string();
        let sql = |e: rusqlite::Error| format!("service store {p}: {e}");
        crate::files::owner_only(path).map_err(|e| format!("service store {p}: {e}"))?;
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        let sync = if fsync_each { "FULL" } else { "NORMAL" };
        conn.pragma_update(None, "synchronous", sync).map_err(sql)?;
        crate::emu::schema::migrate(&mut conn, "service store", MIGRATIONS)
            .map_err(|e| format!("service store {p}: {e}"))?;
        let mut j = Journal {
            conn,
            path: p,
            last: 0,
            snapshotted: 0,
            snapshot_every: SNAPSHOT_EVERY,
            rotating: false,
        };
        let nonce_hex = crate::access::keys::hex(&fresh.code_nonce);
        let epoch_text = fresh.epoch.to_string();
        // Set by the first start and kept.
        for (name, first) in [
            ("epoch", epoch_text.as_str()),
            ("code_nonce", nonce_hex.as_str()),
            ("published_through", "0"),
        ] {
            if j.meta(name)?.is_none() {
                j.set_meta(name, first)?;
            }
        }
        // Must be what this run has.
        for (name, want) in [
            ("format", FORMAT),
            ("config", config),
            ("key_fingerprint", key),
        ] {
            match j.meta(name)? {
                None => j.set_meta(name, want)?,
                Some(have) if have == want => {}
                Some(have) if name == "key_fingerprint" && Some(have.as_str()) == previous_key => {
                    j.rotating = true;
                }
                Some(have) => {
                    return Err(format!(
                        "service store {}: was made with {name} `{have}`, this run's is \
                         `{want}`: replaying its journal under another {} would rebuild a \
                         service that never ran; start with the scenario, policy and secret \
                         it was made with, or another --store",
                        j.path,
                        if name == "key_fingerprint" {
                            "secret"
                        } else {
                            "scenario, policy or model"
                        }
                    ))
                }
            }
        }
        let bad = |what: &str| format!("service store {}: its {what} is damaged", j.path);
        let epoch = j
            .meta("epoch")?
            .and_then(|e| e.parse().ok())
            .ok_or_else(|| bad("epoch"))?;
        let code_nonce = j
            .meta("code_nonce")?
            .and_then(|h| crate::access::keys::parse_secret(&h))
            .ok_or_else(|| bad("code nonce"))?;
        // Entries a snapshot covers are gone: numbering goes on after it.
        j.last = j
            .conn
            .query_row(
                "SELECT MAX(IFNULL((SELECT MAX(pos) FROM journal), 0),
                            IFNULL((SELECT MAX(through) FROM snapshot), 0))",
                [],
                |r| r.get(0),
            )
            .map_err(|e| j.err(e))?;
        j.snapshotted = j.snapshot_through()?;
        Ok((j, Identity { epoch, code_nonce }))
    }

    fn err(&self, e: rusqlite::Error) -> String {
        format!("service store {}: {e}", self.path)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, String> {
        crate::emu::schema::read_meta(&self.conn, key).map_err(|e| self.err(e))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), String> {
        crate::emu::schema::write_meta(&self.conn, key, value).map_err(|e| self.err(e))
    }

    /// Commits `entry`; its position.
    pub fn append(&mut self, entry: &Entry) -> Result<i64, String> {
        let (now, topic, payload) = match entry {
            Entry::Message {
                now,
                topic,
                payload,
            } => (*now, Some(topic.as_str()), Some(payload.as_slice())),
            Entry::Tick { now } => (*now, None, None),
        };
        self.conn
            .execute(
                "INSERT INTO journal(pos, now, topic, payload) VALUES (?1, ?2, ?3, ?4)",
                params![self.last + 1, now, topic, payload],
            )
            .map_err(|e| self.err(e))?;
        self.last += 1;
        Ok(self.last)
    }

    /// The last entry's position (0: none).
    pub fn last(&self) -> i64 {
        self.last
    }

    /// Every entry in order, to `visit` with its position.
    pub fn replay(
        &self,
        visit: impl FnMut(i64, Entry) -> Result<(), String>,
    ) -> Result<(), String> {
        self.replay_after(0, visit)
    }

    /// Every entry after position `after`, in order.
    pub fn replay_after(
        &self,
        after: i64,
        mut visit: impl FnMut(i64, Entry) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut stmt = self
            .conn
            .prepare("SELECT pos, now, topic, payload FROM journal WHERE pos > ?1 ORDER BY pos")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([after]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let pos: i64 = row.get(0).map_err(|e| self.err(e))?;
            let now: Millis = row.get(1).map_err(|e| self.err(e))?;
            let topic: Option<String> = row.get(2).map_err(|e| self.err(e))?;
            let entry = match topic {
                Some(topic) => Entry::Message {
                    now,
                    topic,
                    payload: row.get(3).map_err(|e| self.err(e))?,
                },
                None => Entry::Tick { now },
            };
            visit(pos, entry)?;
        }
        Ok(())
    }

    /// Every output of entries up to `pos` has been acknowledged by the
    /// broker.
    pub fn published_through(&self) -> Result<i64, String> {
        self.meta("published_through")?
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("service store {}: its published mark is damaged", self.path))
    }

    pub fn set_published_through(&self, pos: i64) -> Result<(), String> {
        self.set_meta("published_through", &pos.to_string())
    }

    /// Takes a snapshot every `entries` entries (0: never).
    pub fn set_snapshot_every(&mut self, entries: i64) {
        self.snapshot_every = entries.max(0);
    }

    /// Enough entries since the last snapshot for another.
    pub fn snapshot_due(&self) -> bool {
        self.snapshot_every > 0 && self.last - self.snapshotted >= self.snapshot_every
    }

    /// The latest snapshot: the position it covers and the state.
    pub fn snapshot(&self) -> Result<Option<(i64, Vec<u8>)>, String> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row(
                "SELECT through, state FROM snapshot ORDER BY through DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The position the latest snapshot covers (0: none).
    pub fn snapshot_through(&self) -> Result<i64, String> {
        self.conn
            .query_row("SELECT IFNULL(MAX(through), 0) FROM snapshot", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Whether it was made under the secret being retired.
    pub fn rotating(&self) -> bool {
        self.rotating
    }

    /// Ends a rotation: `state` (the service moved to the new keys, every
    /// entry applied and published) becomes the store's snapshot, the
    /// store belongs to `key` and draws codes with `code_nonce` from now
    /// on, and the entries are dropped, in one transaction: a crash leaves
    /// the store wholly old or wholly new.
    pub fn rotate(&mut self, key: &str, code_nonce: &[u8; 32], state: &[u8]) -> Result<(), String> {
        let published = self.published_through()?;
        if published < self.last {
            return Err(format!(
                "service store {}: entries {}..={} may not have been published; start once \
                 under the old secret alone to publish them, then rotate",
                self.path,
                published + 1,
                self.last
            ));
        }
        let through = self.last;
        let nonce = crate::access::keys::hex(code_nonce);
        let sql = |e: rusqlite::Error| format!("service store {}: {e}", self.path);
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO snapshot(through, state) VALUES (?1, ?2)",
            params![through, state],
        )
        .and_then(|_| tx.execute("DELETE FROM snapshot WHERE through < ?1", [through]))
        .and_then(|_| tx.execute("DELETE FROM journal WHERE pos <= ?1", [through]))
        .and_then(|_| crate::emu::schema::write_meta(&tx, "key_fingerprint", key))
        .and_then(|_| crate::emu::schema::write_meta(&tx, "code_nonce", &nonce))
        .and_then(|_| tx.commit())
        .map_err(sql)?;
        self.snapshotted = through;
        self.rotating = false;
        Ok(())
    }

    /// Keeps `state` as the service's state through position `through`
    /// (every entry up to it applied, and published), and drops the
    /// entries and snapshots it supersedes, in one transaction: the store
    /// stays the size of one snapshot and the entries since.
    pub fn save_snapshot(&mut self, through: i64, state: &[u8]) -> Result<(), String> {
        let published = self.published_through()?;
        if through > published || through > self.last {
            return Err(format!(
                "service store {}: a snapshot through {through} is past what was published \
                 ({published}) or journaled ({})",
                self.path, self.last
            ));
        }
        let tx = self
            .conn
            .transaction()
            .map_err(|e| format!("service store: {e}"))?;
        tx.execute(
            "INSERT OR REPLACE INTO snapshot(through, state) VALUES (?1, ?2)",
            params![through, state],
        )
        .and_then(|_| tx.execute("DELETE FROM snapshot WHERE through < ?1", [through]))
        .and_then(|_| tx.execute("DELETE FROM journal WHERE pos <= ?1", [through]))
        .and_then(|_| tx.commit())
        .map_err(|e| format!("service store {}: {e}", self.path))?;
        self.snapshotted = through;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(epoch: u64, nonce: u8) -> Identity {
        Identity {
            epoch,
            code_nonce: [nonce; 32],
        }
    }

    #[test]
    fn a_reopened_store_keeps_its_identity_and_its_entries_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let (mut j, first) = Journal::open(&path, "c", "k", None, id(5, 1), true).unwrap();
        assert_eq!(first, id(5, 1));
        let entries = [
            Entry::Message {
                now: 10,
                topic: "a/b".into(),
                payload: b"{}".to_vec(),
            },
            Entry::Tick { now: 20 },
            Entry::Message {
                now: 30,
                topic: "c".into(),
                payload: vec![0, 255],
            },
        ];
        for e in &entries {
            j.append(e).unwrap();
        }
        j.set_published_through(2).unwrap();
        drop(j);
        // A later start offers a new identity; the store keeps its own.
        let (j, again) = Journal::open(&path, "c", "k", None, id(9, 2), true).unwrap();
        assert_eq!(again, id(5, 1));
        assert_eq!((j.last(), j.published_through().unwrap()), (3, 2));
        let mut back = Vec::new();
        j.replay(|pos, e| {
            back.push((pos, e));
            Ok(())
        })
        .unwrap();
        let want: Vec<(i64, Entry)> = (1..).zip(entries).collect();
        assert_eq!(back, want);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
    }

    #[test]
    fn a_snapshot_drops_the_entries_it_covers_and_numbering_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let (mut j, _) = Journal::open(&path, "c", "k", None, id(5, 1), true).unwrap();
        j.set_snapshot_every(3);
        for now in 1..=4 {
            j.append(&Entry::Tick { now }).unwrap();
        }
        assert!(j.snapshot_due());
        // Only what every output of was published can be snapshotted.
        j.set_published_through(2).unwrap();
        assert!(j
            .save_snapshot(3, b"state")
            .unwrap_err()
            .contains("past what was published"));
        j.set_published_through(3).unwrap();
        j.save_snapshot(3, b"state").unwrap();
        assert!(!j.snapshot_due());
        drop(j);
        let (mut j, _) = Journal::open(&path, "c", "k", None, id(5, 1), true).unwrap();
        assert_eq!(j.snapshot().unwrap(), Some((3, b"state".to_vec())));
        let mut left = Vec::new();
        j.replay(|pos, _| {
            left.push(pos);
            Ok(())
        })
        .unwrap();
        assert_eq!(left, vec![4], "entries 1–3 are in the snapshot");
        // Every entry dropped: numbering still goes on after the snapshot.
        j.set_published_through(4).unwrap();
        j.save_snapshot(4, b"later").unwrap();
        drop(j);
        let (mut j, _) = Journal::open(&path, "c", "k", None, id(5, 1), true).unwrap();
        assert_eq!(j.last(), 4);
        assert_eq!(j.append(&Entry::Tick { now: 5 }).unwrap(), 5);
        assert_eq!(j.snapshot().unwrap(), Some((4, b"later".to_vec())));
    }

    #[test]
    fn another_configuration_or_secret_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        drop(Journal::open(&path, "c", "k", None, id(5, 1), false).unwrap());
        let Err(e) = Journal::open(&path, "other", "k", None, id(5, 1), false) else {
            panic!("another configuration must be refused");
        };
        assert!(
            e.contains("config `c`") && e.contains("scenario, policy or model"),
            "{e}"
        );
        let Err(e) = Journal::open(&path, "c", "k2", None, id(5, 1), false) else {
            panic!("another secret must be refused");
        };
        assert!(e.contains("another secret"), "{e}");
    }

    #[test]
    fn a_store_from_a_newer_lockerlab_is_refused_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        drop(Journal::open(&path, "c", "k", None, id(5, 1), false).unwrap());
        let raw = Connection::open(&path).unwrap();
        assert_eq!(
            raw.pragma_query_value(None, "user_version", |r| r.get::<_, u32>(0))
                .unwrap(),
            MIGRATIONS.len() as u32
        );
        raw.pragma_update(None, "user_version", 99).unwrap();
        drop(raw);
        let Err(e) = Journal::open(&path, "c", "k", None, id(5, 1), false) else {
            panic!("a newer schema must be refused");
        };
        assert!(
            e.contains("newer lockerlab") && e.contains("schema 99"),
            "{e}"
        );
    }
}

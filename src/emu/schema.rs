//! Schema versions of lockerlab's SQLite stores (`PRAGMA user_version`): a
//! store made by an older lockerlab is brought forward at open, all steps in
//! one transaction; one made by a newer lockerlab is refused rather than
//! misread. A change to a store's tables is a new step at the end of its
//! list, never an edit of an old one.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// The step from version `i` to `i + 1`, at index `i`.
pub(crate) type Migration = fn(&Transaction) -> rusqlite::Result<()>;

/// Brings `conn` to version `migrations.len()`; the version it had. `what`
/// names the store in the refusal.
pub(crate) fn migrate(
    conn: &mut Connection,
    what: &str,
    migrations: &[Migration],
) -> Result<u32, String> {
    let sql = |e: rusqlite::Error| e.to_string();
    let have: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql)?;
    let latest = migrations.len() as u32;
    if have > latest {
        return Err(format!(
            "was written by a newer lockerlab ({what} schema {have}; this one reads up to \
             {latest}): run that version, or use another store"
        ));
    }
    if have < latest {
        let tx = conn.transaction().map_err(sql)?;
        for step in &migrations[have as usize..] {
            step(&tx).map_err(sql)?;
        }
        tx.pragma_update(None, "user_version", latest)
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(have)
}

/// A value of the `meta` table (key → text) every store keeps.
pub(crate) fn read_meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

pub(crate) fn write_meta(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
        params![key, value],
    )
    .map(|_| ())
}

//! Where partials live: a directory every shard can write (a shared file
//! system, a mounted volume). A file appears whole or not at all: it is
//! written beside its name and renamed into place, so a shard re-run after
//! a failure replaces its earlier partial atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| path)
}

/// The manifests a merge reads: every `*.manifest.json` in a directory
/// (by name), or the file itself.
pub fn manifests_in(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        // A missing path fails here with the system's words.
        std::fs::metadata(path)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".manifest.json") && !n.starts_with('.'))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Removes `dir`'s files of this shard (`stem.*`) that its manifest no
/// longer names: an earlier attempt's data.
pub fn remove_stale(dir: &Path, stem: &str, keep: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(&format!("{stem}.")) && name.ends_with(".parquet");
        if ours && !keep.contains(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

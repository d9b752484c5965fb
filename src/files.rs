//! Reading the files users hand us: regular files only, and no larger than
//! any genuine one, so that `/dev/zero` or a multi-gigabyte mistake is an
//! error that says so rather than a machine out of memory.

use std::io::{Error, ErrorKind, Read};
use std::path::Path;

/// Scenario, policy, meta.json, keys: text a person could write.
pub const MAX_TEXT: u64 = 64 << 20;

/// Forest files and audit logs.
pub const MAX_DATA: u64 = 2 << 30;

/// The bytes of `path`, a regular file of at most `limit` bytes.
pub fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    let too_big = || {
        Error::new(
            ErrorKind::InvalidData,
            format!("larger than the {limit}-byte limit for this kind of file"),
        )
    };
    if meta.len() > limit {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while it is read.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(bytes)
}

/// [`read_limited`] as UTF-8 text (at most [`MAX_TEXT`] bytes).
pub fn read_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_limited(path, MAX_TEXT)?)
        .map_err(|_| Error::new(ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Creates the SQLite database `path` (and tightens it, its WAL and
/// shared-memory files) to owner-only access: the stores hold code hashes
/// and their locker's or service's history.
pub fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            match std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                r => r?,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_oversized_files_are_refused() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        assert!(read_text(dir.path()).is_err());
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 101]).unwrap();
        let e = read_limited(&big, 100).unwrap_err();
        assert!(e.to_string().contains("100-byte limit"), "{e}");
        assert_eq!(read_limited(&big, 101).unwrap().len(), 101);
        std::fs::write(&big, [0xff, 0xfe]).unwrap();
        assert!(read_text(&big).unwrap_err().to_string().contains("UTF-8"));
    }
}

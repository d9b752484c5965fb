//! `lockerlab keys`: a region secret from the OS and lockers' keys derived
//! from it, written owner-only, never over an existing file.

use crate::common::cli::{lockerlab, stderr};
use lockerlab::access::keys::{hex, locker_master, parse_secret};

#[test]
fn new_and_derive_write_private_keys_and_never_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let region = dir.path().join("region.key");
    let region_s = region.to_str().unwrap();
    let o = lockerlab(&["keys", "new", "--out", region_s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&region).unwrap();
    let secret = parse_secret(&text).expect("64 hex digits");
    // A second secret is another secret; and the first is never overwritten.
    let other = dir.path().join("other.key");
    lockerlab(&["keys", "new", "--out", other.to_str().unwrap()]);
    assert_ne!(std::fs::read_to_string(&other).unwrap(), text);
    let o = lockerlab(&["keys", "new", "--out", region_s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("never overwritten"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&region).unwrap(), text);

    let l1 = dir.path().join("L001.key");
    let o = lockerlab(&[
        "keys",
        "derive",
        "--secret-file",
        region_s,
        "--locker",
        "L001",
        "--out",
        l1.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("fingerprint"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&l1).unwrap().trim(),
        hex(&locker_master(&secret, "L001"))
    );
    #[cfg(unix)]
    for f in [&region, &l1] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
    // A locker id that cannot be a topic level is refused.
    let o = lockerlab(&[
        "keys",
        "derive",
        "--secret-file",
        region_s,
        "--locker",
        "a/b",
        "--out",
        dir.path().join("x.key").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--locker"), "{}", stderr(&o));
}

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

#[test]
fn a_pass_from_keys_pass_opens_its_route_for_the_hours_given_and_nothing_else() {
    use lockerlab::access::pass::{self, PassError, Role};
    use lockerlab::access::LockerKeys;
    let dir = tempfile::tempdir().unwrap();
    let region = dir.path().join("region.key");
    let region_s = region.to_str().unwrap();
    lockerlab(&["keys", "new", "--out", region_s]);
    let secret = parse_secret(&std::fs::read_to_string(&region).unwrap()).unwrap();
    let issue = |extra: &[&str]| {
        let mut args = vec!["keys", "pass", "--secret-file", region_s];
        args.extend_from_slice(extra);
        lockerlab(&args)
    };
    let route = [
        "--role", "operator", "--route", "W7", "--locker", "L001", "--locker", "L002", "--hours",
        "3",
    ];
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let o = issue(&route);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let token = String::from_utf8(o.stdout).unwrap();
    for l in ["L001", "L002"] {
        let g = pass::verify(&LockerKeys::for_locker(&secret, l), &token, l).unwrap();
        assert_eq!(g.role, Role::Operator);
        assert!(g.not_before >= before && g.not_before - before < 60_000);
        assert_eq!(g.not_after - g.not_before, 3 * 3_600_000);
    }
    assert_eq!(
        pass::verify(&LockerKeys::for_locker(&secret, "L003"), &token, "L003"),
        Err(PassError::WrongLocker)
    );
    // Bad arguments: exit 2, naming what was expected.
    let too_many: Vec<String> = (0..65)
        .flat_map(|i| ["--locker".into(), format!("L{i}")])
        .collect();
    let mut many = vec!["--role", "driver", "--route", "R"];
    many.extend(too_many.iter().map(String::as_str));
    for (args, says) in [
        (
            &["--role", "boss", "--route", "R", "--locker", "L001"][..],
            "`driver` or `operator`",
        ),
        (
            &["--role", "driver", "--route", "R", "--locker", "a/b"][..],
            "--locker",
        ),
        (&["--role", "driver", "--route", "R"][..], "--locker"),
        (
            &[
                "--role", "driver", "--route", "R", "--locker", "L1", "--hours", "0",
            ][..],
            "--hours",
        ),
        (&many[..], "1 to 64 lockers"),
    ] {
        let o = issue(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

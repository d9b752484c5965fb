//! Policy file JSON → `PolicyFile::parse`; an accepted file round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockerlab::policy::file::PolicyFile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = PolicyFile::parse(text, "fuzz.json") {
        let again = PolicyFile::parse(&file.to_json(), "again.json")
            .expect("a written policy file reads back");
        assert_eq!(again.to_json(), file.to_json());
    }
});

//! Running the `lockerlab` binary as a user does, for the CLI tests
//! (`common::cli`).

#![allow(dead_code)]

use std::process::{Command, Output};

pub fn lockerlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockerlab"))
        .args(args)
        .output()
        .expect("run lockerlab")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

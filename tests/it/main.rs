//! The integration tests, one binary: each file is a module (linking one
//! binary against the whole dependency tree, not twenty). `flood` and
//! `memory` count the heap with a global allocator, so they stay binaries
//! of their own.

#[path = "../common/mod.rs"]
mod common;

mod accounting;
mod brute_force;
mod calendar;
mod cli;
mod conservation;
mod customers;
mod demand_forecast;
mod determinism;
mod erlang_b;
mod faults;
mod forecast_lab;
mod forecast_predict;
mod history;
mod history_io;
mod keys;
mod littles_law;
mod locker_audit;
mod mosquitto;
mod mqtt;
mod outputs;
mod policy_lab;
mod replay;
mod returns;
mod seasons;
mod serve_kill;
mod setup;
mod shard;
mod sizing;

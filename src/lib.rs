//! lockerlab: a discrete-event capacity simulator and forecasting lab for
//! parcel-locker networks. See ARCHITECTURE.md for the map.

pub mod access;
#[cfg(feature = "lab")]
pub mod compare;
pub mod controller;
#[cfg(feature = "lab")]
pub mod data;
pub mod demand;
#[cfg(feature = "lab")]
pub mod demo;
pub mod domain;
#[cfg(feature = "emu")]
pub mod emu;
pub mod engine;
pub mod files;
pub mod forecast;
#[cfg(feature = "lab")]
pub mod loadtest;
pub mod metrics;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "lab")]
pub mod plot;
pub mod policy;
pub mod protocol;
#[cfg(feature = "lab")]
pub mod records;
#[cfg(feature = "lab")]
pub mod report;
pub mod scenario;
pub mod serve;
pub mod service;
pub mod sim;
#[cfg(feature = "lab")]
pub mod sizing;
pub mod time;

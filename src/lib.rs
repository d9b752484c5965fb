//! lockerlab: a discrete-event capacity simulator and forecasting lab for
//! parcel-locker networks. See ARCHITECTURE.md for the map.

pub mod access;
pub mod controller;
#[cfg(feature = "lab")]
pub mod data;
pub mod domain;
pub mod engine;
pub mod forecast;
pub mod metrics;
#[cfg(feature = "lab")]
pub mod plot;
pub mod policy;
#[cfg(feature = "lab")]
pub mod report;
pub mod scenario;
pub mod sim;

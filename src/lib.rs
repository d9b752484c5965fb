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
pub mod policy;
pub mod scenario;
pub mod sim;

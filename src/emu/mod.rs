//! The emulated locker controller: the controller core on a local SQLite
//! store, emulated hardware, and MQTT. `controller-emu` is its command-line
//! front end; `lockerlab demo` and the MQTT tests run it in-process.

mod hardware;
pub mod metrics;
mod node;
mod run;
pub(crate) mod schema;
mod station;
mod store;

pub use hardware::{EmulatedHardware, Hardware};
pub use metrics::EmuMetrics;
pub use node::{Applied, Node, SNAPSHOT_EVERY};
pub use run::{spawn_locker, EmuConfig, EmuError, Emulator, Request, Running, MAX_RECONNECT_DELAY};
pub use station::{Action, ActionResult, Station, StationStatus};
pub use store::{Durability, OutboxRow, Store, StoreError};

#[cfg(test)]
mod rotation_tests;
#[cfg(test)]
mod service_link_tests;
#[cfg(test)]
mod service_restart_tests;
#[cfg(test)]
mod service_rotation_tests;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod store_secrets_tests;
#[cfg(test)]
mod tests;

//! A simulated locker's secrets: derived from the run's seed, so a run is
//! reproducible, and the live demo can give its lockers and service the
//! same ones (the codes and QR tokens it replays then open the same doors).

use crate::access::LockerKeys;
use crate::engine::rng::Stream;
use crate::engine::{Purpose, StreamKey};
use rand::RngCore;

/// Location `location`'s keys in `replication` of a run seeded `seed`, and
/// its access stream as it stands after drawing them: the service draws the
/// locker's pickup codes from it, the customers' apps their QR nonces from
/// a copy.
pub fn locker_secrets(seed: u64, replication: u64, location: usize) -> (LockerKeys, Stream) {
    let mut access = StreamKey {
        seed,
        replication,
        location: location as u64,
        purpose: Purpose::Access,
    }
    .stream();
    let mut master = [0u8; 32];
    access.fill_bytes(&mut master);
    (LockerKeys::from_master(&master), access)
}

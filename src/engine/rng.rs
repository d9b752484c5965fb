//! Independent random streams. Every random process draws from its own stream,
//! keyed by (seed, replication, location, purpose). Two policies run on the same
//! seed therefore see the same orders, dwell times and faults (common random
//! numbers): a policy decision never shifts another process's draws.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator behind every stream: fast, small, and with a documented,
/// platform-independent output sequence.
pub type Stream = Xoshiro256PlusPlus;

/// What a stream is used for. The discriminants are part of the output format:
/// changing one changes every result, so only append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Purpose {
    Arrivals = 1,
    OrderMix = 2,
    LeadTime = 3,
    Dwell = 4,
    Retrieval = 5,
    Faults = 6,
    Access = 7,
    Customer = 8,
    /// Whether a customer abandons the parcel, and how they answer a reminder.
    Behaviour = 9,
    /// Customers' returns: arrivals, sizes, collection delays.
    Returns = 10,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub seed: u64,
    pub replication: u64,
    pub location: u64,
    pub purpose: Purpose,
}

impl StreamKey {
    pub fn stream(&self) -> Stream {
        let mut h = splitmix(self.seed ^ 0x6c6f_636b_6572_6c61); // "lockerla"
        h = splitmix(h ^ self.replication);
        h = splitmix(h ^ self.location);
        h = splitmix(h ^ self.purpose as u64);
        Stream::seed_from_u64(h)
    }
}

/// SplitMix64 finalizer: a bijective mixer, so distinct keys give distinct seeds
/// with overwhelming probability.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    fn key(seed: u64, rep: u64, loc: u64, purpose: Purpose) -> StreamKey {
        StreamKey {
            seed,
            replication: rep,
            location: loc,
            purpose,
        }
    }

    #[test]
    fn same_key_same_stream() {
        let a = key(7, 1, 3, Purpose::Dwell).stream().next_u64();
        let b = key(7, 1, 3, Purpose::Dwell).stream().next_u64();
        assert_eq!(a, b);
    }

    #[test]
    fn every_key_field_changes_the_stream() {
        let base = key(7, 1, 3, Purpose::Dwell).stream().next_u64();
        for other in [
            key(8, 1, 3, Purpose::Dwell),
            key(7, 2, 3, Purpose::Dwell),
            key(7, 1, 4, Purpose::Dwell),
            key(7, 1, 3, Purpose::Arrivals),
        ] {
            assert_ne!(other.stream().next_u64(), base);
        }
    }

    const PINNED: u64 = 0xc3fd_1ecd_035e_bbd9;

    #[test]
    fn output_is_pinned() {
        // Guards the output format: a change here changes every published result.
        let v = key(42, 0, 0, Purpose::Arrivals).stream().next_u64();
        assert_eq!(v, PINNED, "stream output changed: got {v:#x}");
    }
}

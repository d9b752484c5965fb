//! Where a locker's pickup codes come from. The simulator draws them from
//! its seeded streams (reproducible runs); a live service from ChaCha20
//! keyed by the operating system, so no one who learns a seed, a clock or
//! earlier codes can predict the next (Xoshiro's state follows from a few
//! of its outputs).

use crate::engine::rng::Stream;
use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// A live service's code seed, chosen by its driver.
#[derive(Clone)]
pub enum CodeSeed {
    /// 32 bytes from the operating system's CSPRNG.
    Os([u8; 32]),
    /// A fixed number: anyone who knows it knows every code. Tests only
    /// (`serve --insecure-code-seed`).
    Insecure(u64),
}

impl std::fmt::Debug for CodeSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodeSeed::Os(_) => f.write_str("CodeSeed::Os(<secret>)"),
            CodeSeed::Insecure(s) => write!(f, "CodeSeed::Insecure({s})"),
        }
    }
}

/// The generator of one locker's codes.
pub enum CodeRng {
    Seeded(Stream),
    Secure(Box<ChaCha20Rng>),
}

impl CodeSeed {
    /// A durable service's seed: the region secret's code key for the
    /// nonce its store keeps (`serve::journal`), so a replay draws the same
    /// codes and nothing at rest names them.
    pub fn durable(region_secret: &[u8; 32], nonce: &[u8; 32]) -> CodeSeed {
        CodeSeed::Os(crate::access::keys::service_code_key(region_secret, nonce))
    }

    /// Locker `index`'s generator: its own ChaCha20 stream of the OS key,
    /// or its own seeded stream.
    pub fn rng(&self, index: usize) -> CodeRng {
        match self {
            CodeSeed::Os(key) => {
                let mut rng = ChaCha20Rng::from_seed(*key);
                rng.set_stream(index as u64);
                CodeRng::Secure(Box::new(rng))
            }
            CodeSeed::Insecure(seed) => CodeRng::Seeded(
                crate::engine::StreamKey {
                    seed: *seed,
                    replication: 0,
                    location: index as u64,
                    purpose: crate::engine::Purpose::Access,
                }
                .stream(),
            ),
        }
    }
}

impl CodeRng {
    /// Where a secure stream stands (ChaCha20's word position), for a
    /// snapshot; a seeded stream's state cannot be read back.
    pub fn position(&self) -> Option<u128> {
        match self {
            CodeRng::Seeded(_) => None,
            CodeRng::Secure(r) => Some(r.get_word_pos()),
        }
    }

    /// Moves a secure stream to `position`; false for a seeded one.
    pub fn seek(&mut self, position: u128) -> bool {
        match self {
            CodeRng::Seeded(_) => false,
            CodeRng::Secure(r) => {
                r.set_word_pos(position);
                true
            }
        }
    }
}

impl From<Stream> for CodeRng {
    fn from(s: Stream) -> Self {
        CodeRng::Seeded(s)
    }
}

impl RngCore for CodeRng {
    fn next_u32(&mut self) -> u32 {
        match self {
            CodeRng::Seeded(r) => r.next_u32(),
            CodeRng::Secure(r) => r.next_u32(),
        }
    }
    fn next_u64(&mut self) -> u64 {
        match self {
            CodeRng::Seeded(r) => r.next_u64(),
            CodeRng::Secure(r) => r.next_u64(),
        }
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        match self {
            CodeRng::Seeded(r) => r.fill_bytes(dest),
            CodeRng::Secure(r) => r.fill_bytes(dest),
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_locker_has_its_own_stream_and_os_keys_differ() {
        let a = CodeSeed::Os([1; 32]);
        let draw = |s: &CodeSeed, i| s.rng(i).next_u64();
        assert_ne!(draw(&a, 0), draw(&a, 1));
        assert_eq!(draw(&a, 3), draw(&a, 3));
        assert_ne!(draw(&a, 0), draw(&CodeSeed::Os([2; 32]), 0));
        assert!(matches!(a.rng(0), CodeRng::Secure(_)));
        assert!(matches!(CodeSeed::Insecure(1).rng(0), CodeRng::Seeded(_)));
        assert!(!format!("{a:?}").contains('1'), "a key never reaches a log");
    }

    /// A restarted service replays its journal with the same codes: the key
    /// follows from the secret and the stored nonce, and from nothing else.
    #[test]
    fn a_durable_seed_draws_the_same_codes_for_the_same_nonce_only() {
        let draw = |secret: u8, nonce: u8| {
            CodeSeed::durable(&[secret; 32], &[nonce; 32])
                .rng(2)
                .next_u64()
        };
        assert_eq!(draw(1, 1), draw(1, 1));
        assert_ne!(draw(1, 1), draw(1, 2));
        assert_ne!(draw(1, 1), draw(2, 1));
    }
}

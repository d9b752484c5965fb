//! Six-digit pickup codes. The code space (10⁶) is small, which is why the
//! keypad locks after a few wrong tries and codes are only valid inside the
//! pickup window: guessing odds are (active codes / 10⁶) per try.

use rand::{Rng, RngCore};
use std::fmt;
use std::str::FromStr;

pub const CODE_SPACE: u32 = 1_000_000;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PickupCode(u32);

impl PickupCode {
    pub fn new(value: u32) -> Option<Self> {
        (value < CODE_SPACE).then_some(Self(value))
    }

    pub fn value(self) -> u32 {
        self.0
    }

    /// Six ASCII digits, the form a keypad sends and the hash covers.
    pub fn digits(self) -> [u8; 6] {
        let mut out = [b'0'; 6];
        let mut v = self.0;
        for d in out.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out
    }

    /// A uniformly random code that `in_use` says is not active at this
    /// location. Pass `rand::rngs::OsRng` in production; a simulation may pass
    /// its seeded stream.
    pub fn generate(
        rng: &mut dyn RngCore,
        mut in_use: impl FnMut(PickupCode) -> bool,
    ) -> PickupCode {
        loop {
            let code = PickupCode(rng.gen_range(0..CODE_SPACE));
            if !in_use(code) {
                return code;
            }
        }
    }
}

// Codes are secrets: keep them out of logs unless printed on purpose.
impl fmt::Debug for PickupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PickupCode(******)")
    }
}

impl fmt::Display for PickupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a pickup code is exactly 6 digits")]
pub struct BadCode;

impl FromStr for PickupCode {
    type Err = BadCode;
    fn from_str(s: &str) -> Result<Self, BadCode> {
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadCode);
        }
        s.parse().map(PickupCode).map_err(|_| BadCode)
    }
}

/// As a string of six digits, the way a keypad or a script sends it.
impl serde::Serialize for PickupCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PickupCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom("a pickup code is a string of exactly 6 digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn digits_and_parsing_round_trip() {
        let c = PickupCode::new(4207).unwrap();
        assert_eq!(&c.digits(), b"004207");
        assert_eq!(c.to_string(), "004207");
        assert_eq!("004207".parse::<PickupCode>(), Ok(c));
        for bad in ["4207", "0042071", "00420a", "-04207", "+04207", ""] {
            assert!(bad.parse::<PickupCode>().is_err(), "{bad}");
        }
        assert!(PickupCode::new(CODE_SPACE).is_none());
        assert_eq!(format!("{c:?}"), "PickupCode(******)");
    }

    #[test]
    fn generation_avoids_active_codes() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let first = PickupCode::generate(&mut rng, |_| false);
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let second = PickupCode::generate(&mut rng, |c| c == first);
        assert_ne!(first, second);
    }

    #[test]
    fn os_rng_works() {
        let c = PickupCode::generate(&mut rand::rngs::OsRng, |_| false);
        assert!(c.value() < CODE_SPACE);
    }
}

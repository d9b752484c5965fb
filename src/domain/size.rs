//! Compartment and package sizes. A package fits a compartment of its own size
//! or larger; assignment always takes the smallest that fits.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Size {
    S,
    M,
    L,
    XL,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::S, Size::M, Size::L, Size::XL];
    pub const COUNT: usize = 4;

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(i: usize) -> Option<Size> {
        Size::ALL.get(i).copied()
    }

    /// True if a package of this size fits a compartment of size `compartment`.
    pub fn fits_in(self, compartment: Size) -> bool {
        self <= compartment
    }

    pub fn name(self) -> &'static str {
        match self {
            Size::S => "S",
            Size::M => "M",
            Size::L => "L",
            Size::XL => "XL",
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_is_size_or_larger() {
        assert!(Size::S.fits_in(Size::S));
        assert!(Size::S.fits_in(Size::XL));
        assert!(Size::L.fits_in(Size::XL));
        assert!(!Size::XL.fits_in(Size::L));
        assert!(!Size::M.fits_in(Size::S));
    }

    #[test]
    fn index_round_trips() {
        for s in Size::ALL {
            assert_eq!(Size::from_index(s.index()), Some(s));
        }
        assert_eq!(Size::from_index(4), None);
    }
}

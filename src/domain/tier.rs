//! Delivery-speed tiers: how fast the customer was promised the package.

use serde::{Deserialize, Serialize};
use std::fmt;

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    SameDay,
    NextDay,
    TwoDay,
    /// 3–5 day delivery.
    Standard,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::SameDay, Tier::NextDay, Tier::TwoDay, Tier::Standard];
    pub const COUNT: usize = 4;

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Tier::SameDay => "same_day",
            Tier::NextDay => "next_day",
            Tier::TwoDay => "two_day",
            Tier::Standard => "standard",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

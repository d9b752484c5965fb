//! Kinds of locker sites. The kind selects default demand profiles and dwell
//! distributions: commuters pick up in the evening, grocery shoppers all day.

use serde::{Deserialize, Serialize};
use std::fmt;

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    Commuter,
    Grocery,
    Apartment,
    Transit,
    Office,
}

impl LocationKind {
    pub const ALL: [LocationKind; 5] = [
        LocationKind::Commuter,
        LocationKind::Grocery,
        LocationKind::Apartment,
        LocationKind::Transit,
        LocationKind::Office,
    ];
    pub const COUNT: usize = 5;

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            LocationKind::Commuter => "commuter",
            LocationKind::Grocery => "grocery",
            LocationKind::Apartment => "apartment",
            LocationKind::Transit => "transit",
            LocationKind::Office => "office",
        }
    }
}

impl fmt::Display for LocationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

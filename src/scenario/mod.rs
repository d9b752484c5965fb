//! Scenarios: the TOML file format, its defaults, and validation into the
//! compiled [`Scenario`] a run uses. Every error names the file, the key path
//! and what is allowed.

pub mod defaults;
pub mod dist;
pub mod schema;
pub mod seasons;

mod compile;
pub mod edit;
mod model;

pub use dist::{Dist, DistKind, DistSpec};
pub use model::{
    AccessRules, Customers, Discovery, Faults, HistoryDemand, Kiosk, Location, Returns, Scenario,
    TierRules,
};
pub use schema::ScenarioFile;

use std::fmt;
use std::path::Path;

/// The network `lockerlab simulate` runs when no scenario is given.
pub const BUILTIN_NAME: &str = "<built-in city>";
pub const BUILTIN_TOML: &str = include_str!("../../scenarios/city.toml");

#[derive(Debug)]
pub enum ScenarioError {
    Read {
        file: String,
        source: std::io::Error,
    },
    Invalid {
        file: String,
        /// 1-based line and column, when the parser knows them.
        position: Option<(usize, usize)>,
        path: String,
        message: String,
    },
}

impl ScenarioError {
    pub fn invalid(file: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError::Invalid {
            file: file.to_string(),
            position: None,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The io error is the `source`; callers print it as part of the chain.
            ScenarioError::Read { file, .. } => write!(f, "{file}: cannot read scenario"),
            ScenarioError::Invalid {
                file,
                position,
                path,
                message,
            } => {
                write!(f, "{file}")?;
                if let Some((line, col)) = position {
                    write!(f, ":{line}:{col}")?;
                }
                let path = if path.is_empty() { "(top level)" } else { path };
                write!(f, ": `{path}`: {message}")
            }
        }
    }
}

impl std::error::Error for ScenarioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ScenarioError::Read { source, .. } => Some(source),
            ScenarioError::Invalid { .. } => None,
        }
    }
}

impl Scenario {
    /// Locations that run a policy of their own (a policy file's overrides).
    pub fn policy_overrides(&self) -> usize {
        self.locations.iter().filter(|l| l.policy.is_some()).count()
    }

    /// How long a package can hold the network from its checkout: the
    /// slowest tier's reservation (its driver comes by then or not at all),
    /// the pickup window, then the mean wait for retrieval. Lockers start
    /// empty, so a run is in its steady state only once packages from its
    /// first hours can have left.
    pub fn longest_life_cycle(&self) -> crate::time::Millis {
        let reservation = self
            .tiers
            .iter()
            .map(|t| t.reservation_timeout)
            .max()
            .unwrap_or(0);
        let retrieval = self.retrieval_delay.mean_hours() * crate::time::HOUR as f64;
        reservation + self.pickup_window + retrieval as crate::time::Millis
    }

    /// Says when the warm-up is shorter than [`Scenario::longest_life_cycle`]:
    /// the first days measured then count a network not yet as full as it
    /// will be (utilization and refusals read low).
    pub fn warmup_note(&self) -> Option<String> {
        let (warmup, cycle) = (self.warmup, self.longest_life_cycle());
        (warmup < cycle).then(|| {
            let days = |ms: crate::time::Millis| ms as f64 / crate::time::DAY as f64;
            format!(
                "note: the warm-up ({:.1} days) is shorter than the longest life cycle \
                 ({:.1} days: the slowest tier's reservation, the pickup window and the \
                 retrieval wait), so the first days measured start from lockers not yet \
                 full; `simulation.warmup_days = {:.0}` covers it",
                days(warmup),
                days(cycle),
                days(cycle).ceil()
            )
        })
    }

    /// Reads and validates a scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = crate::files::read_text(path).map_err(|source| ScenarioError::Read {
            file: file.clone(),
            source,
        })?;
        Self::from_toml(&text, &file)
    }

    /// The built-in default network.
    pub fn builtin() -> Scenario {
        Self::from_toml(BUILTIN_TOML, BUILTIN_NAME)
            .expect("the built-in scenario is valid (tested)")
    }

    /// Parses and validates TOML text; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let raw = parse(text, file)?;
        compile::compile(raw, file)
    }
}

/// TOML → [`ScenarioFile`], with the key path of any error.
pub fn parse(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        // serde_path_to_error's path already ends at the offending key (also for
        // unknown fields).
        let mut path = err.path().to_string();
        if path == "." {
            path.clear();
        }
        let inner = err.into_inner();
        let message = inner.message().trim().replace('\n', "; ");
        let position = inner.span().map(|span| line_col(text, span.start));
        ScenarioError::Invalid {
            file: file.to_string(),
            position,
            path,
            message,
        }
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

//! Putting a chosen policy and its models into a scenario: a `--policy`
//! spec or exported policy file, `--model`, `--demand-model`. One copy for
//! the CLI and the Python package, so both refuse the same inputs with the
//! same words.

use super::{file::PolicyFile, spec};
use crate::error_text::with_causes;
use crate::forecast::{demand::DemandModel, DwellModel};
use crate::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What runs instead of the scenario's own policy and models.
#[derive(Debug, Clone, Default)]
pub struct PolicyChoice {
    /// A policy file written by `export-policy` (`*.json`), or
    /// `KIND[:key=value,...]`.
    pub policy: Option<String>,
    /// The dwell model policies read (overrides `[forecast] model`).
    pub model: Option<PathBuf>,
    /// The demand model the optimized policy plans with.
    pub demand_model: Option<PathBuf>,
}

/// Puts `choice` into `sc`; a forecast policy without a model is an error
/// here, not a silent fallback. Errors are what the user must fix.
pub fn apply_policy(sc: &mut Scenario, choice: &PolicyChoice) -> Result<(), String> {
    if let Some(dir) = &choice.demand_model {
        sc.demand_forecast = Some(Arc::new(
            DemandModel::load(dir).map_err(|e| with_causes(&e))?,
        ));
    }
    if let Some(p) = &choice.policy {
        if p.ends_with(".json") {
            return apply_file(sc, p, choice);
        }
        sc.policy = spec::parse(p)?;
    }
    if let Some(dir) = &choice.model {
        sc.forecast = Some(Arc::new(
            DwellModel::load(dir).map_err(|e| with_causes(&e))?,
        ));
    }
    require_model(sc)
}

fn apply_file(sc: &mut Scenario, p: &str, choice: &PolicyChoice) -> Result<(), String> {
    let path = Path::new(p);
    let file = PolicyFile::load(path)?;
    sc.policy = file.policy.clone();
    for (id, policy) in &file.overrides {
        let Some(loc) = sc.locations.iter_mut().find(|l| &l.id == id) else {
            return Err(format!(
                "{p}: overrides.{id}: no location `{id}` in scenario `{}`",
                sc.name
            ));
        };
        loc.policy = Some(policy.clone());
    }
    if let (Some(dir), Some(m)) = (file.model_dir(path), &file.model) {
        // --model stands in for the path the file names (a copied policy
        // file need not bring its model along), but it must be the model
        // the policy was tuned with.
        let (dir, named) = match &choice.model {
            Some(given) => (given.clone(), "--model"),
            None => (dir, "its model"),
        };
        let model = DwellModel::load(&dir).map_err(|e| {
            let hint = if choice.model.is_none() {
                " (the path is relative to the policy file; pass --model DIR if the model is \
                 elsewhere)"
            } else {
                ""
            };
            format!("{p}: {named} {}: {e}{hint}", dir.display())
        })?;
        if model.meta.forest_sha256 != m.forest_sha256 {
            return Err(format!(
                "{p}: {named} {} has forest_sha256 {}, the policy was exported with {}",
                dir.display(),
                model.meta.forest_sha256,
                m.forest_sha256
            ));
        }
        sc.forecast = Some(Arc::new(model));
    } else if let Some(dir) = &choice.model {
        sc.forecast = Some(Arc::new(
            DwellModel::load(dir).map_err(|e| with_causes(&e))?,
        ));
    }
    require_model(sc)
}

/// A forecast policy without a model is an error, not a silent fallback.
pub fn require_model(sc: &Scenario) -> Result<(), String> {
    let reads_model = std::iter::once(&sc.policy)
        .chain(sc.locations.iter().filter_map(|l| l.policy.as_ref()))
        .any(|p| p.reads_dwell_model());
    if reads_model && sc.forecast.is_none() {
        return Err(
            "the forecast policy reads a dwell model: pass --model DIR or set `[forecast] model`"
                .into(),
        );
    }
    Ok(())
}

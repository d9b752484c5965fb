//! Exported policy files (`lockerlab export-policy`): what the simulator runs
//! with `--policy FILE` and the capacity service loads. Versioned; a policy
//! that reads a dwell model names it with its hash, so a model swapped under
//! a policy is caught at load time.

use super::Policy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const POLICY_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// Model directory, relative to the policy file.
    pub path: String,
    /// SHA-256 of the model's forest.bin (its meta.json's `forest_sha256`).
    pub forest_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub format_version: u32,
    /// The policy every location runs unless overridden.
    pub policy: Policy,
    /// Per-location policies, by location id.
    #[serde(default)]
    pub overrides: BTreeMap<String, Policy>,
    /// The dwell model a forecast policy reads.
    pub model: Option<ModelRef>,
    /// Free text: how the policy was chosen (tune objective, constraint, date).
    #[serde(default)]
    pub notes: String,
}

impl PolicyFile {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("policy files serialize");
        s.push('\n');
        s
    }

    /// Reads and checks a policy file: version, every policy's parameters.
    pub fn load(path: &Path) -> Result<PolicyFile, String> {
        let at = path.display().to_string();
        let text = crate::files::read_text(path).map_err(|e| format!("{at}: {e}"))?;
        Self::parse(&text, &at)
    }

    /// [`PolicyFile::load`] on text already read; `at` names it in errors.
    pub fn parse(text: &str, at: &str) -> Result<PolicyFile, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let file: PolicyFile = serde_path_to_error::deserialize(&mut *de)
            .map_err(|e| format!("{at}: at `{}`: {}", e.path(), e.inner()))?;
        // Text after the policy is not ignored: the file was damaged or
        // two were pasted together.
        de.end()
            .map_err(|e| format!("{at}: after the policy: {e}"))?;
        if file.format_version != POLICY_FORMAT_VERSION {
            return Err(format!(
                "{at}: format_version {}, this build reads {POLICY_FORMAT_VERSION}",
                file.format_version
            ));
        }
        file.policy
            .validate()
            .map_err(|(f, m)| format!("{at}: policy.{f} {m}"))?;
        for (id, p) in &file.overrides {
            p.validate()
                .map_err(|(f, m)| format!("{at}: overrides.{id}.{f} {m}"))?;
        }
        Ok(file)
    }

    /// The model directory, resolved against the policy file's location.
    pub fn model_dir(&self, policy_file: &Path) -> Option<PathBuf> {
        let m = self.model.as_ref()?;
        let p = Path::new(&m.path);
        Some(if p.is_absolute() {
            p.to_path_buf()
        } else {
            policy_file.parent().unwrap_or(Path::new("")).join(p)
        })
    }
}

#[cfg(test)]
mod round_trip {
    use super::*;

    /// Found by fuzzing: a long decimal read without correct rounding wrote
    /// back as `1.3333333333333337`, which read back as another number (the
    /// policy `serve` ran was not quite the one tuned). serde_json's
    /// `float_roundtrip` reads every number correctly rounded.
    #[test]
    fn a_written_policy_reads_back_to_the_same_numbers() {
        let text = r#"{"format_version": 1,
            "policy": {"kind": "forecast", "confidence": 0.999,
              "promise_hours": {"same_day": 1.33333333333333333333333333333333333333333333333330,
                                "next_day": 16.0, "two_day": 40.0, "standard": 72.0}},
            "overrides": {}, "model": null}"#;
        let file = PolicyFile::parse(text, "p.json").unwrap();
        let again = PolicyFile::parse(&file.to_json(), "again.json").unwrap();
        assert_eq!(again.to_json(), file.to_json());
        assert!(
            file.to_json().contains("1.3333333333333333,"),
            "{}",
            file.to_json()
        );
    }
}

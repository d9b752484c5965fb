//! Scenario variants for sweeps and tuning: the scenario file's TOML with
//! keys set by path (`policy.confidence`, `demand.orders_per_day`,
//! `tiers.standard.reservation_timeout_hours`), then validated like any file,
//! so a varied key gets the same checks and error messages as a written one.

use super::{Scenario, ScenarioError};
use crate::policy::Policy;

/// A scenario's source text, to derive variants from.
#[derive(Debug, Clone)]
pub struct ScenarioSource {
    pub file: String,
    pub value: toml::Value,
}

impl ScenarioSource {
    pub fn new(text: &str, file: &str) -> Result<ScenarioSource, ScenarioError> {
        // Parse once through the checked path so errors carry positions.
        super::parse(text, file)?;
        let value = text
            .parse::<toml::Value>()
            .map_err(|e| ScenarioError::invalid(file, "", e.to_string()))?;
        Ok(ScenarioSource {
            file: file.to_string(),
            value,
        })
    }

    /// The scenario with `policy` as its `[policy]` and each (key, value) set.
    pub fn variant(
        &self,
        policy: Option<&Policy>,
        settings: &[(String, f64)],
    ) -> Result<Scenario, ScenarioError> {
        let values: Vec<(String, toml::Value)> = settings
            .iter()
            .map(|(key, x)| {
                // Integers stay integers (seeds, replications, counts).
                let value = if x.fract() == 0.0 && x.abs() < 1e15 && is_integer_key(key) {
                    toml::Value::Integer(*x as i64)
                } else {
                    toml::Value::Float(*x)
                };
                (key.clone(), value)
            })
            .collect();
        self.edited(policy, &values, &describe(policy, settings))
    }

    /// The scenario with each (key path, value) set: any TOML value, not
    /// only numbers (the Python package's `Scenario.with_`).
    pub fn with_values(&self, values: &[(String, toml::Value)]) -> Result<Scenario, ScenarioError> {
        let described = if values.is_empty() {
            "no changes".to_string()
        } else {
            let parts: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
            parts.join(" ")
        };
        self.edited(None, values, &described)
    }

    /// The source with `values` set, as TOML text (what a variant compiles).
    pub fn edited_value(
        &self,
        policy: Option<&Policy>,
        values: &[(String, toml::Value)],
    ) -> Result<toml::Value, ScenarioError> {
        let mut v = self.value.clone();
        if let Some(p) = policy {
            let table = toml::Value::try_from(p)
                .map_err(|e| ScenarioError::invalid(&self.file, "policy", e.to_string()))?;
            set(&mut v, "policy", table)
                .map_err(|m| ScenarioError::invalid(&self.file, "policy", m))?;
        }
        for (key, value) in values {
            set(&mut v, key, value.clone())
                .map_err(|m| ScenarioError::invalid(&self.file, key.clone(), m))?;
        }
        Ok(v)
    }

    fn edited(
        &self,
        policy: Option<&Policy>,
        values: &[(String, toml::Value)],
        described: &str,
    ) -> Result<Scenario, ScenarioError> {
        let v = self.edited_value(policy, values)?;
        let text = toml::to_string(&v)
            .map_err(|e| ScenarioError::invalid(&self.file, "", e.to_string()))?;
        // A position would point into the generated text, not the user's
        // file: name the variant instead, so the error points at the
        // argument that made it.
        Scenario::from_toml(&text, &self.file).map_err(|e| match e {
            ScenarioError::Invalid { path, message, .. } => ScenarioError::Invalid {
                file: format!("{} with {described}", self.file),
                position: None,
                path,
                message,
            },
            read => read,
        })
    }
}

/// A variant's changes as a user wrote them: `policy=SPEC key=value ...`.
pub fn describe(policy: Option<&Policy>, settings: &[(String, f64)]) -> String {
    let mut parts: Vec<String> = policy
        .map(|p| format!("policy={}", crate::policy::spec::to_spec(p)))
        .into_iter()
        .collect();
    parts.extend(settings.iter().map(|(k, v)| format!("{k}={v}")));
    if parts.is_empty() {
        "no changes".into()
    } else {
        parts.join(" ")
    }
}

fn is_integer_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    matches!(
        last,
        "seed" | "replications" | "max_wrong_codes" | "S" | "M" | "L" | "XL"
    )
}

/// Sets `path` (dotted) in a TOML table, creating tables on the way. An
/// array of tables is entered by an element's `id`
/// (`locations.SEA-004.compartments.S`); positions are refused
/// (`locations.0.x`), since they change when the file is edited.
fn set(root: &mut toml::Value, path: &str, value: toml::Value) -> Result<(), String> {
    let mut parts = path.split('.').peekable();
    let mut at = root;
    while let Some(part) = parts.next() {
        if part.is_empty() {
            return Err(format!("`{path}` is not a key path"));
        }
        if at.is_array() {
            let items = at.as_array_mut().expect("an array");
            let ids: Vec<String> = items
                .iter()
                .filter_map(|t| t.get("id").and_then(|v| v.as_str()).map(str::to_string))
                .collect();
            at = items
                .iter_mut()
                .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(part))
                .ok_or_else(|| {
                    let known = if ids.len() > 8 {
                        format!("{}, …", ids[..8].join(", "))
                    } else {
                        ids.join(", ")
                    };
                    format!("`{path}`: no entry with id `{part}` (ids: {known})")
                })?;
            if parts.peek().is_none() {
                return Err(format!("`{path}`: name a key inside `{part}`"));
            }
            continue;
        }
        let table = at
            .as_table_mut()
            .ok_or_else(|| format!("`{path}`: `{part}` is inside a value that is not a table"))?;
        if parts.peek().is_none() {
            table.insert(part.to_string(), value);
            return Ok(());
        }
        at = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    Err(format!("`{path}` is not a key path"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ForecastPolicy;

    const TEXT: &str = r#"
name = "t"
[simulation]
horizon_days = 14
[[locations]]
id = "a"
kind = "commuter"
lat = 52.5
lon = 13.4
compartments = { S = 4 }
"#;

    #[test]
    fn sets_keys_and_validates_them() {
        let src = ScenarioSource::new(TEXT, "t.toml").unwrap();
        let sc = src
            .variant(None, &[("demand.orders_per_day".into(), 12.5)])
            .unwrap();
        assert_eq!(sc.locations[0].orders_per_day, 12.5);
        let sc = src
            .variant(None, &[("simulation.seed".into(), 9.0)])
            .unwrap();
        assert_eq!(sc.seed, 9);
        let err = src
            .variant(None, &[("demand.orders_per_day".into(), -1.0)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("demand.orders_per_day"), "{err}");
        let err = src
            .variant(None, &[("demand.oders".into(), 1.0)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("oders"), "{err}");
    }

    /// A variant's error once carried a line and column of the generated
    /// TOML (`t.toml:320:2` in a 20-line file): it names the changes now.
    #[test]
    fn a_variants_error_names_the_changes_not_a_position() {
        let src = ScenarioSource::new(TEXT, "t.toml").unwrap();
        let err = src
            .variant(None, &[("demand.oders".into(), 1.0)])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.toml with demand.oders=1: `demand"),
            "{err}"
        );
        let err = src
            .variant(
                Some(&Policy::Snapshot {}),
                &[("simulation.horizon_days".into(), -3.0)],
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.toml with policy=snapshot simulation.horizon_days=-3: "),
            "{err}"
        );
    }

    /// The planner's keys: demand and capacity scaled network-wide, and a
    /// location's own keys by its id.
    #[test]
    fn scales_and_locations_by_id() {
        let src = ScenarioSource::new(TEXT, "t.toml").unwrap();
        let base = src.variant(None, &[]).unwrap();
        let sc = src
            .variant(
                None,
                &[("demand.scale".into(), 2.0), ("capacity.scale".into(), 1.5)],
            )
            .unwrap();
        assert_eq!(
            sc.locations[0].orders_per_day,
            2.0 * base.locations[0].orders_per_day
        );
        assert_eq!(sc.locations[0].compartments, [6, 0, 0, 0]);
        let sc = src
            .variant(None, &[("locations.a.compartments.M".into(), 3.0)])
            .unwrap();
        assert_eq!(sc.locations[0].compartments, [4, 3, 0, 0]);
        let err = src
            .variant(None, &[("locations.b.orders_per_day".into(), 3.0)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no entry with id `b` (ids: a)"), "{err}");
        let err = src
            .variant(None, &[("capacity.scale".into(), 0.1)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at least one compartment (after capacity.scale = 0.1)"),
            "{err}"
        );
    }

    #[test]
    fn policy_then_its_parameters() {
        let src = ScenarioSource::new(TEXT, "t.toml").unwrap();
        let p = Policy::Forecast(ForecastPolicy::default());
        // A forecast policy needs a model: the error says so, naming the key.
        let err = src
            .variant(Some(&p), &[("policy.confidence".into(), 0.9)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("[forecast] model"), "{err}");
        let sc = src.variant(Some(&Policy::Snapshot {}), &[]).unwrap();
        assert_eq!(sc.policy, Policy::Snapshot {});
    }
}

//! Policies named on the command line: `kind` or `kind:key=value,key=value`,
//! the keys being the policy's TOML keys (dotted for nested tables), e.g.
//! `tier-partition:shares.same_day=0.3,shares.next_day=0.5` or
//! `forecast:confidence=0.99`.

use super::Policy;

pub fn parse(spec: &str) -> Result<Policy, String> {
    let (kind, params) = match spec.split_once(':') {
        Some((k, p)) => (k.trim(), p),
        None => (spec.trim(), ""),
    };
    if kind.is_empty() {
        return Err(format!(
            "policy `{spec}`: expected KIND or KIND:key=value,..."
        ));
    }
    let mut toml = format!("kind = {}\n", toml_string(kind));
    for pair in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("policy `{spec}`: `{pair}` is not key=value"));
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(format!("policy `{spec}`: bad key `{key}`"));
        }
        let value = value.trim();
        // Integers and booleans as they are; other numbers as TOML writes
        // them (`.2` is a number to a user, not to TOML); anything else as
        // a string.
        let literal = if value.parse::<i64>().is_ok() || value == "true" || value == "false" {
            value.to_string()
        } else if let Ok(v) = value.parse::<f64>() {
            if !v.is_finite() {
                return Err(format!(
                    "policy `{spec}`: `{key}` must be a finite number, got {value}"
                ));
            }
            format!("{v:?}")
        } else {
            toml_string(value)
        };
        toml.push_str(&format!("{key} = {literal}\n"));
    }
    let policy: Policy = toml::from_str(&toml)
        .map_err(|e| format!("policy `{spec}`: {}", e.message().trim_end()))?;
    policy
        .validate()
        .map_err(|(field, msg)| format!("policy `{spec}`: {field} {msg}"))?;
    Ok(policy)
}

/// The spec `parse` reads back as `policy`, every parameter spelled out:
/// what a report prints as the policy that ran, so a reader can pass it to
/// `--policy` and run the same thing.
pub fn to_spec(policy: &Policy) -> String {
    let serde_json::Value::Object(mut fields) =
        serde_json::to_value(policy).expect("a policy serializes")
    else {
        unreachable!("a policy is a JSON object")
    };
    // shift_remove: the parameters keep their order (remove would swap).
    let kind = fields.shift_remove("kind");
    let mut params = Vec::new();
    flatten("", &serde_json::Value::Object(fields), &mut params);
    let kind = kind
        .as_ref()
        .and_then(|k| k.as_str())
        .unwrap_or(policy.name());
    if params.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}:{}", params.join(","))
    }
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(fields) => {
            for (k, v) in fields {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::String(s) => out.push(format!("{prefix}={s}")),
        other => out.push(format!("{prefix}={other}")),
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ForecastPolicy, TierPartition};

    #[test]
    fn numbers_read_as_people_write_them() {
        let Policy::TierPartition(TierPartition { shares }) =
            parse("tier-partition:shares.same_day=.2,shares.next_day=4e-1").unwrap()
        else {
            panic!("wrong kind");
        };
        assert_eq!((shares.same_day, shares.next_day), (0.2, 0.4));
        for bad in ["NaN", "inf", "-infinity"] {
            let e = parse(&format!("forecast:confidence={bad}")).unwrap_err();
            assert!(e.contains("`confidence` must be a finite number"), "{e}");
        }
    }

    #[test]
    fn parses_kinds_and_parameters() {
        assert_eq!(parse("snapshot").unwrap(), Policy::Snapshot {});
        let Policy::TierPartition(TierPartition { shares }) =
            parse("tier-partition:shares.same_day=0.2,shares.next_day=0.4").unwrap()
        else {
            panic!("wrong kind");
        };
        assert_eq!(
            (shares.same_day, shares.next_day, shares.two_day),
            (0.2, 0.4, 0.0)
        );
        assert_eq!(
            parse("forecast:confidence=0.9").unwrap(),
            Policy::Forecast(ForecastPolicy {
                confidence: 0.9,
                ..ForecastPolicy::default()
            })
        );
    }

    #[test]
    fn a_spec_written_reads_back_as_the_same_policy() {
        let policies = [
            Policy::Snapshot {},
            Policy::NaiveHold {},
            parse("tier-partition:shares.same_day=0.1,shares.next_day=0.2,shares.two_day=0.3")
                .unwrap(),
            parse(
                "forecast:confidence=0.973,promise_hours.same_day=2.5,promise_hours.next_day=16,\
                 promise_hours.two_day=40,promise_hours.standard=72",
            )
            .unwrap(),
            parse("optimized:horizon_days=3,buffer=0.05,check.confidence=0.999").unwrap(),
        ];
        for p in policies {
            let spec = to_spec(&p);
            assert_eq!(parse(&spec).unwrap(), p, "{spec}");
        }
        assert_eq!(
            to_spec(&parse("forecast:confidence=0.9").unwrap()),
            "forecast:confidence=0.9,promise_hours.same_day=3.0,promise_hours.next_day=16.0,\
             promise_hours.two_day=40.0,promise_hours.standard=72.0"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_tier_partition_reads_back(a in 0.0..0.3f64, b in 0.0..0.3f64, c in 0.0..0.3f64) {
            let p = Policy::TierPartition(TierPartition {
                shares: crate::policy::TierShares { same_day: a, next_day: b, two_day: c, standard: 0.05 },
            });
            proptest::prop_assert_eq!(parse(&to_spec(&p)).unwrap(), p);
        }
    }

    #[test]
    fn errors_name_the_spec_and_the_problem() {
        let e = parse("forecast:confidence=1.5").unwrap_err();
        assert!(e.contains("confidence") && e.contains("[0.5, 1)"), "{e}");
        let e = parse("forecast:confidance=0.9").unwrap_err();
        assert!(e.contains("confidance"), "{e}");
        let e = parse("lottery").unwrap_err();
        assert!(e.contains("lottery"), "{e}");
        assert!(parse("forecast:confidence").is_err());
        assert!(parse("").is_err());
    }
}

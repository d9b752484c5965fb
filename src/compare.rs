//! Policies side by side on common random numbers: every policy sees the
//! same orders, dwell times and faults, replication by replication, so
//! differences are paired (`lockerlab compare`, the Python package's
//! `compare`).

use crate::metrics::{stats, Summary, METRIC_NAMES};
use crate::policy::apply::{apply_policy, PolicyChoice};
use crate::policy::spec::to_spec;
use crate::records::Records;
use crate::scenario::Scenario;
use crate::sim::{self, Network, RunError, RunOptions};

/// The metrics shown unless --metrics says otherwise.
pub const DEFAULT_METRICS: [&str; 9] = [
    "acceptance_rate",
    "accepted",
    "broken_promise_rate",
    "failed_delivery_rate",
    "failed_deliveries",
    "utilization",
    "picked_up",
    "expired",
    "dwell_hours_mean",
];

/// Splits `a,b:k=v,k2=v2,c` into policy specs.
pub fn split_policies(list: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match out.last_mut() {
            Some(prev) if token.contains('=') && !token.contains(':') => {
                prev.push(',');
                prev.push_str(token);
            }
            _ => out.push(token.to_string()),
        }
    }
    out
}

/// One policy's run: its name as given and the per-replication totals.
pub struct PolicyRun {
    pub label: String,
    /// The policy that ran, every parameter spelled out, and how many
    /// locations ran one of their own (a policy file's overrides).
    pub spec: String,
    pub overrides: usize,
    pub per_rep: Vec<Summary>,
}

/// The scenario with each policy (spec or file) and `model` put in, in
/// order; a policy that cannot be used is an input error.
pub fn policy_scenarios(
    base: &Scenario,
    specs: &[String],
    model: Option<&std::path::Path>,
) -> Result<Vec<Scenario>, RunError> {
    specs
        .iter()
        .map(|spec| {
            let mut sc = base.clone();
            let choice = PolicyChoice {
                policy: Some(spec.clone()),
                model: model.map(|m| m.to_path_buf()),
                ..Default::default()
            };
            apply_policy(&mut sc, &choice).map_err(RunError::Input)?;
            Ok(sc)
        })
        .collect()
}

/// Each policy's run, from its scenario ([`policy_scenarios`]) and its
/// per-replication totals.
pub fn policy_run(label: &str, sc: &Scenario, per_rep: Vec<Summary>) -> PolicyRun {
    PolicyRun {
        label: label.to_string(),
        spec: to_spec(&sc.policy),
        overrides: sc.policy_overrides(),
        per_rep,
    }
}

/// Runs each policy (spec or file) on the scenario with the same seed.
pub fn run_policies(
    base: &Scenario,
    specs: &[String],
    model: Option<&std::path::Path>,
    opts: &RunOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<PolicyRun>, RunError> {
    let net = Network::build(base);
    let scenarios = policy_scenarios(base, specs, model)?;
    specs
        .iter()
        .zip(&scenarios)
        .map(|(spec, sc)| {
            let result = sim::run_on(sc, &net, opts, progress)?;
            Ok(policy_run(spec, sc, result.totals))
        })
        .collect()
}

/// A metric's index in [`METRIC_NAMES`]; the error lists them.
pub fn metric_index(name: &str) -> Result<usize, String> {
    METRIC_NAMES
        .iter()
        .position(|m| *m == name)
        .ok_or_else(|| format!("no metric `{name}` (known: {})", METRIC_NAMES.join(", ")))
}

/// The policies of a `--policies` list, at least two.
pub fn policies_to_compare(list: &str) -> Result<Vec<String>, String> {
    let specs = split_policies(list);
    if specs.len() < 2 {
        return Err(format!(
            "name at least two policies to compare, got `{list}`"
        ));
    }
    Ok(specs)
}

/// Mean and 95% half-width of the per-replication differences b − a.
pub fn paired(a: &[Summary], b: &[Summary], m: usize) -> (f64, f64) {
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| y.values[m] - x.values[m])
        .collect();
    (stats::mean(&d), stats::ci95_half_width(&d))
}

/// Per policy and metric: the mean, its 95% half-width, and the paired
/// difference against the first policy (compare.csv, `--format csv|json`).
pub fn compare_records(runs: &[PolicyRun], metrics: &[usize]) -> Records {
    let mut rows = Records::new([
        "policy",
        "metric",
        "mean",
        "ci95",
        "diff_vs_first",
        "diff_ci95",
        "significant",
    ]);
    for run in runs {
        for &m in metrics {
            let xs: Vec<f64> = run.per_rep.iter().map(|s| s.values[m]).collect();
            let (d, h) = paired(&runs[0].per_rep, &run.per_rep, m);
            rows.push(vec![
                run.label.as_str().into(),
                METRIC_NAMES[m].into(),
                stats::mean(&xs).into(),
                stats::ci95_half_width(&xs).into(),
                d.into(),
                h.into(),
                (d.abs() > h).into(),
            ]);
        }
    }
    rows
}

//! A run's results as users read them: network totals, confidence
//! half-widths across replications, and per-location metrics, rendered as
//! JSON, CSV or a text table from one list of named metrics.

use super::RunResult;
use crate::metrics::display::{self, Align, Table};
use crate::metrics::{Summary, METRIC_NAMES};
use crate::policy::spec;
use crate::scenario::Scenario;
use crate::time::DAY;
use serde_json::{Map, Value};
use std::fmt::Write as _;

#[derive(Debug, Clone)]
pub struct RunReport {
    pub scenario: String,
    /// The policy that ran, as a `--policy` spec with every parameter.
    pub policy: String,
    /// Locations that ran a policy of their own (a policy file's overrides).
    pub overrides: usize,
    /// Orders placed in [warmup_days, horizon_days) are counted.
    pub warmup_days: f64,
    pub horizon_days: f64,
    pub seed: u64,
    pub replications: u32,
    pub events: u64,
    /// Network totals (mean over replications).
    pub totals: Summary,
    /// 95% CI half-widths across replications (None for a single replication).
    pub ci95: Option<Summary>,
    /// (location id, mean over replications).
    pub locations: Vec<(String, Summary)>,
}

impl RunReport {
    pub fn new(sc: &Scenario, seed: u64, result: &RunResult) -> Self {
        let reps = result.totals.len();
        let (totals, ci) = Summary::across(&result.totals);
        let locations = sc
            .locations
            .iter()
            .zip(&result.location_means)
            .map(|(loc, mean)| (loc.id.clone(), mean.clone()))
            .collect();
        RunReport {
            scenario: sc.name.clone(),
            policy: spec::to_spec(&sc.policy),
            overrides: sc.policy_overrides(),
            warmup_days: sc.warmup as f64 / DAY as f64,
            horizon_days: sc.horizon as f64 / DAY as f64,
            seed,
            replications: reps as u32,
            events: result.events,
            totals,
            ci95: (reps > 1).then_some(ci),
            locations,
        }
    }

    /// The JSON object of `simulate --format json`. With `wall_seconds` None
    /// the timing keys are left out, so the output is byte-identical across
    /// runs and machines.
    pub fn to_json(&self, wall_seconds: Option<f64>) -> Value {
        let mut o = Map::new();
        o.insert("scenario".into(), self.scenario.clone().into());
        o.insert("policy".into(), self.policy.clone().into());
        o.insert("policy_overrides".into(), self.overrides.into());
        o.insert("warmup_days".into(), number(self.warmup_days));
        o.insert("horizon_days".into(), number(self.horizon_days));
        o.insert("seed".into(), self.seed.into());
        o.insert("replications".into(), self.replications.into());
        o.insert("events".into(), self.events.into());
        if let Some(w) = wall_seconds {
            o.insert("wall_seconds".into(), number(w));
            o.insert(
                "events_per_second".into(),
                number(self.events as f64 / w.max(1e-9)),
            );
        }
        o.insert("totals".into(), metrics_object(&self.totals, None));
        if let Some(ci) = &self.ci95 {
            o.insert("ci95".into(), metrics_object(ci, None));
        }
        let locs = self
            .locations
            .iter()
            .map(|(id, s)| metrics_object(s, Some(id)))
            .collect();
        o.insert("locations".into(), Value::Array(locs));
        Value::Object(o)
    }

    /// One CSV row per location, then a `TOTAL` row.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("location");
        for n in METRIC_NAMES {
            out.push(',');
            out.push_str(n);
        }
        out.push('\n');
        let rows = self.locations.iter().map(|(id, s)| (id.as_str(), s));
        for (id, s) in rows.chain(std::iter::once(("TOTAL", &self.totals))) {
            out.push_str(&csv_field(id));
            for (_, v) in s.iter() {
                out.push(',');
                if v.is_finite() {
                    // Full precision: CSV is for machines.
                    let _ = write!(out, "{v}");
                }
            }
            out.push('\n');
        }
        out
    }

    /// A human-readable table of the network totals. Counters of faults,
    /// access and outages that stayed 0 are left out unless `all` (a run
    /// without faults would print a score of zeros); JSON and CSV always
    /// have every metric.
    pub fn to_table(&self, wall_seconds: Option<f64>, all: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scenario {}  seed {}  replications {}  locations {}",
            self.scenario,
            self.seed,
            self.replications,
            self.locations.len()
        );
        let overrides = match self.overrides {
            0 => String::new(),
            n => format!(" (and {n} locations with policies of their own)"),
        };
        let _ = writeln!(out, "policy {}{overrides}", self.policy);
        let _ = writeln!(
            out,
            "{}",
            measured_period(self.warmup_days, self.horizon_days, self.replications)
        );
        if let Some(w) = wall_seconds {
            let _ = writeln!(
                out,
                "{} events in {:.2} s ({:.2} M events/s)",
                self.events,
                w,
                self.events as f64 / w.max(1e-9) / 1e6
            );
        }
        let _ = writeln!(out);
        let header = if self.ci95.is_some() {
            "mean ± 95% CI"
        } else {
            "value"
        };
        let mut table = Table::new(&[("metric", Align::Left), (header, Align::Right)]);
        let mut hidden = 0;
        for (i, (name, v)) in self.totals.iter().enumerate() {
            if !all && !Summary::always_shown(i) && (v == 0.0 || v.is_nan()) {
                hidden += 1;
                continue;
            }
            let cell = match &self.ci95 {
                Some(ci) => display::mean_ci(v, ci.values[i]),
                None => display::value(v),
            };
            table.row(vec![name.to_string(), cell]);
        }
        out.push_str(&table.render(0));
        if hidden > 0 {
            let _ = writeln!(
                out,
                "({hidden} more metrics were 0 or undefined: rejection breakdowns, faults, access, \
                 outages; --all shows them)"
            );
        }
        out
    }
}

/// The sentence every table prints about what it counted.
pub fn measured_period(warmup_days: f64, horizon_days: f64, replications: u32) -> String {
    format!(
        "measured: orders placed from day {} to day {} (after the warm-up); counts are totals \
         over that period{}",
        display::value(warmup_days),
        display::value(horizon_days),
        if replications > 1 {
            ", means over the replications"
        } else {
            ""
        }
    )
}

fn metrics_object(s: &Summary, id: Option<&str>) -> Value {
    let mut o = Map::new();
    if let Some(id) = id {
        o.insert("id".into(), id.into());
    }
    for (name, v) in s.iter() {
        o.insert(name.into(), number(v));
    }
    Value::Object(o)
}

/// Integral values print as integers; non-finite (undefined) as null.
fn number(v: f64) -> Value {
    if !v.is_finite() {
        Value::Null
    } else if v.fract() == 0.0 && v.abs() < 9e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

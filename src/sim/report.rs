//! A run's results as users read them: network totals, confidence
//! half-widths across replications, and per-location metrics, rendered as
//! JSON, CSV or a text table from one list of named metrics.

use super::RunResult;
use crate::metrics::display::{self, Align, Table};
use crate::metrics::{Summary, METRIC_NAMES};
use crate::policy::spec;
use crate::scenario::Scenario;
use crate::time::DAY;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
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
        serde_json::to_value(self.json(wall_seconds)).expect("JSON values")
    }

    /// [`Self::to_json`] as it serializes, so a network's report can be
    /// written (`serde_json::to_writer_pretty`) without its thousands of
    /// location objects built in memory first; the bytes are the same.
    pub fn json(&self, wall_seconds: Option<f64>) -> ReportJson<'_> {
        ReportJson {
            report: self,
            wall_seconds,
        }
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

/// See [`RunReport::json`].
pub struct ReportJson<'a> {
    report: &'a RunReport,
    wall_seconds: Option<f64>,
}

impl Serialize for ReportJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.report;
        let mut o = s.serialize_map(None)?;
        o.serialize_entry("scenario", &r.scenario)?;
        o.serialize_entry("policy", &r.policy)?;
        o.serialize_entry("policy_overrides", &r.overrides)?;
        o.serialize_entry("warmup_days", &Number(r.warmup_days))?;
        o.serialize_entry("horizon_days", &Number(r.horizon_days))?;
        o.serialize_entry("seed", &r.seed)?;
        o.serialize_entry("replications", &r.replications)?;
        o.serialize_entry("events", &r.events)?;
        if let Some(w) = self.wall_seconds {
            o.serialize_entry("wall_seconds", &Number(w))?;
            o.serialize_entry("events_per_second", &Number(r.events as f64 / w.max(1e-9)))?;
        }
        o.serialize_entry("totals", &Metrics(&r.totals, None))?;
        if let Some(ci) = &r.ci95 {
            o.serialize_entry("ci95", &Metrics(ci, None))?;
        }
        o.serialize_entry("locations", &Locations(&r.locations))?;
        o.end()
    }
}

struct Locations<'a>(&'a [(String, Summary)]);

impl Serialize for Locations<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(id, m)| Metrics(m, Some(id))))
    }
}

/// A summary as an object of named metrics, after its `id` when given.
struct Metrics<'a>(&'a Summary, Option<&'a str>);

impl Serialize for Metrics<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_map(None)?;
        if let Some(id) = self.1 {
            o.serialize_entry("id", id)?;
        }
        for (name, v) in self.0.iter() {
            o.serialize_entry(name, &Number(v))?;
        }
        o.end()
    }
}

/// Integral values print as integers; non-finite (undefined) as null.
struct Number(f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if !v.is_finite() {
            s.serialize_none()
        } else if v.fract() == 0.0 && v.abs() < 9e15 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

//! Validation: [`ScenarioFile`] (as written) → [`Scenario`] (what a run uses),
//! with defaults filled in and every range checked.

use super::defaults;
use super::dist::{Dist, DistSpec};
use super::model::{
    AccessRules, Customers, Discovery, Faults, HistoryDemand, Kiosk, Location, Returns, Scenario,
    TierRules,
};
use super::schema::{DemandSection, DwellRule, LocationSpec, ScenarioFile};
use super::ScenarioError;
use crate::controller::ControllerConfig;
use crate::domain::{LocationKind, OpeningHours, Size, Tier};
use crate::engine::time::{from_hours, Millis, DAY};
use crate::forecast::demand::DemandModel;
use crate::forecast::DwellModel;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, path: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::invalid(self.file, path, message)
    }

    fn range(
        &self,
        path: &str,
        v: f64,
        lo: f64,
        hi: f64,
        lo_open: bool,
    ) -> Result<f64, ScenarioError> {
        let ok = v.is_finite() && (if lo_open { v > lo } else { v >= lo }) && v <= hi;
        if ok {
            Ok(v)
        } else {
            let open = if lo_open { "(" } else { "[" };
            Err(self.err(path, format!("must be in {open}{lo}, {hi}], got {v}")))
        }
    }

    fn dist(&self, path: &str, spec: &DistSpec) -> Result<Dist, ScenarioError> {
        spec.compile()
            .map_err(|(field, msg)| self.err(format!("{path}.{field}"), msg))
    }
}

pub(super) fn compile(raw: ScenarioFile, file: &str) -> Result<Scenario, ScenarioError> {
    let cx = Ctx { file };
    let sim = &raw.simulation;
    let horizon_days = cx.range(
        "simulation.horizon_days",
        sim.horizon_days.unwrap_or(defaults::HORIZON_DAYS),
        0.0,
        3650.0,
        true,
    )?;
    let warmup_days = cx.range(
        "simulation.warmup_days",
        sim.warmup_days.unwrap_or(defaults::WARMUP_DAYS),
        0.0,
        3650.0,
        false,
    )?;
    if warmup_days >= horizon_days {
        return Err(cx.err(
            "simulation.warmup_days",
            format!("must be shorter than horizon_days ({horizon_days}), got {warmup_days}"),
        ));
    }
    let start = sim
        .start_date
        .as_deref()
        .unwrap_or(crate::time::DEFAULT_START);
    let timezone = sim.timezone.as_deref().unwrap_or("UTC");
    crate::time::parse_timezone(timezone).map_err(|m| cx.err("simulation.timezone", m))?;
    // The run goes on past the horizon until every package is done.
    let span = ((horizon_days + 60.0) * DAY as f64) as Millis;
    let calendar = crate::time::Calendar::starting(start, timezone, span)
        .map_err(|m| cx.err("simulation.start_date", m))?;
    let (seasons, calendar) = match &raw.demand.calendar {
        None => (None, calendar),
        Some(spec) => {
            let days = (calendar.day(0), (span / DAY) as usize + 2);
            let (seasons, closed) =
                super::seasons::compile(spec, days).map_err(|(key, m)| cx.err(key, m))?;
            (Some(seasons), calendar.with_closed_days(closed))
        }
    };
    let replications = sim.replications.unwrap_or(defaults::REPLICATIONS);
    if !(1..=100_000).contains(&replications) {
        return Err(cx.err(
            "simulation.replications",
            format!("must be in [1, 100000], got {replications}"),
        ));
    }

    let lc = &raw.lifecycle;
    let window_h = cx.range(
        "lifecycle.pickup_window_hours",
        lc.pickup_window_hours
            .unwrap_or(defaults::PICKUP_WINDOW_HOURS),
        0.0,
        24.0 * 3650.0,
        true,
    )?;
    let reminder_h = cx.range(
        "lifecycle.reminder_before_expiry_hours",
        lc.reminder_before_expiry_hours
            .unwrap_or(defaults::REMINDER_BEFORE_EXPIRY_HOURS.min(window_h / 2.0)),
        0.0,
        window_h,
        false,
    )?;
    let retrieval_delay = cx.dist(
        "lifecycle.retrieval_delay",
        lc.retrieval_delay
            .as_ref()
            .unwrap_or(&defaults::retrieval_delay()),
    )?;

    let cs = &raw.customers;
    let customers = Customers {
        abandon_share: cx.range(
            "customers.abandon_share",
            cs.abandon_share.unwrap_or(defaults::ABANDON_SHARE),
            0.0,
            1.0,
            false,
        )?,
        reminder_response_share: cx.range(
            "customers.reminder_response_share",
            cs.reminder_response_share
                .unwrap_or(defaults::REMINDER_RESPONSE_SHARE),
            0.0,
            1.0,
            false,
        )?,
        reminder_response_mean: from_hours(
            cx.range(
                "customers.reminder_response_hours",
                cs.reminder_response_hours
                    .unwrap_or(defaults::REMINDER_RESPONSE_HOURS),
                0.0,
                24.0 * 365.0,
                false,
            )?,
        ),
    };

    let tiers = Tier::ALL.map(|t| {
        let spec = raw.tiers.get(t);
        let (lead_default, timeout_default) = defaults::tier(t);
        let lead = cx.dist(
            &format!("tiers.{t}.lead_time"),
            spec.and_then(|s| s.lead_time.as_ref())
                .unwrap_or(&lead_default),
        )?;
        let timeout = cx.range(
            &format!("tiers.{t}.reservation_timeout_hours"),
            spec.and_then(|s| s.reservation_timeout_hours)
                .unwrap_or(timeout_default),
            0.0,
            24.0 * 365.0,
            true,
        )?;
        Ok(TierRules {
            lead_time: lead,
            reservation_timeout: from_hours(timeout),
        })
    });
    let tiers = collect_array(tiers)?;

    let (tier_cdf, size_cdf, profiles) = compile_demand(&cx, &raw.demand)?;
    let rs = &raw.returns;
    let returns = Returns {
        share_of_orders: cx.range(
            "returns.share_of_orders",
            rs.share_of_orders.unwrap_or(0.0),
            0.0,
            10.0,
            false,
        )?,
        lag_days: cx
            .range(
                "returns.lag_days",
                rs.lag_days.unwrap_or(14.0),
                0.0,
                365.0,
                false,
            )?
            .round() as i64,
        size_cdf: match &rs.size_mix {
            None => size_cdf,
            Some(m) => mix(
                &cx,
                "returns.size_mix",
                Some(m),
                Size::ALL.map(Size::name),
                defaults::SIZE_MIX,
            )?,
        },
    };
    let mut collection_times = Vec::new();
    for (i, t) in raw.routes.collection_times.iter().flatten().enumerate() {
        let at = crate::domain::hours::parse_clock(t).ok_or_else(|| {
            cx.err(
                format!("routes.collection_times[{i}]"),
                format!("expected a time of day as HH:MM, got `{t}`"),
            )
        })?;
        collection_times.push(at);
    }
    collection_times.sort_unstable();
    collection_times.dedup();
    let dwell = compile_dwell(&cx, &raw.dwell)?;
    raw.policy
        .validate()
        .map_err(|(field, msg)| cx.err(format!("policy.{field}"), msg))?;
    if raw.policy.reads_dwell_model() && raw.forecast.model.is_none() {
        return Err(cx.err(
            "policy.kind",
            "`forecast` and `optimized` read a dwell model: set `[forecast] model` to a directory \
             written by `lockerlab forecast train`",
        ));
    }
    let default_opd = cx.range(
        "demand.orders_per_day",
        raw.demand
            .orders_per_day
            .unwrap_or(defaults::ORDERS_PER_DAY),
        0.0,
        1e6,
        false,
    )?;
    let scales = Scales {
        demand: cx.range(
            "demand.scale",
            raw.demand.scale.unwrap_or(1.0),
            0.0,
            1000.0,
            true,
        )?,
        capacity: cx.range(
            "capacity.scale",
            raw.capacity.scale.unwrap_or(1.0),
            0.0,
            1000.0,
            true,
        )?,
    };
    let locations = compile_locations(&cx, &raw.locations, default_opd, scales)?;
    let ac = &raw.access;
    let max_wrong_codes = ac.max_wrong_codes.unwrap_or(defaults::MAX_WRONG_CODES);
    if !(1..=100).contains(&max_wrong_codes) {
        return Err(cx.err(
            "access.max_wrong_codes",
            format!("must be in [1, 100], got {max_wrong_codes}"),
        ));
    }
    let lockout_minutes = cx.range(
        "access.lockout_minutes",
        ac.lockout_minutes.unwrap_or(defaults::LOCKOUT_MINUTES),
        0.0,
        10080.0,
        false,
    )?;
    let access = AccessRules {
        mistype_share: cx.range(
            "access.mistype_share",
            ac.mistype_share.unwrap_or(defaults::MISTYPE_SHARE),
            0.0,
            1.0,
            false,
        )?,
        qr_share: cx.range(
            "access.qr_share",
            ac.qr_share.unwrap_or(defaults::QR_SHARE),
            0.0,
            1.0,
            false,
        )?,
        controller: ControllerConfig {
            max_wrong_codes,
            stale_after_ms: from_hours(
                cx.range(
                    "faults.stale_after_hours",
                    raw.faults
                        .stale_after_hours
                        .unwrap_or(defaults::STALE_AFTER_HOURS),
                    0.0,
                    24.0 * 365.0,
                    false,
                )?,
            ),
            lockout_ms: from_hours(lockout_minutes / 60.0),
            max_lockout_ms: from_hours(
                cx.range(
                    "access.max_lockout_minutes",
                    ac.max_lockout_minutes
                        .unwrap_or(defaults::MAX_LOCKOUT_MINUTES.max(lockout_minutes)),
                    lockout_minutes,
                    10080.0,
                    false,
                )? / 60.0,
            ),
            // Simulated people close the doors they open at once.
            ..ControllerConfig::default()
        },
    };

    let pickup_hours = {
        let mut h = [None; LocationKind::COUNT];
        for (kind, hours) in &raw.pickup_hours {
            h[kind.index()] = Some(*hours);
        }
        // Customers who can never come while the locker is open would
        // be silently overruled by the locker's hours.
        for (i, l) in locations.iter().enumerate() {
            if let Some(p) = h[l.kind.index()].filter(|p| !p.overlaps(&l.hours)) {
                return Err(cx.err(
                    format!("pickup_hours.{}", l.kind.name()),
                    format!(
                        "never overlaps the opening hours of locations[{i}] (`{}`): \
                         customers would never come while it is open ({p} vs {})",
                        l.id, l.hours
                    ),
                ));
            }
        }
        h
    };
    Ok(Scenario {
        name: raw.name.clone().unwrap_or_else(|| {
            std::path::Path::new(file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| file.to_string())
        }),
        source: file.to_string(),
        seed: sim.seed.unwrap_or(defaults::SEED),
        horizon: (horizon_days * DAY as f64).round() as Millis,
        warmup: (warmup_days * DAY as f64).round() as Millis,
        calendar,
        replications,
        pickup_window: from_hours(window_h),
        reminder_before_expiry: from_hours(reminder_h),
        retrieval_delay,
        customers,
        returns,
        collection_times,
        tiers,
        tier_cdf,
        size_cdf,
        profiles,
        seasons,
        dwell,
        policy: raw.policy,
        access,
        faults: compile_faults(&cx, &raw.faults)?,
        kiosk: Kiosk {
            dropoff: from_hours(
                cx.range(
                    "kiosk.dropoff_seconds",
                    raw.kiosk.dropoff_seconds.unwrap_or(0.0),
                    0.0,
                    3600.0,
                    false,
                )? / 3600.0,
            ),
            pickup: from_hours(
                cx.range(
                    "kiosk.pickup_seconds",
                    raw.kiosk.pickup_seconds.unwrap_or(0.0),
                    0.0,
                    3600.0,
                    false,
                )? / 3600.0,
            ),
        },
        discovery: match &raw.discovery {
            None => None,
            Some(d) => Some(Discovery {
                radius_km: cx.range(
                    "discovery.radius_km",
                    d.radius_km.unwrap_or(defaults::DISCOVERY_RADIUS_KM),
                    0.0,
                    1000.0,
                    false,
                )?,
                hide_below_free_share: cx.range(
                    "discovery.hide_below_free_share",
                    d.hide_below_free_share.unwrap_or(0.0),
                    0.0,
                    1.0,
                    false,
                )?,
            }),
        },
        fallback_radius_km: cx.range(
            "fallback.radius_km",
            raw.fallback.radius_km.unwrap_or(0.0),
            0.0,
            1000.0,
            false,
        )?,
        locations,
        pickup_hours,
        demand_history: raw.demand.history.as_ref().map(|p| HistoryDemand {
            path: relative_to(file, p),
            dwell: raw.demand.history_dwell.unwrap_or_default(),
        }),
        trace: None,
        forecast: match &raw.forecast.model {
            None => None,
            Some(dir) => Some(Arc::new(
                DwellModel::load(&relative_to(file, dir))
                    .map_err(|e| cx.err("forecast.model", e.to_string()))?,
            )),
        },
        demand_forecast: match &raw.forecast.demand_model {
            None => None,
            Some(dir) => Some(Arc::new(
                DemandModel::load(&relative_to(file, dir))
                    .map_err(|e| cx.err("forecast.demand_model", e.to_string()))?,
            )),
        },
    })
}

/// A path written in a scenario file is relative to that file's directory.
fn relative_to(scenario_file: &str, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match Path::new(scenario_file).parent() {
        Some(dir) => dir.join(p),
        None => p.to_path_buf(),
    }
}

fn collect_array<T, const N: usize>(
    items: [Result<T, ScenarioError>; N],
) -> Result<[T; N], ScenarioError> {
    let v: Vec<T> = items.into_iter().collect::<Result<_, _>>()?;
    Ok(v.try_into().unwrap_or_else(|_| unreachable!("length is N")))
}

/// Relative weights keyed by name → cumulative shares in `names` order.
fn mix<const N: usize>(
    cx: &Ctx,
    path: &str,
    given: Option<&BTreeMap<String, f64>>,
    names: [&str; N],
    default: [f64; N],
) -> Result<[f64; N], ScenarioError> {
    let mut w = default;
    if let Some(map) = given {
        w = [0.0; N];
        for (key, &v) in map {
            let i = names.iter().position(|n| n == key).ok_or_else(|| {
                cx.err(
                    format!("{path}.{key}"),
                    format!("unknown key; expected one of {}", names.join(", ")),
                )
            })?;
            w[i] = cx.range(&format!("{path}.{key}"), v, 0.0, 1e9, false)?;
        }
    }
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return Err(cx.err(path, "weights must not all be zero"));
    }
    let mut acc = 0.0;
    let mut cdf = w.map(|x| {
        acc += x / total;
        acc
    });
    cdf[N - 1] = 1.0;
    Ok(cdf)
}

type Demand = ([f64; 4], [f64; 4], [[f64; 168]; LocationKind::COUNT]);

fn compile_demand(cx: &Ctx, d: &DemandSection) -> Result<Demand, ScenarioError> {
    let tier_names = Tier::ALL.map(Tier::name);
    let size_names = Size::ALL.map(Size::name);
    let tier_cdf = mix(
        cx,
        "demand.tier_mix",
        d.tier_mix.as_ref(),
        tier_names,
        defaults::TIER_MIX,
    )?;
    let size_cdf = mix(
        cx,
        "demand.size_mix",
        d.size_mix.as_ref(),
        size_names,
        defaults::SIZE_MIX,
    )?;
    for key in d.profiles.keys() {
        if !LocationKind::ALL.iter().any(|k| k.name() == key) {
            let kinds: Vec<&str> = LocationKind::ALL.iter().map(|k| k.name()).collect();
            return Err(cx.err(
                format!("demand.profiles.{key}"),
                format!(
                    "unknown location kind; expected one of {}",
                    kinds.join(", ")
                ),
            ));
        }
    }
    let mut profiles = [[0.0; 168]; LocationKind::COUNT];
    for kind in LocationKind::ALL {
        let spec = d.profiles.get(kind.name());
        let path = format!("demand.profiles.{kind}");
        let hourly = weights::<24>(
            cx,
            &format!("{path}.hourly"),
            spec.and_then(|s| s.hourly.as_deref()),
            defaults::hourly(kind),
        )?;
        let weekly = weights::<7>(
            cx,
            &format!("{path}.weekly"),
            spec.and_then(|s| s.weekly.as_deref()),
            defaults::weekly(kind),
        )?;
        let hsum: f64 = hourly.iter().sum();
        let wmean: f64 = weekly.iter().sum::<f64>() / 7.0;
        for (h, slot) in profiles[kind.index()].iter_mut().enumerate() {
            *slot = hourly[h % 24] / hsum * weekly[h / 24] / wmean;
        }
    }
    Ok((tier_cdf, size_cdf, profiles))
}

fn weights<const N: usize>(
    cx: &Ctx,
    path: &str,
    given: Option<&[f64]>,
    default: [f64; N],
) -> Result<[f64; N], ScenarioError> {
    let Some(v) = given else { return Ok(default) };
    if v.len() != N {
        return Err(cx.err(path, format!("needs exactly {N} weights, got {}", v.len())));
    }
    let mut out = [0.0; N];
    for (i, &x) in v.iter().enumerate() {
        out[i] = cx.range(&format!("{path}[{i}]"), x, 0.0, 1e9, false)?;
    }
    if out.iter().sum::<f64>() <= 0.0 {
        return Err(cx.err(path, "weights must not all be zero"));
    }
    Ok(out)
}

fn compile_dwell(
    cx: &Ctx,
    rules: &[DwellRule],
) -> Result<[[Dist; Tier::COUNT]; LocationKind::COUNT], ScenarioError> {
    let mut seen = HashSet::new();
    let mut compiled = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        if !seen.insert((rule.tier, rule.kind)) {
            return Err(cx.err(
                format!("dwell[{i}]"),
                "duplicate rule: another rule already has the same tier and kind",
            ));
        }
        compiled.push((
            rule.tier,
            rule.kind,
            cx.dist(&format!("dwell[{i}]"), &rule.spec())?,
        ));
    }
    let table = LocationKind::ALL.map(|kind| {
        Tier::ALL.map(|tier| {
            // Most specific wins: tier+kind, then tier, then kind, then catch-all.
            let score = |t: Option<Tier>, k: Option<LocationKind>| -> Option<u8> {
                let tier_ok = t.is_none_or(|t| t == tier);
                let kind_ok = k.is_none_or(|k| k == kind);
                (tier_ok && kind_ok).then_some(2 * t.is_some() as u8 + k.is_some() as u8)
            };
            compiled
                .iter()
                .filter_map(|(t, k, d)| score(*t, *k).map(|s| (s, d)))
                .max_by_key(|(s, _)| *s)
                .map(|(_, d)| d.clone())
                .unwrap_or_else(|| {
                    defaults::dwell(tier, kind)
                        .compile()
                        .expect("defaults are valid")
                })
        })
    });
    Ok(table)
}

/// `demand.scale` and `capacity.scale`: multipliers over every location.
#[derive(Clone, Copy)]
struct Scales {
    demand: f64,
    capacity: f64,
}

fn compile_locations(
    cx: &Ctx,
    specs: &[LocationSpec],
    default_opd: f64,
    scales: Scales,
) -> Result<Vec<Location>, ScenarioError> {
    if specs.is_empty() {
        return Err(cx.err("locations", "at least one [[locations]] entry is required"));
    }
    let mut ids = HashSet::new();
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let path = format!("locations[{i}]");
            if s.id.trim().is_empty() {
                return Err(cx.err(format!("{path}.id"), "must not be empty"));
            }
            if !ids.insert(s.id.as_str()) {
                return Err(cx.err(
                    format!("{path}.id"),
                    format!("duplicate location id `{}`", s.id),
                ));
            }
            let lat = cx.range(
                &format!("{path}.lat"),
                s.lat.unwrap_or(0.0),
                -90.0,
                90.0,
                false,
            )?;
            let lon = cx.range(
                &format!("{path}.lon"),
                s.lon.unwrap_or(0.0),
                -180.0,
                180.0,
                false,
            )?;
            let mut compartments = [0u32; Size::COUNT];
            for (key, &n) in &s.compartments {
                let k = Size::ALL
                    .iter()
                    .position(|z| z.name() == key)
                    .ok_or_else(|| {
                        cx.err(
                            format!("{path}.compartments.{key}"),
                            "unknown size; expected one of S, M, L, XL",
                        )
                    })?;
                if !(0..=10_000).contains(&n) {
                    return Err(cx.err(
                        format!("{path}.compartments.{key}"),
                        format!("must be in [0, 10000], got {n}"),
                    ));
                }
                compartments[k] = (n as f64 * scales.capacity).round() as u32;
                if compartments[k] > 10_000 {
                    return Err(cx.err(
                        format!("{path}.compartments.{key}"),
                        format!(
                            "{n} × capacity.scale {} = {} compartments; at most 10000",
                            scales.capacity, compartments[k]
                        ),
                    ));
                }
            }
            if compartments.iter().sum::<u32>() == 0 {
                let scaled = if scales.capacity == 1.0 {
                    String::new()
                } else {
                    format!(" (after capacity.scale = {})", scales.capacity)
                };
                return Err(cx.err(
                    format!("{path}.compartments"),
                    format!("a location needs at least one compartment{scaled}"),
                ));
            }
            let orders_per_day = cx.range(
                &format!("{path}.orders_per_day"),
                s.orders_per_day.unwrap_or(default_opd) * scales.demand,
                0.0,
                1e6,
                false,
            )?;
            Ok(Location {
                id: s.id.clone(),
                kind: s.kind,
                lat,
                lon,
                hours: s.hours.unwrap_or(OpeningHours::ALWAYS),
                compartments,
                orders_per_day,
                policy: None,
            })
        })
        .collect()
}

/// Six minutes: no controller scans its sensors more often.
const MIN_RECONCILIATION_INTERVAL_HOURS: f64 = 0.1;

fn compile_faults(cx: &Ctx, f: &super::schema::FaultsSection) -> Result<Faults, ScenarioError> {
    let p = |path: &str, v: Option<f64>| cx.range(path, v.unwrap_or(0.0), 0.0, 1.0, false);
    let rate = |path: &str, v: Option<f64>| cx.range(path, v.unwrap_or(0.0), 0.0, 1000.0, false);
    let dist =
        |path: &str, v: &Option<DistSpec>, d: DistSpec| cx.dist(path, v.as_ref().unwrap_or(&d));
    Ok(Faults {
        door_jam_probability: p("faults.door_jam_probability", f.door_jam_probability)?,
        repair_time: dist(
            "faults.repair_time",
            &f.repair_time,
            defaults::repair_time(),
        )?,
        forgotten_item_probability: p(
            "faults.forgotten_item_probability",
            f.forgotten_item_probability,
        )?,
        wrong_compartment_probability: p(
            "faults.wrong_compartment_probability",
            f.wrong_compartment_probability,
        )?,
        reconciliation_interval: from_hours(
            cx.range(
                "faults.reconciliation_interval_hours",
                f.reconciliation_interval_hours
                    .unwrap_or(defaults::RECONCILIATION_INTERVAL_HOURS),
                // A scan every few milliseconds would never let a run end.
                MIN_RECONCILIATION_INTERVAL_HOURS,
                24.0 * 365.0,
                false,
            )?,
        ),
        ops_clear_time: dist(
            "faults.ops_clear_time",
            &f.ops_clear_time,
            defaults::ops_clear_time(),
        )?,
        size_mismatch_probability: p(
            "faults.size_mismatch_probability",
            f.size_mismatch_probability,
        )?,
        screen_failures_per_day: rate("faults.screen_failures_per_day", f.screen_failures_per_day)?,
        screen_repair_time: dist(
            "faults.screen_repair_time",
            &f.screen_repair_time,
            defaults::screen_repair_time(),
        )?,
        app_unlock_success_share: cx.range(
            "faults.app_unlock_success_share",
            f.app_unlock_success_share
                .unwrap_or(defaults::APP_UNLOCK_SUCCESS_SHARE),
            0.0,
            1.0,
            false,
        )?,
        network_outages_per_day: rate("faults.network_outages_per_day", f.network_outages_per_day)?,
        network_outage_duration: dist(
            "faults.network_outage_duration",
            &f.network_outage_duration,
            defaults::network_outage_duration(),
        )?,
        power_outages_per_day: rate("faults.power_outages_per_day", f.power_outages_per_day)?,
        power_outage_duration: dist(
            "faults.power_outage_duration",
            &f.power_outage_duration,
            defaults::power_outage_duration(),
        )?,
        stale_after: from_hours(cx.range(
            "faults.stale_after_hours",
            f.stale_after_hours.unwrap_or(defaults::STALE_AFTER_HOURS),
            0.0,
            24.0 * 365.0,
            false,
        )?),
    })
}

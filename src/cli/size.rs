//! `lockerlab size SCENARIO --min-acceptance A --max-broken-promise-rate B`:
//! the fewest compartments per location for a service level.

use super::run_args::{Format, RunArgs};
use super::{CmdResult, Failure};
use lockerlab::domain::Size;
use lockerlab::metrics::display::{self, Align, Table};
use lockerlab::metrics::Summary;
use lockerlab::records::{Cell, Records};
use lockerlab::sizing::{self, SizeOptions, Target};
use std::path::PathBuf;

/// The fewest compartments each location needs for acceptance ≥ A at a
/// broken-promise rate ≤ B: bisection on each location's compartments
/// (its size mix kept), all locations at once, then the chosen layout run
/// together on fresh seeds.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab size scenarios/city.toml --policy snapshot --min-acceptance 0.9 --max-broken-promise-rate 0.01\n  lockerlab size scenarios/faulty-city.toml --min-acceptance 0.8 --max-broken-promise-rate 0.02 --format csv > sizes.csv"
)]
pub struct Args {
    /// Scenario TOML file; without one, the built-in city network.
    scenario: Option<PathBuf>,
    /// Acceptance rate every location must reach: the lower end of its 95%
    /// interval over the replications.
    #[arg(long, value_name = "A", value_parser = unit_interval)]
    min_acceptance: f64,
    /// Broken-promise rate no location may exceed: the upper end of its 95%
    /// interval.
    #[arg(long, value_name = "B", value_parser = unit_interval)]
    max_broken_promise_rate: f64,
    /// The largest multiple of a location's compartments tried.
    #[arg(long, default_value_t = 4.0, value_name = "X", value_parser = max_scale)]
    max_scale: f64,
    /// Bisection steps (each halves every location's interval).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=30))]
    steps: u32,
    #[command(flatten)]
    policy: super::PolicyOpts,
    #[command(flatten)]
    run: RunArgs,
}

fn unit_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("expected a number, got `{s}`"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be in [0, 1], got {v}"))
    }
}

fn max_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("expected a number, got `{s}`"))?;
    if v > 0.0 && v <= 100.0 {
        Ok(v)
    } else {
        Err(format!("must be in (0, 100], got {v}"))
    }
}

pub fn run(args: Args) -> CmdResult {
    let mut sc = super::load_scenario(args.scenario.as_deref(), &Default::default())?;
    super::apply_policy(&mut sc, &args.policy)?;
    let opts = SizeOptions {
        seed: args.run.seed(&sc),
        replications: args.run.paired_replications(&sc, "size")?,
        target: Target {
            min_acceptance: args.min_acceptance,
            max_broken_promise_rate: args.max_broken_promise_rate,
        },
        max_scale: args.max_scale,
        steps: args.steps,
    };
    let pool = args.run.pool()?;
    let bar = super::progress::bar(args.run.quiet, args.steps as u64 + 2, "runs");
    let result = pool
        .install(|| sizing::size(&sc, &opts, &|| bar.inc(1)))
        .map_err(|e| Failure::Internal(e.into()))?;
    bar.finish_and_clear();

    let metric = |s: &Summary, m: &str| s.get(m).unwrap_or(f64::NAN);
    let mut records = Records::new([
        "location",
        "kind",
        "compartments",
        "needed",
        "needed_s",
        "needed_m",
        "needed_l",
        "needed_xl",
        "scale",
        "reachable",
        "acceptance_rate",
        "acceptance_rate_ci95",
        "broken_promise_rate",
        "broken_promise_rate_ci95",
        "met",
    ]);
    for (i, (loc, size)) in sc.locations.iter().zip(&result.locations).enumerate() {
        let (v, h) = &result.validation[i];
        let mut row: Vec<Cell> = vec![
            loc.id.as_str().into(),
            loc.kind.name().into(),
            loc.compartments.iter().sum::<u32>().into(),
            size.compartments.iter().sum::<u32>().into(),
        ];
        row.extend(size.compartments.iter().map(|&n| Cell::from(n)));
        row.extend([
            Cell::from(size.scale),
            size.reachable.into(),
            metric(v, "acceptance_rate").into(),
            metric(h, "acceptance_rate").into(),
            metric(v, "broken_promise_rate").into(),
            metric(h, "broken_promise_rate").into(),
            (size.reachable && opts.target.met_on_average(v)).into(),
        ]);
        records.push(row);
    }
    let text = match args.run.format {
        Format::Csv => {
            let mut out = Vec::new();
            records.write_csv(&mut out).map_err(Failure::Internal)?;
            String::from_utf8(out).expect("CSV is UTF-8")
        }
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&records.to_json()).expect("JSON values")
        ),
        Format::Table => table(&sc, &result, &opts),
    };
    print!("{text}");
    Ok(())
}

fn ci(mean: &Summary, half: &Summary, m: &str) -> String {
    let get = |s: &Summary| s.get(m).unwrap_or(f64::NAN);
    display::mean_ci(get(mean), get(half))
}

fn table(sc: &lockerlab::scenario::Scenario, r: &sizing::Sizing, o: &SizeOptions) -> String {
    let now: u32 = sc.locations.iter().flat_map(|l| l.compartments).sum();
    let needed: u32 = r.locations.iter().flat_map(|l| l.compartments).sum();
    let mut text = format!(
        "scenario {}  {} locations  seed {}  replications {}\n\
         target at every location, with 95% confidence: acceptance >= {} and broken_promise_rate <= {}\n\n",
        sc.name,
        sc.locations.len(),
        o.seed,
        o.replications,
        o.target.min_acceptance,
        o.target.max_broken_promise_rate
    );
    let mut t = Table::new(&[
        ("location", Align::Left),
        ("kind", Align::Left),
        ("now", Align::Right),
        ("needed", Align::Right),
        ("S/M/L/XL", Align::Right),
        ("acceptance", Align::Right),
        ("broken promises", Align::Right),
        ("", Align::Left),
    ]);
    let mut missed = 0;
    for (i, (loc, size)) in sc.locations.iter().zip(&r.locations).enumerate() {
        let (v, h) = &r.validation[i];
        let met = size.reachable && o.target.met_on_average(v);
        missed += !met as usize;
        t.row(vec![
            loc.id.clone(),
            loc.kind.name().to_string(),
            loc.compartments.iter().sum::<u32>().to_string(),
            size.compartments.iter().sum::<u32>().to_string(),
            Size::ALL
                .iter()
                .map(|s| size.compartments[s.index()].to_string())
                .collect::<Vec<_>>()
                .join("/"),
            ci(v, h, "acceptance_rate"),
            ci(v, h, "broken_promise_rate"),
            match (size.reachable, met) {
                (false, _) => format!("out of reach at x{}", o.max_scale),
                (true, false) => "missed in validation".into(),
                (true, true) => String::new(),
            },
        ]);
    }
    text.push_str(&t.render(0));
    let (mean, half) = Summary::across(&r.validation_totals);
    let of = |m: &str| {
        let i = lockerlab::metrics::METRIC_NAMES
            .iter()
            .position(|n| *n == m)
            .expect("a metric");
        display::mean_ci(mean.values[i], half.values[i])
    };
    text.push_str(&format!(
        "\ncompartments: {now} now, {needed} needed ({:+.1}%)\n\
         validation (seed {}, {} replications), network: acceptance_rate {}, broken_promise_rate {}, utilization {}\n\
         {missed} of {} locations missed the target in validation (on its means)\n{}",
        (needed as f64 / now.max(1) as f64 - 1.0) * 100.0,
        r.validation_seed,
        r.validation_totals.len(),
        of("acceptance_rate"),
        of("broken_promise_rate"),
        of("utilization"),
        sc.locations.len(),
        if r.locations.iter().any(|l| !l.reachable) {
            format!(
                "out of reach: more compartments did not lift acceptance enough at x{} — the \
                 policy's shares, lead times or opening hours cap it (try --policy snapshot, or \
                 a tuned partition from `lockerlab tune`)\n",
                o.max_scale
            )
        } else {
            String::new()
        }
    ));
    text
}

//! `lockerlab serve`: the regional capacity service on an MQTT broker.

use super::{CmdResult, Failure};
use anyhow::anyhow;
use lockerlab::access::keys::{region_fingerprint, DEV_REGION_SECRET};
use lockerlab::mqtt::http::serve_metrics;
use lockerlab::mqtt::{BrokerUrl, Clock, Credentials, Endpoint};
use lockerlab::protocol::Topics;
use lockerlab::scenario::Scenario;
use lockerlab::serve::journal::{Identity, Journal};
use lockerlab::serve::metrics::ServeMetrics;
use lockerlab::serve::{self, Gateway, ServeOptions};
use lockerlab::service::{CodeSeed, Service, ServiceConfig};
use lockerlab::time::{parse_timezone, Calendar};
use std::path::PathBuf;
use std::sync::Arc;

/// Run the capacity service: answer reservation requests with an exported
/// policy, push reservations and pickup credentials to lockers, expire
/// packages on the service's clock, stop offering lockers that went offline.
/// Topics and payloads: docs/protocol.md. Runs until interrupted.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab serve --broker mqtt://127.0.0.1:1883 --scenario scenarios/live.toml --insecure-dev-secret\n  lockerlab serve --broker mqtts://broker:8883 --scenario scenarios/live.toml --policy policies/city-forecast.json \\\n      --secret-file /etc/lockerlab/region.key --tls-ca /etc/lockerlab/ca.pem --tls-cert /etc/lockerlab/serve.pem \\\n      --tls-key /etc/lockerlab/serve.key --metrics-addr 127.0.0.1:9100 --log-format json"
)]
pub struct Args {
    /// The policy (default: the scenario's) and the dwell model the
    /// forecast policy reads; a policy file's overrides apply to the
    /// scenario's lockers of those ids.
    #[command(flatten)]
    policy: super::PolicyOpts,
    /// The broker: mqtts://HOST:PORT (TLS, port 8883 by default), or
    /// mqtt://HOST:PORT on this machine (elsewhere only with
    /// --insecure-plaintext).
    #[arg(long)]
    broker: String,
    #[command(flatten)]
    tls: lockerlab::mqtt::TlsOpts,
    /// Scenario whose lockers the service offers (only those: requests for
    /// others are rejected), with their hours and neighbours, and whose
    /// pickup window, reservation timeouts, discovery, fallback and
    /// staleness rules it applies (default: the built-in city's;
    /// scenarios/live.toml has the repo's Mosquitto lockers L001 and L002).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// The region served: the second level of every topic
    /// (`PREFIX/REGION/...`, docs/protocol.md).
    #[arg(long, default_value = "r1")]
    region: String,
    /// Topic prefix (at most 3 levels).
    #[arg(long, default_value = "lockerlab")]
    prefix: String,
    /// File holding the region secret (64 hex digits) lockers' keys derive
    /// from (`lockerlab keys new` makes one). Required unless
    /// --insecure-dev-secret.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "insecure_dev_secret"
    )]
    secret_file: Option<PathBuf>,
    /// Use the public development secret instead of --secret-file: anyone
    /// can derive every locker's key from it. For demos on one machine.
    #[arg(long, conflicts_with = "secret_file")]
    insecure_dev_secret: bool,
    /// Rotate to --secret-file from this secret: a --store written under
    /// it is replayed, moved to the new secret (its snapshot) and every
    /// live code's credential is re-sent to its locker under the new keys.
    /// Rotate the lockers first (`controller-emu --previous-key-file`);
    /// docs/protocol.md has the steps.
    #[arg(long, value_name = "FILE", requires = "store")]
    previous_secret_file: Option<PathBuf>,
    /// Broker username (with --password-file).
    #[arg(long, default_value = "serve")]
    username: String,
    /// File holding the broker password.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// The service's store (SQLite, created owner-only if missing): every
    /// message and timer it acted on, journaled before it acts, replayed at
    /// start, so a restart keeps every open order, timer, code and command
    /// number. Without it a restart forgets them all.
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// `full` fsyncs every journaled step (survives power loss); `normal`
    /// survives a process crash only.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    durability: String,
    /// With --store: keep the service's state every N journaled steps (once
    /// all of them are published) and drop the steps before it, so a
    /// restart replays at most about N steps and the store stays small. 0
    /// keeps the whole journal.
    #[arg(long, value_name = "N", default_value_t = lockerlab::serve::journal::SNAPSHOT_EVERY,
          value_parser = clap::value_parser!(i64).range(0..=100_000_000))]
    snapshot_every: i64,
    /// Draw pickup codes from a stream of this seed instead of the
    /// operating system's random numbers: anyone who knows it knows every
    /// code. For tests that must replay codes.
    #[arg(long, value_name = "SEED")]
    insecure_code_seed: Option<u64>,
    /// Serve Prometheus metrics (GET /metrics, OpenMetrics text) and a
    /// health check (GET /healthz: 200 while connected and subscribed)
    /// on this address, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
    /// IANA time zone of the lockers ("Europe/Warsaw"): opening hours, the
    /// optimized policy's day and the forecast's weekday and hour are read
    /// in it (default: the scenario's `simulation.timezone`, else UTC).
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
    #[command(flatten)]
    log: super::LogOpts,
}

fn read_trimmed(path: &std::path::Path) -> Result<String, Failure> {
    lockerlab::files::read_text(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| Failure::BadInput(anyhow!("{}: {e}", path.display())))
}

/// What a service store is tied to: everything in the scenario that the
/// service decides by (not where the file was read from), the models by
/// their hashes, where codes come from, and the time zone.
fn store_fingerprint(sc: &Scenario, code_source: &str, timezone: Option<&str>) -> String {
    let models = format!(
        "{:?}|{:?}",
        sc.forecast.as_ref().map(|m| &m.meta.forest_sha256),
        sc.demand_forecast.as_ref().map(|m| &m.meta.trees_sha256)
    );
    let rules = Scenario {
        source: String::new(),
        trace: None,
        forecast: None,
        demand_forecast: None,
        ..sc.clone()
    };
    lockerlab::forecast::model::sha256_hex(
        format!("{rules:?}|{models}|{code_source}|{timezone:?}").as_bytes(),
    )
}

pub fn run(args: Args) -> CmdResult {
    let bad = |m: String| Failure::BadInput(anyhow!(m));
    args.log.init()?;
    let mut sc = super::load_scenario(args.scenario.as_deref(), &super::HistoryOpts::default())?;
    super::apply_policy(&mut sc, &args.policy)?;
    let broker: BrokerUrl = args.broker.parse().map_err(bad)?;
    let topics = Topics::new(&args.prefix, &args.region).map_err(|e| bad(e.to_string()))?;
    let secret = match &args.secret_file {
        Some(f) => super::read_secret(f)?,
        None => {
            tracing::warn!("--insecure-dev-secret: the public development secret (demo only)");
            DEV_REGION_SECRET
        }
    };
    let clock = Clock::real();
    // Pickup codes must not be predictable (a clock is guessable): the code
    // key mixes the secret with 256 bits from the operating system, kept
    // in the store so a replay draws the same codes.
    let fresh = Identity {
        epoch: clock.now().max(1) as u64,
        code_nonce: super::os_key(std::path::Path::new("/dev/urandom"), "pickup codes")?,
    };
    let code_source = match args.insecure_code_seed {
        Some(s) => format!("insecure:{s}"),
        None => "os".into(),
    };
    let previous = match &args.previous_secret_file {
        Some(f) => Some(super::read_secret(f)?),
        None => None,
    };
    if previous == Some(secret) {
        return Err(bad(
            "--previous-secret-file holds the --secret-file's secret: a rotation needs a new one"
                .into(),
        ));
    }
    if previous.is_some() && args.insecure_code_seed.is_some() {
        return Err(bad(
            "--previous-secret-file: a rotation keeps the service's state, which needs codes \
             from the operating system, not --insecure-code-seed"
                .into(),
        ));
    }
    let tz = match &args.timezone {
        Some(name) => parse_timezone(name).map_err(|m| bad(format!("--timezone: {m}")))?,
        None => sc.calendar.timezone(),
    };
    // Holidays are dates, the same on a real clock.
    let calendar =
        Calendar::real_clock(tz, clock.now()).with_closed_days(sc.calendar.closed_days().to_vec());
    let (journal, identity) = match &args.store {
        Some(path) => {
            let config = store_fingerprint(&sc, &code_source, args.timezone.as_deref());
            let (mut j, mut id) = Journal::open(
                path,
                &config,
                &region_fingerprint(&secret),
                previous.as_ref().map(region_fingerprint).as_deref(),
                fresh.clone(),
                args.durability == "full",
            )
            .map_err(bad)?;
            if let (true, Some(old_secret)) = (j.rotating(), previous) {
                let old_codes = CodeSeed::durable(&old_secret, &id.code_nonce);
                let old_cfg = ServiceConfig::live(&sc, &old_secret, &old_codes, calendar.clone());
                let old = Gateway::new(Service::new(old_cfg).map_err(bad)?, topics.clone())
                    .with_epoch(id.epoch);
                let new_codes = CodeSeed::durable(&secret, &fresh.code_nonce);
                let new_cfg = ServiceConfig::live(&sc, &secret, &new_codes, calendar.clone());
                let keys = new_cfg.lockers.into_iter().map(|l| (l.keys, l.codes));
                let fingerprint = region_fingerprint(&secret);
                let r = lockerlab::serve::rotate(
                    &mut j,
                    old,
                    keys,
                    &fingerprint,
                    &fresh.code_nonce,
                    clock.now(),
                )
                .map_err(|e| bad(format!("rotating {}: {e}", path.display())))?;
                tracing::info!(
                    store = %path.display(),
                    replayed = r.replayed,
                    credentials_resent = r.resent,
                    "rotated the store to the new secret; lockers get each live code's credential \
                     under the new keys as they come online"
                );
                id.code_nonce = fresh.code_nonce;
            } else if previous.is_some() {
                tracing::info!("the store is under --secret-file already: nothing to rotate");
            }
            j.set_snapshot_every(args.snapshot_every);
            (Some(j), id)
        }
        None => {
            tracing::warn!("no --store: a restart forgets every open order, timer and code");
            (None, fresh)
        }
    };
    let codes = match args.insecure_code_seed {
        Some(s) => {
            tracing::warn!(
                seed = s,
                "--insecure-code-seed: predictable pickup codes (tests only)"
            );
            CodeSeed::Insecure(s)
        }
        None => CodeSeed::durable(&secret, &identity.code_nonce),
    };
    let local_time = calendar.describe(clock.now());
    let cfg = ServiceConfig::live(&sc, &secret, &codes, calendar);
    // Its first start time: later than any earlier service's, so lockers
    // can tell a new service (numbers start at 1 again) from a replay; a
    // service restarted from its store keeps its epoch and its numbers.
    let service = Gateway::new(Service::new(cfg).map_err(bad)?, topics).with_epoch(identity.epoch);
    let credentials = match &args.password_file {
        Some(f) => Some(Credentials {
            username: args.username.clone(),
            password: read_trimmed(f)?,
        }),
        None => None,
    };
    let broker = Endpoint::new(
        broker,
        credentials,
        &args.tls.files(),
        args.tls.insecure_plaintext,
    )
    .map_err(bad)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    tracing::info!(
        region = %args.region,
        broker = %broker,
        scenario = %sc.name,
        lockers = sc.locations.len(),
        policy = %lockerlab::policy::spec::to_spec(&sc.policy),
        lockers_with_own_policy = sc.policy_overrides(),
        model_forest_sha256 = sc.forecast.as_ref().map(|m| m.meta.forest_sha256.as_str()),
        local_time = %local_time,
        "serving; Ctrl-C stops"
    );
    let metrics = args.metrics_addr.map(|_| {
        Arc::new(ServeMetrics::new(
            &args.region,
            &lockerlab::policy::spec::to_spec(&sc.policy),
        ))
    });
    let service = rt.block_on(async {
        if let (Some(addr), Some(m)) = (args.metrics_addr, &metrics) {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| bad(format!("--metrics-addr {addr}: {e}")))?;
            tracing::info!(metrics = %format!("http://{addr}/metrics"), health = "/healthz", "metrics endpoint");
            tokio::spawn(serve_metrics(listener, m.clone()));
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            lockerlab::mqtt::shutdown::requested().await;
            let _ = stop_tx.send(true);
        });
        let opts = ServeOptions {
            broker,
            clock,
            client_id: format!("lockerlab-serve-{}", args.region),
            progress: None,
            subscribed: None,
            metrics,
            journal,
        };
        serve::serve(service, opts, stop_rx).await.map_err(bad)
    })?;
    let s = service.stats();
    println!(
        "requests {}  accepted {}  rejected {}  reports {} (duplicates {}, implausible {})  \
         codes {}  picked_up {}  expired_returned {}  delivery_failed {}  malformed {}",
        s.requests,
        s.accepted,
        s.rejected,
        s.reports,
        s.duplicate_reports,
        s.implausible_reports,
        s.codes_issued,
        s.picked_up,
        s.expired_returned,
        s.delivery_failed,
        s.malformed
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same scenario read from another path ties to the same store;
    /// another policy does not.
    #[test]
    fn a_store_is_tied_to_the_rules_not_to_the_path_they_were_read_from() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/live.toml");
        let sc = Scenario::from_file(&path).unwrap();
        let mut moved = sc.clone();
        moved.source = "/elsewhere/live.toml".into();
        let print = |sc: &Scenario| store_fingerprint(sc, "os", None);
        assert_eq!(print(&sc), print(&moved));
        let mut other = sc.clone();
        other.pickup_window += 1;
        assert_ne!(print(&sc), print(&other));
        assert_ne!(print(&sc), store_fingerprint(&sc, "insecure:1", None));
    }

    #[test]
    fn without_the_os_random_source_serve_refuses_to_start() {
        let os_key = |p: &str| super::super::os_key(std::path::Path::new(p), "pickup codes");
        let Err(Failure::Internal(e)) = os_key("/no/such/urandom") else {
            panic!("a missing random source must stop serve");
        };
        assert!(e.to_string().contains("refusing to start"), "{e}");
        let draw = || match os_key("/dev/urandom") {
            Ok(s) => s,
            Err(_) => panic!("/dev/urandom is readable here"),
        };
        assert_ne!(draw(), draw(), "two draws of 256 random bits");
    }
}

//! controller-emu: an emulated parcel locker on MQTT. lockerlab's controller
//! core decides; a local SQLite store keeps its journal, outbox, credential
//! cache, reservations and compartment states; the emulated hardware can
//! jam doors and misread sensors. People act on it with JSON lines on
//! stdin (one action per line, one result per line on stdout).

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use lockerlab::access::keys::{locker_master, parse_secret, DEV_REGION_SECRET};
use lockerlab::access::LockerKeys;
use lockerlab::controller::ControllerConfig;
use lockerlab::domain::Size;
use lockerlab::emu::EmuMetrics;
use lockerlab::emu::{Action, Durability, EmuConfig, Emulator, Node, Station};
use lockerlab::mqtt::http::serve_metrics;
use lockerlab::mqtt::logging::{self, LogFormat};
use lockerlab::mqtt::{BrokerUrl, Clock, Credentials, Endpoint, TlsOpts};
use lockerlab::protocol::{check_level, Topics};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, oneshot};

#[derive(Parser)]
#[command(
    name = "controller-emu",
    version,
    about = "An emulated parcel-locker controller speaking lockerlab's MQTT protocol",
    after_help = "Actions, one JSON object per line on stdin (docs/protocol.md):\n  \
        {\"act\":\"sign_in\",\"pass\":\"…\"}  (a staff pass: lockerlab keys pass), {\"act\":\"sign_out\"}\n  \
        {\"act\":\"driver_scan\",\"package\":1001}   then {\"act\":\"put\"}\n  \
        {\"act\":\"keypad\",\"code\":\"123456\"}       then {\"act\":\"take\"}\n  \
        {\"act\":\"ops_retrieve\",\"package\":1001}, {\"act\":\"close\"}, {\"act\":\"reconcile\"}\n  \
        {\"act\":\"jam\",\"compartment\":3}, {\"act\":\"sensor_fault\",\"compartment\":3,\"on\":true}\n  \
        {\"act\":\"repair\",\"compartment\":3}, {\"act\":\"screen\",\"working\":false}\n  \
        {\"act\":\"link\",\"up\":false}, {\"act\":\"status\"}\n\n\
        Exit codes: 0 stopped, 2 bad input, 1 store or runtime error."
)]
struct Args {
    /// This locker's id (one topic level: letters, digits, - and _).
    #[arg(long)]
    locker: String,
    /// The broker: mqtts://HOST:PORT (TLS, port 8883 by default), or
    /// mqtt://HOST:PORT on this machine (elsewhere only with
    /// --insecure-plaintext).
    #[arg(long)]
    broker: String,
    #[command(flatten)]
    tls: TlsOpts,
    /// The SQLite store (created if missing).
    #[arg(long)]
    store: PathBuf,
    /// Compartments per size, JSON: {"S":20,"M":14,"L":6,"XL":2} (the default).
    #[arg(long, value_name = "FILE")]
    layout: Option<PathBuf>,
    #[arg(long, default_value = "r1")]
    region: String,
    /// Topic prefix (at most 3 levels).
    #[arg(long, default_value = "lockerlab")]
    prefix: String,
    /// File holding this locker's 64-hex-digit master key (`lockerlab keys
    /// derive` makes it from the region secret). Required unless
    /// --insecure-dev-secret.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "insecure_dev_secret"
    )]
    key_file: Option<PathBuf>,
    /// During a key rotation: the locker's key being retired (`lockerlab
    /// keys derive` from the old region secret). Codes, QR tokens and staff
    /// passes made under it still open; a store written under it moves to
    /// --key-file, its audit chain recording the move. Restart without it
    /// once the rotation is over.
    #[arg(long, value_name = "FILE")]
    previous_key_file: Option<PathBuf>,
    /// Derive the key from the public development region secret instead of
    /// --key-file: anyone can. For demos on one machine.
    #[arg(long, conflicts_with = "key_file")]
    insecure_dev_secret: bool,
    /// Broker username (default: the locker id when --password-file is set).
    #[arg(long)]
    username: Option<String>,
    /// File holding the broker password.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Seconds between heartbeats on the status topic.
    #[arg(long, default_value_t = 30.0)]
    heartbeat_secs: f64,
    /// `full` fsyncs every commit (survives power loss); `normal` survives
    /// a process crash only.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    durability: String,
    /// Keep the controller's state every N journaled inputs and drop the
    /// journal before it, so a restart replays at most about N inputs and
    /// the store stays small. 0 keeps the whole journal.
    #[arg(long, value_name = "N", default_value_t = lockerlab::emu::SNAPSHOT_EVERY,
          value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    snapshot_every: u64,
    /// Stop when stdin ends (for scripts); otherwise run until interrupted.
    #[arg(long)]
    exit_on_eof: bool,
    /// Serve Prometheus metrics (GET /metrics) and a health check (GET
    /// /healthz: 200 while connected to the broker) on this address, e.g.
    /// 127.0.0.1:9101.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
    /// More log detail on stderr: -v every action and command (debug), -vv
    /// trace. RUST_LOG, when set, replaces this filter.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// `text` for a person, `json` (one object a line) for a log pipeline.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
}

fn layout(path: Option<&PathBuf>) -> anyhow::Result<[u32; Size::COUNT]> {
    let Some(path) = path else {
        return Ok([20, 14, 6, 2]);
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let map: std::collections::BTreeMap<String, u32> =
        serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "{}: {e}: expected {{\"S\":20,\"M\":14,\"L\":6,\"XL\":2}}",
                path.display()
            )
        })?;
    let mut out = [0u32; Size::COUNT];
    for (k, v) in map {
        let size = Size::ALL
            .into_iter()
            .find(|s| s.name() == k)
            .ok_or_else(|| {
                anyhow!(
                    "{}: unknown size `{k}`: expected S, M, L or XL",
                    path.display()
                )
            })?;
        out[size.index()] = v;
    }
    if out.iter().sum::<u32>() == 0 || out.iter().sum::<u32>() > 10_000 {
        bail!("{}: a locker has 1-10000 compartments", path.display());
    }
    Ok(out)
}

fn read_secret_file(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .with_context(|| format!("{}", path.display()))
}

struct Setup {
    station: Station,
    cfg: EmuConfig,
}

fn setup(args: &Args) -> anyhow::Result<Setup> {
    check_level("locker id", &args.locker)?;
    let broker: BrokerUrl = args.broker.parse().map_err(|e: String| anyhow!(e))?;
    let topics = Topics::new(&args.prefix, &args.region)?;
    let layout = layout(args.layout.as_ref())?;
    let master = match &args.key_file {
        Some(f) => parse_secret(&read_secret_file(f)?)
            .ok_or_else(|| anyhow!("{}: expected 64 hex digits", f.display()))?,
        None => {
            tracing::warn!("--insecure-dev-secret: a key anyone can derive (demo only)");
            locker_master(&DEV_REGION_SECRET, &args.locker)
        }
    };
    let mut keys = LockerKeys::from_master(&master);
    if let Some(f) = &args.previous_key_file {
        let old = parse_secret(&read_secret_file(f)?)
            .ok_or_else(|| anyhow!("{}: expected 64 hex digits", f.display()))?;
        if old == master {
            bail!(
                "{}: the previous key is the key itself; a rotation needs a new --key-file",
                f.display()
            );
        }
        keys = keys.with_previous(LockerKeys::from_master(&old));
    }
    let credentials = match &args.password_file {
        Some(f) => Some(Credentials {
            username: args.username.clone().unwrap_or_else(|| args.locker.clone()),
            password: read_secret_file(f)?,
        }),
        None => None,
    };
    let broker = Endpoint::new(
        broker,
        credentials,
        &args.tls.files(),
        args.tls.insecure_plaintext,
    )
    .map_err(|e| anyhow!(e))?;
    if !(args.heartbeat_secs > 0.0 && args.heartbeat_secs <= 3600.0) {
        bail!(
            "--heartbeat-secs must be in (0, 3600], got {}",
            args.heartbeat_secs
        );
    }
    let durability = if args.durability == "full" {
        Durability::Full
    } else {
        Durability::Normal
    };
    let metrics = args
        .metrics_addr
        .map(|_| std::sync::Arc::new(EmuMetrics::new(&args.locker, &args.region)));
    let mut node = Node::open(
        &args.store,
        &args.locker,
        layout,
        keys,
        ControllerConfig::default(),
        topics.clone(),
        durability,
    )?;
    node.set_snapshot_every(args.snapshot_every);
    Ok(Setup {
        station: Station::new(node),
        cfg: EmuConfig {
            broker,
            topics,
            clock: Clock::real(),
            heartbeat_ms: Some((args.heartbeat_secs * 1000.0) as i64),
            reconnect_delay: Duration::from_millis(500),
            progress: None,
            metrics,
        },
    })
}

/// Reads actions from stdin until it ends (then, unless `exit_on_eof`,
/// waits), or until SIGINT or SIGTERM: the locker stops when this returns.
async fn read_stdin(tx: mpsc::Sender<lockerlab::emu::Request>, exit_on_eof: bool) {
    tokio::select! {
        _ = take_actions(&tx) => {
            if !exit_on_eof {
                lockerlab::mqtt::shutdown::requested().await;
            }
        }
        _ = lockerlab::mqtt::shutdown::requested() => {}
    }
}

/// Prints one result line per action read from stdin.
async fn take_actions(tx: &mpsc::Sender<lockerlab::emu::Request>) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut n = 0u64;
    while let Ok(Some(line)) = lines.next_line().await {
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        let action: Action = match serde_json::from_str(&line) {
            Ok(a) => a,
            Err(e) => {
                let msg = format!("stdin line {n}: {e}");
                println!("{}", serde_json::json!({ "error": msg }));
                continue;
            }
        };
        let (rtx, rrx) = oneshot::channel();
        if tx.send((action, Some(rtx))).await.is_err() {
            return;
        }
        if let Ok(result) = rrx.await {
            println!(
                "{}",
                serde_json::to_string(&result).expect("results serialize")
            );
        }
    }
}

/// Why the locker stopped with an error.
enum Stopped {
    /// A bad argument found once running (the metrics address): exit 2.
    BadInput(anyhow::Error),
    /// The store or the runtime failed: exit 1.
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for Stopped {
    fn from(e: anyhow::Error) -> Self {
        Stopped::BadInput(e)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = logging::init(args.verbose, args.log_format) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let Setup { station, cfg } = match setup(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("internal error: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(
        locker = %args.locker,
        region = %args.region,
        broker = %cfg.broker,
        store = %args.store.display(),
        compartments = station.node.controller().locker().compartment_count(),
        "controller-emu starting; actions on stdin, one JSON object a line"
    );
    let result = rt.block_on(async {
        if let (Some(addr), Some(m)) = (args.metrics_addr, &cfg.metrics) {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow!("--metrics-addr {addr}: {e}"))?;
            tracing::info!(metrics = %format!("http://{addr}/metrics"), health = "/healthz", "metrics endpoint");
            tokio::spawn(serve_metrics(listener, m.clone()));
        }
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(read_stdin(tx, args.exit_on_eof));
        Emulator::new(station, cfg)
            .run(rx)
            .await
            .map_err(|e| Stopped::Runtime(e.into()))
    });
    // A read of stdin still blocked in its thread would hold a plain drop
    // of the runtime (and the process) forever after a signal.
    rt.shutdown_background();
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(Stopped::BadInput(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Stopped::Runtime(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

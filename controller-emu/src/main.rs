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
use lockerlab::emu::{Action, Durability, EmuConfig, Emulator, Node, Station};
use lockerlab::mqtt::{BrokerUrl, Clock, Credentials};
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
    /// The broker, mqtt://HOST:PORT.
    #[arg(long)]
    broker: String,
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
    /// File holding this locker's 64-hex-digit master key. Without it the
    /// key is derived from the development region secret (demo only).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
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
    /// Stop when stdin ends (for scripts); otherwise run until interrupted.
    #[arg(long)]
    exit_on_eof: bool,
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
            eprintln!("controller-emu: no --key-file; using the development key (demo only)");
            locker_master(&DEV_REGION_SECRET, &args.locker)
        }
    };
    let credentials = match &args.password_file {
        Some(f) => Some(Credentials {
            username: args.username.clone().unwrap_or_else(|| args.locker.clone()),
            password: read_secret_file(f)?,
        }),
        None => None,
    };
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
    let node = Node::open(
        &args.store,
        &args.locker,
        layout,
        LockerKeys::from_master(&master),
        ControllerConfig::default(),
        topics.clone(),
        durability,
    )?;
    Ok(Setup {
        station: Station::new(node),
        cfg: EmuConfig {
            broker,
            credentials,
            topics,
            clock: Clock::real(),
            heartbeat_ms: Some((args.heartbeat_secs * 1000.0) as i64),
            reconnect_delay: Duration::from_millis(500),
            progress: None,
        },
    })
}

/// Reads actions from stdin; prints one result line per action.
async fn read_stdin(tx: mpsc::Sender<lockerlab::emu::Request>, exit_on_eof: bool) {
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
    if !exit_on_eof {
        // Keep the locker running until it is interrupted.
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
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
    let result = rt.block_on(async {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(read_stdin(tx, args.exit_on_eof));
        Emulator::new(station, cfg).run(rx).await
    });
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

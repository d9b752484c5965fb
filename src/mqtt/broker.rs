//! An MQTT broker inside the process (rumqttd), for `lockerlab demo` and the
//! tests: a fresh machine needs no broker installed.

use super::{BrokerUrl, Endpoint};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Starts a broker on 127.0.0.1 at a free port and waits until it accepts
/// connections. It runs on its own threads until the process exits.
pub fn start_embedded() -> Result<SocketAddr, String> {
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free local port for the embedded broker: {e}"))?;
    start_embedded_at(addr)?;
    Ok(addr)
}

/// `broker` if given, else a new embedded one.
pub fn given_or_embedded(broker: Option<&Endpoint>) -> Result<Endpoint, String> {
    if let Some(b) = broker {
        return Ok(b.clone());
    }
    let addr = start_embedded()?;
    Ok(BrokerUrl::plain(addr.ip().to_string(), addr.port()).into())
}

/// Starts a broker listening on `addr`.
pub fn start_embedded_at(addr: SocketAddr) -> Result<(), String> {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: 64 * 1024,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "v4-embedded".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    // Every field set: RouterConfig's Default is all zeros, which accepts
    // no connections and stores no messages.
    let router = rumqttd::RouterConfig {
        max_connections: 10_000,
        max_outgoing_packet_count: 1_000,
        max_segment_size: 64 * 1024 * 1024,
        max_segment_count: 10,
        custom_segment: None,
        initialized_filters: None,
        shared_subscriptions_strategy: rumqttd::Strategy::RoundRobin,
    };
    let config = rumqttd::Config {
        id: 0,
        router,
        v4: Some(HashMap::from([("v4-embedded".to_string(), server)])),
        v5: None,
        ws: None,
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    };
    std::thread::Builder::new()
        .name("embedded-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                eprintln!("embedded broker stopped: {e}");
            }
        })
        .map_err(|e| format!("cannot start the embedded broker thread: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err(format!(
                "the embedded broker did not listen on {addr} within 10 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

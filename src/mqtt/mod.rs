//! MQTT plumbing shared by `lockerlab serve`, the controller emulator and
//! the demo: broker addresses, client options, a clock that can run fast.

#[cfg(feature = "broker")]
pub mod broker;
mod clock;
pub mod http;
pub mod logging;
mod progress;
pub mod shutdown;
mod tls;

pub use clock::Clock;
pub use progress::Progress;
pub use tls::{certificate_failure, Tls, TlsFiles, TlsOpts};

use rumqttc::{
    AsyncClient, EventLoop, LastWill, MqttOptions, NetworkOptions, QoS, TlsConfiguration, Transport,
};
use std::time::Duration;

/// `mqtt://HOST:PORT` (port defaults to 1883) or `mqtts://HOST:PORT`
/// (TLS; port defaults to 8883).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    /// `mqtts://`: the connection is TLS.
    pub tls: bool,
}

impl BrokerUrl {
    /// A plain-TCP address (the embedded broker's, tests').
    pub fn plain(host: impl Into<String>, port: u16) -> Self {
        BrokerUrl {
            host: host.into(),
            port,
            tls: false,
        }
    }

    /// This machine only: traffic that never leaves it needs no TLS.
    pub fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl std::str::FromStr for BrokerUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let expected = "expected mqtt://HOST:PORT or mqtts://HOST:PORT";
        let (rest, tls, default_port) = if let Some(r) = s.strip_prefix("mqtts://") {
            (r, true, 8883)
        } else if let Some(r) = s.strip_prefix("mqtt://") {
            (r, false, 1883)
        } else {
            return Err(format!("broker `{s}`: {expected}"));
        };
        let rest = rest.trim_end_matches('/');
        // An IPv6 literal keeps its colons inside brackets.
        let port_sep = rest.rfind(':').filter(|&i| !rest[i..].contains(']'));
        let (host, port) = match port_sep {
            Some(i) => {
                let p = &rest[i + 1..];
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| format!("broker `{s}`: port `{p}` is not 1-65535"))?;
                (&rest[..i], port)
            }
            None => (rest, default_port),
        };
        if host.is_empty() || host.contains('/') {
            return Err(format!("broker `{s}`: {expected}"));
        }
        Ok(BrokerUrl {
            host: host.to_string(),
            port,
            tls,
        })
    }
}

impl std::fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// Where and how to connect: the broker, the login, the TLS settings.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: BrokerUrl,
    pub credentials: Option<Credentials>,
    /// Set exactly when `url` is `mqtts://`.
    tls: Option<Tls>,
}

impl Endpoint {
    /// Checks the combination an operator gave: TLS files only with
    /// `mqtts://`, and plain MQTT (passwords and codes in the clear) only
    /// to this machine unless `insecure_plaintext`.
    pub fn new(
        url: BrokerUrl,
        credentials: Option<Credentials>,
        files: &TlsFiles,
        insecure_plaintext: bool,
    ) -> Result<Endpoint, String> {
        let tls = if url.tls {
            Some(Tls::load(files)?)
        } else {
            if !files.is_empty() {
                return Err(format!(
                    "broker `{url}`: --tls-ca, --tls-cert and --tls-key need an mqtts:// broker"
                ));
            }
            if !url.is_loopback() && !insecure_plaintext {
                return Err(format!(
                    "broker `{url}`: plain MQTT would carry passwords and pickup codes in the \
                     clear to another machine; use mqtts://{}:8883 (TLS), or pass \
                     --insecure-plaintext on a network you trust",
                    url.host
                ));
            }
            None
        };
        Ok(Endpoint {
            url,
            credentials,
            tls,
        })
    }
}

impl Endpoint {
    /// The broker of `demo` or `loadtest` (`--broker`): any address, since
    /// their lockers' secrets are the public development ones; no login;
    /// `mqtts://` trusts the system's CAs.
    pub fn for_demo(url: &str) -> Result<Endpoint, String> {
        Endpoint::new(url.parse()?, None, &TlsFiles::default(), true)
    }
}

/// A plain endpoint without a login (the embedded broker, tests).
impl From<BrokerUrl> for Endpoint {
    fn from(url: BrokerUrl) -> Self {
        Endpoint {
            url,
            credentials: None,
            tls: None,
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.url.fmt(f)
    }
}

/// Username and password for brokers that ask for them (Mosquitto with a
/// password file; see docs/protocol.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// The largest packet MQTT can frame (its remaining length is at most
/// 268,435,455 bytes, plus five bytes of fixed header).
pub const MAX_MQTT_PACKET: usize = 268_435_455 + 5;

/// Options for a persistent session (clean session off: the broker keeps
/// the subscriptions and queues QoS 1 messages while the client is away).
pub fn options(client_id: &str, broker: &Endpoint, will: Option<(String, Vec<u8>)>) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, broker.url.host.clone(), broker.url.port);
    if let Some(tls) = &broker.tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            tls.0.clone(),
        )));
    }
    o.set_keep_alive(Duration::from_secs(5));
    o.set_clean_session(false);
    // Take whatever the broker delivers, up to MQTT's own limit: a client
    // that refuses a packet drops the connection without acknowledging it,
    // and the broker redelivers it on reconnect, forever. The codec refuses
    // an oversized payload (`protocol::MAX_PAYLOAD`) and the message is
    // acknowledged like any other; the brokers' configurations keep such
    // packets out in the first place (`max_packet_size`).
    o.set_max_packet_size(MAX_MQTT_PACKET, 64 * 1024);
    o.set_manual_acks(true);
    if let Some(c) = &broker.credentials {
        o.set_credentials(c.username.clone(), c.password.clone());
    }
    if let Some((topic, payload)) = will {
        o.set_last_will(LastWill::new(topic, payload, QoS::AtLeastOnce, true));
    }
    o
}

/// A checkout-style client on `broker`: no session kept between
/// connections (it only asks and listens for answers) and messages
/// acknowledged on receipt.
pub fn clean_client(client_id: &str, broker: &Endpoint, cap: usize) -> (AsyncClient, EventLoop) {
    let mut o = options(client_id, broker, None);
    o.set_clean_session(true);
    o.set_manual_acks(false);
    client(o, cap)
}

/// A client whose socket sends small packets at once (no Nagle delay: a
/// reservation answer is a few hundred bytes and must not wait for an ACK).
pub fn client(options: MqttOptions, cap: usize) -> (AsyncClient, EventLoop) {
    let (client, mut events) = AsyncClient::new(options, cap);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    events.set_network_options(net);
    (client, events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn broker_urls() {
        let u: BrokerUrl = "mqtt://127.0.0.1:1884".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 1884));
        let u: BrokerUrl = "mqtt://broker.local".parse().unwrap();
        assert_eq!((u.port, u.tls), (1883, false));
        let u: BrokerUrl = "mqtts://a1b2-ats.iot.eu-central-1.amazonaws.com"
            .parse()
            .unwrap();
        assert_eq!((u.port, u.tls), (8883, true));
        assert_eq!(
            u.to_string(),
            "mqtts://a1b2-ats.iot.eu-central-1.amazonaws.com:8883"
        );
        let u: BrokerUrl = "mqtts://[::1]:8884".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("[::1]", 8884));
        let u: BrokerUrl = "mqtt://[::1]".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("[::1]", 1883));
        for bad in [
            "mqtts://:8883",
            "ssl://x:8883",
            "tcp://x:1",
            "mqtt://:1883",
            "mqtt://x:0",
            "mqtt://x:99999",
            "x:1",
        ] {
            let e = bad.parse::<BrokerUrl>().unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn plain_mqtt_leaves_this_machine_only_when_told_to() {
        let none = TlsFiles::default();
        for local in [
            "mqtt://127.0.0.1:1883",
            "mqtt://localhost",
            "mqtt://[::1]:1",
        ] {
            let url: BrokerUrl = local.parse().unwrap();
            assert!(url.is_loopback(), "{local}");
            assert!(Endpoint::new(url, None, &none, false).is_ok(), "{local}");
        }
        let remote: BrokerUrl = "mqtt://broker.example:1883".parse().unwrap();
        let e = Endpoint::new(remote.clone(), None, &none, false).unwrap_err();
        assert!(
            e.contains("mqtts://broker.example:8883") && e.contains("--insecure-plaintext"),
            "{e}"
        );
        assert!(Endpoint::new(remote.clone(), None, &none, true).is_ok());
        // TLS files with a plain URL are a mistake, not a silent downgrade.
        let files = TlsFiles {
            ca: Some("ca.pem".into()),
            ..TlsFiles::default()
        };
        let e = Endpoint::new(remote, None, &files, true).unwrap_err();
        assert!(e.contains("need an mqtts://"), "{e}");
    }

    #[test]
    fn tls_files_that_cannot_work_stop_the_start_with_their_name() {
        let dir = std::env::temp_dir().join(format!("lockerlab-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let url: BrokerUrl = "mqtts://127.0.0.1:8883".parse().unwrap();
        let with = |ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>| {
            let files = TlsFiles {
                ca: ca.map(Path::to_path_buf),
                cert: cert.map(Path::to_path_buf),
                key: key.map(Path::to_path_buf),
            };
            Endpoint::new(url.clone(), None, &files, false).unwrap_err()
        };
        let e = with(Some(&junk), None, None);
        assert!(
            e.contains("junk.pem") && e.contains("no certificate"),
            "{e}"
        );
        let missing = dir.join("missing.pem");
        let e = with(Some(&missing), None, None);
        assert!(e.contains("missing.pem"), "{e}");
        let e = with(None, Some(&junk), None);
        assert!(e.contains("--tls-cert needs --tls-key"), "{e}");
        let e = with(None, None, Some(&junk));
        assert!(e.contains("--tls-key needs --tls-cert"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The wait before each reconnection attempt: doubling from `first` up to
/// `max` while the broker stays unreachable, back to `first` once it
/// answers. A dead broker costs a log line every `max`, not five a second.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    attempts: u32,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max: max.max(first),
            attempts: 0,
        }
    }

    /// Counts a failed attempt; the wait before the next.
    pub fn wait(&mut self) -> Duration {
        let wait = self
            .first
            .saturating_mul(1 << self.attempts.min(16))
            .min(self.max);
        self.attempts = self.attempts.saturating_add(1);
        wait
    }

    /// Failed attempts since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Connected: the next failure starts from `first` again.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(10))
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_restart_after_a_connect() {
        let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(1));
        let waits: Vec<u128> = (0..5).map(|_| b.wait().as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1000, 1000]);
        assert_eq!(b.attempts(), 5);
        for _ in 0..100 {
            assert_eq!(b.wait(), Duration::from_secs(1));
        }
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.wait(), Duration::from_millis(200));
    }
}

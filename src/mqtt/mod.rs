//! MQTT plumbing shared by `lockerlab serve`, the controller emulator and
//! the demo: broker addresses, client options, a clock that can run fast.

#[cfg(feature = "broker")]
pub mod broker;
mod clock;
pub mod http;
pub mod logging;
mod progress;

pub use clock::Clock;
pub use progress::Progress;

use rumqttc::{AsyncClient, EventLoop, LastWill, MqttOptions, NetworkOptions, QoS};
use std::time::Duration;

/// `mqtt://HOST:PORT` (port defaults to 1883).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
}

impl std::str::FromStr for BrokerUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s.strip_prefix("mqtt://").ok_or_else(|| {
            format!("broker `{s}`: expected mqtt://HOST:PORT (only plain TCP is supported)")
        })?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => {
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| format!("broker `{s}`: port `{p}` is not 1-65535"))?;
                (h, port)
            }
            None => (rest, 1883),
        };
        if host.is_empty() || host.contains('/') {
            return Err(format!("broker `{s}`: expected mqtt://HOST:PORT"));
        }
        Ok(BrokerUrl {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mqtt://{}:{}", self.host, self.port)
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
pub fn options(
    client_id: &str,
    broker: &BrokerUrl,
    credentials: Option<&Credentials>,
    will: Option<(String, Vec<u8>)>,
) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, broker.host.clone(), broker.port);
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
    if let Some(c) = credentials {
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
pub fn clean_client(client_id: &str, broker: &BrokerUrl, cap: usize) -> (AsyncClient, EventLoop) {
    let mut o = options(client_id, broker, None, None);
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

    #[test]
    fn broker_urls() {
        let u: BrokerUrl = "mqtt://127.0.0.1:1884".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 1884));
        let u: BrokerUrl = "mqtt://broker.local".parse().unwrap();
        assert_eq!(u.port, 1883);
        for bad in [
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

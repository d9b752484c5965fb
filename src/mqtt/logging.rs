//! Logs of the long-running processes (`lockerlab serve`, `controller-emu`):
//! `tracing` events on stderr, as text for a person or JSON lines for a log
//! pipeline. At info: start-up, connection changes with their reasons, a
//! summary a minute; at debug: every request, decision and command.
//! In-process drivers (the demo, the tests) install no subscriber, so the
//! same code is silent there.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `2026-12-01T13:00:00.123Z  INFO connected broker=mqtt://…`
    #[default]
    Text,
    /// One JSON object a line: timestamp, level, message and fields.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("`{s}`: expected `text` or `json`")),
        }
    }
}

/// The filter for `-v` given `verbose` times: our crates at info, debug,
/// then trace; dependencies (the MQTT client) at warn.
pub fn default_filter(verbose: u8) -> String {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    format!("warn,lockerlab={level},controller_emu={level}")
}

/// Installs the process's subscriber. `RUST_LOG`, when set, replaces the
/// filter `-v` chose (the usual `tracing` directives, e.g.
/// `lockerlab::serve=debug`); a malformed one is an error, not a silent
/// default.
pub fn init(verbose: u8, format: LogFormat) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::try_new(&directives).map_err(|e| format!("RUST_LOG=`{directives}`: {e}"))?
        }
        _ => EnvFilter::new(default_filter(verbose)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose > 0);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    installed.map_err(|e| format!("logging: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_verbosity_raises_only_our_crates() {
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("yaml"
            .parse::<LogFormat>()
            .unwrap_err()
            .contains("`text` or `json`"));
        assert_eq!(default_filter(0), "warn,lockerlab=info,controller_emu=info");
        assert!(default_filter(1).contains("lockerlab=debug"));
        assert!(default_filter(5).contains("lockerlab=trace"));
        assert!(default_filter(1).starts_with("warn,"));
    }
}

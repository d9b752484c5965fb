//! The MQTT protocol between lockers, the capacity service and checkout
//! clients: topics, payloads, and a decoder that turns any bytes into either
//! a message or a reason (never a panic). See docs/protocol.md.

mod message;
mod topic;

pub use message::{
    Command, CredentialCmd, DropOffFailed, Envelope, ErrorBody, LinkState, OrderOutcome,
    PackageCmd, RejectReason, Reply, Report, ReserveCmd, ReserveRequest, Status, What,
};
pub use topic::{check_level, CommandKind, Route, Topics, MAX_TOPIC_LEVELS, SERVICE_LEVEL};

use crate::engine::Millis;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub const SCHEMA_VERSION: u32 = 1;
/// Larger payloads are refused before parsing.
pub const MAX_PAYLOAD: usize = 16 * 1024;
const MAX_ID_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    #[error("{what} `{value}`: expected 1-64 letters, digits, `-` or `_`")]
    BadName { what: String, value: String },
    #[error("topic prefix `{prefix}` has {levels} levels; at most {max} leave room for the 7-level topic limit")]
    PrefixTooDeep {
        prefix: String,
        levels: usize,
        max: usize,
    },
    #[error("payload of {0} bytes is larger than the {MAX_PAYLOAD}-byte limit")]
    TooLarge(usize),
    #[error("payload is not UTF-8 JSON: {0}")]
    NotJson(String),
    #[error("unsupported schema version {0}; this build speaks version {SCHEMA_VERSION}")]
    Version(u64),
    #[error("at `{path}`: {message}")]
    Field { path: String, message: String },
    #[error("`id` must be 1-{MAX_ID_LEN} characters")]
    BadId,
    #[error("command id `{0}` is not a sequence number (a decimal integer from 1)")]
    BadSequence(String),
    #[error("`ts` must not be negative (got {0})")]
    BadTimestamp(Millis),
    #[error("`sync` asks for a ledger report; it is not a controller command")]
    NotAnInput,
    #[error("topic says `{topic}` but the body is a `{body}`")]
    KindMismatch { topic: String, body: String },
}

/// Serializes a payload. Cannot fail for this module's types (no maps with
/// non-string keys, no non-finite floats).
pub fn encode<T: Serialize>(id: impl Into<String>, ts: Millis, body: &T) -> Vec<u8> {
    encode_in_epoch(0, id, ts, body)
}

fn encode_in_epoch<T: Serialize>(
    epoch: u64,
    id: impl Into<String>,
    ts: Millis,
    body: &T,
) -> Vec<u8> {
    let env = Envelope {
        v: SCHEMA_VERSION,
        id: id.into(),
        ts,
        epoch,
        body,
    };
    serde_json::to_vec(&env).expect("protocol types always serialize")
}

/// Parses and checks an envelope: size, JSON, version first (so a future
/// version's message is reported as such, not as a bad field), then the body.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<Envelope<T>, ProtocolError> {
    if bytes.len() > MAX_PAYLOAD {
        return Err(ProtocolError::TooLarge(bytes.len()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    match value.get("v").and_then(|v| v.as_u64()) {
        Some(v) if v == SCHEMA_VERSION as u64 => {}
        Some(v) => return Err(ProtocolError::Version(v)),
        None => {
            return Err(ProtocolError::Field {
                path: "v".into(),
                message: format!("missing or not an integer: expected {SCHEMA_VERSION}"),
            })
        }
    }
    let env: Envelope<T> =
        serde_path_to_error::deserialize(value).map_err(|e| ProtocolError::Field {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    if env.id.is_empty() || env.id.len() > MAX_ID_LEN {
        return Err(ProtocolError::BadId);
    }
    if env.ts < 0 {
        return Err(ProtocolError::BadTimestamp(env.ts));
    }
    Ok(env)
}

/// A decoded command, with its service epoch and sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandMsg {
    pub epoch: u64,
    pub seq: u64,
    pub ts: Millis,
    pub command: Command,
}

/// Command `seq` of the service's `epoch`.
pub fn encode_command(epoch: u64, seq: u64, ts: Millis, command: &Command) -> Vec<u8> {
    let id = seq.to_string();
    match command {
        Command::Reserve(b) => encode_in_epoch(epoch, id, ts, b),
        Command::Cancel(b) | Command::Expire(b) => encode_in_epoch(epoch, id, ts, b),
        Command::Credential(b) => encode_in_epoch(epoch, id, ts, b),
        Command::Configure(b) => encode_in_epoch(epoch, id, ts, b),
    }
}

pub fn decode_command(kind: CommandKind, bytes: &[u8]) -> Result<CommandMsg, ProtocolError> {
    fn body<T: DeserializeOwned>(
        bytes: &[u8],
    ) -> Result<(String, (Millis, u64), T), ProtocolError> {
        let e = decode::<T>(bytes)?;
        Ok((e.id, (e.ts, e.epoch), e.body))
    }
    let (id, ts, command) = match kind {
        CommandKind::Reserve => body(bytes).map(|(i, t, b)| (i, t, Command::Reserve(b)))?,
        CommandKind::Cancel => body(bytes).map(|(i, t, b)| (i, t, Command::Cancel(b)))?,
        CommandKind::Credential => body(bytes).map(|(i, t, b)| (i, t, Command::Credential(b)))?,
        CommandKind::Expire => body(bytes).map(|(i, t, b)| (i, t, Command::Expire(b)))?,
        CommandKind::Configure => body(bytes).map(|(i, t, b)| (i, t, Command::Configure(b)))?,
        CommandKind::Sync => return Err(ProtocolError::NotAnInput),
    };
    let seq = parse_seq(&id)?;
    let (ts, epoch) = ts;
    Ok(CommandMsg {
        epoch,
        seq,
        ts,
        command,
    })
}

/// The body of `cmd/sync`: empty. The service sends it to a locker whose
/// ledger it does not know (it learned of the locker from its retained
/// status, e.g. after the service restarted); the locker answers with a
/// ledger report. Its id is `sync`: it is not numbered, since it does not
/// reach the controller core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncCmd {}

pub fn encode_sync(ts: Millis) -> Vec<u8> {
    encode("sync", ts, &SyncCmd {})
}

pub fn decode_sync(bytes: &[u8]) -> Result<Millis, ProtocolError> {
    decode::<SyncCmd>(bytes).map(|e| e.ts)
}

/// Sequence numbers start at 1 (0 means "none" in the replay window).
pub fn parse_seq(id: &str) -> Result<u64, ProtocolError> {
    match id.parse::<u64>() {
        Ok(n) if n > 0 && !id.starts_with('+') => Ok(n),
        _ => Err(ProtocolError::BadSequence(id.chars().take(40).collect())),
    }
}

/// A decoded locker report: outbox sequence number and body.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportMsg {
    pub seq: u64,
    pub ts: Millis,
    pub report: Report,
}

pub fn decode_report(topic_kind: &str, bytes: &[u8]) -> Result<ReportMsg, ProtocolError> {
    let e = decode::<Report>(bytes)?;
    // serde cannot refuse unknown fields beside a flattened enum (an
    // event's kind): the body must say nothing its decoded value does not.
    let sent: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    let decoded =
        serde_json::to_value(&e.body).map_err(|e| ProtocolError::NotJson(e.to_string()))?;
    if let Some(path) = sent
        .get("body")
        .and_then(|b| unknown_field(b, &decoded, "body"))
    {
        return Err(ProtocolError::Field {
            path,
            message: "unknown field".into(),
        });
    }
    e.body
        .view
        .check()
        .map_err(|message| ProtocolError::Field {
            path: "body.view".into(),
            message,
        })?;
    let seq = parse_seq(&e.id)?;
    let body_kind = e.body.what.topic_kind();
    if body_kind != topic_kind {
        return Err(ProtocolError::KindMismatch {
            topic: topic_kind.chars().take(40).collect(),
            body: body_kind.to_string(),
        });
    }
    Ok(ReportMsg {
        seq,
        ts: e.ts,
        report: e.body,
    })
}

/// The first key in `sent` that `decoded` (what it decoded to, serialized
/// again) lacks, as a path; absent options (`null`) are not unknown.
fn unknown_field(
    sent: &serde_json::Value,
    decoded: &serde_json::Value,
    path: &str,
) -> Option<String> {
    use serde_json::Value;
    match (sent, decoded) {
        (Value::Object(s), Value::Object(d)) => s.iter().find_map(|(k, v)| match d.get(k) {
            Some(dv) => unknown_field(v, dv, &format!("{path}.{k}")),
            None if v.is_null() => None,
            None => Some(format!("{path}.{}", k.chars().take(40).collect::<String>())),
        }),
        (Value::Array(s), Value::Array(d)) => s
            .iter()
            .zip(d)
            .enumerate()
            .find_map(|(i, (a, b))| unknown_field(a, b, &format!("{path}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

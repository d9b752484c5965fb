//! MQTT topics. Every topic is `{prefix}/{region}/…`, at most seven levels
//! (AWS IoT Core's limit), so a prefix has at most three levels.

use super::ProtocolError;

pub const MAX_TOPIC_LEVELS: usize = 7;
/// The deepest topics below the prefix: `{region}/{locker}/evt/{kind}`.
const LEVELS_BELOW_PREFIX: usize = 4;
/// The level that addresses the capacity service instead of a locker.
pub const SERVICE_LEVEL: &str = "svc";

/// Service → locker command kinds, the last level of `…/{locker}/cmd/{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    Reserve,
    Cancel,
    Credential,
    Expire,
    Configure,
    /// "Report your ledger": not a controller input, so not numbered.
    Sync,
}

impl CommandKind {
    pub const ALL: [CommandKind; 6] = [
        CommandKind::Reserve,
        CommandKind::Cancel,
        CommandKind::Credential,
        CommandKind::Expire,
        CommandKind::Configure,
        CommandKind::Sync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CommandKind::Reserve => "reserve",
            CommandKind::Cancel => "cancel",
            CommandKind::Credential => "credential",
            CommandKind::Expire => "expire",
            CommandKind::Configure => "configure",
            CommandKind::Sync => "sync",
        }
    }

    pub fn parse(s: &str) -> Option<CommandKind> {
        CommandKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Where a topic leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `{locker}/cmd/{kind}`: service → locker.
    Command { locker: String, kind: CommandKind },
    /// `{locker}/evt/{kind}`: locker → service (events, ledger, errors).
    Report { locker: String, kind: String },
    /// `{locker}/status`: retained; the MQTT will sets it to offline.
    Status { locker: String },
    /// `svc/reserve`: checkout → service reservation requests.
    Reserve,
    /// `svc/dropoff-failed`: a driver's app → service: the package could
    /// not be deposited at the locker it was reserved at.
    DropOffFailed,
    /// `svc/reply/{client}`: service → checkout client answers and notices.
    Reply { client: String },
    /// `svc/error`: the service's answer to a message it could not use.
    ServiceError,
}

/// The topics of one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    region: String,
}

/// A locker id, region or client id is one topic level: letters, digits,
/// `-` and `_`, 1–64 characters (no `/`, `+`, `#` or spaces).
pub fn check_level(what: &str, s: &str) -> Result<(), ProtocolError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::BadName {
            what: what.to_string(),
            value: s.chars().take(80).collect(),
        })
    }
}

impl Topics {
    pub fn new(prefix: &str, region: &str) -> Result<Self, ProtocolError> {
        let levels: Vec<&str> = prefix.split('/').collect();
        if levels.len() + LEVELS_BELOW_PREFIX > MAX_TOPIC_LEVELS {
            return Err(ProtocolError::PrefixTooDeep {
                prefix: prefix.to_string(),
                levels: levels.len(),
                max: MAX_TOPIC_LEVELS - LEVELS_BELOW_PREFIX,
            });
        }
        for l in levels {
            check_level("topic prefix level", l)?;
        }
        check_level("region", region)?;
        Ok(Self {
            prefix: prefix.to_string(),
            region: region.to_string(),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    fn base(&self) -> String {
        format!("{}/{}", self.prefix, self.region)
    }

    pub fn command(&self, locker: &str, kind: CommandKind) -> String {
        format!("{}/{locker}/cmd/{}", self.base(), kind.name())
    }

    pub fn report(&self, locker: &str, kind: &str) -> String {
        format!("{}/{locker}/evt/{kind}", self.base())
    }

    pub fn status(&self, locker: &str) -> String {
        format!("{}/{locker}/status", self.base())
    }

    pub fn reserve(&self) -> String {
        format!("{}/{SERVICE_LEVEL}/reserve", self.base())
    }

    pub fn dropoff_failed(&self) -> String {
        format!("{}/{SERVICE_LEVEL}/dropoff-failed", self.base())
    }

    pub fn reply(&self, client: &str) -> String {
        format!("{}/{SERVICE_LEVEL}/reply/{client}", self.base())
    }

    pub fn service_error(&self) -> String {
        format!("{}/{SERVICE_LEVEL}/error", self.base())
    }

    /// What a locker subscribes to.
    pub fn locker_filter(&self, locker: &str) -> String {
        format!("{}/{locker}/cmd/+", self.base())
    }

    /// What the service subscribes to.
    pub fn service_filters(&self) -> [String; 4] {
        [
            format!("{}/+/evt/+", self.base()),
            format!("{}/+/status", self.base()),
            self.reserve(),
            self.dropoff_failed(),
        ]
    }

    pub fn parse(&self, topic: &str) -> Result<Route, ProtocolError> {
        let unknown = || ProtocolError::UnknownTopic(topic.chars().take(200).collect());
        let rest = topic
            .strip_prefix(&self.base())
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(unknown)?;
        let levels: Vec<&str> = rest.split('/').collect();
        let owned = |s: &str| s.to_string();
        let route = match levels.as_slice() {
            [SERVICE_LEVEL, "reserve"] => Route::Reserve,
            [SERVICE_LEVEL, "dropoff-failed"] => Route::DropOffFailed,
            [SERVICE_LEVEL, "error"] => Route::ServiceError,
            [SERVICE_LEVEL, "reply", client] => {
                check_level("client id", client)?;
                Route::Reply {
                    client: owned(client),
                }
            }
            [SERVICE_LEVEL, ..] => return Err(unknown()),
            [locker, "cmd", kind] => Route::Command {
                locker: owned(locker),
                kind: CommandKind::parse(kind).ok_or_else(unknown)?,
            },
            [locker, "evt", kind] => Route::Report {
                locker: owned(locker),
                kind: owned(kind),
            },
            [locker, "status"] => Route::Status {
                locker: owned(locker),
            },
            _ => return Err(unknown()),
        };
        if let Route::Command { locker, .. }
        | Route::Report { locker, .. }
        | Route::Status { locker } = &route
        {
            check_level("locker id", locker)?;
        }
        Ok(route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_and_stay_within_seven_levels() {
        let t = Topics::new("acme/lockers/eu", "berlin").unwrap();
        let all = [
            t.command("L1", CommandKind::Credential),
            t.report("L1", "picked_up"),
            t.status("L1"),
            t.reserve(),
            t.reply("shop-7"),
            t.service_error(),
            t.dropoff_failed(),
        ];
        for topic in &all {
            assert!(topic.split('/').count() <= MAX_TOPIC_LEVELS, "{topic}");
        }
        assert_eq!(
            t.parse(&all[0]).unwrap(),
            Route::Command {
                locker: "L1".into(),
                kind: CommandKind::Credential
            }
        );
        assert_eq!(
            t.parse(&all[1]).unwrap(),
            Route::Report {
                locker: "L1".into(),
                kind: "picked_up".into()
            }
        );
        assert_eq!(t.parse(&all[3]).unwrap(), Route::Reserve);
        assert_eq!(t.parse(&all[6]).unwrap(), Route::DropOffFailed);
        assert_eq!(
            t.parse(&all[4]).unwrap(),
            Route::Reply {
                client: "shop-7".into()
            }
        );
    }

    #[test]
    fn bad_prefixes_and_topics_are_named() {
        let e = Topics::new("a/b/c/d", "r").unwrap_err().to_string();
        assert!(e.contains("4 levels") && e.contains("at most 3"), "{e}");
        assert!(Topics::new("a/+", "r").is_err());
        assert!(Topics::new("a", "r#").is_err());
        let t = Topics::new("lockerlab", "r1").unwrap();
        assert!(t.parse("lockerlab/r1/L1/cmd/explode").is_err());
        assert!(t.parse("lockerlab/r2/L1/status").is_err());
        assert!(t.parse("lockerlab/r1/L 1/status").is_err());
        assert!(t.parse("lockerlab/r1/svc/other").is_err());
    }
}

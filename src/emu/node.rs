//! The controller core with its store: every input is journaled, its
//! reports queued in the outbox and the mirrors updated in one transaction
//! before anything acts on the outputs (persist before act).

use super::store::{Batch, Durability, JournalEntry, OutboxRow, Store, StoreError};
use crate::access::{AuditChain, CodeHash, LockerKeys};
use crate::controller::{
    Controller, ControllerConfig, ControllerState, Handled, Input, Output, Rejected, Source,
};
use crate::domain::{CompartmentId, CompartmentState, PackageId, Size, Tier};
use crate::engine::Millis;
use crate::protocol::{self, CommandKind, Report, Topics, What};
use std::collections::BTreeMap;
use std::path::Path;

/// What an input did.
#[derive(Debug, Default)]
pub struct Applied {
    pub outputs: Vec<Output>,
    /// The core refused it (state unchanged); reported on `evt/error`.
    pub rejected: Option<String>,
    pub duplicate: bool,
}

type CompartmentRow = (CompartmentState, Option<PackageId>);
type ReservationRow = (Tier, Size, Option<CompartmentId>);
type CredentialRow = (CompartmentId, CodeHash, Millis);

/// The last state written to the mirror tables, to write only changes.
#[derive(Default, PartialEq, Debug)]
struct Mirror {
    compartments: Vec<Option<CompartmentRow>>,
    reservations: BTreeMap<PackageId, ReservationRow>,
    credentials: BTreeMap<PackageId, CredentialRow>,
}

impl Mirror {
    fn of(ctl: &Controller) -> Mirror {
        let l = ctl.locker();
        let compartments = (0..l.compartment_count() as CompartmentId)
            .map(|c| Some((l.state(c).expect("in range"), l.occupant(c))))
            .collect();
        let reservations = l.holdings().map(|(p, t, s, c)| (p, (t, s, c))).collect();
        let credentials = ctl
            .credentials()
            .map(|(p, c, h, n)| (p, (c, h, n)))
            .collect();
        Mirror {
            compartments,
            reservations,
            credentials,
        }
    }
}

impl Mirror {
    /// The rows `Store::mirror_rows` reads for this state, table by table.
    fn rows(&self) -> [(&'static str, Vec<String>); 3] {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let compartments = self
            .compartments
            .iter()
            .enumerate()
            .filter_map(|(c, row)| {
                row.map(|(state, p)| format!("{c}:{state:?}:{}", opt(p.map(|p| p.to_string()))))
            })
            .collect();
        let reservations = self
            .reservations
            .iter()
            .map(|(p, (tier, size, c))| {
                let c = opt(c.map(|c| c.to_string()));
                format!("{p}:{}:{}:{c}", name(tier), size.name())
            })
            .collect();
        let credentials = self
            .credentials
            .iter()
            .map(|(p, (c, hash, not_after))| format!("{p}:{c}:{}:{not_after}", hash.to_hex()))
            .collect();
        [
            ("compartments", compartments),
            ("reservations", reservations),
            ("credentials", credentials),
        ]
    }
}

/// The state the journal replays to must be the state the store recorded
/// beside it (the mirrors are written in each input's transaction). If it
/// is not, this build's controller decides differently from the one that
/// wrote the journal, or the store was edited: starting would silently put
/// the locker in a state its hardware never saw.
fn check_replay(store: &Store, replayed: &Mirror) -> Result<(), StoreError> {
    for (table, want) in replayed.rows() {
        let have = store.mirror_rows(table)?;
        if table == "compartments" && have.is_empty() {
            return Ok(()); // a new store, or one from before the mirrors
        }
        if have == want {
            continue;
        }
        let first = (0..have.len().max(want.len()))
            .find(|&i| have.get(i) != want.get(i))
            .expect("the lists differ somewhere");
        let show = |v: Option<&String>| v.map_or("nothing".to_string(), |r| format!("`{r}`"));
        return Err(store.invalid(format!(
            "replaying the journal does not give the state the store recorded \
             ({table} row {first}: recorded {}, replayed {}): this build's \
             controller decides differently from the one that wrote the journal, \
             or the store was edited; refusing to start (restore the build that \
             wrote it, or inspect the store)",
            show(have.get(first)),
            show(want.get(first))
        )));
    }
    Ok(())
}

fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn write_changes(b: &Batch, old: &Mirror, new: &Mirror, sizes: &[Size]) -> Result<(), StoreError> {
    for (c, row) in new.compartments.iter().enumerate() {
        if old.compartments.get(c) != Some(row) {
            let (state, package) = row.expect("every compartment has a row");
            b.mirror(
                "INSERT OR REPLACE INTO compartments(id, size, state, package) VALUES (?1, ?2, ?3, ?4)",
                &[&(c as i64), &sizes[c].name(), &format!("{state:?}"), &package.map(|p| p as i64)],
            )?;
        }
    }
    for (p, &(tier, size, c)) in &new.reservations {
        if old.reservations.get(p) != Some(&(tier, size, c)) {
            b.mirror(
                "INSERT OR REPLACE INTO reservations(package, tier, size, compartment) VALUES (?1, ?2, ?3, ?4)",
                &[&(*p as i64), &name(&tier), &size.name(), &c.map(i64::from)],
            )?;
        }
    }
    for p in old.reservations.keys() {
        if !new.reservations.contains_key(p) {
            b.mirror(
                "DELETE FROM reservations WHERE package = ?1",
                &[&(*p as i64)],
            )?;
        }
    }
    for (p, &(c, hash, not_after)) in &new.credentials {
        if old.credentials.get(p) != Some(&(c, hash, not_after)) {
            b.mirror(
                "INSERT OR REPLACE INTO credentials(package, compartment, code_hash, not_after) VALUES (?1, ?2, ?3, ?4)",
                &[&(*p as i64), &(c as i64), &hash.to_hex(), &not_after],
            )?;
        }
    }
    for p in old.credentials.keys() {
        if !new.credentials.contains_key(p) {
            b.mirror(
                "DELETE FROM credentials WHERE package = ?1",
                &[&(*p as i64)],
            )?;
        }
    }
    Ok(())
}

/// What a store's snapshot row holds: the controller and the numbers the
/// node gave local inputs (ticks that changed nothing are numbered but not
/// journaled, so the journal alone cannot say).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSnapshot {
    seq: [u64; 4],
    controller: ControllerState,
}

/// Journaled inputs between snapshots: a restart replays at most this many
/// (about 10 ms; a year of a busy locker is some 100,000 inputs).
pub const SNAPSHOT_EVERY: u64 = 10_000;

pub struct Node {
    ctl: Controller,
    /// The keyed audit chain, continued from the store's last record.
    audit: AuditChain,
    store: Store,
    topics: Topics,
    /// The last number used per local source (kiosk, sensors, runtime).
    seq: [u64; 4],
    next_outbox: u64,
    mirror: Mirror,
    sizes: Vec<Size>,
    /// Inputs journaled since the last snapshot, and how many call for one
    /// (0: never).
    since_snapshot: u64,
    snapshot_every: u64,
    /// Journal rows replayed by `open` (after its snapshot, if any).
    replayed: usize,
}

impl Node {
    /// Opens the store: the controller of its last snapshot (a fresh one
    /// without), with the journal since replayed into it. Under `keys`
    /// with a previous key, a store of that key moves to the new one.
    pub fn open(
        store_path: &Path,
        locker: &str,
        layout: [u32; Size::COUNT],
        keys: LockerKeys,
        config: ControllerConfig,
        topics: Topics,
        durability: Durability,
    ) -> Result<Node, StoreError> {
        let previous = keys.previous().map(LockerKeys::fingerprint);
        let mut store = Store::open(
            store_path,
            locker,
            layout,
            &keys.fingerprint(),
            previous.as_deref(),
            durability,
        )?;
        // A store written under the keys being retired continues its audit
        // chain under them until the rotation record.
        let chain_key = match (store.rotating(), keys.previous()) {
            (true, Some(old)) => old.audit_key().clone(),
            _ => keys.audit_key().clone(),
        };
        let new_key = keys.audit_key().clone();
        let fingerprint = keys.fingerprint();
        let audit = match store.audit_end()? {
            (0, _) => AuditChain::new(chain_key, locker),
            (n, head) => head
                .and_then(|h| AuditChain::resume(chain_key, locker, n, &h))
                .ok_or_else(|| {
                    store.invalid(format!("{n} audit records but no valid audit head"))
                })?,
        };
        // A snapshot's controller has had its configure commands: its
        // settings win over `config`, as replaying them would.
        let (mut ctl, mut seq, after) = match store.snapshot()? {
            None => (
                Controller::new(locker, keys, layout, config),
                [0; 4],
                i64::MIN,
            ),
            Some((through, text)) => {
                let bad = |e: String| {
                    store.invalid(format!(
                        "its snapshot (as of journal row {through}) cannot be used: {e}; \
                         refusing to start (restore the build that wrote it, or inspect \
                         the store)"
                    ))
                };
                let snap: NodeSnapshot =
                    serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
                let ctl =
                    Controller::restore(locker, layout, keys, snap.controller).map_err(bad)?;
                (ctl, snap.seq, through)
            }
        };
        let mut out = Vec::new();
        let mut unsealed = Vec::new();
        let journal = store.journal_after(after)?;
        let replayed = journal.len();
        for (pos, e) in journal {
            out.clear();
            if let Some(sealed) = ctl.seal(e.time, &e.input) {
                unsealed.push((pos, sealed));
            }
            // Rejections replay as rejections: the core is deterministic.
            let _ = ctl.handle(e.time, e.source, e.seq, &e.input, &mut out);
            seq[e.source.index()] = seq[e.source.index()].max(e.seq);
        }
        if !unsealed.is_empty() {
            store.reseal(&unsealed)?;
        }
        check_replay(&store, &Mirror::of(&ctl))?;
        let sizes = (0..ctl.locker().compartment_count() as CompartmentId)
            .map(|c| ctl.locker().size_of(c).expect("in range"))
            .collect();
        let next_outbox = store.next_outbox_seq()?;
        let mut node = Node {
            ctl,
            audit,
            store,
            topics,
            seq,
            next_outbox,
            mirror: Mirror::default(),
            sizes,
            since_snapshot: replayed as u64,
            snapshot_every: SNAPSHOT_EVERY,
            replayed,
        };
        // The mirrors were written with the journal and match it (checked
        // above); a store from before the mirrors gets them now.
        let now = Mirror::of(&node.ctl);
        let rotating = node.store.rotating();
        let batch = node.store.begin()?;
        write_changes(&batch, &Mirror::default(), &now, &node.sizes)?;
        if rotating {
            // From here on the store belongs to the new keys; the chain
            // says so under the old audit key, then goes on under the new.
            let record = node.audit.rotate(node.ctl.clock(), new_key);
            batch.audit(&record)?;
            batch.mirror(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('key_fingerprint', ?1)",
                &[&fingerprint],
            )?;
        }
        batch.commit()?;
        node.mirror = now;
        Ok(node)
    }

    pub fn controller(&self) -> &Controller {
        &self.ctl
    }

    /// Snapshots after every `n` journaled inputs (0: never).
    pub fn set_snapshot_every(&mut self, n: u64) {
        self.snapshot_every = n;
    }

    /// Journal rows `open` replayed (those after its snapshot, if any).
    pub fn replayed(&self) -> usize {
        self.replayed
    }

    /// Keeps the controller's state and drops the journal it replaces.
    pub fn snapshot(&mut self) -> Result<(), StoreError> {
        let snap = NodeSnapshot {
            seq: self.seq,
            controller: self.ctl.snapshot(),
        };
        let text = serde_json::to_string(&snap).expect("snapshots serialize");
        self.store.save_snapshot(&text)?;
        self.since_snapshot = 0;
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Reports ever queued (the last outbox number used).
    pub fn reports_made(&self) -> u64 {
        self.next_outbox - 1
    }

    pub fn locker_id(&self) -> &str {
        self.ctl.locker_id()
    }

    /// Queues a ledger report: on every connect, so the service learns the
    /// locker's numbers at once (and a restarted service learns them again).
    pub fn announce(&mut self, now: Millis) -> Result<(), StoreError> {
        self.queue(now, vec![What::Ledger])
    }

    /// A local input (kiosk, sensors, runtime), numbered here.
    pub fn local(
        &mut self,
        now: Millis,
        source: Source,
        input: &Input,
    ) -> Result<Applied, StoreError> {
        let seq = self.seq[source.index()] + 1;
        self.apply(now, source, seq, input, None)
    }

    /// A command from the service, as received on `{locker}/cmd/{kind}`.
    /// A malformed one is answered on `evt/error` (through the outbox).
    pub fn command(
        &mut self,
        now: Millis,
        kind: CommandKind,
        payload: &[u8],
    ) -> Result<Applied, StoreError> {
        let decoded = match kind {
            CommandKind::Sync => protocol::decode_sync(payload).map(|_| None),
            _ => protocol::decode_command(kind, payload).map(Some),
        };
        match decoded {
            Ok(None) => {
                self.announce(now)?;
                Ok(Applied::default())
            }
            Ok(Some(msg)) => {
                let id = Some(msg.seq.to_string());
                let current = self.ctl.service_epoch();
                if msg.epoch < current {
                    let reason = format!(
                        "command {} of service epoch {} comes from before the service's \
                         restart (epoch {current}): refused",
                        msg.seq, msg.epoch
                    );
                    return self.refuse(now, id, reason);
                }
                if msg.epoch > current {
                    // A restarted service: its numbers start again at 1.
                    let epoch = Input::ServiceEpoch { epoch: msg.epoch };
                    self.local(now, Source::Runtime, &epoch)?;
                }
                self.apply(now, Source::Service, msg.seq, &msg.command.to_input(), id)
            }
            Err(e) => {
                let id = serde_json::from_slice::<serde_json::Value>(payload)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
                let reason = format!("{}: {e}", self.topics.command(self.locker_id(), kind));
                self.refuse(now, id, reason)
            }
        }
    }

    /// Answers a command that will not be applied on `evt/error`.
    fn refuse(
        &mut self,
        now: Millis,
        command: Option<String>,
        reason: String,
    ) -> Result<Applied, StoreError> {
        let what = What::Error {
            command,
            reason: reason.clone(),
        };
        self.queue(now, vec![what])?;
        Ok(Applied {
            rejected: Some(reason),
            ..Applied::default()
        })
    }

    /// Queues reports that go with no input (nothing to journal).
    fn queue(&mut self, now: Millis, whats: Vec<What>) -> Result<(), StoreError> {
        let rows = self.rows(now, whats);
        let batch = self.store.begin()?;
        for row in &rows {
            batch.outbox(row)?;
        }
        batch.commit()?;
        self.next_outbox += rows.len() as u64;
        Ok(())
    }

    /// Outbox rows for reports made now, numbered from `next_outbox`.
    fn rows(&self, now: Millis, whats: Vec<What>) -> Vec<OutboxRow> {
        whats
            .into_iter()
            .enumerate()
            .map(|(i, what)| {
                let seq = self.next_outbox + i as u64;
                let topic = self.topics.report(self.ctl.locker_id(), what.topic_kind());
                let report = Report {
                    applied: self.ctl.applied_commands(),
                    epoch: self.ctl.service_epoch(),
                    view: *self.ctl.view(),
                    what,
                };
                OutboxRow {
                    seq,
                    topic,
                    payload: protocol::encode(seq.to_string(), now, &report),
                }
            })
            .collect()
    }

    fn apply(
        &mut self,
        now: Millis,
        source: Source,
        seq: u64,
        input: &Input,
        command_id: Option<String>,
    ) -> Result<Applied, StoreError> {
        let before = *self.ctl.view();
        // The journal keeps no typed code or QR token; the core handles
        // the sealed input exactly as the original.
        let sealed = self.ctl.seal(now, input);
        let input = sealed.as_ref().unwrap_or(input);
        let mut outputs = Vec::new();
        let result = self.ctl.handle(now, source, seq, input, &mut outputs);
        match (&result, source) {
            // A command redelivered: it is applied, and a ledger report
            // (which carries `applied`) says so.
            (Ok(Handled::Duplicate), Source::Service) => {
                self.queue(now, vec![What::Ledger])?;
                return Ok(Applied {
                    duplicate: true,
                    ..Applied::default()
                });
            }
            (Ok(Handled::TooOld), Source::Service) => {
                let reason = format!(
                    "command {seq} is older than the replay window (highest applied {}): \
                     not applied",
                    self.ctl.last_seq(Source::Service)
                );
                return self.refuse(now, command_id, reason);
            }
            (Ok(Handled::Duplicate | Handled::TooOld), _) => {
                return Ok(Applied {
                    duplicate: true,
                    ..Applied::default()
                })
            }
            _ => {}
        }
        if source != Source::Service {
            self.seq[source.index()] = seq;
        }
        let mut whats: Vec<What> = outputs
            .iter()
            .filter_map(|o| match o {
                Output::Publish { event } => Some(What::Event { event: *event }),
                // Through the outbox, so the operator hears every alert
                // once, after a crash or an outage too.
                Output::Alert { alert } => Some(What::Alert { alert: *alert }),
                _ => None,
            })
            .collect();
        let rejected = result.err().map(|e: Rejected| e.to_string());
        if let (Some(reason), Source::Service) = (&rejected, source) {
            whats.push(What::Error {
                command: command_id,
                reason: reason.clone(),
            });
        }
        // The service admits against the ledger: tell it of changes no
        // event carried (a reservation arrived, a driver session bound a
        // compartment). And every command applied is confirmed (its
        // `applied` mark), so the service stops resending it at once.
        if whats.is_empty() && (*self.ctl.view() != before || source == Source::Service) {
            whats.push(What::Ledger);
        }
        // A tick that changed nothing is not worth a disk write: replaying
        // without it gives the same state.
        if matches!(input, Input::Tick) && whats.is_empty() && outputs.is_empty() {
            return Ok(Applied::default());
        }
        let rows = self.rows(now, whats);
        let mirror = Mirror::of(&self.ctl);
        let batch = self.store.begin()?;
        batch.journal(&JournalEntry {
            time: now,
            source,
            seq,
            input: input.clone(),
        })?;
        for row in &rows {
            batch.outbox(row)?;
        }
        for o in &outputs {
            if let Output::Audit { event } = o {
                batch.audit(&self.audit.append(now, *event))?;
            }
        }
        write_changes(&batch, &self.mirror, &mirror, &self.sizes)?;
        batch.commit()?;
        self.next_outbox += rows.len() as u64;
        self.mirror = mirror;
        self.since_snapshot += 1;
        if self.snapshot_every > 0 && self.since_snapshot >= self.snapshot_every {
            // The input is committed whatever happens here: a snapshot
            // that fails costs restart time, not state. Try again later.
            if let Err(e) = self.snapshot() {
                tracing::warn!(locker = %self.ctl.locker_id(), error = %e, "snapshot");
                self.since_snapshot = 0;
            }
        }
        Ok(Applied {
            outputs,
            rejected,
            duplicate: false,
        })
    }
}

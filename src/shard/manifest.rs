//! A partial's manifest: which run it belongs to (format, version,
//! command and arguments, scenario hash, seed), which shard of how many,
//! the work items it did, and its data files with their hashes. Merge
//! reads nothing a manifest does not name, and refuses a set of partials
//! that is not one complete run.

use super::store::Store;
use super::Shard;
use crate::forecast::model::sha256_hex;
use polars::prelude::{DataFrame, ParquetReader, ParquetWriter, SerReader};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The layout of partials this binary writes and reads.
pub const PARTIAL_FORMAT: u32 = 1;

/// The version of this binary, as manifests record it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub lockerlab_version: String,
    /// `simulate`, `sweep`, …
    pub command: String,
    /// The arguments that decide the result (not where output goes, nor
    /// threads): what the merge renders from.
    pub arguments: serde_json::Value,
    pub scenario_sha256: String,
    pub seed: u64,
    pub shard: u32,
    pub shards: u32,
    /// What a work item is, e.g. `["replication", "region"]`.
    pub work_unit: Vec<String>,
    /// Work items in the whole run, over all shards.
    pub work_total: u64,
    /// This shard's work items.
    pub work: Vec<[u32; 2]>,
    /// How long this shard took (not compared: timing differs by machine).
    pub wall_seconds: f64,
    pub files: Vec<DataFile>,
}

impl Manifest {
    /// A shard's manifest, its data files still to be written.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        command: &str,
        identity: RunIdentity,
        seed: u64,
        shard: Shard,
        work_unit: &[&str],
        work_total: u64,
        work: Vec<[u32; 2]>,
        started: std::time::Instant,
    ) -> Manifest {
        Manifest {
            format: PARTIAL_FORMAT,
            lockerlab_version: VERSION.into(),
            command: command.into(),
            arguments: identity.arguments,
            scenario_sha256: identity.scenario_sha256,
            seed,
            shard: shard.index,
            shards: shard.count,
            work_unit: work_unit.iter().map(|s| s.to_string()).collect(),
            work_total,
            work,
            wall_seconds: started.elapsed().as_secs_f64(),
            files: Vec::new(),
        }
    }
}

/// What the caller records about the run besides the work: the
/// arguments that decide it and the scenario's hash.
pub struct RunIdentity {
    pub arguments: serde_json::Value,
    pub scenario_sha256: String,
}

/// A Parquet file of a partial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    /// What the rows are (`locations`, `replications`, `points`).
    pub role: String,
    pub name: String,
    pub sha256: String,
    pub rows: u64,
}

/// A manifest, where it was read from (for messages) and the store its
/// data files are in.
#[derive(Clone)]
pub struct Loaded {
    pub path: String,
    pub store: Arc<Store>,
    pub manifest: Manifest,
}

/// A shard's result before it is written.
pub struct Partial {
    pub manifest: Manifest,
    pub frames: Vec<(String, DataFrame)>,
}

impl Partial {
    /// Writes the data files (named by their content) and then the
    /// manifest, each whole or not at all; an earlier attempt's data
    /// files go. Returns where the manifest is.
    pub fn write(mut self, store: &Store) -> anyhow::Result<String> {
        use anyhow::Context;
        let shard = Shard {
            index: self.manifest.shard,
            count: self.manifest.shards,
        };
        let stem = shard.stem();
        self.manifest.files.clear();
        for (role, df) in &mut self.frames {
            let mut bytes = Vec::new();
            ParquetWriter::new(&mut bytes)
                .finish(df)
                .with_context(|| format!("encoding the {role} rows"))?;
            let sha256 = sha256_hex(&bytes);
            let name = format!("{stem}.{role}.{}.parquet", &sha256[..16]);
            store.put(&name, &bytes).map_err(anyhow::Error::msg)?;
            self.manifest.files.push(DataFile {
                role: role.clone(),
                name,
                sha256,
                rows: df.height() as u64,
            });
        }
        let text = serde_json::to_string_pretty(&self.manifest)? + "\n";
        let written = store
            .put(&format!("{stem}.manifest.json"), text.as_bytes())
            .map_err(anyhow::Error::msg)?;
        let keep: Vec<String> = self.manifest.files.iter().map(|f| f.name.clone()).collect();
        store.remove_stale(&stem, &keep);
        Ok(written)
    }
}

impl Loaded {
    pub fn shard(&self) -> Shard {
        Shard {
            index: self.manifest.shard,
            count: self.manifest.shards,
        }
    }

    /// The rows of the data file with this role, checked against the
    /// manifest's hash.
    pub fn frame(&self, role: &str) -> Result<DataFrame, String> {
        let file = self
            .manifest
            .files
            .iter()
            .find(|f| f.role == role)
            .ok_or_else(|| format!("{}: names no `{role}` data file", self.path))?;
        if file.name.contains('/') || file.name.contains('\\') || file.name.starts_with('.') {
            return Err(format!(
                "{}: data file name `{}` is not a plain file name",
                self.path, file.name
            ));
        }
        let bytes = self.store.get(&file.name, crate::files::MAX_DATA)?;
        let path = self.store.describe(&file.name);
        if sha256_hex(&bytes) != file.sha256 {
            return Err(format!(
                "{path}: its SHA-256 is not the one {} records: the file was changed or belongs \
                 to another attempt; re-run shard {}",
                self.path, self.manifest.shard
            ));
        }
        let df = crate::data::contain::contain(|| {
            ParquetReader::new(std::io::Cursor::new(bytes)).finish()
        })
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|e| format!("{path}: {e}"))?;
        if df.height() as u64 != file.rows {
            return Err(format!(
                "{path}: {} rows, the manifest says {}",
                df.height(),
                file.rows
            ));
        }
        Ok(df)
    }
}

/// Every manifest under `inputs`: directories, manifest files or
/// `s3://` prefixes.
pub fn load_all(inputs: &[String]) -> Result<Vec<Loaded>, String> {
    let mut out = Vec::new();
    for input in inputs {
        let file = Path::new(input);
        let (store, names) = if !input.contains("://") && file.is_file() {
            let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            (Store::Dir(dir), name.into_iter().collect())
        } else {
            let store = Store::open(input)?;
            let names = store.manifests()?;
            (store, names)
        };
        if names.is_empty() {
            return Err(format!(
                "{input}: no partials (*.manifest.json) here; shards write them with --shard I/N \
                 --partials {input}"
            ));
        }
        let store = Arc::new(store);
        for name in names {
            let path = store.describe(&name);
            let bytes = store.get(&name, crate::files::MAX_TEXT)?;
            let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
                format!(
                    "{path}: not a lockerlab partial manifest: {e} (line {}, column {})",
                    e.line(),
                    e.column()
                )
            })?;
            out.push(Loaded {
                path,
                store: store.clone(),
                manifest,
            });
        }
    }
    out.sort_by(|a, b| (a.manifest.shard, &a.path).cmp(&(b.manifest.shard, &b.path)));
    Ok(out)
}

/// Refuses, listing every problem, a set of partials that is not exactly
/// one run's shards: another format, version, command or arguments,
/// scenario, seed or shard count than the first; a shard twice; a shard
/// missing; work items that overlap or fall short.
pub fn check_set(set: &[Loaded]) -> Result<(), String> {
    let Some(first) = set.first() else {
        return Err("no partials to merge".into());
    };
    let f = &first.manifest;
    let mut problems = Vec::new();
    let short = |s: &str| s.chars().take(12).collect::<String>();
    for l in &set[1..] {
        let m = &l.manifest;
        let mut differs = |what: &str, theirs: String, ours: String| {
            problems.push(format!(
                "{} is from {what} ({theirs}; {} has {ours})",
                l.path, first.path
            ));
        };
        if m.format != f.format {
            differs(
                "another partial format",
                m.format.to_string(),
                f.format.to_string(),
            );
        }
        if m.lockerlab_version != f.lockerlab_version {
            differs(
                "another lockerlab version",
                m.lockerlab_version.clone(),
                f.lockerlab_version.clone(),
            );
        }
        if m.command != f.command {
            differs("another command", m.command.clone(), f.command.clone());
        } else if m.arguments != f.arguments {
            differs(
                "the same command with other arguments",
                m.arguments.to_string(),
                f.arguments.to_string(),
            );
        }
        if m.scenario_sha256 != f.scenario_sha256 {
            differs(
                "another scenario",
                format!("SHA-256 {}…", short(&m.scenario_sha256)),
                format!("{}…", short(&f.scenario_sha256)),
            );
        }
        if m.seed != f.seed {
            differs("another seed", m.seed.to_string(), f.seed.to_string());
        }
        if m.shards != f.shards {
            differs(
                "a split into another number of shards",
                format!("of {}", m.shards),
                format!("of {}", f.shards),
            );
        }
    }
    if problems.is_empty() {
        let mut by_index: BTreeMap<u32, Vec<&Loaded>> = BTreeMap::new();
        for l in set {
            by_index.entry(l.manifest.shard).or_default().push(l);
        }
        for (index, ls) in &by_index {
            if ls.len() > 1 {
                let paths: Vec<String> = ls.iter().map(|l| l.path.clone()).collect();
                problems.push(format!(
                    "shard {index} of {} appears {} times: {}",
                    f.shards,
                    ls.len(),
                    paths.join(", ")
                ));
            }
        }
        let missing: Vec<String> = (0..f.shards)
            .filter(|i| !by_index.contains_key(i))
            .map(|i| i.to_string())
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "missing {} of {} shards: {} (run each with --shard I/{})",
                missing.len(),
                f.shards,
                missing.join(", "),
                f.shards
            ));
        }
        let out_of_range: Vec<String> = set
            .iter()
            .filter(|l| l.manifest.shard >= l.manifest.shards)
            .map(|l| l.path.clone())
            .collect();
        if !out_of_range.is_empty() {
            problems.push(format!(
                "shard index not below the shard count in {}",
                out_of_range.join(", ")
            ));
        }
        if problems.is_empty() {
            let mut items = std::collections::HashSet::new();
            let mut overlap = 0;
            for l in set {
                for w in &l.manifest.work {
                    overlap += usize::from(!items.insert(*w));
                }
            }
            if overlap > 0 || items.len() as u64 != f.work_total {
                problems.push(format!(
                    "the shards' work items do not make up the run: {} distinct of {} expected, \
                     {overlap} done twice",
                    items.len(),
                    f.work_total
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "these partials are not one complete run; nothing was merged:\n  {}",
            problems.join("\n  ")
        ))
    }
}

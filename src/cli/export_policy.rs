//! `lockerlab export-policy`: write a versioned policy file that the
//! simulator (`--policy FILE`) and the capacity service load.

use super::{CmdResult, Failure};
use anyhow::{anyhow, Context};
use lockerlab::policy::file::{ModelRef, PolicyFile, POLICY_FORMAT_VERSION};
use lockerlab::policy::spec;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Write a policy file: the policy with all its parameters, per-location
/// overrides, and the dwell model it reads (path and hash).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab export-policy --policy forecast:confidence=0.999 --model models/city --out policies/city-forecast.json\n  \
        lockerlab export-policy --policy policies/city-forecast.json --override SEA-004=snapshot --out deploy/north.json"
)]
pub struct Args {
    /// KIND[:key=value,...], e.g. `forecast:confidence=0.999`, or a policy
    /// file (FILE.json) to write again: its policy, overrides and model,
    /// with --override, --model and --notes applied on top.
    #[arg(long, value_name = "FILE|SPEC")]
    policy: String,
    /// A location's own policy: ID=KIND[:key=value,...]; repeatable.
    #[arg(long = "override", value_name = "ID=SPEC")]
    overrides: Vec<String>,
    /// The dwell model a forecast policy reads.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// How the policy was chosen (kept in the file).
    #[arg(long, default_value = "")]
    notes: String,
    /// Where to write, e.g. policies/NAME.json.
    #[arg(long, value_name = "FILE.json")]
    out: PathBuf,
}

pub fn run(args: Args) -> CmdResult {
    let bad = |e: anyhow::Error| Failure::BadInput(e);
    if args.out.extension().is_none_or(|e| e != "json") {
        return Err(bad(anyhow!(
            "--out {}: policy files end in .json",
            args.out.display()
        )));
    }
    let (policy, mut overrides, file_model) = if args.policy.ends_with(".json") {
        let path = Path::new(&args.policy);
        let file = PolicyFile::load(path).map_err(|e| bad(anyhow!(e)))?;
        let model = file.model_dir(path);
        (file.policy, file.overrides, model)
    } else {
        let policy = spec::parse(&args.policy).map_err(|e| bad(anyhow!(e)))?;
        (policy, BTreeMap::new(), None)
    };
    for o in &args.overrides {
        let Some((id, s)) = o.split_once('=') else {
            return Err(bad(anyhow!("--override `{o}`: expected ID=SPEC")));
        };
        overrides.insert(id.to_string(), spec::parse(s).map_err(|e| bad(anyhow!(e)))?);
    }
    let reads_model = std::iter::once(&policy)
        .chain(overrides.values())
        .any(|p| p.reads_dwell_model());
    let model = match args.model.as_ref().or(file_model.as_ref()) {
        Some(dir) => {
            let m = super::load_model(dir)?;
            let out_dir = args.out.parent().unwrap_or(Path::new(""));
            Some(ModelRef {
                path: relative_path(out_dir, dir)
                    .map_err(bad)?
                    .to_string_lossy()
                    .into_owned(),
                forest_sha256: m.meta.forest_sha256.clone(),
            })
        }
        None if reads_model => {
            return Err(bad(anyhow!(
                "a forecast policy reads a dwell model: pass --model DIR"
            )))
        }
        None => None,
    };
    let file = PolicyFile {
        format_version: POLICY_FORMAT_VERSION,
        policy,
        overrides,
        model,
        notes: args.notes.clone(),
    };
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating {}", dir.display()))
            .map_err(bad)?;
    }
    std::fs::write(&args.out, file.to_json())
        .with_context(|| format!("writing {}", args.out.display()))
        .map_err(bad)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// `to` as seen from directory `from` (both made absolute first).
pub(super) fn relative_path(from: &Path, to: &Path) -> anyhow::Result<PathBuf> {
    let abs = |p: &Path| -> anyhow::Result<PathBuf> {
        let cwd = std::env::current_dir()?;
        let joined = if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        };
        // Lexical normalisation: the target may not exist yet.
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                c => out.push(c),
            }
        }
        Ok(out)
    };
    let (from, to) = (abs(from)?, abs(to)?);
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in from.components().skip(common) {
        rel.push("..");
    }
    for c in to.components().skip(common) {
        rel.push(c);
    }
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_walk_up_and_down() {
        assert_eq!(
            relative_path(Path::new("/a/policies"), Path::new("/a/models/city")).unwrap(),
            PathBuf::from("../models/city")
        );
        assert_eq!(
            relative_path(Path::new("/a"), Path::new("/a/models/city")).unwrap(),
            PathBuf::from("models/city")
        );
    }
}

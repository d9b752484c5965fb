//! `--shard I/N --partials DIR`, shared by the run commands that split
//! over machines, and what a shard says when it is done.

use super::Failure;
use anyhow::anyhow;
use lockerlab::shard::{manifest::Partial, store::Store, Shard};

#[derive(clap::Args)]
pub struct ShardArgs {
    /// Do only shard I of N (0-based) of the work and write a partial
    /// result into --partials; `lockerlab merge` folds the N partials into
    /// this command's output. `auto/N` takes I from SLURM_ARRAY_TASK_ID,
    /// JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX (docs/scale.md).
    #[arg(long, value_name = "I/N", requires = "partials")]
    pub shard: Option<String>,
    /// Where every shard writes its partial (with --shard): a directory
    /// (a shared file system), or s3://BUCKET/PREFIX with the usual AWS_*
    /// variables (AWS_ENDPOINT for an S3-compatible server).
    #[arg(long, value_name = "DIR|URL", requires = "shard")]
    pub partials: Option<String>,
}

impl ShardArgs {
    /// The shard this process runs, if any.
    pub fn shard(&self) -> Result<Option<Shard>, Failure> {
        self.shard
            .as_deref()
            .map(|s| Shard::parse(s, |name| std::env::var(name).ok()))
            .transpose()
            .map_err(|m| Failure::BadInput(anyhow!(m)))
    }

    /// Writes the partial and says where, with how much work it held.
    pub fn write(&self, partial: Partial, quiet: bool) -> Result<(), Failure> {
        let location = self.partials.as_deref().expect("clap requires --partials");
        let store = Store::open(location).map_err(|m| Failure::BadInput(anyhow!(m)))?;
        let m = &partial.manifest;
        let note = format!(
            "shard {} of {}: {} of {} work items ({}) in {:.2} s",
            m.shard,
            m.shards,
            m.work.len(),
            m.work_total,
            m.work_unit.join(" × "),
            m.wall_seconds
        );
        let written = partial.write(&store).map_err(Failure::BadInput)?;
        if !quiet {
            eprintln!("{note}; wrote {written}");
        }
        Ok(())
    }
}

/// Refuses an output option on a shard: a shard's output is its partial,
/// and the option belongs to `lockerlab merge`.
pub fn refuse_on_shard(flag: &str, given: bool) -> Result<(), Failure> {
    if given {
        return Err(Failure::BadInput(anyhow!(
            "{flag} does not go with --shard: a shard writes only its partial; give {flag} to \
             `lockerlab merge`"
        )));
    }
    Ok(())
}

/// The SHA-256 of the scenario a command reads (the file's bytes, or the
/// built-in city's).
pub fn scenario_sha256(path: Option<&std::path::Path>) -> Result<String, Failure> {
    let bytes = match path {
        Some(p) => lockerlab::files::read_limited(p, lockerlab::files::MAX_TEXT)
            .map_err(|e| Failure::BadInput(anyhow!("reading {}: {e}", p.display())))?,
        None => lockerlab::scenario::BUILTIN_TOML.as_bytes().to_vec(),
    };
    Ok(lockerlab::forecast::model::sha256_hex(&bytes))
}

/// Refuses a merge whose scenario file is not the one the shards ran:
/// the merge reads it again to write the report.
pub fn same_scenario(path: Option<&std::path::Path>, theirs: &str) -> Result<(), Failure> {
    let sha = scenario_sha256(path)?;
    if sha == theirs {
        return Ok(());
    }
    Err(Failure::BadInput(anyhow!(
        "{} is not the scenario the shards ran (its SHA-256 is {}…, theirs {}…): merge reads \
         the same file the shards read",
        path.map_or("the built-in city".to_string(), |p| p.display().to_string()),
        &sha[..12],
        theirs.chars().take(12).collect::<String>()
    )))
}

//! The arguments every run command (`simulate`, `compare`, `sweep`,
//! `tune`) shares, with one meaning and one default each.

use super::Failure;
use lockerlab::scenario::Scenario;

/// What a run command prints on stdout.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a person.
    Table,
    /// One JSON document.
    Json,
    /// CSV with a header row.
    Csv,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Seed of the random numbers (default: the scenario's
    /// `simulation.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replications (default: the scenario's `simulation.replications`;
    /// `tune`: at least 20). Commands that compare run every policy or
    /// grid point on the same random numbers.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub replications: Option<u32>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Output on stdout: a table, or JSON or CSV for programs.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// No progress bar or notes on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

impl RunArgs {
    pub fn seed(&self, sc: &Scenario) -> u64 {
        self.seed.unwrap_or(sc.seed)
    }

    pub fn replications(&self, sc: &Scenario) -> u32 {
        self.replications.unwrap_or(sc.replications)
    }

    /// The replications of a command whose confidence intervals need at
    /// least two.
    pub fn paired_replications(&self, sc: &Scenario, command: &str) -> Result<u32, Failure> {
        let n = self.replications(sc);
        if n >= 2 {
            return Ok(n);
        }
        let from = match self.replications {
            Some(_) => "--replications 1".to_string(),
            None => format!("scenario `{}` sets simulation.replications = {n}", sc.name),
        };
        Err(Failure::BadInput(anyhow::anyhow!(
            "{command} needs at least 2 replications for its confidence intervals, and \
             {from}: pass --replications N (20 is a good start)"
        )))
    }

    pub fn pool(&self) -> Result<rayon::ThreadPool, Failure> {
        super::thread_pool(self.threads)
    }
}

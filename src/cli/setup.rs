//! Commands that set a user up rather than run anything: `init` (a
//! commented starter scenario), `completions` (shell completion scripts)
//! and `man` (a man page).

use super::{CmdResult, Failure};
use anyhow::anyhow;
use clap::CommandFactory;
use std::path::PathBuf;

const STARTER: &str = include_str!("templates/starter.toml");

/// Write a commented starter scenario (two lockers, four weeks) to
/// NAME.toml, ready for `validate` and `simulate`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  lockerlab init my-city && lockerlab simulate my-city.toml")]
pub struct InitArgs {
    /// The scenario's name; the file is NAME.toml in the current directory
    /// unless --out says otherwise.
    name: String,
    /// Where to write it (default: NAME.toml). An existing file is never
    /// overwritten.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn init(args: InitArgs) -> CmdResult {
    let bad = |m: String| Failure::BadInput(anyhow!(m));
    let name = args.name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(bad(format!(
            "init: name `{}`: use letters, digits, `-`, `_` or `.`",
            super::escape_controls(&args.name)
        )));
    }
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}.toml")));
    let text = STARTER.replace("name = \"NAME\"", &format!("name = \"{name}\""));
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            bad(format!(
                "{}: {e} (init never overwrites a file)",
                path.display()
            ))
        })?;
    file.write_all(text.as_bytes())
        .map_err(|e| bad(format!("{}: {e}", path.display())))?;
    eprintln!(
        "wrote {p}; next: lockerlab validate {p} && lockerlab simulate {p}",
        p = path.display()
    );
    Ok(())
}

/// Print a shell completion script to stdout.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  lockerlab completions bash > ~/.local/share/bash-completion/completions/lockerlab\n  lockerlab completions zsh > ~/.zfunc/_lockerlab"
)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    shell: clap_complete::Shell,
}

pub fn completions(args: CompletionsArgs) -> CmdResult {
    let mut cmd = super::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "lockerlab", &mut std::io::stdout());
    Ok(())
}

/// Print the man page (roff) to stdout: `lockerlab man > lockerlab.1`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  lockerlab man > lockerlab.1 && man ./lockerlab.1")]
pub struct ManArgs {}

pub fn man(_: ManArgs) -> CmdResult {
    clap_mangen::Man::new(super::Cli::command())
        .render(&mut std::io::stdout())
        .map_err(|e| Failure::Internal(e.into()))
}

/// Print the scenario format as JSON Schema (draft-07), for TOML editors
/// that validate and complete keys (Taplo / Even Better TOML read a first
/// line `#:schema PATH`; the shipped scenarios point at
/// docs/scenario.schema.json, which is this output).
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  lockerlab schema --out docs/scenario.schema.json")]
pub struct SchemaArgs {
    /// Write it to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
}

pub fn schema(args: SchemaArgs) -> CmdResult {
    let schema = lockerlab::scenario::schema::json_schema();
    let text =
        serde_json::to_string_pretty(&schema).map_err(|e| Failure::Internal(e.into()))? + "\n";
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Failure::BadInput(anyhow::anyhow!("--out {}: {e}", path.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::STARTER;

    /// The starter scenario is valid as written (with any name).
    #[test]
    fn the_starter_scenario_validates() {
        let text = STARTER.replace("name = \"NAME\"", "name = \"t\"");
        let sc = lockerlab::scenario::Scenario::from_toml(&text, "starter.toml").unwrap();
        assert_eq!(sc.locations.len(), 2);
    }
}

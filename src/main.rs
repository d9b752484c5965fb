//! The `lockerlab` command line. Thin: parse arguments, run a command, map
//! errors to exit codes (0 success, 2 bad input, 1 internal error).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}

//! The `lockerlab` command line. Thin: parse arguments, run a command, map
//! errors to exit codes (0 success, 2 bad input, 1 internal error).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Like any Unix filter, stop quietly when the reader goes away
    // (`lockerlab ... | head`) instead of panicking on a failed print.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: restoring the default disposition of one signal at start-up,
    // before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cli::main()
}

//! Progress bars on stderr for the commands that run long. Hidden with
//! `-q`, and whenever stderr is not a terminal (indicatif draws nothing
//! then), so pipes and CI logs stay clean.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `total` units of `what` ("location-runs").
pub fn bar(quiet: bool, total: u64, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    ProgressBar::new(total).with_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {{pos}}/{{len}} {what} [{{elapsed}}, ETA {{eta}}] {{wide_bar}}"
        ))
        .expect("a valid template"),
    )
}

/// A bar over `total` named stages of one command; the stage running is
/// its message.
pub fn stages(quiet: bool, total: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} [{elapsed}] {msg}")
            .expect("a valid template"),
    );
    // A stage can run for minutes without a tick: keep the spinner alive.
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

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

//! How a long-running command hears it should stop: Ctrl-C (SIGINT), or
//! SIGTERM, which is how systemd, Docker and Kubernetes ask. Both end it
//! the same orderly way (`serve` records what it published), where a
//! SIGTERM left to its default would kill it mid-step.

/// Returns once SIGINT or SIGTERM arrives.
pub async fn requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

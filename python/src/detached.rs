//! Long calls without the GIL: the work runs on its own thread while the
//! calling thread, the interpreter's, waits without the GIL, wakes a few
//! times a second to pass progress to Python and to look for Ctrl-C (or a
//! notebook's interrupt), and on one tells the work to stop and raises
//! `KeyboardInterrupt` once it has.

use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often the waiting thread looks for progress and interrupts.
const POLL: Duration = Duration::from_millis(100);

/// What the work shares with the waiting thread.
pub struct Progress {
    done: AtomicU64,
    /// Set on an interrupt; the work passes it to the library as its
    /// cancel flag.
    pub cancel: Arc<AtomicBool>,
}

impl Progress {
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

/// Marks the work over when dropped.
struct Over<'a>(&'a (Mutex<bool>, Condvar));

impl Drop for Over<'_> {
    fn drop(&mut self) {
        *self.0 .0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.0 .1.notify_all();
    }
}

/// Runs `work` on another thread; `progress(delta, total)` is called with
/// the GIL held as units of `total` finish. An exception in `progress`
/// stops the work like an interrupt does.
pub fn run<T: Send>(
    py: Python<'_>,
    total: u64,
    progress: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce(&Progress) -> T + Send,
) -> PyResult<T> {
    let state = Progress {
        done: AtomicU64::new(0),
        cancel: Arc::new(AtomicBool::new(false)),
    };
    let finished = (Mutex::new(false), Condvar::new());
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            // Set on the way out, a panic's unwinding included: a waiting
            // thread that missed it would wait forever.
            let _over = Over(&finished);
            work(&state)
        });
        let mut reported = 0;
        let mut stopped: Option<PyErr> = None;
        loop {
            let over = py.detach(|| {
                let guard = finished.0.lock().unwrap_or_else(|p| p.into_inner());
                let (guard, _) = finished
                    .1
                    .wait_timeout_while(guard, POLL, |over| !*over)
                    .unwrap_or_else(|p| p.into_inner());
                *guard
            });
            let done = state.done.load(Ordering::Relaxed);
            if done != reported && stopped.is_none() {
                if let Some(callback) = progress {
                    if let Err(e) = callback.call1((done - reported, total)) {
                        state.cancel.store(true, Ordering::Relaxed);
                        stopped = Some(e);
                    }
                }
                reported = done;
            }
            if over {
                break;
            }
            if stopped.is_none() {
                if let Err(e) = py.check_signals() {
                    state.cancel.store(true, Ordering::Relaxed);
                    stopped = Some(e);
                }
            }
        }
        let out = worker.join().map_err(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            super::errors::internal(format!("the work panicked: {message}"))
        })?;
        match stopped {
            Some(e) => Err(e),
            None => Ok(out),
        }
    })
}

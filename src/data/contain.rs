//! Containing a dependency's panic. polars decodes a damaged Parquet file
//! with assertions (a dictionary page shorter than its header says stops
//! the process with exit 101); a damaged file is bad input, so the read is
//! run here and such a panic becomes an error that names the file.
//!
//! While a contained call runs, panics anywhere in the process are kept
//! off stderr (polars panics on its own worker threads, so the quiet
//! cannot be per thread): a panic elsewhere in that window still unwinds,
//! only its message is lost. Outside the window the previous hook runs.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// Contained calls running now.
static QUIET: AtomicUsize = AtomicUsize::new(0);
/// The message of the first panic kept quiet in the current window.
static FIRST: Mutex<String> = Mutex::new(String::new());
static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.load(Ordering::SeqCst) > 0 {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                // The first panic is the cause; later ones are its echoes.
                if let Ok(mut first) = FIRST.lock() {
                    if first.is_empty() {
                        *first = message;
                    }
                }
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic inside it (on any thread it joins) comes back as
/// `Err` with the panic's message.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    if QUIET.fetch_add(1, Ordering::SeqCst) == 0 {
        if let Ok(mut first) = FIRST.lock() {
            first.clear();
        }
    }
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.fetch_sub(1, Ordering::SeqCst);
    result.map_err(|_| {
        FIRST
            .lock()
            .map(|m| m.lines().next().unwrap_or_default().to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_and_a_value_passes_through() {
        assert_eq!(contain(|| 7), Ok(7));
        let err = contain(|| -> u8 { panic!("page too short") }).unwrap_err();
        assert!(err.contains("page too short"), "{err}");
        // On a thread the call joins, as polars' workers are.
        let err = contain(|| std::thread::spawn(|| panic!("worker")).join().unwrap()).unwrap_err();
        assert!(err.contains("worker"), "{err}");
    }
}

//! The demo's report: the live run beside the simulator's, and the verdict.

use super::{DemoReport, End, OrderResult};

impl DemoReport {
    /// The live run beside the simulator's, and the parity verdict.
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let count = |v: &[OrderResult], e: End| v.iter().filter(|o| o.end == e).count();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nlive: serve + {} emulated controllers over MQTT, {} simulated day{}, {} steps of \
             the world played",
            self.lockers,
            self.days,
            if self.days == 1 { "" } else { "s" },
            self.steps,
        );
        if !self.trouble.is_empty() {
            let kinds: Vec<String> = self
                .trouble
                .iter()
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect();
            let _ = writeln!(out, "off the happy path: {}", kinds.join(", "));
        }
        let _ = writeln!(out, "{:<30} {:>10} {:>10}", "orders", "simulator", "live");
        let _ = writeln!(out, "{:-<30} {:->10} {:->10}", "", "", "");
        for (name, e) in [
            ("rejected_at_checkout", End::Rejected),
            ("picked_up", End::PickedUp),
            ("expired_returned", End::ExpiredReturned),
            ("delivery_failed", End::DeliveryFailed),
            ("rerouted_alternate_locker", End::Rerouted),
            ("still_open", End::Open),
        ] {
            let _ = writeln!(
                out,
                "{:<30} {:>10} {:>10}",
                name,
                count(&self.sim, e),
                count(&self.live, e)
            );
        }
        let mut rt: Vec<f64> = self
            .round_trips
            .iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        rt.sort_by(f64::total_cmp);
        let q = |p: f64| {
            rt.get(((rt.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        let _ = writeln!(
            out,
            "\nreservation round trip (checkout → answer): p50 {:.2} ms, p99 {:.2} ms over {}",
            q(0.5),
            q(0.99),
            rt.len()
        );
        let s = &self.service;
        let _ = writeln!(
            out,
            "service: {} requests, {} reports ({} duplicates), {} codes issued, {} malformed",
            s.requests, s.reports, s.duplicate_reports, s.codes_issued, s.malformed
        );
        let _ = writeln!(out, "wall time {:.1} s", self.wall.as_secs_f64());
        if self.mismatches.is_empty() {
            let _ = writeln!(
                out,
                "parity: all {} orders got the same decision, locker, compartment and outcome",
                self.sim.len()
            );
        } else {
            let _ = writeln!(
                out,
                "parity: {} differences over {} orders:",
                self.mismatches.len(),
                self.sim.len()
            );
            for m in self.mismatches.iter().take(20) {
                let _ = writeln!(out, "  {m}");
            }
        }
        out
    }
}

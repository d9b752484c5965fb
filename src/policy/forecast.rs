//! The forecast policy: the article's Available_t made probabilistic. Accept
//! a reservation when, at its promised delivery time, the compartments that
//! fit it are expected to have room for it and for the reservations promised
//! by then — counting the free ones, plus the occupied ones whose packages
//! the dwell forecast expects to be collected by then less a safety margin
//! of `z(confidence)` standard deviations, minus the reservations due.

use super::{Admission, AdmissionRequest};
use crate::domain::{LockerView, Size, Tier};
use crate::engine::time::{from_hours, to_hours, Millis};
use serde::{Deserialize, Serialize};

/// The locker at one future moment, as the dwell forecast sees it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Checkpoint {
    /// Expected releases of today's occupants by then, per compartment size:
    /// the sum over occupied compartments of P(freed by then)...
    pub mean: [f64; Size::COUNT],
    /// ...and of its variance p(1 − p) (packages leave independently).
    pub var: [f64; Size::COUNT],
    /// Accepted reservations promised by then, per package size.
    pub due: [u32; Size::COUNT],
}

/// Checkpoints at the request's promised time and at later moments when
/// accepted reservations are promised (the new package may still be there
/// when they come). Computed by whoever drives the policy (simulator,
/// capacity service) from its dwell forecasts and reservations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReleaseOutlook {
    pub checkpoints: Vec<Checkpoint>,
}

/// When each tier's package is promised at the locker, in hours after
/// checkout: the earliest a driver may arrive.
#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromiseHours {
    pub same_day: f64,
    pub next_day: f64,
    pub two_day: f64,
    pub standard: f64,
}

impl Default for PromiseHours {
    /// The lower ends of the default lead times (docs/scenario.md).
    fn default() -> Self {
        PromiseHours {
            same_day: 3.0,
            next_day: 16.0,
            two_day: 40.0,
            standard: 72.0,
        }
    }
}

impl PromiseHours {
    pub fn get(&self, tier: Tier) -> f64 {
        match tier {
            Tier::SameDay => self.same_day,
            Tier::NextDay => self.next_day,
            Tier::TwoDay => self.two_day,
            Tier::Standard => self.standard,
        }
    }
}

#[cfg_attr(feature = "lab", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastPolicy {
    /// How sure the forecast must be that a compartment will be free: higher
    /// accepts less and fails fewer deliveries (0.5 trusts the mean).
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    #[serde(default)]
    pub promise_hours: PromiseHours,
}

fn default_confidence() -> f64 {
    0.95
}

impl Default for ForecastPolicy {
    fn default() -> Self {
        ForecastPolicy {
            confidence: default_confidence(),
            promise_hours: PromiseHours::default(),
        }
    }
}

impl ForecastPolicy {
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(self.confidence >= 0.5 && self.confidence < 1.0) {
            return Err((
                "confidence".into(),
                format!("must be in [0.5, 1), got {}", self.confidence),
            ));
        }
        for t in Tier::ALL {
            let h = self.promise_hours.get(t);
            if !(0.0..=24.0 * 30.0).contains(&h) {
                return Err((
                    format!("promise_hours.{t}"),
                    format!("must be in [0, 720], got {h}"),
                ));
            }
        }
        Ok(())
    }

    /// The moment the forecast is asked about for this request.
    pub fn promised_at(&self, request: &AdmissionRequest) -> Millis {
        (request.now + from_hours(self.promise_hours.get(request.tier))).min(request.due_by)
    }

    /// What this policy reads about a locker for `request`: checkpoints at
    /// the request's promised time and at up to four later moments when
    /// accepted reservations (`promised`: promise time, package size) are
    /// due. At each, per compartment size, each occupant's chance of being
    /// gone by then (`gone(i, hours ahead)`, for occupant i of
    /// `occupant_sizes`, given how long it has stayed); per package size, the
    /// reservations due by then. Occupants are summed in the order given, so
    /// every driver that keeps them in the same order gets the same numbers.
    pub fn outlook(
        &self,
        request: &AdmissionRequest,
        mut promised: Vec<(Millis, Size)>,
        occupant_sizes: &[Size],
        gone: impl Fn(usize, f64) -> f64,
    ) -> ReleaseOutlook {
        promised.sort_unstable_by_key(|&(t, _)| t);
        let (mut outlook, times) = self.outlook_due(request, &promised);
        for (cp, &t) in outlook.checkpoints.iter_mut().zip(&times) {
            self.add_releases(cp, t, request.now, occupant_sizes, &gone);
        }
        outlook
    }

    /// The outlook's first half: its checkpoints (returned with their
    /// times) with the reservations due by each and no releases yet.
    /// `promised` is ascending by time, so the checkpoints are order
    /// statistics read off it and the counts are its prefixes.
    pub fn outlook_due(
        &self,
        request: &AdmissionRequest,
        promised: &[(Millis, Size)],
    ) -> (ReleaseOutlook, Vec<Millis>) {
        const LATER_CHECKPOINTS: usize = 4;
        debug_assert!(promised.is_sorted_by_key(|&(t, _)| t));
        let at = self.promised_at(request);
        let later = &promised[promised.partition_point(|&(t, _)| t <= at)..];
        let mut times = Vec::with_capacity(1 + LATER_CHECKPOINTS);
        times.push(at);
        let n = later.len();
        let k = LATER_CHECKPOINTS.min(n);
        // Evenly through the later promises, always including the last.
        times.extend((1..=k).map(|i| later[(i * n).div_ceil(k) - 1].0));
        times.dedup();
        let mut due = [0u32; Size::COUNT];
        let mut counted = 0;
        let checkpoints = times
            .iter()
            .map(|&t| {
                while let Some(&(_, size)) = promised.get(counted).filter(|&&(pt, _)| pt <= t) {
                    due[size.index()] += 1;
                    counted += 1;
                }
                Checkpoint {
                    due,
                    ..Checkpoint::default()
                }
            })
            .collect();
        (ReleaseOutlook { checkpoints }, times)
    }

    /// The outlook's second half at one checkpoint (at `t`): each
    /// occupant's chance of being gone by then, summed per compartment size
    /// in the order given.
    pub fn add_releases(
        &self,
        cp: &mut Checkpoint,
        t: Millis,
        now: Millis,
        occupant_sizes: &[Size],
        gone: impl Fn(usize, f64) -> f64,
    ) {
        let ahead = to_hours(t - now);
        for (i, size) in occupant_sizes.iter().enumerate() {
            let q = gone(i, ahead);
            cp.mean[size.index()] += q;
            cp.var[size.index()] += q * (1.0 - q);
        }
    }

    /// The decision `admit` takes on the whole `outlook` (same arguments),
    /// summing the occupants' releases only where they matter: not at a
    /// checkpoint the free compartments cover alone, and nowhere once a
    /// checkpoint stays short even if every occupant left (releases only
    /// add room, at most one per occupant). Each checkpoint that is summed
    /// is summed exactly as `outlook` does, so the decision is the same.
    pub fn admit_lazily(
        &self,
        view: &LockerView,
        request: &AdmissionRequest,
        promised: &[(Millis, Size)],
        occupant_sizes: &[Size],
        gone: impl Fn(usize, f64) -> f64,
    ) -> Admission {
        let z = normal_quantile(self.confidence);
        let (outlook, times) = self.outlook_due(request, promised);
        let mut every_occupant = [0.0; Size::COUNT];
        for size in occupant_sizes {
            every_occupant[size.index()] += 1.0;
        }
        // The checkpoints that need releases, tightest first: a rejection
        // is usually found at the first one summed.
        let mut short = Vec::with_capacity(outlook.checkpoints.len());
        for (i, cp) in outlook.checkpoints.iter().enumerate() {
            if self.room_at(z, view, request, cp) {
                continue;
            }
            let all_gone = Checkpoint {
                mean: every_occupant,
                ..*cp
            };
            if !self.room_at(z, view, request, &all_gone) {
                return Admission::Reject;
            }
            let slack = (0..=request.size.index())
                .map(|k| {
                    let free: u32 = view.available[k..].iter().sum();
                    let due: u32 = cp.due[k..].iter().sum();
                    let gone: f64 = every_occupant[k..].iter().sum();
                    free as f64 + gone - due as f64
                })
                .fold(f64::INFINITY, f64::min);
            short.push((slack, i));
        }
        short.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, i) in short {
            let mut cp = outlook.checkpoints[i];
            self.add_releases(&mut cp, times[i], request.now, occupant_sizes, &gone);
            if !self.room_at(z, view, request, &cp) {
                return Admission::Reject;
            }
        }
        Admission::ReserveCapacity
    }

    /// Hall's condition for nested sizes (as `LockerView::can_commit`) at
    /// every checkpoint, with each size's expected releases, less the safety
    /// margin, added to what is available and the reservations due by then
    /// taken away. Without checkpoints it is exactly `can_commit`.
    pub fn admit(
        &self,
        view: &LockerView,
        request: &AdmissionRequest,
        outlook: &ReleaseOutlook,
    ) -> Admission {
        let z = normal_quantile(self.confidence);
        let ok = if outlook.checkpoints.is_empty() {
            let now = Checkpoint {
                due: view.pending,
                ..Checkpoint::default()
            };
            self.room_at(z, view, request, &now)
        } else {
            outlook
                .checkpoints
                .iter()
                .all(|cp| self.room_at(z, view, request, cp))
        };
        if ok {
            Admission::ReserveCapacity
        } else {
            Admission::Reject
        }
    }

    /// Hall's condition at one checkpoint, `z` standard deviations sure.
    fn room_at(
        &self,
        z: f64,
        view: &LockerView,
        request: &AdmissionRequest,
        cp: &Checkpoint,
    ) -> bool {
        (0..=request.size.index()).all(|k| {
            let available: f64 = view.available[k..].iter().map(|&a| a as f64).sum();
            let due: f64 = cp.due[k..].iter().map(|&d| d as f64).sum();
            let mean: f64 = cp.mean[k..].iter().sum();
            let var: f64 = cp.var[k..].iter().sum();
            // The margin only discounts the uncertain releases: compartments
            // free now are certain, so the policy never accepts less than
            // `can_commit`. Counts are integers: "room for one more" is a
            // margin of 1, and the half is the continuity correction.
            let releases = (mean - z * var.sqrt()).max(0.0);
            available + releases - due >= 0.5
        })
    }
}

/// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation (relative error
/// below 1.2e-9), enough for a confidence bar. The coefficients are the
/// published ones, digit for digit.
#[allow(clippy::excessive_precision)]
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.383577518672690e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_tables() {
        assert!(normal_quantile(0.5).abs() < 1e-9);
        assert!((normal_quantile(0.95) - 1.644853627).abs() < 1e-6);
        assert!((normal_quantile(0.99) - 2.326347874).abs() < 1e-6);
        assert!((normal_quantile(0.001) + 3.090232306).abs() < 1e-6);
    }

    fn req(size: Size) -> AdmissionRequest {
        AdmissionRequest {
            now: 0,
            tier: Tier::NextDay,
            size,
            due_by: from_hours(48.0),
        }
    }

    #[test]
    fn without_releases_it_is_can_commit() {
        let p = ForecastPolicy::default();
        let none = ReleaseOutlook::default();
        let mut view = LockerView {
            capacity: [4, 2, 0, 0],
            available: [1, 1, 0, 0],
            pending: [1, 0, 0, 0],
            ..LockerView::default()
        };
        for size in [Size::S, Size::M] {
            let expect = if view.can_commit(size) {
                Admission::ReserveCapacity
            } else {
                Admission::Reject
            };
            assert_eq!(p.admit(&view, &req(size), &none), expect);
        }
        view.pending = [2, 0, 0, 0];
        assert_eq!(p.admit(&view, &req(Size::S), &none), Admission::Reject);
    }

    #[test]
    fn expected_pickups_make_room_and_confidence_takes_it_back() {
        // A full locker of 10 S compartments; 3 pending reservations.
        let view = LockerView {
            capacity: [10, 0, 0, 0],
            available: [0, 0, 0, 0],
            pending: [3, 0, 0, 0],
            ..LockerView::default()
        };
        // Ten packages each collected by the promise with probability 0.5.
        let at_promise = Checkpoint {
            mean: [5.0, 0.0, 0.0, 0.0],
            var: [2.5, 0.0, 0.0, 0.0],
            due: [3, 0, 0, 0],
        };
        let outlook = ReleaseOutlook {
            checkpoints: vec![at_promise],
        };
        let trusting = ForecastPolicy {
            confidence: 0.5,
            ..ForecastPolicy::default()
        };
        // 5 expected − 3 pending = 2 ≥ 0.5: accept.
        assert_eq!(
            trusting.admit(&view, &req(Size::S), &outlook),
            Admission::ReserveCapacity
        );
        // 5 − 2.33·1.58 − 3 < 0.5: reject at 99%.
        let careful = ForecastPolicy {
            confidence: 0.99,
            ..ForecastPolicy::default()
        };
        assert_eq!(
            careful.admit(&view, &req(Size::S), &outlook),
            Admission::Reject
        );
        // Releases of small compartments do not help a large package.
        assert_eq!(
            trusting.admit(&view, &req(Size::M), &outlook),
            Admission::Reject
        );
        // Reservations promised after this one do not count against it at
        // its own promise...
        let early = Checkpoint {
            due: [0, 0, 0, 0],
            ..at_promise
        };
        let only_now = ReleaseOutlook {
            checkpoints: vec![early],
        };
        assert_eq!(
            careful.admit(&view, &req(Size::S), &only_now),
            Admission::ReserveCapacity
        );
        // ...but they do when they come, if too few will have left by then.
        let later = Checkpoint {
            mean: [6.0, 0.0, 0.0, 0.0],
            var: [2.4, 0.0, 0.0, 0.0],
            due: [5, 0, 0, 0],
        };
        let both = ReleaseOutlook {
            checkpoints: vec![early, later],
        };
        assert_eq!(
            trusting.admit(&view, &req(Size::S), &both),
            Admission::ReserveCapacity
        );
        assert_eq!(
            careful.admit(&view, &req(Size::S), &both),
            Admission::Reject
        );
    }

    proptest::proptest! {
        /// The lazy check decides as the whole outlook does, whatever the
        /// locker, its reservations and its occupants.
        #[test]
        fn admitting_lazily_decides_as_the_whole_outlook(
            available in proptest::array::uniform4(0u32..4),
            promised in proptest::collection::vec((0i64..96, 0usize..4), 0..12),
            occupants in proptest::collection::vec((0usize..4, 0.0f64..1.0, 0.0f64..60.0), 0..30),
            size in 0usize..4,
            confidence in 0.5f64..0.999,
        ) {
            let p = ForecastPolicy { confidence, ..ForecastPolicy::default() };
            let view = LockerView { available, ..LockerView::default() };
            let request = AdmissionRequest { size: Size::ALL[size], ..req(Size::S) };
            let promised: Vec<(Millis, Size)> = promised
                .iter()
                .map(|&(h, s)| (from_hours(h as f64), Size::ALL[s]))
                .collect();
            let mut sorted = promised.clone();
            sorted.sort_by_key(|&(t, _)| t);
            let sizes: Vec<Size> = occupants.iter().map(|&(s, ..)| Size::ALL[s]).collect();
            // Each occupant leaves at its own rate, more surely the longer ahead.
            let gone = |i: usize, ahead: f64| {
                let (_, rate, delay) = occupants[i];
                if ahead <= delay { 0.0 } else { 1.0 - (-(ahead - delay) * rate / 10.0).exp() }
            };
            let whole = p.admit(&view, &request, &p.outlook(&request, promised, &sizes, gone));
            proptest::prop_assert_eq!(p.admit_lazily(&view, &request, &sorted, &sizes, gone), whole);
        }
    }

    #[test]
    fn the_promise_never_passes_the_deadline() {
        let p = ForecastPolicy::default();
        let mut r = req(Size::S);
        r.tier = Tier::Standard;
        r.due_by = from_hours(10.0);
        assert_eq!(p.promised_at(&r), from_hours(10.0));
        r.tier = Tier::SameDay;
        assert_eq!(p.promised_at(&r), from_hours(3.0));
    }
}

//! An attacker at the keypad of a full locker types random codes as fast as
//! the keypad lets them, for a simulated month at a time. The keypad must
//! allow at most 5 wrong codes per lockout period, its lockouts escalate so
//! that after the first day the attacker gets 5 guesses a day, and the
//! attacker's measured success rate must agree with the computed one (active
//! codes / 10⁶ per try) within a 99% confidence interval.

use lockerlab::access::pass::{self, PassClaims, Role};
use lockerlab::access::{AuditEvent, LockerKeys, PickupCode};
use lockerlab::controller::{Controller, ControllerConfig, Input, Output, Screen, Source};
use lockerlab::domain::{Size, Tier};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const COMPARTMENTS: u32 = 200;
const DAY: i64 = 86_400_000;
const MONTH: i64 = 30 * DAY;
/// An attacker needs about ten seconds to type six digits and read the screen.
const TYPING: i64 = 10_000;

struct Locker {
    c: Controller,
    keys: LockerKeys,
    /// The driver who fills the locker signs in with it.
    driver_pass: std::sync::Arc<str>,
    seq: [u64; 4],
    next_package: u64,
    out: Vec<Output>,
}

impl Locker {
    fn send(&mut self, now: i64, source: Source, input: Input) {
        self.seq[source.index()] += 1;
        self.out.clear();
        self.c
            .handle(now, source, self.seq[source.index()], &input, &mut self.out)
            .unwrap();
    }

    /// The service fills a free compartment with a new package and code.
    fn fill_one(
        &mut self,
        now: i64,
        rng: &mut Xoshiro256PlusPlus,
        codes: &mut std::collections::HashSet<u32>,
    ) {
        let package = self.next_package;
        self.next_package += 1;
        self.send(
            now,
            Source::Service,
            Input::Reserve {
                package,
                tier: Tier::NextDay,
                size: Size::S,
                hold: false,
            },
        );
        let pass = self.driver_pass.clone();
        self.send(now, Source::Kiosk, Input::StaffPass { pass });
        self.send(now, Source::Kiosk, Input::DriverScan { package });
        let c = opened(&self.out).expect("a free compartment");
        self.send(
            now,
            Source::Sensors,
            Input::DoorClosed {
                compartment: c,
                occupied: true,
            },
        );
        let code = PickupCode::generate(rng, |c| codes.contains(&c.value()));
        codes.insert(code.value());
        let hash = self.keys.hash_code(code);
        self.send(
            now,
            Source::Service,
            Input::Credential {
                package,
                code_hash: hash,
                not_after: 100 * MONTH,
            },
        );
    }
}

fn opened(out: &[Output]) -> Option<u32> {
    out.iter().find_map(|o| match o {
        Output::OpenDoor { compartment } => Some(*compartment),
        _ => None,
    })
}

struct Month {
    tries: u64,
    successes: u64,
    max_wrong_in_a_lockout_period: usize,
    /// Most wrong codes in any day, from the second day on.
    max_wrong_in_a_later_day: usize,
}

fn attack_for_a_month(seed: u64) -> Month {
    let config = ControllerConfig::default();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let keys = LockerKeys::from_master(&rng.gen());
    let claims = PassClaims {
        v: pass::VERSION,
        role: Role::Driver,
        route: "fill".into(),
        lockers: vec!["target".into()],
        not_before: 0,
        not_after: 100 * MONTH,
        nonce: "0".into(),
    };
    let driver_pass = pass::issue(&claims, |_| keys.clone()).unwrap().into();
    let mut l = Locker {
        c: Controller::new("target", keys.clone(), [COMPARTMENTS, 0, 0, 0], config),
        keys,
        driver_pass,
        seq: [0; 4],
        next_package: 0,
        out: Vec::new(),
    };
    let mut codes = std::collections::HashSet::new();
    for _ in 0..COMPARTMENTS {
        l.fill_one(0, &mut rng, &mut codes);
    }
    let mut attacker = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xa77ac4e5);
    let (mut now, mut tries, mut successes) = (0i64, 0u64, 0u64);
    let mut wrong_times: Vec<i64> = Vec::new();
    while now < MONTH {
        let guess = PickupCode::new(attacker.gen_range(0..1_000_000)).unwrap();
        l.send(now, Source::Kiosk, Input::Keypad { code: guess });
        let evaluated = l.out.iter().any(|o| {
            matches!(
                o,
                Output::Audit {
                    event: AuditEvent::CodeRejected | AuditEvent::CodeAccepted { .. }
                }
            )
        });
        if evaluated {
            tries += 1;
        }
        if l.out.iter().any(|o| {
            matches!(
                o,
                Output::Audit {
                    event: AuditEvent::CodeRejected
                }
            )
        }) {
            wrong_times.push(now);
        }
        if let Some(c) = opened(&l.out) {
            // A stolen package; the service refills the compartment at once.
            successes += 1;
            l.send(
                now,
                Source::Sensors,
                Input::DoorClosed {
                    compartment: c,
                    occupied: false,
                },
            );
            codes.remove(&guess.value());
            l.fill_one(now, &mut rng, &mut codes);
        }
        let locked_until = l.out.iter().find_map(|o| match o {
            Output::Screen {
                message: Screen::KeypadLocked { until },
            } => Some(*until),
            _ => None,
        });
        now = match locked_until {
            Some(until) => until.max(now + TYPING),
            None => now + TYPING,
        };
        assert_eq!(
            l.c.active_credentials(),
            COMPARTMENTS as usize,
            "the locker stays full"
        );
    }
    let later: Vec<i64> = wrong_times.iter().copied().filter(|&t| t >= DAY).collect();
    Month {
        tries,
        successes,
        max_wrong_in_a_lockout_period: most_in_a_window(&wrong_times, config.lockout_ms),
        max_wrong_in_a_later_day: most_in_a_window(&later, DAY),
    }
}

/// Most of the sorted `times` inside any window `width` long.
fn most_in_a_window(times: &[i64], width: i64) -> usize {
    let mut most = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= width {
            lo += 1;
        }
        most = most.max(hi - lo + 1);
    }
    most
}

#[test]
fn brute_force_success_matches_the_code_space_odds() {
    let months = 10_000;
    let (mut tries, mut successes) = (0u64, 0u64);
    for seed in 0..months {
        let m = attack_for_a_month(seed);
        assert!(
            m.max_wrong_in_a_lockout_period <= 5,
            "month {seed}: {} wrong codes in one lockout period",
            m.max_wrong_in_a_lockout_period
        );
        // 15 min, 1 h, 4 h, 16 h, then a day: after the first day the
        // attacker gets one round of 5 a day.
        assert!(
            m.max_wrong_in_a_later_day <= 5,
            "month {seed}: {} wrong codes in a day after the first",
            m.max_wrong_in_a_later_day
        );
        tries += m.tries;
        successes += m.successes;
    }
    let p = COMPARTMENTS as f64 / 1e6;
    let measured = successes as f64 / tries as f64;
    let half = 2.576 * (p * (1.0 - p) / tries as f64).sqrt();
    let per_month = tries as f64 / months as f64;
    eprintln!(
        "{months} attacker-months: {tries} tries ({per_month:.0} a month), {successes} codes \
         guessed ({:.4} a month); measured {measured:.3e} per try vs computed {p:.3e} ± \
         {half:.1e} (99%): {:.4} expected openings a month",
        successes as f64 / months as f64,
        per_month * p,
    );
    assert!(
        (measured - p).abs() <= half,
        "measured {measured} vs computed {p} ± {half}"
    );
    // The first day's 25 tries, then 5 a day: fewer than 200 a month
    // (without escalation it was 14,400, 480 a day).
    assert!(per_month < 200.0, "{per_month} tries a month");
}

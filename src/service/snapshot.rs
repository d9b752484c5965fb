//! The service core's state at one step, so a restarted `serve --store`
//! replays only the journal after it: restart time bounded by the
//! snapshot interval, not by the service's age.
//!
//! It holds everything a replay up to that step would rebuild except the
//! configuration, which the caller brings (the store is tied to it), and
//! the pickup codes in clear: each order's code is kept as (code + pad) mod
//! 10⁶, the pad from its locker's key (`LockerKeys::code_pad`), and each
//! locker's set of codes in use is rebuilt from the orders. The code
//! streams are kept as their positions, so a snapshot needs a service whose
//! codes come from the OS-keyed ChaCha20 (a durable store's).

use super::*;
use crate::controller::halves;
use crate::forecast::{CacheState, ForecastCache};
use serde::{Deserialize, Serialize};

/// The snapshot format this build writes and reads.
const FORMAT: u32 = 1;

#[derive(Serialize)]
struct Written<'a> {
    format: u32,
    sites: &'a [Site],
    orders: Vec<(PackageId, Order)>,
    finished: &'a VecDeque<(Millis, PackageId)>,
    timers: &'a Timers,
    stats: &'a ServiceStats,
    forecast: Option<CacheState>,
    plan_day: i64,
    offline: &'a [LockerIdx],
    code_positions: Vec<[u64; 2]>,
}

#[derive(Deserialize)]
struct Read {
    format: u32,
    sites: Vec<Site>,
    orders: Vec<(PackageId, Order)>,
    finished: VecDeque<(Millis, PackageId)>,
    timers: Timers,
    stats: ServiceStats,
    forecast: Option<CacheState>,
    plan_day: i64,
    offline: Vec<LockerIdx>,
    code_positions: Vec<[u64; 2]>,
}

/// `code` moved by its order's pad, one way or back.
fn padded(cfg: &ServiceConfig, o: &Order, order: PackageId, back: bool) -> Option<PickupCode> {
    let code = o.code?;
    let pad = cfg.lockers.get(o.at as usize)?.keys.code_pad(order);
    let shifted = if back {
        (code.value() + 1_000_000 - pad) % 1_000_000
    } else {
        (code.value() + pad) % 1_000_000
    };
    PickupCode::new(shifted)
}

impl Service {
    /// The state as JSON, orders by id; no code in clear.
    pub fn snapshot(&self) -> Result<serde_json::Value, String> {
        let code_positions = self
            .cfg
            .lockers
            .iter()
            .map(|l| l.codes.position().map(halves::split))
            .collect::<Option<Vec<[u64; 2]>>>()
            .ok_or("a snapshot needs codes from the OS-keyed stream, not a seeded one")?;
        let mut orders: Vec<(PackageId, Order)> = self
            .orders
            .iter()
            .map(|(&id, o)| {
                let mut o = o.clone();
                o.code = padded(&self.cfg, &o, id, false);
                (id, o)
            })
            .collect();
        orders.sort_unstable_by_key(|&(id, _)| id);
        let written = Written {
            format: FORMAT,
            sites: &self.sites,
            orders,
            finished: &self.finished,
            timers: &self.timers,
            stats: &self.stats,
            forecast: self.forecast.as_ref().map(ForecastCache::state),
            plan_day: self.plan_day,
            offline: &self.offline,
            code_positions,
        };
        serde_json::to_value(&written).map_err(|e| format!("service snapshot: {e}"))
    }

    /// Puts a snapshot's state into this service, fresh from the
    /// configuration the snapshot was taken under.
    pub fn load(&mut self, snapshot: serde_json::Value) -> Result<(), String> {
        let bad = |what: String| format!("service snapshot: {what}");
        let r: Read = serde_json::from_value(snapshot).map_err(|e| bad(e.to_string()))?;
        if r.format != FORMAT {
            return Err(bad(format!(
                "format {} (this lockerlab reads {FORMAT})",
                r.format
            )));
        }
        let n = self.cfg.lockers.len();
        if r.sites.len() != n || r.code_positions.len() != n {
            return Err(bad(format!(
                "{} lockers, this service has {n}",
                r.sites.len()
            )));
        }
        for (l, &pos) in self.cfg.lockers.iter_mut().zip(&r.code_positions) {
            if !l.codes.seek(halves::join(pos)) {
                return Err(bad("this service's codes come from a seeded stream".into()));
            }
        }
        self.sites = r.sites;
        self.orders = HashMap::default();
        for (id, mut o) in r.orders {
            o.code = padded(&self.cfg, &o, id, true);
            if let (Some(code), Some(site)) = (o.code, self.sites.get_mut(o.at as usize)) {
                site.ledger.codes.insert(code.value());
            }
            self.orders.insert(id, o);
        }
        self.finished = r.finished;
        self.timers = r.timers;
        self.stats = r.stats;
        self.forecast = match (self.cfg.model.clone(), r.forecast) {
            (Some(model), Some(state)) => Some(ForecastCache::from_state(model, state)?),
            (None, None) => None,
            _ => return Err(bad("the dwell model differs from this service's".into())),
        };
        self.plan_day = r.plan_day;
        self.offline = r.offline;
        Ok(())
    }
}

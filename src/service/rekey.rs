//! A region-secret rotation, as the service takes it: new keys and code
//! streams for every locker, and every code a customer holds sent to its
//! locker again, hashed under the new keys. The customer's code does not
//! change and is not sent again; the locker replaces the old hash (its
//! previous key still opens it meanwhile), so once the lockers' rotation
//! ends the code still opens.

use super::*;
use crate::access::LockerKeys;

impl Service {
    /// Moves every locker to `keys` (its keys and its code stream, in
    /// locker order) and re-sends the live codes' credentials under them,
    /// oldest order first; how many.
    pub fn rekey(
        &mut self,
        keys: impl IntoIterator<Item = (LockerKeys, CodeRng)>,
        out: &mut Vec<Output>,
    ) -> Result<usize, String> {
        let keys: Vec<_> = keys.into_iter().collect();
        if keys.len() != self.cfg.lockers.len() {
            return Err(format!(
                "{} lockers' keys for a service of {}",
                keys.len(),
                self.cfg.lockers.len()
            ));
        }
        for (spec, (k, codes)) in self.cfg.lockers.iter_mut().zip(keys) {
            spec.keys = k;
            spec.codes = codes;
        }
        let mut live: Vec<(PackageId, LockerIdx, PickupCode, Millis)> = self
            .orders
            .iter()
            .filter_map(|(&id, o)| o.code.map(|code| (id, o.at, code, o.expires_at)))
            .collect();
        live.sort_unstable_by_key(|&(id, ..)| id);
        for &(package, at, code, not_after) in &live {
            let credential = LockerInput::Credential {
                package,
                code_hash: self.cfg.lockers[at as usize].keys.hash_code(code),
                not_after,
            };
            self.command(at, credential, Effect::None, out);
        }
        Ok(live.len())
    }
}

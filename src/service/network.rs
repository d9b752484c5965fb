//! The network's geometry: which lockers are near which. Discovery (checkout
//! offers nearby lockers) and fallback (a failed drop-off goes to a nearby
//! locker) are the only ways locations interact, so lockers connected by
//! either radius form a *region* that must be simulated together; regions are
//! independent and run in parallel.

use crate::scenario::Scenario;
use rstar::primitives::GeomWithData;
use rstar::RTree;

const EARTH_RADIUS_KM: f64 = 6371.0;

/// Great-circle distance in km.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().clamp(0.0, 1.0).asin()
}

/// Unit-sphere point scaled to km: chord distances order like great-circle ones.
fn ecef(lat: f64, lon: f64) -> [f64; 3] {
    let (p, l) = (lat.to_radians(), lon.to_radians());
    [
        EARTH_RADIUS_KM * p.cos() * l.cos(),
        EARTH_RADIUS_KM * p.cos() * l.sin(),
        EARTH_RADIUS_KM * p.sin(),
    ]
}

#[derive(Debug, Clone)]
pub struct Network {
    /// Location indices of each region, ascending; regions ordered by their
    /// first location.
    pub regions: Vec<Vec<usize>>,
    /// Per location: other locations within the discovery radius, nearest
    /// first (ties by index).
    pub discovery: Vec<Vec<usize>>,
    /// Per location: other locations within the fallback radius, nearest first.
    pub fallback: Vec<Vec<usize>>,
}

impl Network {
    pub fn build(sc: &Scenario) -> Network {
        let n = sc.locations.len();
        let discovery_km = sc.discovery.map_or(0.0, |d| d.radius_km);
        let fallback_km = sc.fallback_radius_km;
        let tree = RTree::bulk_load(
            sc.locations
                .iter()
                .enumerate()
                .map(|(i, l)| GeomWithData::new(ecef(l.lat, l.lon), i))
                .collect(),
        );
        let near = |i: usize, radius_km: f64| -> Vec<usize> {
            if radius_km <= 0.0 {
                return Vec::new();
            }
            let me = &sc.locations[i];
            // A chord is never longer than its arc, so querying the chord of
            // the radius finds every candidate; the exact check follows.
            let chord = 2.0
                * EARTH_RADIUS_KM
                * (radius_km / (2.0 * EARTH_RADIUS_KM))
                    .min(std::f64::consts::FRAC_PI_2)
                    .sin();
            let mut found: Vec<(f64, usize)> = tree
                .locate_within_distance(ecef(me.lat, me.lon), chord * chord * (1.0 + 1e-9))
                .map(|g| g.data)
                .filter(|&j| j != i)
                .map(|j| {
                    let o = &sc.locations[j];
                    (haversine_km(me.lat, me.lon, o.lat, o.lon), j)
                })
                .filter(|&(d, _)| d <= radius_km)
                .collect();
            found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            found.into_iter().map(|(_, j)| j).collect()
        };
        let discovery: Vec<Vec<usize>> = (0..n).map(|i| near(i, discovery_km)).collect();
        let fallback: Vec<Vec<usize>> = (0..n).map(|i| near(i, fallback_km)).collect();

        // Regions: connected components of the "near" relation (union-find).
        let mut parent: Vec<usize> = (0..n).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        for i in 0..n {
            for &j in discovery[i].iter().chain(&fallback[i]) {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        let mut by_root: Vec<Vec<usize>> = vec![Vec::new(); n];
        for i in 0..n {
            let r = root(&mut parent, i);
            by_root[r].push(i);
        }
        let regions = by_root.into_iter().filter(|r| !r.is_empty()).collect();
        Network {
            regions,
            discovery,
            fallback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_known_distance() {
        // Paris – London, about 344 km.
        let d = haversine_km(48.8566, 2.3522, 51.5074, -0.1278);
        assert!((d - 343.5).abs() < 2.0, "{d}");
    }

    #[test]
    fn regions_split_by_radius() {
        let mut sc = crate::scenario::Scenario::builtin();
        sc.locations.truncate(30);
        let alone = Network::build(&sc);
        assert_eq!(alone.regions.len(), 30);
        assert!(alone.discovery.iter().all(Vec::is_empty));
        sc.fallback_radius_km = 3.0;
        let net = Network::build(&sc);
        assert!(net.regions.len() < 30);
        let mut all: Vec<usize> = net.regions.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(
            all,
            (0..30).collect::<Vec<_>>(),
            "every location in exactly one region"
        );
        for (i, near) in net.fallback.iter().enumerate() {
            let region = net.regions.iter().find(|r| r.contains(&i)).unwrap();
            let me = &sc.locations[i];
            let mut last = 0.0;
            for &j in near {
                assert!(region.contains(&j), "neighbours share a region");
                let o = &sc.locations[j];
                let d = haversine_km(me.lat, me.lon, o.lat, o.lon);
                assert!(d <= 3.0 && d >= last);
                last = d;
            }
            // Brute force agrees with the index.
            let brute = (0..30)
                .filter(|&j| j != i)
                .filter(|&j| {
                    haversine_km(me.lat, me.lon, sc.locations[j].lat, sc.locations[j].lon) <= 3.0
                })
                .count();
            assert_eq!(brute, near.len());
        }
    }
}

//! The forest's binary file: little-endian, length-prefixed, every count and
//! index checked on the way in, so a truncated or tampered file is an error,
//! never a panic. (JSON would be ten times larger for the leaf values.)

use super::isotonic::Isotonic;
use super::tree::{Node, Tree};

const MAGIC: &[u8; 8] = b"LLFOREST";
pub const CODEC_VERSION: u32 = 1;

pub fn encode(trees: &[Tree], calibration: &[Isotonic]) -> Vec<u8> {
    let mut w = Vec::new();
    w.extend_from_slice(MAGIC);
    put_u32(&mut w, CODEC_VERSION);
    put_u32(&mut w, calibration.len() as u32);
    for iso in calibration {
        put_u32(&mut w, iso.xs.len() as u32);
        for (&x, &y) in iso.xs.iter().zip(&iso.ys) {
            put_f64(&mut w, x);
            put_f64(&mut w, y);
        }
    }
    put_u32(&mut w, trees.len() as u32);
    for t in trees {
        put_u32(&mut w, t.nodes.len() as u32);
        for n in &t.nodes {
            match *n {
                Node::Split {
                    feature,
                    threshold,
                    le,
                    gt,
                } => {
                    w.push(0);
                    w.extend_from_slice(&feature.to_le_bytes());
                    put_f64(&mut w, threshold);
                    put_u32(&mut w, le);
                    put_u32(&mut w, gt);
                }
                Node::Leaf {
                    mean_hours,
                    start,
                    end,
                } => {
                    w.push(1);
                    put_f64(&mut w, mean_hours);
                    put_u32(&mut w, start);
                    put_u32(&mut w, end);
                }
            }
        }
        put_u32(&mut w, t.values.len() as u32);
        for v in &t.values {
            w.extend_from_slice(&v.to_le_bytes());
        }
    }
    w
}

pub fn decode(bytes: &[u8]) -> Result<(Vec<Tree>, Vec<Isotonic>), String> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(8)? != MAGIC {
        return Err("not a lockerlab forest file (bad magic)".into());
    }
    let version = r.u32()?;
    if version != CODEC_VERSION {
        return Err(format!(
            "forest file version {version}, this build reads {CODEC_VERSION}"
        ));
    }
    let n_cal = r.count(16)?;
    let mut calibration = Vec::with_capacity(n_cal);
    for _ in 0..n_cal {
        let k = r.count(16)?;
        let mut iso = Isotonic::default();
        for _ in 0..k {
            iso.xs.push(r.f64()?);
            iso.ys.push(r.f64()?);
        }
        if iso.xs.windows(2).any(|w| w[0] > w[1]) || iso.xs.iter().any(|x| !x.is_finite()) {
            return Err("calibration knots out of order".into());
        }
        // A calibration map turns probabilities into probabilities, in order.
        if iso.ys.windows(2).any(|w| w[0] > w[1]) || iso.ys.iter().any(|y| !(0.0..=1.0).contains(y))
        {
            return Err("calibration map not a non-decreasing map into [0, 1]".into());
        }
        calibration.push(iso);
    }
    let n_trees = r.count(8)?;
    let mut trees = Vec::with_capacity(n_trees);
    for ti in 0..n_trees {
        let n_nodes = r.count(17)?;
        let mut nodes = Vec::with_capacity(n_nodes);
        for _ in 0..n_nodes {
            nodes.push(match r.take(1)?[0] {
                0 => {
                    let feature = u16::from_le_bytes(r.array()?);
                    Node::Split {
                        feature,
                        threshold: r.f64()?,
                        le: r.u32()?,
                        gt: r.u32()?,
                    }
                }
                1 => Node::Leaf {
                    mean_hours: r.f64()?,
                    start: r.u32()?,
                    end: r.u32()?,
                },
                tag => return Err(format!("tree {ti}: unknown node tag {tag}")),
            });
        }
        let n_values = r.count(2)?;
        let mut values = Vec::with_capacity(n_values);
        for _ in 0..n_values {
            values.push(u16::from_le_bytes(r.array()?));
        }
        trees.push(Tree::new(nodes, values).map_err(|e| format!("tree {ti}: {e}"))?);
    }
    if r.at != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - r.at));
    }
    Ok((trees, calibration))
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_f64(w: &mut Vec<u8>, v: f64) {
    w.extend_from_slice(&v.to_le_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("truncated at byte {}", self.at));
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A count of items at least `min_size` bytes each: refuses counts the
    /// remaining bytes cannot hold, so a corrupt count cannot allocate gigabytes.
    fn count(&mut self, min_size: usize) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size) > self.bytes.len() - self.at {
            return Err(format!(
                "count {n} at byte {} exceeds the file",
                self.at - 4
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> (Vec<Tree>, Vec<Isotonic>) {
        let tree = Tree::new(
            vec![
                Node::Split {
                    feature: 3,
                    threshold: 0.5,
                    le: 1,
                    gt: 2,
                },
                Node::Leaf {
                    mean_hours: 1.5,
                    start: 0,
                    end: 2,
                },
                Node::Leaf {
                    mean_hours: 9.0,
                    start: 2,
                    end: 3,
                },
            ],
            vec![10, 20, 90],
        )
        .unwrap();
        let iso = Isotonic {
            xs: vec![0.0, 0.5, 1.0],
            ys: vec![0.1, 0.4, 0.9],
        };
        (vec![tree.clone(), tree], vec![iso])
    }

    #[test]
    fn round_trips() {
        let (t, c) = sample();
        assert_eq!(decode(&encode(&t, &c)).unwrap(), (t, c));
    }

    /// Once loaded whenever meta.json's hash was re-signed: a forest a
    /// trainer cannot write.
    #[test]
    fn corrupt_values_are_refused_whatever_the_hash() {
        let (t, c) = sample();
        let mean = |m: f64| {
            let mut t = t.clone();
            t[0].nodes[1] = Node::Leaf {
                mean_hours: m,
                start: 0,
                end: 2,
            };
            t
        };
        for m in [f64::NAN, f64::INFINITY, -1.0, 1e12] {
            let e = decode(&encode(&mean(m), &c)).unwrap_err();
            assert!(e.contains("leaf mean"), "{m}: {e}");
        }
        let mut unsorted = t.clone();
        unsorted[0].values = vec![20, 10, 90];
        let e = decode(&encode(&unsorted, &c)).unwrap_err();
        assert!(e.contains("not sorted"), "{e}");
        for ys in [
            vec![0.1, 0.4, 1.5],
            vec![0.5, 0.4, 0.9],
            vec![f64::NAN, 0.4, 0.9],
        ] {
            let bad = vec![Isotonic {
                xs: vec![0.0, 0.5, 1.0],
                ys,
            }];
            let e = decode(&encode(&t, &bad)).unwrap_err();
            assert!(e.contains("into [0, 1]"), "{e}");
        }
    }

    #[test]
    fn truncation_is_an_error_at_every_length() {
        let (t, c) = sample();
        let bytes = encode(&t, &c);
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "prefix {n} accepted");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_corruption_never_panics(pos in 0usize..200, byte in any::<u8>()) {
            let (t, c) = sample();
            let mut bytes = encode(&t, &c);
            let i = pos % bytes.len();
            bytes[i] = byte;
            let _ = decode(&bytes);
        }
    }
}

//! Clusters: union-find over candidate pairs, the survivor of each cluster,
//! and the details object that says which row each removed row matched.

use super::collect::Docs;
use super::{Keep, KeepRule, Order};
use crate::store::{ObjectId, codec};

/// The member of a cluster (in input order) that `keep` picks.
pub(super) fn survivor(m: &[u32], keep: &Keep, docs: &Docs) -> u32 {
    let better = |a: u32, b: u32| -> bool {
        match keep {
            Keep::Rule(KeepRule::First) => false,
            Keep::Rule(KeepRule::Longest) => docs.len[a as usize] > docs.len[b as usize],
            Keep::Score(k) => {
                let (x, y) = (docs.score[a as usize], docs.score[b as usize]);
                match (x.is_nan(), y.is_nan()) {
                    (false, true) => true,
                    (true, _) => false,
                    (false, false) => match k.order {
                        Order::Desc => x > y,
                        Order::Asc => x < y,
                    },
                }
            }
        }
    };
    m.iter()
        .copied()
        .reduce(|best, d| if better(d, best) { d } else { best })
        .expect("non-empty cluster")
}

/// Jaccard of two sorted, deduplicated shingle sets (a merge; no hashing).
pub(super) fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - inter;
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

const DETAILS_MAGIC: &[u8; 8] = b"SIFTDUP1";
/// With `against`: a sixth field says which version holds the kept row.
const DETAILS_MAGIC_AGAINST: &[u8; 8] = b"SIFTDUP2";

/// Removed rows as (segment, shard row) of the removed and kept rows, and
/// the Jaccard. `earlier(doc)` says, for a kept row of an earlier version,
/// which one (its index in `against`) and the row's position in it; such a
/// row is written as (position high, low, Jaccard, index + 1).
pub(super) fn encode_details(
    docs: &Docs,
    removed: &[(u32, u32, f32)],
    own_from: u32,
    earlier: Option<&dyn Fn(u32) -> Option<(u32, u64)>>,
) -> Vec<u8> {
    let at = |d: u32| {
        let (s, r) = docs.at[d as usize];
        (s - own_from, r)
    };
    match earlier {
        None => codec::encode_records(
            DETAILS_MAGIC,
            removed.iter().map(|(d, k, sim)| {
                let ((ds, dr), (ks, kr)) = (at(*d), at(*k));
                codec::u32s::<5, 20>([ds, dr, ks, kr, sim.to_bits()])
            }),
        ),
        Some(earlier) => codec::encode_records(
            DETAILS_MAGIC_AGAINST,
            removed.iter().map(|(d, k, sim)| {
                let (ds, dr) = at(*d);
                let (ks, kr, v) = match earlier(*k) {
                    Some((v, pos)) => ((pos >> 32) as u32, pos as u32, v + 1),
                    None => {
                        let (ks, kr) = at(*k);
                        (ks, kr, 0)
                    }
                };
                codec::u32s::<6, 24>([ds, dr, ks, kr, sim.to_bits(), v])
            }),
        ),
    }
}

/// One removed row: where it is, where its kept twin is, their similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Removal {
    pub removed: (u32, u32),
    /// The kept row's (segment, shard row) in the stage's input; unused when `earlier` is set.
    pub kept: (u32, u32),
    pub similarity: f32,
    /// When the kept row belongs to a version of `against`: its index there
    /// and the row's position in that version.
    pub earlier: Option<(u32, u64)>,
}

pub fn decode_details(id: &ObjectId, bytes: &[u8]) -> Result<Vec<Removal>, crate::store::Error> {
    let bad = |r: &str| crate::store::Error::BadObject {
        id: *id,
        what: "dedup details",
        reason: r.into(),
    };
    let u = codec::u32_at;
    if bytes.starts_with(DETAILS_MAGIC_AGAINST) {
        return Ok(codec::decode_records::<24>(DETAILS_MAGIC_AGAINST, bytes)
            .map_err(bad)?
            .map(|c| {
                let v = u(&c, 5);
                Removal {
                    removed: (u(&c, 0), u(&c, 1)),
                    kept: if v == 0 {
                        (u(&c, 2), u(&c, 3))
                    } else {
                        (u32::MAX, u32::MAX)
                    },
                    similarity: f32::from_bits(u(&c, 4)),
                    earlier: (v > 0)
                        .then(|| (v - 1, (u64::from(u(&c, 2)) << 32) | u64::from(u(&c, 3)))),
                }
            })
            .collect());
    }
    Ok(codec::decode_records::<20>(DETAILS_MAGIC, bytes)
        .map_err(bad)?
        .map(|c| Removal {
            removed: (u(&c, 0), u(&c, 1)),
            kept: (u(&c, 2), u(&c, 3)),
            similarity: f32::from_bits(u(&c, 4)),
            earlier: None,
        })
        .collect())
}

/// Union-find with path halving; the root of a set is its smallest member,
/// so clusters do not depend on the order of unions.
pub(super) struct UnionFind(Vec<u32>);

impl UnionFind {
    pub(super) fn new(n: usize) -> Self {
        UnionFind((0..n as u32).collect())
    }

    pub(super) fn find(&mut self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            let p = self.0[x as usize];
            self.0[x as usize] = self.0[p as usize];
            x = self.0[x as usize];
        }
        x
    }

    pub(super) fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.0[hi as usize] = lo;
        }
    }
}

//! Pair sidecars: the shingle Jaccard of candidate pairs verified exactly,
//! kept so that a later run (a grown corpus, other bands, another
//! threshold) does not read and shingle those texts again.
//!
//! A pair is recorded under the shard of its later document, as (row,
//! shard of the earlier document, its row, Jaccard). Shards are
//! content-addressed, so (shard, row) names one text for good, and the
//! Jaccard depends only on the two texts and the shingling: a cached value
//! is the value verification would compute. Objects are found through the
//! catalog like band sidecars (`gc` and `fsck` treat them alike).
//!
//! ```text
//! magic "SIFTPAR1" │ parts: params │ shard ids (32 B…) │ records (row u32, shard index u32, row u32, Jaccard f64)…
//! ```

use std::collections::HashMap;

use super::{Plan, Shingle};
use crate::stage::{Context, RunError};
use crate::store::ObjectId;
use crate::store::catalog::band_sidecar_key;
use crate::store::codec::{decode_parts, encode_parts};

const MAGIC: &[u8; 8] = b"SIFTPAR1";

/// What a pair's Jaccard depends on. Bump `/1` with `sidecar::params`.
fn params(plan: &Plan) -> String {
    let shingle = match plan.shingle {
        Shingle::Word => "word",
        Shingle::Char => "char",
    };
    format!(
        "pairs/1 column={:?} shingle={shingle} ngram={}",
        plan.column, plan.ngram
    )
}

/// (later row, earlier shard, earlier row).
type Key = (u32, ObjectId, u32);

/// The pair sidecars of a run: read when first needed, extended with the
/// pairs verified now, and written back at the end.
pub(super) struct PairCache {
    params: String,
    key_params: String,
    /// The catalog's sidecar of each shard the run reads (looked up at once).
    ids: HashMap<ObjectId, Option<ObjectId>>,
    /// Per shard: its recorded pairs (`None`: none recorded, or unusable).
    known: HashMap<ObjectId, Option<HashMap<Key, f64>>>,
    /// Per shard: pairs verified in this run.
    fresh: HashMap<ObjectId, Vec<(Key, f64)>>,
    /// Pairs answered from sidecars.
    pub hits: u64,
}

impl PairCache {
    /// The cache of the pairs whose later document lies in one of `shards`.
    pub(super) fn new(
        cx: &Context,
        plan: &Plan,
        shards: impl Iterator<Item = ObjectId>,
    ) -> Result<PairCache, RunError> {
        let params = params(plan);
        let key_params = super::sidecar::params_hash(&params);
        let catalog = cx.store.catalog()?;
        let mut ids = HashMap::new();
        for shard in shards {
            if let std::collections::hash_map::Entry::Vacant(e) = ids.entry(shard) {
                e.insert(catalog.band_sidecar(&band_sidecar_key(&shard, &key_params))?);
            }
        }
        Ok(PairCache {
            params,
            key_params,
            ids,
            known: HashMap::new(),
            fresh: HashMap::new(),
            hits: 0,
        })
    }

    /// The recorded Jaccard of (`shard`, `row`) and (`rep_shard`, `rep_row`), if any.
    pub(super) fn get(
        &mut self,
        cx: &Context,
        (shard, row): (ObjectId, u32),
        (rep_shard, rep_row): (ObjectId, u32),
    ) -> Option<f64> {
        if !self.known.contains_key(&shard) {
            let found = self.load(cx, &shard);
            self.known.insert(shard, found);
        }
        let hit = self.known[&shard]
            .as_ref()
            .and_then(|m| m.get(&(row, rep_shard, rep_row)).copied());
        if hit.is_some() {
            self.hits += 1;
        }
        hit
    }

    /// Notes a pair verified in this run.
    pub(super) fn put(&mut self, (shard, row): (ObjectId, u32), rep: (ObjectId, u32), sim: f64) {
        self.fresh
            .entry(shard)
            .or_default()
            .push(((row, rep.0, rep.1), sim));
    }

    /// A shard's recorded pairs; a sidecar that is gone, damaged or made
    /// otherwise is a miss.
    fn load(&self, cx: &Context, shard: &ObjectId) -> Option<HashMap<Key, f64>> {
        let id = self.ids.get(shard).copied().flatten()?;
        let bytes = cx.store.objects().get(&id).ok()?;
        decode(&bytes, &self.params).ok()
    }

    /// Writes the sidecars of the shards with pairs verified in this run
    /// (what was recorded before, plus those).
    pub(super) fn save(mut self, cx: &Context) -> Result<(), RunError> {
        let mut written = Vec::new();
        let mut shards: Vec<ObjectId> = self.fresh.keys().copied().collect();
        shards.sort();
        for shard in shards {
            let fresh = self.fresh.remove(&shard).expect("listed");
            let mut all: Vec<(Key, f64)> = match self.known.remove(&shard) {
                Some(Some(m)) => m.into_iter().collect(),
                Some(None) => Vec::new(),
                None => self
                    .load(cx, &shard)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            };
            all.extend(fresh);
            all.sort_by_key(|a| a.0);
            all.dedup_by(|a, b| a.0 == b.0);
            let id = cx.store.objects().put(&encode(&self.params, &all))?.id;
            written.push((band_sidecar_key(&shard, &self.key_params), id));
        }
        if !written.is_empty() {
            cx.store.catalog()?.set_band_sidecars(&written)?;
        }
        Ok(())
    }
}

fn encode(params: &str, pairs: &[(Key, f64)]) -> Vec<u8> {
    let mut shards: Vec<ObjectId> = pairs.iter().map(|p| p.0.1).collect();
    shards.sort();
    shards.dedup();
    let index: HashMap<ObjectId, u32> = shards
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as u32))
        .collect();
    let ids: Vec<u8> = shards.iter().flat_map(|s| s.0).collect();
    let mut records = Vec::with_capacity(pairs.len() * 20);
    for ((row, shard, rep_row), sim) in pairs {
        for v in [*row, index[shard], *rep_row] {
            records.extend_from_slice(&v.to_le_bytes());
        }
        records.extend_from_slice(&sim.to_bits().to_le_bytes());
    }
    encode_parts(MAGIC, &[params.as_bytes().to_vec(), ids, records])
}

fn decode(bytes: &[u8], params: &str) -> Result<HashMap<Key, f64>, &'static str> {
    let parts = decode_parts(MAGIC, bytes)?;
    let [p, ids, records] = parts[..] else {
        return Err("wrong number of parts");
    };
    if p != params.as_bytes() {
        return Err("made with other parameters");
    }
    if ids.len() % 32 != 0 || records.len() % 20 != 0 {
        return Err("part lengths are not whole records");
    }
    let shards: Vec<ObjectId> = ids
        .chunks_exact(32)
        .map(|c| ObjectId(c.try_into().expect("32 bytes")))
        .collect();
    let u = |c: &[u8], i: usize| u32::from_le_bytes(c[i * 4..i * 4 + 4].try_into().expect("4"));
    let mut out = HashMap::with_capacity(records.len() / 20);
    for c in records.chunks_exact(20) {
        let shard = *shards
            .get(u(c, 1) as usize)
            .ok_or("a shard index is out of range")?;
        let sim = f64::from_bits(u64::from_le_bytes(c[12..20].try_into().expect("8 bytes")));
        out.insert((u(c, 0), shard, u(c, 2)), sim);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_and_other_params_are_a_miss() {
        let (a, b) = (ObjectId::of(b"a"), ObjectId::of(b"b"));
        let pairs = vec![((1, a, 0), 0.5f64), ((7, b, 3), 0.9), ((9, a, 2), 1.0)];
        let bytes = encode("p", &pairs);
        let got = decode(&bytes, "p").unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[&(7, b, 3)], 0.9);
        assert!(decode(&bytes, "q").is_err());
        assert!(decode(&bytes[..bytes.len() - 3], "p").is_err());
    }
}

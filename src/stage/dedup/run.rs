//! A dedup pass: keys or band hashes, candidate pairs from the buckets,
//! verification, clusters and their survivors.

use std::collections::HashMap;

use indexmap::IndexMap;
use roaring::RoaringBitmap;

use super::cluster::{UnionFind, encode_details, jaccard, survivor};
use super::collect::{Docs, collect, exact_shingles};
use super::minhash::{self, Permutations};
use super::{Method, Plan, Verify, method_name};
use crate::gpu::DeviceChoice;
use crate::stage::{Context, Outcome, RunError, StageStats};
use crate::version::selection::SelectionSet;
use crate::version::stats::DedupStats;

/// Runs a dedup stage over the selected rows.
pub(super) fn run(cx: &Context, input: &SelectionSet, plan: &Plan) -> Result<Outcome, RunError> {
    let perms = Permutations::new(plan.num_perm, plan.seed);
    let gpu = match (plan.method, cx.device.unwrap_or(plan.device)) {
        (Method::Exact, _) | (_, DeviceChoice::Cpu) => None,
        (_, DeviceChoice::Auto) => crate::gpu::open().ok(),
        (_, DeviceChoice::Gpu) => Some(crate::gpu::open().map_err(RunError::Gpu)?),
    };
    let (docs, reused) = collect(cx, input, plan, &perms, gpu)?;
    let n = docs.at.len();
    let mut uf = UnionFind::new(n);
    let (mut candidates, mut verified) = (0u64, 0u64);
    let mut sims: HashMap<(u32, u32), f32> = HashMap::new();
    match plan.method {
        Method::Exact => {
            let mut first: HashMap<u128, u32> = HashMap::with_capacity(n);
            for (i, k) in docs.keys.iter().enumerate() {
                if let Some(&j) = first.get(k) {
                    candidates += 1;
                    verified += 1;
                    uf.union(j, i as u32);
                    sims.insert((i as u32, j), 1.0);
                } else {
                    first.insert(*k, i as u32);
                }
            }
        }
        Method::Minhash => {
            // Candidates: each document pairs with the first document of every bucket it falls in.
            let mut pairs: Vec<(u32, u32)> = Vec::new();
            for j in 0..plan.bands {
                let mut first: HashMap<u64, u32> = HashMap::with_capacity(n);
                for i in 0..n {
                    let h = docs.bands[i * plan.bands + j];
                    match first.get(&h) {
                        Some(&rep) => pairs.push((i as u32, rep)),
                        None => {
                            first.insert(h, i as u32);
                        }
                    }
                }
            }
            pairs.sort_unstable();
            pairs.dedup();
            candidates = pairs.len() as u64;
            let exact_sets = if plan.verify == Verify::Exact {
                exact_shingles(cx, &docs, &pairs, plan)?
            } else {
                HashMap::new()
            };
            for (a, b) in pairs {
                let sim = match plan.verify {
                    Verify::None => {
                        let (sa, sb) = (sig_of(&docs, a, plan), sig_of(&docs, b, plan));
                        if sa.is_empty() {
                            1.0
                        } else {
                            minhash::estimate(sa, sb)
                        }
                    }
                    Verify::Signature => {
                        minhash::estimate(sig_of(&docs, a, plan), sig_of(&docs, b, plan))
                    }
                    Verify::Exact => jaccard(&exact_sets[&a], &exact_sets[&b]),
                };
                if plan.verify == Verify::None || sim >= plan.threshold {
                    verified += 1;
                    uf.union(a, b);
                    sims.insert((a, b), sim as f32);
                }
            }
        }
    }
    // One survivor per cluster.
    let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
    for i in 0..n as u32 {
        members.entry(uf.find(i)).or_default().push(i);
    }
    let mut keep = vec![true; n];
    let mut removed_rows: Vec<(u32, u32, f32)> = Vec::new();
    let mut histogram: std::collections::BTreeMap<usize, u64> = Default::default();
    let mut clusters = 0u64;
    let mut roots: Vec<&u32> = members.keys().collect();
    roots.sort_unstable();
    for root in roots {
        let m = &members[root];
        if m.len() < 2 {
            continue;
        }
        clusters += 1;
        *histogram.entry(m.len()).or_insert(0) += 1;
        let survivor = survivor(m, &plan.keep, &docs);
        for &d in m {
            if d != survivor {
                keep[d as usize] = false;
                let sim = sims
                    .get(&(d.max(survivor), d.min(survivor)))
                    .copied()
                    .unwrap_or(f32::NAN);
                removed_rows.push((d, survivor, sim));
            }
        }
    }
    removed_rows.sort_unstable_by_key(|r| r.0);
    let mut out: Vec<RoaringBitmap> = vec![RoaringBitmap::new(); input.0.len()];
    for (i, (seg, row)) in docs.at.iter().enumerate() {
        if keep[i] {
            out[*seg as usize].insert(*row);
        }
    }
    let details = encode_details(&docs, &removed_rows);
    let details_id = cx.store.objects().put(&details)?.id;
    let removed = removed_rows.len() as u64;
    let stats = DedupStats {
        method: method_name(plan.method).into(),
        bands: (plan.method == Method::Minhash).then_some(plan.bands),
        rows: (plan.method == Method::Minhash).then_some(plan.rows),
        candidates,
        verified,
        clusters,
        removed,
        histogram: histogram
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        details: details_id,
        device: (plan.method == Method::Minhash).then(|| match gpu {
            Some(g) => g.name.clone(),
            None => "cpu".to_string(),
        }),
        reused: (reused > 0).then_some(reused),
    };
    let rule = match plan.method {
        Method::Exact => "exact_duplicate",
        Method::Minhash => "near_duplicate",
    };
    let mut by_rule = IndexMap::new();
    by_rule.insert(rule.to_string(), removed);
    Ok(Outcome {
        kept: SelectionSet(out),
        removed: by_rule,
        stats: StageStats::Dedup(stats),
    })
}

fn sig_of<'a>(docs: &'a Docs, i: u32, plan: &Plan) -> &'a [u32] {
    if docs.sigs.is_empty() {
        return &[];
    }
    &docs.sigs[i as usize * plan.num_perm..(i as usize + 1) * plan.num_perm]
}

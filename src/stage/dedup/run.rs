//! A dedup pass: keys or band hashes, candidate pairs from the buckets,
//! verification, clusters and their survivors.

use std::collections::HashSet;

use indexmap::IndexMap;
use roaring::RoaringBitmap;

use std::io::Write;

use super::cluster::{UnionFind, encode_details, jaccard, survivor};
use super::collect::{Decoded, Docs, Segs, collect, exact_shingles};
use super::minhash::{self, Permutations};
use super::pairs::PairCache;
use super::{Keep, Method, Plan, Verify, method_name};
use crate::gpu::DeviceChoice;
use crate::spill::{Record, Sorter, TempFile};
use crate::stage::{Context, Outcome, RunError, StageStats};
use crate::version::selection::SelectionSet;
use crate::version::stats::{AgainstStats, DedupStats};

/// Per-document arrays held whatever the budget: place (8 B), length (4),
/// union-find (4), kept flag (1), and the score (8) for `keep = { by }`.
const FIXED_PER_DOC: u64 = 17;
/// Held outside the sorters: a segment's batches, its band hashes, the
/// segment read ahead, sidecars.
const RESERVED: u64 = 192 << 20;

/// How a run's memory budget is shared.
struct Budget {
    /// The band (or exact key) records sorted at once.
    sort: u64,
    /// Candidate pairs sorted at once (they are sorted while the bands merge).
    pairs: u64,
    /// The shingle sets of one verification chunk.
    verify: u64,
    /// Whether signatures stay in memory (else a file in `tmp/`).
    sigs_in_memory: bool,
}

impl Budget {
    fn new(memory: u64, docs: u64, plan: &Plan) -> Budget {
        let score = if matches!(plan.keep, Keep::Score(_)) {
            8
        } else {
            0
        };
        // A budget smaller than what is held anyway still gets a quarter of itself.
        let work = memory
            .saturating_sub(docs * (FIXED_PER_DOC + score) + RESERVED)
            .max(memory / 4);
        let sigs = docs * plan.num_perm as u64 * 4;
        Budget {
            sort: work / 2,
            pairs: work / 4,
            verify: work / 2,
            sigs_in_memory: plan.verify == Verify::Exact || sigs <= work / 4,
        }
    }
}

/// A band hash of a document: grouping by (band, hash) gives the buckets,
/// whose first member (by document number) is the representative. Packed
/// as band (bits 96..) · hash (32..96) · document (0..32) in one integer, so
/// that the order is (band, hash, document) and compares in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct BandRecord(u128);

impl BandRecord {
    fn new(band: u32, hash: u64, doc: u32) -> Self {
        BandRecord((u128::from(band) << 96) | (u128::from(hash) << 32) | u128::from(doc))
    }
    /// (band, hash): the bucket.
    fn bucket_key(&self) -> u128 {
        self.0 >> 32
    }
    fn doc(&self) -> u32 {
        self.0 as u32
    }
    fn band(&self) -> u32 {
        (self.0 >> 96) as u32
    }
    fn hash(&self) -> u64 {
        (self.0 >> 32) as u64
    }
}

impl Record for BandRecord {
    const SIZE: usize = 16;
    fn encode(&self, out: &mut [u8]) {
        out[..16].copy_from_slice(&self.0.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        BandRecord(u128::from_le_bytes(b[..16].try_into().expect("16 bytes")))
    }
    fn partition(&self) -> usize {
        (self.0 >> 96) as usize
    }
    fn bucket(&self) -> Option<u32> {
        // Band hashes are spread evenly: 256 buckets by their top byte, within a band.
        Some((self.0 >> 88) as u32 & 0xFF)
    }
}

/// The candidate pairs of band rows (band, hash, document) grouped
/// elsewhere (a cluster partition holding whole buckets): in each bucket,
/// every document after the first (by number) with the first, as the
/// sorted band scan of [`run`] gives them.
pub fn bucket_pairs(rows: Vec<(u32, u64, u32)>) -> Vec<(u32, u32)> {
    let mut records: Vec<BandRecord> = rows
        .into_iter()
        .map(|(band, hash, doc)| BandRecord::new(band, hash, doc))
        .collect();
    records.sort_unstable();
    let mut out = Vec::new();
    let mut bucket: Option<(u128, u32)> = None;
    for r in records {
        match bucket {
            Some((key, rep)) if key == r.bucket_key() => out.push((r.doc(), rep)),
            _ => bucket = Some((r.bucket_key(), r.doc())),
        }
    }
    out
}

/// An exact key (xxh3-128, as two halves) of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct KeyRecord {
    hi: u64,
    lo: u64,
    doc: u32,
}

impl Record for KeyRecord {
    const SIZE: usize = 20;
    fn encode(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.hi.to_le_bytes());
        out[8..16].copy_from_slice(&self.lo.to_le_bytes());
        out[16..20].copy_from_slice(&self.doc.to_le_bytes());
    }
    fn bucket(&self) -> Option<u32> {
        Some((self.hi >> 52) as u32)
    }
    fn decode(b: &[u8]) -> Self {
        KeyRecord {
            hi: u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            lo: u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")),
            doc: u32::from_le_bytes(b[16..20].try_into().expect("4 bytes")),
        }
    }
}

/// The candidate pairs of one band's records, grouped by bucket (see
/// [`Sorter::grouped`]): each document from `own` on with the smallest
/// document of its (band, hash), where that is another. The same pairs as
/// the sorted scan gives, in another order.
fn grouped_pairs(records: &[BandRecord], bounds: &[usize], own: u32) -> Vec<PairRecord> {
    /// (band hash, smallest document, generation that wrote it): a
    /// partition is one band, so the hash alone is the bucket.
    type Slot = (u64, u32, u32);
    let mut out = Vec::new();
    let mut table: Vec<Slot> = Vec::new();
    let mut generation = 0u32;
    for w in bounds.windows(2) {
        let bucket = &records[w[0]..w[1]];
        if bucket.len() < 2 {
            continue;
        }
        let size = (bucket.len() * 2).next_power_of_two();
        if table.len() < size {
            table = vec![(0, 0, 0); size];
            generation = 0;
        }
        generation += 1;
        let mask = size - 1;
        debug_assert!(bucket.iter().all(|r| r.band() == bucket[0].band()));
        // Band hashes are spread evenly: their low bits index the table.
        let find = |table: &[Slot], key: u64| {
            let mut i = key as usize & mask;
            while table[i].2 == generation && table[i].0 != key {
                i = (i + 1) & mask;
            }
            i
        };
        // Records pushed in document order keep it in their bucket (the
        // scatter is stable): a hash's first record is its smallest
        // document, and one pass gives the pairs.
        if bucket.windows(2).all(|w| w[0].doc() < w[1].doc()) {
            for r in bucket {
                let i = find(&table, r.hash());
                if table[i].2 == generation {
                    if r.doc() >= own {
                        out.push(PairRecord {
                            doc: r.doc(),
                            rep: table[i].1,
                        });
                    }
                } else {
                    table[i] = (r.hash(), r.doc(), generation);
                }
            }
            continue;
        }
        let mut shared = false;
        for r in bucket {
            let i = find(&table, r.hash());
            if table[i].2 == generation {
                table[i].1 = table[i].1.min(r.doc());
                shared = true;
            } else {
                table[i] = (r.hash(), r.doc(), generation);
            }
        }
        if !shared {
            continue;
        }
        for r in bucket {
            let rep = table[find(&table, r.hash())].1;
            if rep != r.doc() && r.doc() >= own {
                out.push(PairRecord { doc: r.doc(), rep });
            }
        }
    }
    out
}

/// A candidate pair: a document and the earlier representative of a bucket it fell in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct PairRecord {
    doc: u32,
    rep: u32,
}

impl Record for PairRecord {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.doc.to_le_bytes());
        out[4..8].copy_from_slice(&self.rep.to_le_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        PairRecord {
            doc: u32::from_le_bytes(b[..4].try_into().expect("4 bytes")),
            rep: u32::from_le_bytes(b[4..8].try_into().expect("4 bytes")),
        }
    }
}

/// Signatures for `verify = "signature"` or `"none"`: in memory, or in a
/// file under `tmp/` when they do not fit the budget.
enum Signatures {
    Memory(Vec<u32>),
    File {
        file: TempFile,
        writer: Option<std::io::BufWriter<std::fs::File>>,
        reader: Option<std::fs::File>,
    },
}

impl Signatures {
    fn new(in_memory: bool, tmp: &std::path::Path) -> Result<Self, RunError> {
        if in_memory {
            return Ok(Signatures::Memory(Vec::new()));
        }
        let (file, f) = TempFile::create(tmp, "sigs")?;
        Ok(Signatures::File {
            file,
            writer: Some(std::io::BufWriter::with_capacity(1 << 20, f)),
            reader: None,
        })
    }

    fn extend(&mut self, sigs: &[u32]) -> Result<(), RunError> {
        match self {
            Signatures::Memory(v) => v.extend_from_slice(sigs),
            Signatures::File { file, writer, .. } => {
                let w = writer.as_mut().expect("written before reads");
                for s in sigs {
                    w.write_all(&s.to_le_bytes()).map_err(file.io())?;
                }
            }
        }
        Ok(())
    }

    /// Ends the writes; reads may follow.
    fn seal(&mut self) -> Result<(), RunError> {
        if let Signatures::File {
            file,
            writer,
            reader,
        } = self
            && let Some(w) = writer.take()
        {
            w.into_inner()
                .map_err(|e| e.into_error())
                .map_err(file.io())?;
            *reader = Some(std::fs::File::open(file.path()).map_err(file.io())?);
        }
        Ok(())
    }

    fn get(&self, doc: u32, num_perm: usize, out: &mut Vec<u32>) -> Result<(), RunError> {
        out.clear();
        match self {
            Signatures::Memory(v) if v.is_empty() => {}
            Signatures::Memory(v) => {
                out.extend_from_slice(&v[doc as usize * num_perm..(doc as usize + 1) * num_perm])
            }
            Signatures::File { file, reader, .. } => {
                use std::os::unix::fs::FileExt;
                let mut bytes = vec![0u8; num_perm * 4];
                reader
                    .as_ref()
                    .expect("sealed")
                    .read_exact_at(&mut bytes, doc as u64 * num_perm as u64 * 4)
                    .map_err(file.io())?;
                out.extend(
                    bytes
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))),
                );
            }
        }
        Ok(())
    }
}

/// Runs a dedup stage over the selected rows.
///
/// Band hashes (or exact keys) are sorted under the memory budget, spilling
/// sorted runs to the store's `tmp/`; the merged stream gives the buckets in
/// (band, hash, document) order. Band hashes that all fit the budget are
/// grouped by bucket instead of sorted ([`grouped_pairs`]), which gives the
/// same pairs, so every budget yields the same candidate pairs. Pairs are sorted the same way and verified in chunks whose
/// shingle sets fit the budget. Union-find does not depend on the order of
/// unions, so clusters, survivors and the content id are the same at every
/// budget and thread count.
pub(super) fn run(cx: &Context, input: &SelectionSet, plan: &Plan) -> Result<Outcome, RunError> {
    run_with(cx, input, plan, None)
}

/// [`run`], with MinHash's candidate pairs (document, its bucket's first
/// document) grouped elsewhere (a cluster) when `grouped` is given: the band
/// hashes are then not sorted here.
pub(super) fn run_with(
    cx: &Context,
    input: &SelectionSet,
    plan: &Plan,
    grouped: Option<Vec<(u32, u32)>>,
) -> Result<Outcome, RunError> {
    let perms = Permutations::new(plan.num_perm, plan.seed);
    let gpu = match (plan.method, cx.device.unwrap_or(plan.device)) {
        (Method::Exact, _) | (_, DeviceChoice::Cpu) => None,
        (_, DeviceChoice::Auto) => crate::gpu::open().ok(),
        (_, DeviceChoice::Gpu) => Some(crate::gpu::open().map_err(RunError::Gpu)?),
    };
    let tmp = cx.store.tmp_dir();
    // Documents are numbered over the earlier versions' rows first, then the input's.
    let bases: Vec<SelectionSet> = plan
        .against
        .iter()
        .map(|a| SelectionSet::of_version(cx.store, &a.version))
        .collect::<Result<_, _>>()?;
    let mut segs = Segs {
        list: Vec::new(),
        sel: Vec::new(),
        own_from: 0,
    };
    // The first segment number of each earlier version.
    let mut starts = Vec::new();
    for (a, base) in plan.against.iter().zip(&bases) {
        starts.push(segs.list.len());
        segs.list.extend(a.version.manifest.segments.iter());
        segs.sel.extend(base.0.iter());
    }
    segs.own_from = segs.list.len();
    segs.list.extend(cx.source.manifest.segments.iter());
    segs.sel.extend(input.0.iter());
    let total: u64 = input.rows() + bases.iter().map(SelectionSet::rows).sum::<u64>();
    let budget = Budget::new(cx.memory, total, plan);
    // The first pass: per-document arrays, and the keys or bands to the sorter.
    let mut docs = Docs::default();
    let mut keys: Sorter<KeyRecord> = Sorter::new(&tmp, budget.sort, cx.threads);
    let mut bands: Sorter<BandRecord> = Sorter::new(&tmp, budget.sort, cx.threads);
    match plan.method {
        Method::Exact => keys.expect(total, 1),
        Method::Minhash if grouped.is_none() => bands.expect(total * plan.bands as u64, plan.bands),
        Method::Minhash => {}
    }
    let mut sigs = Signatures::new(budget.sigs_in_memory, &tmp)?;
    let mut decoded = Decoded::new(budget.verify / 4);
    let reused = collect(
        cx,
        &segs,
        plan,
        &perms,
        gpu,
        &mut decoded,
        &mut |d: Docs| {
            let base = docs.at.len() as u32;
            for (k, key) in d.keys.iter().enumerate() {
                keys.push(KeyRecord {
                    hi: (key >> 64) as u64,
                    lo: *key as u64,
                    doc: base + k as u32,
                })?;
            }
            let own_bands = if grouped.is_some() {
                &[][..]
            } else {
                &d.bands[..]
            };
            for (k, hashes) in own_bands.chunks_exact(plan.bands.max(1)).enumerate() {
                for (band, hash) in hashes.iter().enumerate() {
                    bands.push(BandRecord::new(band as u32, *hash, base + k as u32))?;
                }
            }
            sigs.extend(&d.sigs)?;
            docs.at.extend(d.at);
            docs.len.extend(d.len);
            docs.score.extend(d.score);
            Ok(())
        },
    )?;
    sigs.seal()?;
    let n = docs.at.len();
    // Documents below `own` are the earlier versions' rows: never removed, and
    // pairs of two of them are not candidates.
    let own = docs.at.partition_point(|a| (a.0 as usize) < segs.own_from) as u32;
    let mut spilled = match sigs {
        Signatures::File { .. } => n as u64 * plan.num_perm as u64 * 4,
        Signatures::Memory(_) => 0,
    };
    let mut uf = UnionFind::new(n);
    let (mut candidates, mut verified, mut pairs_reused) = (0u64, 0u64, 0u64);
    // (document, the member it matched, similarity) of every merged pair.
    let mut sims: Vec<(u32, u32, f32)> = Vec::new();
    match plan.method {
        Method::Exact => {
            drop(bands);
            let mut prev: Option<(u64, u64, u32)> = None;
            let keys = keys.finish()?;
            spilled += keys.stats.bytes;
            keys.for_each(|r: KeyRecord| {
                match prev {
                    Some((hi, lo, _)) if (hi, lo) == (r.hi, r.lo) && r.doc < own => {}
                    Some((hi, lo, first)) if (hi, lo) == (r.hi, r.lo) => {
                        candidates += 1;
                        verified += 1;
                        uf.union(first, r.doc);
                        sims.push((r.doc, first, 1.0));
                    }
                    _ => prev = Some((r.hi, r.lo, r.doc)),
                }
                Ok::<_, RunError>(())
            })?;
        }
        Method::Minhash => {
            drop(keys);
            // Candidates: each document pairs with the first document of every bucket it falls in.
            let mut pairs: Sorter<PairRecord> = Sorter::new(&tmp, budget.pairs, cx.threads);
            match grouped {
                Some(grouped) => {
                    drop(bands);
                    for (doc, rep) in grouped {
                        if doc >= own {
                            pairs.push(PairRecord { doc, rep })?;
                        }
                    }
                }
                // In memory: each band's records grouped by bucket and each
                // bucket hashed, which costs less than sorting them.
                None => match bands.grouped() {
                    Ok(grouped) => {
                        let per_band = crate::par::map(cx.threads, grouped.parts.len(), |k| {
                            let (records, bounds) = &grouped.parts[k];
                            grouped_pairs(records, bounds, own)
                        });
                        drop(grouped);
                        for p in per_band.into_iter().flatten() {
                            pairs.push(p)?;
                        }
                    }
                    // Spilled: the sorted stream, each bucket's records in document order.
                    Err(bands) => {
                        let mut bucket: Option<(u128, u32)> = None;
                        let bands = (*bands).finish()?;
                        spilled += bands.stats.bytes;
                        bands.for_each(|r: BandRecord| {
                            match bucket {
                                Some((key, rep)) if key == r.bucket_key() => {
                                    if r.doc() >= own {
                                        pairs.push(PairRecord { doc: r.doc(), rep })?;
                                    }
                                }
                                _ => bucket = Some((r.bucket_key(), r.doc())),
                            }
                            Ok::<_, RunError>(())
                        })?;
                    }
                },
            }
            let mut check = Verifier {
                cx,
                plan,
                docs: &docs,
                sigs: &sigs,
                budget: budget.verify,
                chunk: Vec::new(),
                chunk_docs: HashSet::new(),
                chunk_bytes: 0,
                sig: (Vec::new(), Vec::new()),
                segs: &segs,
                decoded: &decoded,
                cache: (plan.verify == Verify::Exact)
                    .then(|| {
                        PairCache::new(cx, plan, segs.list[segs.own_from..].iter().map(|s| s.shard))
                    })
                    .transpose()?,
            };
            let mut merge = |a: u32, b: u32, sim: f32| {
                verified += 1;
                uf.union(a, b);
                sims.push((a, b, sim));
            };
            let mut last: Option<PairRecord> = None;
            let pairs = pairs.finish()?;
            spilled += pairs.stats.bytes;
            pairs.for_each(|p: PairRecord| {
                if last == Some(p) {
                    return Ok(());
                }
                last = Some(p);
                candidates += 1;
                check.push(p, &mut merge)
            })?;
            check.flush(&mut merge)?;
            if let Some(cache) = check.cache {
                pairs_reused = cache.hits;
                cache.save(cx)?;
            }
        }
    }
    drop(decoded);
    sims.sort_unstable_by_key(|s| (s.0, s.1));
    // One survivor per cluster: the members other than its root, grouped by root.
    let mut members: Vec<(u32, u32)> = (0..n as u32)
        .filter_map(|i| {
            let root = uf.find(i);
            (root != i).then_some((root, i))
        })
        .collect();
    members.sort_unstable();
    let mut keep = vec![true; n];
    let mut removed_rows: Vec<(u32, u32, f32)> = Vec::new();
    let mut histogram: std::collections::BTreeMap<usize, u64> = Default::default();
    let mut clusters = 0u64;
    let mut m = Vec::new();
    for group in members.chunk_by(|x, y| x.0 == y.0) {
        m.clear();
        m.push(group[0].0);
        m.extend(group.iter().map(|g| g.1));
        clusters += 1;
        *histogram.entry(m.len()).or_insert(0) += 1;
        // A cluster holding an earlier version's row keeps that row (its root).
        let survivor = if m[0] < own {
            m[0]
        } else {
            survivor(&m, &plan.keep, &docs)
        };
        for &d in &m {
            if d != survivor && d >= own {
                keep[d as usize] = false;
                let pair = (d.max(survivor), d.min(survivor));
                let sim = sims
                    .binary_search_by_key(&pair, |s| (s.0, s.1))
                    .map_or(f32::NAN, |k| sims[k].2);
                removed_rows.push((d, survivor, sim));
            }
        }
    }
    removed_rows.sort_unstable_by_key(|r| r.0);
    let mut out: Vec<RoaringBitmap> = vec![RoaringBitmap::new(); input.0.len()];
    for (i, (seg, row)) in docs.at.iter().enumerate().skip(own as usize) {
        if keep[i] {
            out[*seg as usize - segs.own_from].insert(*row);
        }
    }
    // For a kept row of an earlier version: which one, and the row's position in it.
    let earlier = |d: u32| -> Option<(u32, u64)> {
        if d >= own {
            return None;
        }
        let (seg, row) = docs.at[d as usize];
        let v = starts.partition_point(|&s| s <= seg as usize) - 1;
        Some((v as u32, bases[v].position(seg as usize - starts[v], row)))
    };
    let mut against: Vec<AgainstStats> = plan
        .against
        .iter()
        .zip(&bases)
        .map(|(a, base)| AgainstStats {
            version: a.name.clone(),
            id: a.version.id,
            rows: base.rows(),
            removed: 0,
        })
        .collect();
    for r in &removed_rows {
        if let Some((v, _)) = earlier(r.1) {
            against[v as usize].removed += 1;
        }
    }
    let details = encode_details(
        &docs,
        &removed_rows,
        segs.own_from as u32,
        (!plan.against.is_empty()).then_some(&earlier as &dyn Fn(u32) -> Option<(u32, u64)>),
    );
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
        spilled: (spilled > 0).then_some(spilled),
        pairs_reused: (pairs_reused > 0).then_some(pairs_reused),
        against,
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

/// Verification of candidate pairs, in chunks whose shingle sets fit the budget.
struct Verifier<'a> {
    cx: &'a Context<'a>,
    plan: &'a Plan,
    docs: &'a Docs,
    sigs: &'a Signatures,
    budget: u64,
    chunk: Vec<PairRecord>,
    /// The chunk's documents (for `verify = "exact"`), to count each one's set once.
    chunk_docs: HashSet<u32>,
    chunk_bytes: u64,
    sig: (Vec<u32>, Vec<u32>),
    segs: &'a Segs<'a>,
    /// Rows the first pass kept decoded.
    decoded: &'a Decoded,
    /// Jaccards of pairs verified by earlier runs.
    cache: Option<PairCache>,
}

/// Most pairs in one verification chunk.
const CHUNK_PAIRS: usize = 1 << 20;

impl Verifier<'_> {
    /// The estimated bytes of a document's shingle set: about one 8-byte
    /// hash per 5 characters, plus the set's own overhead.
    fn set_bytes(&self, doc: u32) -> u64 {
        u64::from(self.docs.len[doc as usize]) * 2 + 64
    }

    /// A document's shard and row there.
    fn place(&self, doc: u32) -> (crate::store::ObjectId, u32) {
        let (seg, row) = self.docs.at[doc as usize];
        (self.segs.list[seg as usize].shard, row)
    }

    /// Checks pair `p` (now, or with its chunk); `merge` hears the pairs that pass.
    fn push(
        &mut self,
        p: PairRecord,
        merge: &mut dyn FnMut(u32, u32, f32),
    ) -> Result<(), RunError> {
        match self.plan.verify {
            Verify::None | Verify::Signature => {
                self.sigs.get(p.doc, self.plan.num_perm, &mut self.sig.0)?;
                self.sigs.get(p.rep, self.plan.num_perm, &mut self.sig.1)?;
                let (sa, sb) = (&self.sig.0, &self.sig.1);
                let sim = if self.plan.verify == Verify::None && sa.is_empty() {
                    1.0
                } else {
                    minhash::estimate(sa, sb)
                };
                if self.plan.verify == Verify::None || sim >= self.plan.threshold {
                    merge(p.doc, p.rep, sim as f32);
                }
                Ok(())
            }
            Verify::Exact => {
                let (doc, rep) = (self.place(p.doc), self.place(p.rep));
                if let Some(sim) = self.cache.as_mut().and_then(|c| c.get(self.cx, doc, rep)) {
                    if sim >= self.plan.threshold {
                        merge(p.doc, p.rep, sim as f32);
                    }
                    return Ok(());
                }
                let mut add = 0;
                for d in [p.doc, p.rep] {
                    if !self.chunk_docs.contains(&d) {
                        add += self.set_bytes(d);
                    }
                }
                if !self.chunk.is_empty()
                    && (self.chunk_bytes + add > self.budget || self.chunk.len() >= CHUNK_PAIRS)
                {
                    self.flush(merge)?;
                }
                for d in [p.doc, p.rep] {
                    if self.chunk_docs.insert(d) {
                        self.chunk_bytes += self.set_bytes(d);
                    }
                }
                self.chunk.push(p);
                Ok(())
            }
        }
    }

    /// Verifies the pairs of the chunk: reads their documents' shingle sets once.
    fn flush(&mut self, merge: &mut dyn FnMut(u32, u32, f32)) -> Result<(), RunError> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let pairs: Vec<(u32, u32)> = self.chunk.iter().map(|p| (p.doc, p.rep)).collect();
        let sets = exact_shingles(
            self.cx,
            self.segs,
            self.docs,
            &pairs,
            self.plan,
            self.decoded,
        )?;
        for (a, b) in pairs {
            let sim = jaccard(&sets[&a], &sets[&b]);
            let (doc, rep) = (self.place(a), self.place(b));
            if let Some(c) = &mut self.cache {
                c.put(doc, rep, sim);
            }
            if sim >= self.plan.threshold {
                merge(a, b, sim as f32);
            }
        }
        self.chunk.clear();
        self.chunk_docs.clear();
        self.chunk_bytes = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The candidate pairs of the sorted scan: each document after the
    /// first of its (band, hash), with that first document.
    fn sorted_pairs(records: &[BandRecord], own: u32) -> Vec<PairRecord> {
        let mut r = records.to_vec();
        r.sort_unstable();
        let mut out = Vec::new();
        let mut bucket: Option<(u128, u32)> = None;
        for x in r {
            match bucket {
                Some((key, rep)) if key == x.bucket_key() => {
                    if x.doc() >= own {
                        out.push(PairRecord { doc: x.doc(), rep });
                    }
                }
                _ => bucket = Some((x.bucket_key(), x.doc())),
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn grouped_buckets_give_the_sorted_scans_pairs() {
        let mut state = 7u64;
        // The last two push documents in reverse order: not the order a
        // run pushes them in, which the two-pass path covers.
        for (docs, distinct, own, reverse) in [
            (50u32, 10u64, 0u32, false),
            (5000, 900, 0, false),
            (5000, 3000, 1200, false),
            (3, 1, 1, false),
            (5000, 900, 700, true),
            (40, 5, 0, true),
        ] {
            let dir = std::env::temp_dir();
            let mut sorter: Sorter<BandRecord> = Sorter::new(&dir, 1 << 30, 2);
            let mut all = Vec::new();
            for k in 0..docs {
                let doc = if reverse { docs - 1 - k } else { k };
                for band in 0..3u32 {
                    // Few distinct hashes: many shared buckets. The top byte
                    // varies, so there are many buckets too.
                    let h = minhash::splitmix64(&mut state) % distinct;
                    let hash = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    let r = BandRecord::new(band, hash, doc);
                    sorter.push(r).unwrap();
                    all.push(r);
                }
            }
            let grouped = sorter.grouped().ok().expect("nothing spilled");
            let mut got: Vec<PairRecord> = grouped
                .parts
                .iter()
                .flat_map(|(records, bounds)| grouped_pairs(records, bounds, own))
                .collect();
            got.sort_unstable();
            let want = sorted_pairs(&all, own);
            assert!(!want.is_empty() || docs < 10);
            assert_eq!(got, want, "{docs} docs, {distinct} hashes, own {own}");
        }
    }
}

//! The dedup stage: exact and near-duplicate (MinHash LSH) removal.
//!
//! ```text
//! selected rows ─▶ normalize ─▶ exact: xxh3-128 of the text ──────────────┐
//!   (parallel      (NFKC, lowercase,                                      │
//!    by segment)    digits→0, punct→space)                                ▼
//!                  └▶ minhash: shingles ─▶ signature ─▶ b band hashes ─▶ buckets ─▶ candidate pairs
//!                                                                           │ verify (signature / exact Jaccard)
//!                                                                           ▼
//!                                              union-find clusters ─▶ keep one per cluster
//! ```
//!
//! Documents are numbered in input order; every decision depends only on
//! that order and on the texts, so the result is the same on any thread count.

pub mod minhash;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use indexmap::IndexMap;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::{Observer, RunError};
use crate::gpu::DeviceChoice;
use crate::store::{ObjectId, Store};
use crate::version::Version;
use crate::version::selection::{SelectionSet, segment_batches};
use minhash::Permutations;

/// Exact or near duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Exact,
    Minhash,
}

/// Word or character shingles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Shingle {
    #[default]
    Word,
    Char,
}

/// How candidate pairs are checked before they are merged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// Merge every pair that shares a band.
    None,
    /// Merge when the signatures' estimated Jaccard reaches the threshold.
    Signature,
    /// Merge when the true shingle Jaccard reaches the threshold (re-reads only the candidates).
    #[default]
    Exact,
}

/// Which row of a cluster survives: `"first"`, `"longest"`, or the best
/// score, `{ by = "COLUMN", order = "desc" | "asc" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "`keep` must be \"first\", \"longest\" or { by = \"COLUMN\", order = \"desc\" | \"asc\" }"
)]
pub enum Keep {
    Rule(KeepRule),
    Score(KeepScore),
}

impl Default for Keep {
    fn default() -> Self {
        Keep::Rule(KeepRule::First)
    }
}

/// A fixed survivor rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeepRule {
    /// The first row in input order.
    First,
    /// The longest text (code points); ties go to the first.
    Longest,
}

/// Keep the row with the best value of a numeric column; ties, and rows whose
/// score is null, go by input order (nulls lose to any score).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeepScore {
    /// A numeric column.
    pub by: String,
    /// `desc` (default): the highest score survives; `asc`: the lowest.
    #[serde(default)]
    pub order: Order,
}

/// Sort order of a score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Desc,
    Asc,
}

/// A validated dedup stage.
#[derive(Debug, Clone)]
pub struct DedupPlan {
    pub method: Method,
    pub column: String,
    pub shingle: Shingle,
    pub ngram: usize,
    pub num_perm: usize,
    pub bands: usize,
    pub rows: usize,
    pub threshold: f64,
    pub verify: Verify,
    pub seed: u64,
    pub keep: Keep,
    pub device: crate::gpu::DeviceChoice,
}

/// Stats recorded in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DedupStats {
    pub method: Method,
    /// Bands × rows used (MinHash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    /// Candidate pairs found by LSH, and how many passed verification.
    pub candidates: u64,
    pub verified: u64,
    /// Clusters of two or more rows.
    pub clusters: u64,
    pub removed: u64,
    /// Cluster size → number of clusters.
    pub histogram: IndexMap<String, u64>,
    /// Object listing each removed row with its kept row and Jaccard (for explain).
    pub details: ObjectId,
    /// Where signatures were computed: `cpu`, or the GPU's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// Each ASCII byte's normalized form: digits → `0`, letters lowercased, others 0 (a separator).
const ASCII_MAP: [u8; 128] = {
    let mut m = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        m[b] = if c.is_ascii_digit() {
            b'0'
        } else if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            0
        };
        b += 1;
    }
    m
};

/// Datatrove-like text simplification: NFKC, lowercase, digits (any numeric character) → 0,
/// punctuation and symbols → space, whitespace collapsed and trimmed.
pub fn normalize(text: &str) -> String {
    if text.is_ascii() {
        // ASCII is NFKC-invariant: the same result without the Unicode machinery.
        let mut out = Vec::with_capacity(text.len());
        let mut space = true;
        for &b in text.as_bytes() {
            let c = ASCII_MAP[b as usize];
            if c == 0 {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            } else {
                out.push(c);
                space = false;
            }
        }
        if out.last() == Some(&b' ') {
            out.pop();
        }
        return String::from_utf8(out).expect("ASCII in, ASCII out");
    }
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.nfkc().flat_map(char::to_lowercase) {
        let c = if c.is_numeric() {
            '0'
        } else if c.is_alphanumeric() {
            c
        } else {
            ' '
        };
        if c == ' ' {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            out.push(c);
            space = false;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Shingle hashes of a normalized text. A text shorter than one shingle is
/// one shingle of its whole (normalized) text.
pub fn shingles(norm: &str, kind: Shingle, n: usize, out: &mut Vec<u64>) {
    out.clear();
    match kind {
        Shingle::Word => {
            // Words of a normalized text are separated by single spaces, so a
            // shingle ("w1 w2 … wn") is the slice from its first word's start
            // to its last word's end.
            let bytes = norm.as_bytes();
            let mut starts = Vec::with_capacity(bytes.len() / 4 + 1);
            let mut ends = Vec::with_capacity(bytes.len() / 4 + 1);
            let mut in_word = false;
            for (i, &b) in bytes.iter().enumerate() {
                match (b == b' ', in_word) {
                    (false, false) => {
                        starts.push(i);
                        in_word = true;
                    }
                    (true, true) => {
                        ends.push(i);
                        in_word = false;
                    }
                    _ => {}
                }
            }
            if in_word {
                ends.push(bytes.len());
            }
            if starts.len() < n {
                out.push(minhash::shingle_hash(bytes));
                return;
            }
            for i in 0..=starts.len() - n {
                out.push(minhash::shingle_hash(&bytes[starts[i]..ends[i + n - 1]]));
            }
        }
        Shingle::Char => {
            let idx: Vec<usize> = norm
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(norm.len()))
                .collect();
            let chars = idx.len() - 1;
            if chars < n {
                out.push(minhash::shingle_hash(norm.as_bytes()));
                return;
            }
            for i in 0..=chars - n {
                out.push(minhash::shingle_hash(&norm.as_bytes()[idx[i]..idx[i + n]]));
            }
        }
    }
}

/// Per-document data kept between the passes (≈ 8·b + 12 bytes; signatures only for `verify = "signature"`).
#[derive(Default)]
struct Docs {
    /// (segment, shard row) of each document, in input order.
    at: Vec<(u32, u32)>,
    /// Text length in code points (for `keep = "longest"`).
    len: Vec<u32>,
    /// The score column as f64, NaN for null (for `keep = { by = ... }`).
    score: Vec<f64>,
    /// Exact: xxh3-128 of the normalized text. MinHash: b band hashes per document.
    keys: Vec<u128>,
    bands: Vec<u64>,
    sigs: Vec<u32>,
}

impl Docs {
    /// Appends another batch's documents.
    fn append(&mut self, d: Docs) {
        self.at.extend(d.at);
        self.len.extend(d.len);
        self.score.extend(d.score);
        self.keys.extend(d.keys);
        self.bands.extend(d.bands);
        self.sigs.extend(d.sigs);
    }
}

/// Runs a dedup stage over the selected rows.
pub fn run(
    store: &Store,
    source: &Version,
    input: &SelectionSet,
    plan: &DedupPlan,
    device: Option<DeviceChoice>,
    threads: usize,
    observer: &dyn Observer,
) -> Result<(SelectionSet, IndexMap<String, u64>, DedupStats), RunError> {
    let perms = Permutations::new(plan.num_perm, plan.seed);
    let gpu = match (plan.method, device.unwrap_or(plan.device)) {
        (Method::Exact, _) | (_, DeviceChoice::Cpu) => None,
        (_, DeviceChoice::Auto) => crate::gpu::open().ok(),
        (_, DeviceChoice::Gpu) => Some(crate::gpu::open().map_err(RunError::Gpu)?),
    };
    let docs = collect(store, source, input, plan, &perms, gpu, threads, observer)?;
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
                exact_shingles(store, source, &docs, &pairs, plan)?
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
    let details_id = store.objects().put(&details)?.id;
    let removed = removed_rows.len() as u64;
    let stats = DedupStats {
        method: plan.method,
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
    };
    let rule = match plan.method {
        Method::Exact => "exact_duplicate",
        Method::Minhash => "near_duplicate",
    };
    let mut by_rule = IndexMap::new();
    by_rule.insert(rule.to_string(), removed);
    Ok((SelectionSet(out), by_rule, stats))
}

/// The member of a cluster (in input order) that `keep` picks.
fn survivor(m: &[u32], keep: &Keep, docs: &Docs) -> u32 {
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

/// A numeric column of a batch as f64 (null → NaN).
fn scores(batch: &RecordBatch, column: &str) -> Vec<f64> {
    let col = batch.column_by_name(column).expect("validated column");
    match arrow::compute::cast(col, &DataType::Float64) {
        Ok(c) => c
            .as_primitive::<arrow::datatypes::Float64Type>()
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect(),
        Err(_) => vec![f64::NAN; col.len()],
    }
}

fn sig_of<'a>(docs: &'a Docs, i: u32, plan: &DedupPlan) -> &'a [u32] {
    if docs.sigs.is_empty() {
        return &[];
    }
    &docs.sigs[i as usize * plan.num_perm..(i as usize + 1) * plan.num_perm]
}

/// Jaccard of two sorted, deduplicated shingle sets (a merge; no hashing).
fn jaccard(a: &[u64], b: &[u64]) -> f64 {
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

/// The text column of a batch (null → empty), borrowed.
fn texts<'a>(batch: &'a RecordBatch, column: &str) -> Vec<&'a str> {
    let col = batch.column_by_name(column).expect("validated column");
    match col.data_type() {
        DataType::Utf8 => col
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or(""))
            .collect(),
        DataType::LargeUtf8 => col
            .as_string::<i64>()
            .iter()
            .map(|v| v.unwrap_or(""))
            .collect(),
        DataType::Utf8View => col
            .as_string_view()
            .iter()
            .map(|v| v.unwrap_or(""))
            .collect(),
        _ => vec![""; col.len()],
    }
}

/// First pass: per document, its key (exact) or band hashes (MinHash).
/// Segments are read one after another and their batches processed in
/// parallel, then merged in order.
#[allow(clippy::too_many_arguments)]
fn collect(
    store: &Store,
    source: &Version,
    input: &SelectionSet,
    plan: &DedupPlan,
    perms: &Permutations,
    gpu: Option<&crate::gpu::Gpu>,
    threads: usize,
    observer: &dyn Observer,
) -> Result<Docs, RunError> {
    let keep_sigs = plan.method == Method::Minhash && plan.verify != Verify::Exact;
    let mut docs = Docs::default();
    for (i, seg) in source.manifest.segments.iter().enumerate() {
        let batches = segment_batches(store, seg, &input.0[i])?;
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Docs>>> =
            Mutex::new((0..batches.len()).map(|_| None).collect());
        let failure: Mutex<Option<crate::gpu::GpuError>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..threads.clamp(1, batches.len().max(1)) {
                s.spawn(|| {
                    let mut sh = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= batches.len() {
                            return;
                        }
                        let (ids, batch) = &batches[k];
                        let mut d = Docs::default();
                        if let Keep::Score(k) = &plan.keep {
                            d.score = scores(batch, &k.by);
                        }
                        if let (Some(g), Method::Minhash) = (gpu, plan.method) {
                            // Shingle hashes here; permutations and bands on the GPU.
                            let mut hashes = Vec::new();
                            let mut offsets = vec![0u64];
                            for (row, text) in ids.iter().zip(texts(batch, &plan.column)) {
                                d.at.push((i as u32, *row));
                                d.len.push(text.chars().count() as u32);
                                shingles(&normalize(text), plan.shingle, plan.ngram, &mut sh);
                                hashes.extend_from_slice(&sh);
                                offsets.push(hashes.len() as u64);
                            }
                            let out = g.minhash(
                                &hashes, &offsets, perms, plan.bands, plan.rows, keep_sigs,
                            );
                            match out {
                                Ok(b) => {
                                    d.bands = b.bands;
                                    d.sigs = b.signatures;
                                }
                                Err(e) => {
                                    failure.lock().expect("lock").get_or_insert(e);
                                    return;
                                }
                            }
                            observer.rows_done(batch.num_rows() as u64);
                            results.lock().expect("lock")[k] = Some(d);
                            continue;
                        }
                        for (row, text) in ids.iter().zip(texts(batch, &plan.column)) {
                            d.at.push((i as u32, *row));
                            d.len.push(text.chars().count() as u32);
                            let norm = normalize(text);
                            match plan.method {
                                Method::Exact => {
                                    d.keys.push(xxhash_rust::xxh3::xxh3_128(norm.as_bytes()))
                                }
                                Method::Minhash => {
                                    shingles(&norm, plan.shingle, plan.ngram, &mut sh);
                                    let sig = perms.signature_of(&sh);
                                    minhash::band_hashes(&sig, plan.bands, plan.rows, &mut d.bands);
                                    if keep_sigs {
                                        d.sigs.extend_from_slice(&sig);
                                    }
                                }
                            }
                        }
                        observer.rows_done(batch.num_rows() as u64);
                        results.lock().expect("lock")[k] = Some(d);
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().expect("lock") {
            return Err(RunError::Gpu(e));
        }
        for d in results.into_inner().expect("lock") {
            let d = d.expect("every batch ran");
            docs.append(d);
        }
    }
    Ok(docs)
}

/// Second pass for `verify = "exact"`: the shingle sets of the candidates only.
fn exact_shingles(
    store: &Store,
    source: &Version,
    docs: &Docs,
    pairs: &[(u32, u32)],
    plan: &DedupPlan,
) -> Result<HashMap<u32, Box<[u64]>>, RunError> {
    let wanted: std::collections::BTreeSet<u32> =
        pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let mut per_seg: std::collections::BTreeMap<u32, (RoaringBitmap, HashMap<u32, u32>)> =
        Default::default();
    for d in &wanted {
        let (seg, row) = docs.at[*d as usize];
        let e = per_seg.entry(seg).or_default();
        e.0.insert(row);
        e.1.insert(row, *d);
    }
    let mut out = HashMap::with_capacity(wanted.len());
    let mut sh = Vec::new();
    for (seg, (bitmap, doc_of)) in per_seg {
        for (ids, batch) in
            segment_batches(store, &source.manifest.segments[seg as usize], &bitmap)?
        {
            for (row, text) in ids.iter().zip(texts(&batch, &plan.column)) {
                shingles(&normalize(text), plan.shingle, plan.ngram, &mut sh);
                sh.sort_unstable();
                sh.dedup();
                out.insert(doc_of[row], sh.as_slice().into());
            }
        }
    }
    Ok(out)
}

const DETAILS_MAGIC: &[u8; 8] = b"SIFTDUP1";

/// Removed rows as (segment, shard row) of the removed and kept rows, and the Jaccard.
fn encode_details(docs: &Docs, removed: &[(u32, u32, f32)]) -> Vec<u8> {
    let mut out = DETAILS_MAGIC.to_vec();
    out.extend_from_slice(&(removed.len() as u64).to_le_bytes());
    for (d, k, sim) in removed {
        let (ds, dr) = docs.at[*d as usize];
        let (ks, kr) = docs.at[*k as usize];
        for v in [ds, dr, ks, kr] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&sim.to_le_bytes());
    }
    out
}

/// One removed row: where it is, where its kept twin is, their similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Removal {
    pub removed: (u32, u32),
    pub kept: (u32, u32),
    pub similarity: f32,
}

pub fn decode_details(id: &ObjectId, bytes: &[u8]) -> Result<Vec<Removal>, crate::store::Error> {
    let bad = |r: &str| crate::store::Error::BadObject {
        id: *id,
        what: "dedup details",
        reason: r.into(),
    };
    if bytes.len() < 16 || &bytes[..8] != DETAILS_MAGIC {
        return Err(bad("missing header"));
    }
    let n = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let body = &bytes[16..];
    if body.len() != n.saturating_mul(20) {
        return Err(bad("length does not match its count"));
    }
    let u = |c: &[u8]| u32::from_le_bytes(c.try_into().expect("4 bytes"));
    Ok(body
        .chunks_exact(20)
        .map(|c| Removal {
            removed: (u(&c[0..4]), u(&c[4..8])),
            kept: (u(&c[8..12]), u(&c[12..16])),
            similarity: f32::from_le_bytes(c[16..20].try_into().expect("4 bytes")),
        })
        .collect())
}

/// Union-find with path halving; the root of a set is its smallest member,
/// so clusters do not depend on the order of unions.
struct UnionFind(Vec<u32>);

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind((0..n as u32).collect())
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            let p = self.0[x as usize];
            self.0[x as usize] = self.0[p as usize];
            x = self.0[x as usize];
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.0[hi as usize] = lo;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_follows_simplify_text() {
        assert_eq!(
            normalize("  Hello, WORLD!!  It's 2024\n\tﬁne  "),
            "hello world it s 0000 fine"
        );
        assert_eq!(normalize("Ｆｕｌｌ－width ①"), "full width 0");
        assert_eq!(normalize("..."), "");
    }

    #[test]
    fn word_shingles_hash_the_joined_words() {
        let mut v = Vec::new();
        shingles("a bb ccc dd e", Shingle::Word, 3, &mut v);
        let want: Vec<u64> = ["a bb ccc", "bb ccc dd", "ccc dd e"]
            .iter()
            .map(|s| minhash::shingle_hash(s.as_bytes()))
            .collect();
        assert_eq!(v, want);
    }

    #[test]
    fn short_documents_are_one_shingle() {
        let mut v = Vec::new();
        shingles("a b c", Shingle::Word, 5, &mut v);
        assert_eq!(v, vec![minhash::shingle_hash(b"a b c")]);
        shingles("a b c d e f", Shingle::Word, 5, &mut v);
        assert_eq!(v.len(), 2);
        shingles("héllo", Shingle::Char, 3, &mut v);
        assert_eq!(
            v,
            vec![
                minhash::shingle_hash("hél".as_bytes()),
                minhash::shingle_hash("éll".as_bytes()),
                minhash::shingle_hash("llo".as_bytes())
            ]
        );
    }

    #[test]
    fn union_find_roots_are_smallest_members() {
        let mut uf = UnionFind::new(6);
        uf.union(5, 3);
        uf.union(3, 4);
        uf.union(1, 4);
        assert_eq!(uf.find(5), 1);
        assert_eq!(uf.find(0), 0);
    }

    #[test]
    fn survivors_follow_keep() {
        let docs = Docs {
            at: vec![],
            len: vec![5, 9, 9, 2],
            score: vec![0.5, f64::NAN, 0.7, 0.7],
            keys: vec![],
            bands: vec![],
            sigs: vec![],
        };
        let m = [0, 1, 2, 3];
        let score = |order| {
            Keep::Score(KeepScore {
                by: "s".into(),
                order,
            })
        };
        assert_eq!(survivor(&m, &Keep::default(), &docs), 0);
        assert_eq!(survivor(&m, &Keep::Rule(KeepRule::Longest), &docs), 1);
        assert_eq!(survivor(&m, &score(Order::Desc), &docs), 2);
        assert_eq!(survivor(&m, &score(Order::Asc), &docs), 0);
        assert_eq!(survivor(&[1, 3], &score(Order::Asc), &docs), 3);
    }

    #[test]
    fn details_round_trip() {
        let docs = Docs {
            at: vec![(0, 1), (2, 7)],
            len: vec![],
            score: vec![],
            keys: vec![],
            bands: vec![],
            sigs: vec![],
        };
        let bytes = encode_details(&docs, &[(1, 0, 0.9)]);
        let id = ObjectId::of(&bytes);
        let d = decode_details(&id, &bytes).unwrap();
        assert_eq!(
            d,
            vec![Removal {
                removed: (2, 7),
                kept: (0, 1),
                similarity: 0.9
            }]
        );
    }
}

//! The passes over the text: per document its exact key or MinHash band
//! hashes, and, for exact verification, the shingle sets of the candidates.

use std::collections::HashMap;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::DataType;
use roaring::RoaringBitmap;

use super::minhash::{self, Permutations};
use super::normalize::{normalize, normalize_into, shingles, texts};
use super::sidecar;
use super::{Keep, Method, Plan, Verify};
use crate::stage::{Context, RunError};
use crate::store::ObjectId;
use crate::store::catalog::band_sidecar_key;
use crate::version::Segment;
use crate::version::selection::segment_columns;

/// Per-document data kept between the passes (≈ 8·b + 12 bytes; signatures only for `verify = "signature"`).
#[derive(Default)]
pub(super) struct Docs {
    /// (segment, shard row) of each document, in input order.
    pub at: Vec<(u32, u32)>,
    /// Text length in code points (for `keep = "longest"`).
    pub len: Vec<u32>,
    /// The score column as f64, NaN for null (for `keep = { by = ... }`).
    pub score: Vec<f64>,
    /// Exact: xxh3-128 of the normalized text. MinHash: b band hashes per document.
    pub keys: Vec<u128>,
    pub bands: Vec<u64>,
    pub sigs: Vec<u32>,
}

impl Docs {
    /// A copy without the scores.
    pub(super) fn clone_rows(&self) -> Docs {
        Docs {
            at: self.at.clone(),
            len: self.len.clone(),
            score: Vec::new(),
            keys: self.keys.clone(),
            bands: self.bands.clone(),
            sigs: self.sigs.clone(),
        }
    }

    /// Appends another batch's documents.
    pub(super) fn append(&mut self, d: Docs) {
        self.at.extend(d.at);
        self.len.extend(d.len);
        self.score.extend(d.score);
        self.keys.extend(d.keys);
        self.bands.extend(d.bands);
        self.sigs.extend(d.sigs);
    }
}

/// Decoded rows of a segment: each batch with its shard rows.
type Batches = Vec<(Vec<u32>, RecordBatch)>;

/// Rows the first pass decoded and hashed, kept for verification when the
/// pass reused band sidecars: its fresh rows are then few, and the
/// candidates among them are not decoded a second time.
pub(super) struct Decoded {
    /// By segment: the rows kept, and their batches.
    segs: HashMap<u32, (RoaringBitmap, Batches)>,
    bytes: u64,
    /// At most this many bytes of batches are kept.
    cap: u64,
}

impl Decoded {
    pub(super) fn new(cap: u64) -> Decoded {
        Decoded {
            segs: HashMap::new(),
            bytes: 0,
            cap,
        }
    }

    /// Keeps a segment's batches if they fit.
    fn keep(&mut self, seg: u32, rows: RoaringBitmap, batches: Batches) {
        let size: u64 = batches
            .iter()
            .map(|(_, b)| b.get_array_memory_size() as u64)
            .sum();
        if self.bytes + size <= self.cap {
            self.bytes += size;
            self.segs.insert(seg, (rows, batches));
        }
    }

    /// The kept batches of `seg`, if they hold every row of `rows`.
    fn get(&self, seg: u32, rows: &RoaringBitmap) -> Option<&[(Vec<u32>, RecordBatch)]> {
        self.segs
            .get(&seg)
            .filter(|(kept, _)| rows.is_subset(kept))
            .map(|(_, b)| b.as_slice())
    }
}

/// The segments a pass reads, numbered in document order: the segments of
/// the versions a stage deduplicates against first, then its input's.
pub(super) struct Segs<'a> {
    pub list: Vec<&'a Segment>,
    pub sel: Vec<&'a RoaringBitmap>,
    /// Segments from this one on are the stage's input.
    pub own_from: usize,
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

/// First pass: per document, its key (exact) or band hashes (MinHash).
/// Segments are read one after another and their batches processed in
/// parallel, and each segment's documents go to `sink` in order. Rows a
/// band sidecar already holds are not read again; the sidecars of the
/// shards this pass hashed are written (see [`super::sidecar`]). Returns
/// how many rows came from sidecars.
pub(super) fn collect(
    cx: &Context,
    segs: &Segs,
    plan: &Plan,
    perms: &Permutations,
    gpu: Option<&crate::gpu::Gpu>,
    decoded: &mut Decoded,
    sink: &mut (dyn FnMut(Docs) -> Result<(), RunError> + Send),
) -> Result<u64, RunError> {
    let keep_sigs = plan.method == Method::Minhash && plan.verify != Verify::Exact;
    let params = sidecar::params(plan, keep_sigs);
    let phash = sidecar::params_hash(&params);
    let segments = &segs.list;
    let keys: Vec<String> = segments
        .iter()
        .map(|seg| band_sidecar_key(&seg.shard, &phash))
        .collect();
    let known: Vec<Option<ObjectId>> = {
        let catalog = cx.store.catalog()?;
        let mut known = Vec::with_capacity(segments.len());
        for (i, key) in keys.iter().enumerate() {
            known.push(if segs.sel[i].is_empty() {
                None
            } else {
                catalog.band_sidecar(key)?
            });
        }
        known
    };
    let mut reused = 0u64;
    // Only a pass that reuses sidecars keeps what it decoded (a cold pass's
    // rows are all fresh: keeping them would hold the corpus).
    let keep_decoded = known.iter().any(Option::is_some);
    // What segment i needs: its sidecar, if any, and the rows it lacks,
    // decoded. Segment i + 1 is read while segment i is hashed.
    let read = |i: usize| -> Result<Option<Ahead>, RunError> {
        let sel = segs.sel[i];
        if sel.is_empty() {
            return Ok(None);
        }
        // A sidecar that is gone, damaged or made otherwise is a miss.
        let cached = known[i]
            .and_then(|id| cx.store.objects().get(&id).ok())
            .and_then(|b| sidecar::decode(&b, &params, plan, keep_sigs, i as u32).ok());
        let missing = match &cached {
            Some(c) => sel - &sidecar::rows_of(c),
            None => sel.clone(),
        };
        let batches = segment_columns(cx.store, segments[i], &missing, Some(&plan.read_columns()))?;
        Ok(Some(Ahead {
            cached,
            missing,
            batches,
        }))
    };
    // Segment i's new sidecar is stored and its documents go to `sink` on
    // another thread while segment i + 1 is hashed.
    let (front, back) = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Handoff>(1);
        let (params, keys) = (&params, &keys);
        let back = s.spawn(move || -> Result<Vec<(String, ObjectId)>, RunError> {
            let mut written = Vec::new();
            for Handoff { seg, put, docs } in rx {
                if let Some(d) = &put {
                    let id = cx.store.objects().put(&sidecar::encode(params, d))?.id;
                    written.push((keys[seg].clone(), id));
                }
                if let Some(d) = docs.or(put) {
                    sink(d)?;
                }
            }
            Ok(written)
        });
        let front = crate::stage::rows::read_ahead(segments.len(), read, |i, ahead| {
            let Some(Ahead {
                cached,
                missing,
                batches,
            }) = ahead
            else {
                return Ok(());
            };
            let (seg, sel) = (segments[i], segs.sel[i]);
            let own = i >= segs.own_from;
            let fresh = hash_rows(cx, (i as u32, own), &batches, plan, perms, gpu, keep_sigs)?;
            if keep_decoded && own && plan.verify == Verify::Exact {
                decoded.keep(i as u32, missing.clone(), batches);
            } else {
                drop(batches);
            }
            let from_cache = sel.len() - missing.len();
            if own {
                cx.observer.rows_done(from_cache);
            }
            reused += from_cache;
            let handoff = match cached {
                // Stored, then handed on.
                None => Handoff {
                    seg: i,
                    put: Some(fresh),
                    docs: None,
                },
                Some(c) => {
                    let (all, changed) = if missing.is_empty() {
                        (c, false)
                    } else {
                        (sidecar::merge(c, fresh, plan, keep_sigs), true)
                    };
                    let mut d = sidecar::select(&all, sel, plan, keep_sigs);
                    // Scores are not in sidecars: read them from the rows. An
                    // earlier version's rows are never removed: no score needed.
                    if let Keep::Score(k) = &plan.keep {
                        if own {
                            for (_, batch) in segment_columns(cx.store, seg, sel, Some(&[&k.by]))? {
                                d.score.extend(scores(&batch, &k.by));
                            }
                        } else {
                            d.score = vec![f64::NAN; d.at.len()];
                        }
                    }
                    Handoff {
                        seg: i,
                        put: changed.then_some(all),
                        docs: Some(d),
                    }
                }
            };
            // A closed channel: the other thread failed, and says why below.
            tx.send(handoff)
                .map_err(|_| RunError::Sample("stopped".into()))
        });
        drop(tx);
        (front, back.join().expect("sidecar thread"))
    });
    // The other thread's error first: it is why this side stopped, if it did.
    let written = back?;
    front?;
    if !written.is_empty() {
        cx.store.catalog()?.set_band_sidecars(&written)?;
    }
    Ok(reused)
}

/// A hashed segment on its way to [`collect`]'s sink: the sidecar to store
/// (if it changed), and the documents to hand on (`put`'s when `None`).
struct Handoff {
    seg: usize,
    put: Option<Docs>,
    docs: Option<Docs>,
}

/// A segment read ahead of its hashing: its band sidecar (if one is
/// cached), the selected rows it lacks, and their batches.
struct Ahead {
    cached: Option<Docs>,
    missing: RoaringBitmap,
    batches: Vec<(Vec<u32>, RecordBatch)>,
}

/// Rows per work item of the first pass on the CPU.
const CHUNK_ROWS: usize = 4096;

/// The first pass over the decoded rows of a segment: its number in the
/// pass, and whether it is the stage's input (else an earlier version's: no
/// scores, no progress).
pub(super) fn hash_rows(
    cx: &Context,
    (i, own): (u32, bool),
    batches: &[(Vec<u32>, RecordBatch)],
    plan: &Plan,
    perms: &Permutations,
    gpu: Option<&crate::gpu::Gpu>,
    keep_sigs: bool,
) -> Result<Docs, RunError> {
    let mut docs = Docs::default();
    if batches.is_empty() {
        return Ok(docs);
    }
    // On the CPU, slices of a few thousand rows: a segment holds a handful of
    // batches, and as many work items as threads would leave threads idle
    // at each segment's end. A GPU takes whole batches.
    let rows = if gpu.is_some() {
        usize::MAX
    } else {
        CHUNK_ROWS
    };
    let chunks: Vec<(&[u32], RecordBatch)> = batches
        .iter()
        .flat_map(|(ids, batch)| {
            (0..ids.len()).step_by(rows).map(move |at| {
                let len = rows.min(ids.len() - at);
                (&ids[at..at + len], batch.slice(at, len))
            })
        })
        .collect();
    let per_batch = crate::par::map_ordered(cx.threads, chunks.len(), |k| {
        let (ids, batch) = &chunks[k];
        let mut d =
            batch_docs(i, ids, batch, plan, perms, gpu, keep_sigs).map_err(RunError::Gpu)?;
        if own {
            cx.observer.rows_done(batch.num_rows() as u64);
        } else if !d.score.is_empty() {
            d.score = vec![f64::NAN; d.at.len()];
        }
        Ok::<Docs, RunError>(d)
    })?;
    for d in per_batch {
        docs.append(d);
    }
    Ok(docs)
}

/// The documents of one batch of segment `seg`.
fn batch_docs(
    seg: u32,
    ids: &[u32],
    batch: &RecordBatch,
    plan: &Plan,
    perms: &Permutations,
    gpu: Option<&crate::gpu::Gpu>,
    keep_sigs: bool,
) -> Result<Docs, crate::gpu::GpuError> {
    let mut d = Docs::default();
    let mut sh = Vec::new();
    if let Keep::Score(k) = &plan.keep {
        d.score = match batch.column_by_name(&k.by) {
            Some(_) => scores(batch, &k.by),
            None => vec![f64::NAN; batch.num_rows()],
        };
    }
    if let (Some(g), Method::Minhash) = (gpu, plan.method) {
        // Shingle hashes here; permutations and bands on the GPU.
        let mut hashes = Vec::new();
        let mut offsets = vec![0u64];
        for (row, text) in ids.iter().zip(texts(batch, &plan.column)) {
            d.at.push((seg, *row));
            d.len.push(text.chars().count() as u32);
            shingles(&normalize(text), plan.shingle, plan.ngram, &mut sh);
            hashes.extend_from_slice(&sh);
            offsets.push(hashes.len() as u64);
        }
        let out = g.minhash(
            &hashes, &offsets, &perms.a, &perms.b, plan.bands, plan.rows, keep_sigs,
        )?;
        d.bands = out.bands;
        d.sigs = out.signatures;
        return Ok(d);
    }
    let mut norm = String::new();
    for (row, text) in ids.iter().zip(texts(batch, &plan.column)) {
        d.at.push((seg, *row));
        d.len.push(text.chars().count() as u32);
        normalize_into(text, &mut norm);
        match plan.method {
            Method::Exact => d.keys.push(xxhash_rust::xxh3::xxh3_128(norm.as_bytes())),
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
    Ok(d)
}

/// Second pass for `verify = "exact"`: the shingle sets of the candidates only.
pub(super) fn exact_shingles(
    cx: &Context,
    segs: &Segs,
    docs: &Docs,
    pairs: &[(u32, u32)],
    plan: &Plan,
    decoded: &Decoded,
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
    // Segments are read on every thread; a segment's sets are made in row order.
    let per_seg: Vec<_> = per_seg.into_iter().collect();
    let sets = crate::par::map_ordered(cx.threads, per_seg.len(), |k| {
        let (seg, (bitmap, doc_of)) = &per_seg[k];
        let mut sh = Vec::new();
        let mut out = Vec::with_capacity(bitmap.len() as usize);
        let mut add = |row: &u32, text: &str| {
            shingles(&normalize(text), plan.shingle, plan.ngram, &mut sh);
            sh.sort_unstable();
            sh.dedup();
            out.push((doc_of[row], Box::<[u64]>::from(sh.as_slice())));
        };
        if let Some(kept) = decoded.get(*seg, bitmap) {
            for (ids, batch) in kept {
                for (row, text) in ids.iter().zip(texts(batch, &plan.column)) {
                    if bitmap.contains(*row) {
                        add(row, text);
                    }
                }
            }
            return Ok(out);
        }
        for (ids, batch) in segment_columns(
            cx.store,
            segs.list[*seg as usize],
            bitmap,
            Some(&[plan.column.as_str()]),
        )? {
            for (row, text) in ids.iter().zip(texts(&batch, &plan.column)) {
                add(row, text);
            }
        }
        Ok::<_, RunError>(out)
    })?;
    Ok(sets.into_iter().flatten().collect())
}

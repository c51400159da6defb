//! Band sidecars: a shard's first-pass results (text length, and the exact
//! key or the MinHash band hashes and signatures of each row) for one set of
//! dedup parameters, stored as an object and found through the catalog under
//! (shard id, parameters hash). A re-run on a grown corpus hashes only the
//! rows no earlier run hashed; the results are the same bits either way.
//!
//! ```text
//! magic "SIFTBND1" │ parts: params │ rows (u32…) │ len (u32…) │ keys (u128…) │ bands (u64…) │ sigs (u32…)
//! ```
//! Rows are ascending shard rows; an object names the parameters it was
//! computed with, and one that does not match or does not decode is a miss.

use roaring::RoaringBitmap;

use super::collect::Docs;
use super::{Method, Plan, Shingle};
use crate::store::codec::{decode_parts, encode_parts};

const MAGIC: &[u8; 8] = b"SIFTBND1";

/// What the first pass depends on, as a string: normalization and shingling
/// versions, the text column, and the hashing parameters. Not the device
/// (CPU and GPU give the same bits), the threshold or the survivor rule.
pub(super) fn params(plan: &Plan, keep_sigs: bool) -> String {
    let shingle = match plan.shingle {
        Shingle::Word => "word",
        Shingle::Char => "char",
    };
    // Bump `/1` when normalize() or shingles() change what they give:
    // sidecars made before would otherwise be read as current.
    match plan.method {
        Method::Exact => format!("exact/1 column={:?}", plan.column),
        Method::Minhash => format!(
            "minhash/1 column={:?} shingle={shingle} ngram={} perms={} seed={} bands={}x{} sigs={keep_sigs}",
            plan.column, plan.ngram, plan.num_perm, plan.seed, plan.bands, plan.rows
        ),
    }
}

/// The hash of [`params`] that names a sidecar in the catalog.
pub(super) fn params_hash(params: &str) -> String {
    blake3::hash(params.as_bytes()).to_hex()[..32].to_string()
}

/// Widths per document of the parts after `rows` and `len`.
fn widths(plan: &Plan, keep_sigs: bool) -> (usize, usize, usize) {
    match plan.method {
        Method::Exact => (1, 0, 0),
        Method::Minhash => (0, plan.bands, if keep_sigs { plan.num_perm } else { 0 }),
    }
}

/// The object bytes of one shard's documents (`docs.at` ascending, one segment).
pub(super) fn encode(params: &str, docs: &Docs) -> Vec<u8> {
    let mut rows = Vec::with_capacity(docs.at.len() * 4);
    for (_, r) in &docs.at {
        rows.extend_from_slice(&r.to_le_bytes());
    }
    let le32 = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let keys: Vec<u8> = docs.keys.iter().flat_map(|k| k.to_le_bytes()).collect();
    let bands: Vec<u8> = docs.bands.iter().flat_map(|b| b.to_le_bytes()).collect();
    encode_parts(
        MAGIC,
        &[
            params.as_bytes().to_vec(),
            rows,
            le32(&docs.len),
            keys,
            bands,
            le32(&docs.sigs),
        ],
    )
}

/// The documents of a sidecar (segment `seg`), or why it cannot be used.
pub(super) fn decode(
    bytes: &[u8],
    params: &str,
    plan: &Plan,
    keep_sigs: bool,
    seg: u32,
) -> Result<Docs, &'static str> {
    let parts = decode_parts(MAGIC, bytes)?;
    let [p, rows, len, keys, bands, sigs] = parts[..] else {
        return Err("wrong number of parts");
    };
    if p != params.as_bytes() {
        return Err("made with other parameters");
    }
    let n = rows.len() / 4;
    let (wk, wb, ws) = widths(plan, keep_sigs);
    if rows.len() != n * 4
        || len.len() != n * 4
        || keys.len() != n * wk * 16
        || bands.len() != n * wb * 8
        || sigs.len() != n * ws * 4
    {
        return Err("part lengths do not match the row count");
    }
    let u32s = |b: &[u8]| -> Vec<u32> {
        b.chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect()
    };
    let at: Vec<(u32, u32)> = u32s(rows).into_iter().map(|r| (seg, r)).collect();
    if at.windows(2).any(|w| w[0].1 >= w[1].1) {
        return Err("rows are not ascending");
    }
    Ok(Docs {
        at,
        len: u32s(len),
        score: Vec::new(),
        keys: keys
            .chunks_exact(16)
            .map(|c| u128::from_le_bytes(c.try_into().expect("16 bytes")))
            .collect(),
        bands: bands
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        sigs: u32s(sigs),
    })
}

/// The rows of a sidecar's documents.
pub(super) fn rows_of(docs: &Docs) -> RoaringBitmap {
    docs.at.iter().map(|(_, r)| *r).collect()
}

/// Merges two sets of one segment's documents (rows ascending, disjoint)
/// into one, rows ascending.
pub(super) fn merge(a: Docs, b: Docs, plan: &Plan, keep_sigs: bool) -> Docs {
    let w = widths(plan, keep_sigs);
    let mut out = Docs::default();
    let (mut i, mut j) = (0, 0);
    while i < a.at.len() || j < b.at.len() {
        if j == b.at.len() || (i < a.at.len() && a.at[i].1 < b.at[j].1) {
            push_doc(&mut out, &a, i, w);
            i += 1;
        } else {
            push_doc(&mut out, &b, j, w);
            j += 1;
        }
    }
    out
}

/// The documents of `all` whose rows are in `sel`, in row order (every row
/// of `sel` must be in `all`).
pub(super) fn select(all: &Docs, sel: &RoaringBitmap, plan: &Plan, keep_sigs: bool) -> Docs {
    if all.at.len() as u64 == sel.len() {
        return all.clone_rows();
    }
    let w = widths(plan, keep_sigs);
    let mut out = Docs::default();
    for (k, (_, r)) in all.at.iter().enumerate() {
        if sel.contains(*r) {
            push_doc(&mut out, all, k, w);
        }
    }
    out
}

/// Appends document `k` of `d` (part widths `w` per document) to `out`.
fn push_doc(out: &mut Docs, d: &Docs, k: usize, (wk, wb, ws): (usize, usize, usize)) {
    out.at.push(d.at[k]);
    out.len.push(d.len[k]);
    out.keys.extend_from_slice(&d.keys[k * wk..(k + 1) * wk]);
    out.bands.extend_from_slice(&d.bands[k * wb..(k + 1) * wb]);
    out.sigs.extend_from_slice(&d.sigs[k * ws..(k + 1) * ws]);
}

//! Rows as multisets of fingerprints: unmatched segments, their merge, and the rows read for samples.

use std::collections::{BTreeMap, HashMap};

use arrow::array::RecordBatch;
use roaring::RoaringBitmap;

use super::*;
use crate::version::{Segment, load_repeats, selection};

/// Segments of A and of B left after cancelling identical ones; and how many were cancelled.
pub(super) fn unmatched_segments(a: &Version, b: &Version) -> (Vec<usize>, Vec<usize>, u64) {
    type Key = (ObjectId, Option<ObjectId>, Option<ObjectId>);
    let key = |s: &Segment| -> Key { (s.shard, s.selection, s.repeats) };
    let mut in_b: HashMap<Key, usize> = HashMap::new();
    for s in &b.manifest.segments {
        *in_b.entry(key(s)).or_default() += 1;
    }
    let mut matched: HashMap<Key, usize> = HashMap::new();
    let mut rest_a = Vec::new();
    for (i, s) in a.manifest.segments.iter().enumerate() {
        match in_b.get_mut(&key(s)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                *matched.entry(key(s)).or_default() += 1;
            }
            _ => rest_a.push(i),
        }
    }
    let skipped: usize = matched.values().sum();
    let mut rest_b = Vec::new();
    for (i, s) in b.manifest.segments.iter().enumerate() {
        match matched.get_mut(&key(s)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => rest_b.push(i),
        }
    }
    (rest_a, rest_b, 2 * skipped as u64)
}

/// The fingerprints of the rows of some segments, with where each row is (repeats included).
pub(super) fn positioned_fingerprints(
    store: &Store,
    v: &Version,
    segments: &[usize],
) -> Result<Vec<(u128, At)>, DiffError> {
    let mut out = Vec::new();
    for &i in segments {
        let seg = &v.manifest.segments[i];
        let fps = store::shard::decode_sidecar(
            &seg.fingerprints,
            &store.objects().get(&seg.fingerprints)?,
        )?;
        let sel = segment_selection(store, seg)?;
        let repeats = load_repeats(store, seg)?;
        for row in sel.iter() {
            let Some(fp) = fps.get(row as usize) else {
                return Err(ReadError::Mismatch {
                    id: seg.shard,
                    reason: format!("the selection names row {row}, beyond the sidecar"),
                }
                .into());
            };
            let n = repeats.as_ref().and_then(|r| r.get(&row)).map_or(1, |&n| n);
            for _ in 0..n {
                out.push((*fp, (i as u32, row)));
            }
        }
    }
    Ok(out)
}

pub(super) fn segment_selection(
    store: &Store,
    seg: &Segment,
) -> Result<RoaringBitmap, store::Error> {
    match &seg.selection {
        Some(id) => crate::version::decode_selection(id, &store.objects().get(id)?),
        None => Ok(selection::full(seg.rows)),
    }
}

/// (rows of A not matched in B, rows of B not matched in A), each in side order.
pub(super) fn multiset_difference(
    mut a: Vec<(u128, At)>,
    mut b: Vec<(u128, At)>,
) -> (Vec<At>, Vec<At>) {
    a.sort_unstable();
    b.sort_unstable();
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let fa = a.get(i).map(|x| x.0);
        let fb = b.get(j).map(|x| x.0);
        match (fa, fb) {
            (Some(x), Some(y)) if x == y => {
                let (si, sj) = (i, j);
                while i < a.len() && a[i].0 == x {
                    i += 1;
                }
                while j < b.len() && b[j].0 == x {
                    j += 1;
                }
                let (na, nb) = (i - si, j - sj);
                if na > nb {
                    removed.extend(a[si + nb..i].iter().map(|r| r.1));
                } else {
                    added.extend(b[sj + na..j].iter().map(|r| r.1));
                }
            }
            (Some(x), y) if y.is_none_or(|y| x < y) => {
                removed.push(a[i].1);
                i += 1;
            }
            _ => {
                added.push(b[j].1);
                j += 1;
            }
        }
    }
    removed.sort_unstable();
    added.sort_unstable();
    (removed, added)
}

/// The rows at `at` as JSON objects, in the order given (repeated positions repeat).
pub(super) fn json_rows(
    store: &Store,
    v: &Version,
    at: &[At],
) -> Result<Vec<serde_json::Value>, DiffError> {
    if at.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_seg: BTreeMap<u32, RoaringBitmap> = BTreeMap::new();
    for (s, r) in at {
        by_seg.entry(*s).or_default().insert(*r);
    }
    let schema = v.schema()?;
    // Segments are read and converted in parallel.
    let work: Vec<(u32, RoaringBitmap)> = by_seg.into_iter().collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let parts =
        crate::par::map_ordered(threads, work.len(), |i| {
            let (s, rows) = &work[i];
            let seg = &v.manifest.segments[*s as usize];
            let mut out = Vec::new();
            for (ids, batch) in selection::segment_batches(store, seg, rows)? {
                let batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
                    .map_err(|e| ReadError::Mismatch {
                        id: seg.shard,
                        reason: e.to_string(),
                    })?;
                for (id, value) in ids.iter().zip(batch_to_json(&batch)) {
                    out.push(((*s, *id), value));
                }
            }
            Ok::<_, DiffError>(out)
        })?;
    let mut by_at: HashMap<At, serde_json::Value> = HashMap::new();
    for part in parts {
        by_at.extend(part);
    }
    Ok(at.iter().filter_map(|a| by_at.get(a).cloned()).collect())
}

pub(super) fn batch_to_json(batch: &RecordBatch) -> Vec<serde_json::Value> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::JsonArray>(&mut buf);
        if w.write(batch).is_err() || w.finish().is_err() {
            return vec![serde_json::Value::Null; batch.num_rows()];
        }
    }
    match serde_json::from_slice::<Vec<serde_json::Value>>(&buf) {
        Ok(v) if v.len() == batch.num_rows() => v,
        _ => vec![serde_json::Value::Null; batch.num_rows()],
    }
}

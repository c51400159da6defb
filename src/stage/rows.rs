//! One value per row of a text column, computed on every thread: the shared
//! loop of the stages that judge rows one at a time (language, classifier,
//! tokens).
//!
//! ```text
//! segment i ──read──▶ rows in slices of 512 ──par::map(threads)──▶ values, in row order ──▶ each(i, row, value)
//!            (segment i + 1 is read meanwhile)
//! ```
//!
//! `each` sees the rows in order whatever the thread count, so what a stage
//! adds up from them does not depend on it, and a corpus of one segment
//! keeps every core busy.

use arrow::array::RecordBatch;

use super::dedup::texts;
use super::{Context, RunError};
use crate::version::selection::{SelectionSet, segment_batches};

/// Rows per slice handed to a thread.
const SLICE: usize = 512;

/// A segment's batches (with their shard rows) as slices of at most
/// [`SLICE`] rows: views, not copies.
pub fn slices(batches: &[(Vec<u32>, RecordBatch)]) -> Vec<(&[u32], RecordBatch)> {
    batches
        .iter()
        .flat_map(|(ids, b)| {
            (0..b.num_rows()).step_by(SLICE).map(move |at| {
                let len = SLICE.min(b.num_rows() - at);
                (&ids[at..at + len], b.slice(at, len))
            })
        })
        .collect()
}

/// A segment's selected rows: (shard rows, batch) pairs.
pub type SegmentBatches = Vec<(Vec<u32>, RecordBatch)>;

/// Calls `each(segment, its batches)` for every segment in order, reading
/// segment `i + 1` on another thread while `each` works on segment `i`: at
/// most two segments are in memory.
pub fn each_segment(
    cx: &Context,
    input: &SelectionSet,
    each: impl FnMut(usize, SegmentBatches) -> Result<(), RunError>,
) -> Result<(), RunError> {
    read_ahead(
        cx.source.manifest.segments.len(),
        |i| segment(cx, i, &input.0[i]),
        each,
    )
}

/// Each segment's part, in order, for a stage that judges rows one at a
/// time: `part(segment, its batches)` (what a cluster's executors run, a
/// segment each), read as [`each_segment`] reads them.
pub fn parts(
    cx: &Context,
    input: &SelectionSet,
    mut part: impl FnMut(usize, SegmentBatches) -> Result<super::Part, RunError>,
) -> Result<Vec<super::Part>, RunError> {
    let mut parts = Vec::with_capacity(cx.source.manifest.segments.len());
    each_segment(cx, input, |i, batches| {
        parts.push(part(i, batches)?);
        Ok(())
    })?;
    Ok(parts)
}

/// The rows `rows` of segment `i` of the rows the stage reads, decoded.
pub fn segment(
    cx: &Context,
    i: usize,
    rows: &roaring::RoaringBitmap,
) -> Result<SegmentBatches, RunError> {
    Ok(segment_batches(
        cx.store,
        &cx.source.manifest.segments[i],
        rows,
    )?)
}

/// Calls `each(i, read(i))` for `i` in `0..n` in order, running `read(i + 1)`
/// on another thread while `each` works on item `i`: reading (decoding a
/// segment) overlaps the work on the one before it.
pub fn read_ahead<T: Send>(
    n: usize,
    read: impl Fn(usize) -> Result<T, RunError> + Sync,
    mut each: impl FnMut(usize, T) -> Result<(), RunError>,
) -> Result<(), RunError> {
    let read = &read;
    std::thread::scope(|s| {
        let mut next = (n > 0).then(|| s.spawn(move || read(0)));
        for i in 0..n {
            let item = next.take().expect("read ahead").join().expect("reader")?;
            if i + 1 < n {
                next = Some(s.spawn(move || read(i + 1)));
            }
            each(i, item)?;
        }
        Ok(())
    })
}

/// Calls `each(segment, shard row, f(text))` for every row `input` selects,
/// in order; `f` runs on `cx.threads` threads.
pub fn each_text<T: Send>(
    cx: &Context,
    input: &SelectionSet,
    column: &str,
    f: impl Fn(&str) -> T + Sync,
    mut each: impl FnMut(usize, u32, T) -> Result<(), RunError>,
) -> Result<(), RunError> {
    each_segment(cx, input, |i, batches| {
        segment_texts(cx, &batches, column, &f, |row, v| each(i, row, v))
    })
}

/// [`each_text`] on one segment's batches: `each(shard row, f(text))` in order.
pub fn segment_texts<T: Send>(
    cx: &Context,
    batches: &SegmentBatches,
    column: &str,
    f: impl Fn(&str) -> T + Sync,
    mut each: impl FnMut(u32, T) -> Result<(), RunError>,
) -> Result<(), RunError> {
    let slices = slices(batches);
    let values = crate::par::map(cx.threads.max(1), slices.len(), |k| {
        let batch = &slices[k].1;
        let v: Vec<T> = texts(batch, column).into_iter().map(&f).collect();
        cx.observer.rows_done(batch.num_rows() as u64);
        v
    });
    for ((ids, _), vals) in slices.iter().zip(values) {
        for (row, v) in ids.iter().zip(vals) {
            each(*row, v)?;
        }
    }
    Ok(())
}

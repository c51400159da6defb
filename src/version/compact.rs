//! Compaction: rewrite segments whose selection keeps few of their shard's
//! rows as new, content-defined shards. The rows and their order do not
//! change, so neither does the content id.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use roaring::RoaringBitmap;

use super::import::ImportError;
use super::selection::segment_batches;
use super::{ReadError, Segment, decode_selection};
use crate::store::shard::{ShardOptions, write_shards};
use crate::store::{self, Store};

/// Why compaction failed.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Write(#[from] ImportError),
}

impl From<store::Error> for CompactError {
    fn from(e: store::Error) -> Self {
        CompactError::Read(ReadError::Store(e))
    }
}

/// The result of rewriting segments.
pub struct Compacted {
    pub segments: Vec<Segment>,
    /// Segments rewritten, and bytes newly stored.
    pub rewritten: usize,
    pub new_bytes: u64,
}

/// Should this segment be rewritten?
fn sparse(seg: &Segment, below: f64) -> bool {
    // Segments with repeat counts stay as they are: rewriting keeps rows once.
    seg.selection.is_some()
        && seg.repeats.is_none()
        && (seg.selected_rows as f64) < below * seg.rows as f64
}

/// Rewrites each run of consecutive sparse segments (kept fraction < `below`) as new shards.
pub fn compact_segments(
    store: &Store,
    schema: &SchemaRef,
    segments: Vec<Segment>,
    below: f64,
    opts: ShardOptions,
) -> Result<Compacted, CompactError> {
    let mut out = Vec::new();
    let (mut rewritten, mut new_bytes) = (0, 0);
    let mut run: Vec<(Segment, RoaringBitmap)> = Vec::new();
    let flush = |run: &mut Vec<(Segment, RoaringBitmap)>,
                 out: &mut Vec<Segment>,
                 new_bytes: &mut u64|
     -> Result<(), CompactError> {
        if run.is_empty() {
            return Ok(());
        }
        let mut batches: Vec<Result<RecordBatch, crate::source::Error>> = Vec::new();
        for (seg, sel) in run.iter() {
            for (_, b) in segment_batches(store, seg, sel)? {
                batches.push(Ok(b));
            }
        }
        let written = write_shards(store.objects(), schema.clone(), batches.into_iter(), opts)
            .map_err(ImportError::from)?;
        for s in written.shards {
            *new_bytes += [s.shard, s.sidecar]
                .iter()
                .filter(|p| p.new)
                .map(|p| p.len)
                .sum::<u64>();
            out.push(Segment::whole(&s));
        }
        run.clear();
        Ok(())
    };
    for seg in segments {
        if below > 0.0 && sparse(&seg, below) {
            let id = seg.selection.expect("sparse segments have a selection");
            let sel = decode_selection(&id, &store.objects().get(&id)?)?;
            rewritten += 1;
            run.push((seg, sel));
        } else {
            flush(&mut run, &mut out, &mut new_bytes)?;
            out.push(seg);
        }
    }
    flush(&mut run, &mut out, &mut new_bytes)?;
    Ok(Compacted {
        segments: out,
        rewritten,
        new_bytes,
    })
}

//! Compaction: rewrite segments whose selection keeps few of their shard's
//! rows as new, content-defined shards. The rows and their order do not
//! change, so neither does the content id.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use roaring::RoaringBitmap;

use super::import::ImportError;
use super::selection::segment_batches;
use super::{Draft, ReadError, Segment, Version, commit, decode_selection};
use crate::store::shard::{ShardOptions, write_shards};
use crate::store::{self, Store};

/// Why compaction failed.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Write(#[from] ImportError),
    #[error(
        "compaction changed the content id of {version} (to {content_id}); nothing was committed"
    )]
    ContentChanged { version: String, content_id: String },
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

/// What [`compact`] did.
pub struct CompactReport {
    /// The new version, or `None` when no segment was sparse enough.
    pub version: Option<Version>,
    pub rewritten: usize,
    pub new_bytes: u64,
}

/// Rewrites the sparse segments of `v` (kept fraction < `below`) and commits
/// the result as a new version with the same content id, which is checked
/// rather than trusted.
pub fn compact(
    store: &Store,
    v: &Version,
    below: f64,
    opts: ShardOptions,
    message: Option<String>,
    tags: &[String],
) -> Result<CompactReport, CompactError> {
    let schema = v.schema()?;
    let c = compact_segments(store, &schema, v.manifest.segments.clone(), below, opts)?;
    if c.rewritten == 0 {
        return Ok(CompactReport {
            version: None,
            rewritten: 0,
            new_bytes: 0,
        });
    }
    let mut draft = Draft::new(schema, c.segments, "compact", vec![v.id]);
    draft.lineage.inputs = v.manifest.lineage.inputs.clone();
    draft.lineage.pipeline = v.manifest.lineage.pipeline.clone();
    draft.message = message.or_else(|| v.manifest.message.clone());
    draft.new_bytes = c.new_bytes;
    // The rows are the same, so the content id must be too.
    let content_id = draft.content_id(store)?;
    if content_id != v.manifest.content_id {
        return Err(CompactError::ContentChanged {
            version: v.id.short().to_string(),
            content_id,
        });
    }
    draft.content_id = Some(content_id);
    let version = commit(store, draft, tags)?;
    Ok(CompactReport {
        version: Some(version),
        rewritten: c.rewritten,
        new_bytes: c.new_bytes,
    })
}

//! What the stages that rewrite rows (pii, normalize, lines, map) share.
//!
//! ```text
//!  input rows of segment i ──rewrite──▶ unchanged rows ──▶ segment i, selection = unchanged
//!                                   └─▶ changed rows  ──▶ new content-defined shards (whole segments)
//!                                   └─▶ removed rows  (a row left empty, an expression that failed), by rule
//! ```
//!
//! A transform stage passes on a manifest of its output rows (command
//! `stage`, see [`crate::version::stage_rows`]): for each input segment, the
//! rows it left alone, as that segment under a selection, then the rows it
//! rewrote, as new shards. So a pass that touches 2% of the rows stores
//! about 2% new bytes, and a rewritten row sits after the unchanged rows
//! of its own shard. The stages after it read that manifest; `sift explain`
//! follows a row into it with [`follow`].

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, LargeStringArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, SchemaRef};
use indexmap::IndexMap;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::Serialize;

use super::{Context, Outcome, RunError, StageStats};
use crate::store::shard::{ShardOptions, write_shards};
use crate::version::import::ImportError;
use crate::version::selection::{SelectionSet, segment_batches};
use crate::version::stats::TransformStats;
use crate::version::{Draft, Segment, Version, stage_rows};

/// What a transform did to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate<T> {
    /// Left alone.
    Same,
    /// Rewritten to this value.
    Changed(T),
    /// Removed, by this rule (a row left empty).
    Removed(String),
}

/// One change a transform made to a row, for `sift explain`.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Edit {
    /// The rule or entity that made it (`email`, `no_terminal_punct`, `nfkc`, …).
    pub rule: String,
    /// The text before, shortened around the change.
    pub before: String,
    /// The text after.
    pub after: String,
}

/// A transform of one text column, a value at a time.
pub trait TextRewrite: Sync {
    /// The column it rewrites.
    fn column(&self) -> &str;
    /// The rules or entities it counts edits under, in spec order.
    fn rules(&self) -> Vec<String>;
    /// Rewrites one value, counting edits per rule into `edits` (indexed as [`rules`](Self::rules)).
    fn rewrite<'t>(&self, text: &'t str, edits: &mut [u64]) -> Fate<Cow<'t, str>>;
    /// The edits it makes to one value, for explain.
    fn edits_in(&self, text: &str) -> Vec<Edit>;
    /// Rewrites a batch's values (by default one at a time, nulls left alone).
    fn rewrite_all<'t>(
        &self,
        texts: &[Option<&'t str>],
        edits: &mut [u64],
    ) -> Result<Vec<Fate<Cow<'t, str>>>, RewriteError> {
        Ok(texts
            .iter()
            .map(|t| match t {
                Some(t) => self.rewrite(t, edits),
                None => Fate::Same,
            })
            .collect())
    }
}

/// What a transform did to each row of a batch.
pub struct Rewritten {
    /// Per row: left alone, rewritten, or removed by a rule.
    pub fates: Vec<Fate<()>>,
    /// The rewritten rows, in order, in the stage's output schema.
    pub rows: Option<RecordBatch>,
}

/// A transform of whole rows, a batch at a time.
pub trait Rewrite: Sync {
    /// The rules or entities it counts edits under, in spec order.
    fn edit_rules(&self) -> Vec<String>;
    /// The schema of the rows it passes on, given its input's.
    fn output_schema(&self, input: &SchemaRef) -> SchemaRef {
        input.clone()
    }
    /// Rewrites a batch, counting edits per rule into `edits`.
    fn rewrite_batch(
        &self,
        batch: &RecordBatch,
        edits: &mut [u64],
    ) -> Result<Rewritten, RewriteError>;
}

impl<T: TextRewrite> Rewrite for T {
    fn edit_rules(&self) -> Vec<String> {
        self.rules()
    }

    fn rewrite_batch(
        &self,
        batch: &RecordBatch,
        edits: &mut [u64],
    ) -> Result<Rewritten, RewriteError> {
        let col = batch
            .schema()
            .index_of(self.column())
            .expect("validated column");
        let texts = nullable_texts(batch.column(col));
        let fates = self.rewrite_all(&texts, edits)?;
        let mut values: Vec<Option<String>> = Vec::new();
        let mut take: Vec<u32> = Vec::new();
        let mut out = Vec::with_capacity(fates.len());
        for (k, fate) in fates.into_iter().enumerate() {
            out.push(match fate {
                Fate::Same => Fate::Same,
                Fate::Changed(v) => {
                    values.push(Some(v.into_owned()));
                    take.push(k as u32);
                    Fate::Changed(())
                }
                Fate::Removed(rule) => Fate::Removed(rule),
            });
        }
        if take.is_empty() {
            return Ok(Rewritten {
                fates: out,
                rows: None,
            });
        }
        let idx = arrow::array::UInt32Array::from(take);
        let mut cols: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| arrow::compute::take(c, &idx, None).expect("indexes in range"))
            .collect();
        cols[col] = text_array(batch.column(col).data_type(), values);
        let rows = RecordBatch::try_new(batch.schema(), cols).expect("the batch's own schema");
        Ok(Rewritten {
            fates: out,
            rows: Some(rows),
        })
    }
}

/// A rule that failed on a value, with `on_error = "fail"`.
#[derive(Debug)]
pub struct RewriteError {
    /// The value's index in the batch.
    pub row: usize,
    pub rule: String,
    pub expr: String,
    pub message: String,
}

/// What one segment gave.
struct SegmentOut {
    kept: RoaringBitmap,
    changed: RoaringBitmap,
    shards: Vec<Segment>,
    new_bytes: u64,
    edits: Vec<u64>,
    removed: IndexMap<String, u64>,
}

/// Runs a text transform over the rows of `input`: the rows it keeps,
/// removals per rule, and stats naming the manifest of its output rows.
pub fn run(cx: &Context, input: &SelectionSet, rw: &dyn Rewrite) -> Result<Outcome, RunError> {
    let segments = &cx.source.manifest.segments;
    let schema = rw.output_schema(&cx.source.schema()?);
    let rules = rw.edit_rules();
    // Segments in parallel; with few segments (which may be of very
    // different sizes, as a transform's output is), each segment's batches
    // are split across the threads too.
    let outer = cx.threads.min(segments.len()).max(1);
    let inner = if segments.len() >= 2 * cx.threads {
        1
    } else {
        cx.threads
    };
    let outs = crate::par::map_ordered(outer, segments.len(), |i| {
        segment(cx, &schema, i, &input.0[i], rw, rules.len(), inner)
    })?;
    let mut edits: IndexMap<String, u64> = rules.iter().map(|r| (r.clone(), 0)).collect();
    let mut removed: IndexMap<String, u64> = IndexMap::new();
    let (mut kept, mut changed) = (Vec::new(), Vec::new());
    let mut rows_segments = Vec::new();
    let mut new_bytes = 0;
    for (seg, out) in segments.iter().zip(outs) {
        for (n, e) in edits.values_mut().zip(&out.edits) {
            *n += e;
        }
        for (rule, n) in out.removed {
            *removed.entry(rule).or_insert(0) += n;
        }
        let same = &out.kept - &out.changed;
        if !same.is_empty() {
            rows_segments.push(crate::version::restrict(cx.store, seg, &same)?);
        }
        rows_segments.extend(out.shards);
        new_bytes += out.new_bytes;
        kept.push(out.kept);
        changed.push(out.changed);
    }
    let changed = SelectionSet(changed);
    let kept = SelectionSet(kept);
    // A changed row is always a kept one.
    let rows_changed = changed.rows();
    let mut draft = Draft::new(schema, rows_segments, "stage", vec![cx.source.id]);
    draft.new_bytes = new_bytes;
    let rows = stage_rows(cx.store, draft)?;
    Ok(Outcome {
        kept,
        removed,
        stats: StageStats::Transform(TransformStats {
            version: rows.id,
            changed: changed.put(cx.store)?,
            rows_changed,
            new_bytes,
            edits,
        }),
    })
}

fn segment(
    cx: &Context,
    schema: &SchemaRef,
    index: usize,
    sel: &RoaringBitmap,
    rw: &dyn Rewrite,
    n_rules: usize,
    threads: usize,
) -> Result<SegmentOut, RunError> {
    let seg = &cx.source.manifest.segments[index];
    let mut out = SegmentOut {
        kept: RoaringBitmap::new(),
        changed: RoaringBitmap::new(),
        shards: Vec::new(),
        new_bytes: 0,
        edits: vec![0; n_rules],
        removed: IndexMap::new(),
    };
    let mut rewritten: Vec<RecordBatch> = Vec::new();
    let batches = segment_batches(cx.store, seg, sel)?;
    // Batches on `threads` threads, merged in order: the outcome does not
    // depend on the thread count.
    let results = crate::par::map_ordered(threads, batches.len(), |b| {
        let (ids, batch) = &batches[b];
        let mut edits = vec![0; n_rules];
        let r = rw
            .rewrite_batch(batch, &mut edits)
            .map_err(|e| RunError::Row {
                stage: cx.index + 1,
                name: cx.name.to_string(),
                rule: e.rule,
                expr: e.expr,
                row: cx.source_row(index, ids[e.row]),
                message: e.message,
            })?;
        cx.observer.rows_done(ids.len() as u64);
        Ok::<_, RunError>((r, edits))
    })?;
    for ((ids, _), (r, edits)) in batches.iter().zip(results) {
        for (n, e) in out.edits.iter_mut().zip(edits) {
            *n += e;
        }
        for (row, fate) in ids.iter().zip(r.fates) {
            match fate {
                Fate::Same => {
                    out.kept.insert(*row);
                }
                Fate::Changed(()) => {
                    out.kept.insert(*row);
                    out.changed.insert(*row);
                }
                Fate::Removed(rule) => {
                    *out.removed.entry(rule).or_insert(0) += 1;
                }
            }
        }
        rewritten.extend(r.rows);
    }
    if rewritten.is_empty() {
        return Ok(out);
    }
    let opts = ShardOptions {
        target: cx.shard_size,
        threads: 1,
    };
    let written = write_shards(
        cx.store.objects(),
        schema.clone(),
        rewritten.into_iter().map(Ok::<_, crate::source::Error>),
        opts,
    )
    .map_err(ImportError::from)?;
    for s in &written.shards {
        out.new_bytes += [s.shard, s.sidecar]
            .iter()
            .filter(|p| p.new)
            .map(|p| p.len)
            .sum::<u64>();
        out.shards.push(Segment::whole(s));
    }
    Ok(out)
}

/// A text column's values, nulls as `None`.
pub fn nullable_texts(col: &ArrayRef) -> Vec<Option<&str>> {
    match col.data_type() {
        DataType::Utf8 => col.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => col.as_string::<i64>().iter().collect(),
        DataType::Utf8View => col.as_string_view().iter().collect(),
        _ => vec![None; col.len()],
    }
}

/// A text column of type `dt` holding `values`.
fn text_array(dt: &DataType, values: Vec<Option<String>>) -> ArrayRef {
    match dt {
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(values)),
        DataType::Utf8View => Arc::new(arrow::array::StringViewArray::from(values)),
        _ => Arc::new(StringArray::from(values)),
    }
}

/// The text of the row at `cx.at` in the transform's column (`None` if null or gone).
fn row_text(cx: &super::ExplainContext, rw: &dyn TextRewrite) -> Result<Option<String>, RunError> {
    let Some(batch) = cx.row()? else {
        return Ok(None);
    };
    let Ok(col) = batch.schema().index_of(rw.column()) else {
        return Ok(None);
    };
    Ok(nullable_texts(batch.column(col))
        .first()
        .copied()
        .flatten()
        .map(str::to_owned))
}

/// The edits a text transform makes to the row at `cx.at`, for explain.
pub fn explain_row(
    cx: &super::ExplainContext,
    rw: &dyn TextRewrite,
) -> Result<Vec<Edit>, RunError> {
    Ok(row_text(cx, rw)?
        .map(|t| rw.edits_in(&t))
        .unwrap_or_default())
}

/// The rule that removed the row at `cx.at`, for explain.
pub fn removed_by(
    cx: &super::ExplainContext,
    rw: &dyn TextRewrite,
) -> Result<Option<String>, RunError> {
    let Some(text) = row_text(cx, rw)? else {
        return Ok(None);
    };
    let mut edits = vec![0; rw.rules().len()];
    Ok(match rw.rewrite(&text, &mut edits) {
        Fate::Removed(rule) => Some(rule),
        _ => None,
    })
}

/// Where the input row (segment, shard row) of a transform stage is among
/// the rows it passed on (`rows`): (segment, shard row) there. The row must
/// be in `kept`; `changed` (the rows it rewrote) is a subset of `kept`.
pub fn follow(
    rows: &Version,
    kept: &SelectionSet,
    changed: &SelectionSet,
    (seg, row): (usize, u32),
) -> (usize, u32) {
    let out = &rows.manifest.segments;
    let mut j = 0usize;
    // Segment i became: its unchanged rows (if any), then its rewritten rows as whole new shards.
    for i in 0..seg {
        let c = changed.0[i].len();
        if kept.0[i].len() > c {
            j += 1;
        }
        let mut left = c;
        while left > 0 {
            left = left.saturating_sub(out[j].rows);
            j += 1;
        }
    }
    let c = &changed.0[seg];
    if !c.contains(row) {
        return (j, row);
    }
    if kept.0[seg].len() > c.len() {
        j += 1;
    }
    let mut left = c.rank(row) - 1;
    while left >= out[j].rows {
        left -= out[j].rows;
        j += 1;
    }
    (j, left as u32)
}

/// Where a row of a transform's output (`rows`, segment `j`, shard row `r`)
/// came from among the stage's input: (segment, shard row) there. The
/// inverse of [`follow`].
pub fn back(
    rows: &Version,
    kept: &SelectionSet,
    changed: &SelectionSet,
    (j, r): (usize, u32),
) -> (usize, u32) {
    let out = &rows.manifest.segments;
    let mut at = 0usize;
    for i in 0..kept.0.len() {
        let c = &changed.0[i];
        if kept.0[i].len() > c.len() {
            if at == j {
                return (i, r);
            }
            at += 1;
        }
        let (mut offset, mut left) = (0u64, c.len());
        while left > 0 {
            if at == j {
                let k = offset + r as u64;
                return (i, c.select(k as u32).expect("a row of the piece"));
            }
            offset += out[at].rows;
            left = left.saturating_sub(out[at].rows);
            at += 1;
        }
    }
    (j, r)
}

/// The transforms a row has been through, to name it by its source row.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// Each transform so far: the rows it passed on, what it kept and changed of its input.
    hops: Vec<(Version, SelectionSet, SelectionSet)>,
}

impl Origins {
    /// No transform so far: the rows read are the source's.
    pub fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }

    pub fn push(&mut self, rows: Version, kept: SelectionSet, changed: SelectionSet) {
        self.hops.push((rows, kept, changed));
    }

    /// (segment, shard row) among the source's segments of a row of the current rows.
    pub fn to_source(&self, mut at: (usize, u32)) -> (usize, u32) {
        for (rows, kept, changed) in self.hops.iter().rev() {
            at = back(rows, kept, changed, at);
        }
        at
    }
}

/// A short view of `text` around byte range `start..end`: the span with a few
/// words either side, marked with an ellipsis where it was cut.
pub fn around(text: &str, start: usize, end: usize) -> String {
    const SIDE: usize = 24;
    let mut a = start.saturating_sub(SIDE);
    while !text.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (end + SIDE).min(text.len());
    while !text.is_char_boundary(b) {
        b += 1;
    }
    let mut out = String::new();
    if a > 0 {
        out.push('…');
    }
    out.push_str(&text[a..b]);
    if b < text.len() {
        out.push('…');
    }
    out
}

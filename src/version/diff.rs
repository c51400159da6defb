//! `sift diff A B`: what changed between two versions.
//!
//! ```text
//! segments of A and B ─▶ identical (shard, selection, repeats) on both sides: skipped
//!                     └▶ the rest: fingerprints from sidecars, sorted, merged as multisets
//!                                   ─▶ added / removed rows (counts; no data read)
//!                                   ─▶ with --key: changed rows read, paired by key
//! ```
//!
//! Rows are compared as multisets of row fingerprints: order does not
//! matter, and a row present twice in B and once in A is one row added.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use indexmap::IndexMap;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ReadError, Segment, Version, load_repeats, selection};
use crate::store::{self, ObjectId, Store};

/// What to compute beyond the row counts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Key columns: pair removed and added rows into modified ones.
    pub keys: Vec<String>,
    /// A label column whose class counts to compare.
    pub label: Option<String>,
    /// Sample rows to show per kind (0: read no row data unless keys need it).
    pub samples: usize,
}

/// The difference between two versions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diff {
    pub a: Side,
    pub b: Side,
    /// Both versions have the same content id: the same rows in the same order.
    pub same_content: bool,
    pub schema: SchemaDiff,
    pub rows: RowDiff,
    /// With `--key`: rows paired by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeyDiff>,
    /// Class counts of a label column on both sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelDiff>,
    pub lineage: LineageDiff,
    pub samples: Samples,
}

/// One side of the diff.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Side {
    /// As given on the command line.
    pub reference: String,
    pub version: ObjectId,
    pub content_id: String,
    pub rows: u64,
    /// How the version was made, in words.
    pub made_by: String,
}

/// Columns added, removed and retyped (by name).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaDiff {
    pub added: Vec<ColumnType>,
    pub removed: Vec<ColumnType>,
    pub retyped: Vec<Retyped>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnType {
    pub name: String,
    /// Logical type (`string`, `int`, …).
    #[serde(rename = "type")]
    pub logical: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retyped {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// Row counts, as multisets of row fingerprints.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowDiff {
    /// Rows in B beyond their count in A.
    pub added: u64,
    /// Rows in A beyond their count in B.
    pub removed: u64,
    /// Rows in both.
    pub unchanged: u64,
    /// Segments identical on both sides (same shard, selection and repeats), not read.
    pub segments_skipped: u64,
    /// Segments whose fingerprints were compared.
    pub segments_compared: u64,
}

/// Rows paired by key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyDiff {
    pub columns: Vec<String>,
    /// Keys whose row changed (one removed and one added row with that key).
    pub modified: u64,
    /// Added rows whose key A does not have among its removed rows.
    pub added: u64,
    /// Removed rows whose key B does not have among its added rows.
    pub removed: u64,
    /// Column → modified rows in which it changed.
    pub changed_columns: IndexMap<String, u64>,
    /// Key values that occur more than once, per side.
    pub duplicate_keys_a: u64,
    pub duplicate_keys_b: u64,
    /// Up to 5 duplicated key values per side.
    pub duplicate_examples_a: Vec<String>,
    pub duplicate_examples_b: Vec<String>,
}

/// Class counts of a label column.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelDiff {
    pub column: String,
    /// Class → counts, by class name (null is `null`).
    pub classes: IndexMap<String, ClassChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassChange {
    pub a: u64,
    pub b: u64,
}

/// How the two versions were made.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineageDiff {
    /// B descends from A (A is among its parents or its pipeline's source).
    pub b_from_a: bool,
    /// When both came from `sift run` and their specs differ: a line diff of
    /// the canonical specs (`- ` A only, `+ ` B only, `  ` both).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec_diff: Vec<String>,
}

/// Sample rows, as JSON objects.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Samples {
    pub added: Vec<serde_json::Value>,
    pub removed: Vec<serde_json::Value>,
    pub modified: Vec<Modified>,
}

/// A modified row: its key and the columns that changed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Modified {
    pub key: String,
    /// Column → [value in A, value in B].
    pub changes: IndexMap<String, [serde_json::Value; 2]>,
}

/// Why a diff failed.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{side} ({version}) has no column '{column}'; its columns are: {columns}")]
    NoColumn {
        side: &'static str,
        version: String,
        column: String,
        columns: String,
    },
}

impl From<store::Error> for DiffError {
    fn from(e: store::Error) -> Self {
        DiffError::Read(ReadError::Store(e))
    }
}

impl DiffError {
    pub fn hint(&self) -> Option<String> {
        match self {
            DiffError::Read(e) => e.hint(),
            DiffError::NoColumn { .. } => {
                Some("`--key` and `--label` name columns both versions have".into())
            }
        }
    }
}

/// A row of one side: (segment index, shard row).
type At = (u32, u32);

/// Compares A and B.
pub fn diff(
    store: &Store,
    (a, a_ref): (&Version, &str),
    (b, b_ref): (&Version, &str),
    opts: &Options,
) -> Result<Diff, DiffError> {
    for col in opts.keys.iter().chain(&opts.label) {
        for (side, v) in [("A", a), ("B", b)] {
            if !v.manifest.schema.iter().any(|c| &c.name == col) {
                let cols: Vec<&str> = v.manifest.schema.iter().map(|c| c.name.as_str()).collect();
                return Err(DiffError::NoColumn {
                    side,
                    version: v.id.short(),
                    column: col.clone(),
                    columns: cols.join(", "),
                });
            }
        }
    }
    let (rest_a, rest_b, skipped) = unmatched_segments(a, b);
    let fa = positioned_fingerprints(store, a, &rest_a)?;
    let fb = positioned_fingerprints(store, b, &rest_b)?;
    let (removed, added) = multiset_difference(fa, fb);
    let rows = RowDiff {
        added: added.len() as u64,
        removed: removed.len() as u64,
        unchanged: a.manifest.stats.rows - removed.len() as u64,
        segments_skipped: skipped,
        segments_compared: (rest_a.len() + rest_b.len()) as u64,
    };

    let mut samples = Samples::default();
    let keys = if opts.keys.is_empty() {
        samples.removed = json_rows(store, a, &removed[..removed.len().min(opts.samples)])?;
        samples.added = json_rows(store, b, &added[..added.len().min(opts.samples)])?;
        None
    } else {
        Some(key_diff(
            store,
            (a, &removed),
            (b, &added),
            opts,
            &mut samples,
        )?)
    };
    let labels = match &opts.label {
        Some(col) => Some(LabelDiff {
            column: col.clone(),
            classes: label_counts(store, a, b, col)?,
        }),
        None => None,
    };
    Ok(Diff {
        a: side(a, a_ref),
        b: side(b, b_ref),
        same_content: a.manifest.content_id == b.manifest.content_id,
        schema: schema_diff(a, b),
        rows,
        keys,
        labels,
        lineage: lineage_diff(a, b),
        samples,
    })
}

/// The label a balance stage of B (or A) used, when it is a column of both.
pub fn default_label(a: &Version, b: &Version) -> Option<String> {
    [b, a]
        .iter()
        .filter_map(|v| v.manifest.lineage.pipeline.as_ref())
        .flat_map(|p| p.stages.iter())
        .filter_map(|s| match &s.stats {
            super::StageStats::Balance(b) => Some(b.label.clone()),
            _ => None,
        })
        .find(|l| {
            [a, b]
                .iter()
                .all(|v| v.manifest.schema.iter().any(|c| &c.name == l))
        })
}

fn side(v: &Version, reference: &str) -> Side {
    let l = &v.manifest.lineage;
    let made_by = match &l.pipeline {
        Some(p) => format!(
            "sift run {} on {} ({} stages)",
            p.spec_file,
            p.source.short(),
            p.stages.len()
        ),
        None if !l.inputs.is_empty() => {
            let more = if l.inputs.len() > 1 {
                format!(" and {} more", l.inputs.len() - 1)
            } else {
                String::new()
            };
            format!("sift {} {}{more}", l.command, l.inputs[0])
        }
        None => {
            let parents: Vec<String> = l.parents.iter().map(|p| p.short()).collect();
            format!("sift {} {}", l.command, parents.join(" "))
        }
    };
    Side {
        reference: reference.to_string(),
        version: v.id,
        content_id: v.manifest.content_id.clone(),
        rows: v.manifest.stats.rows,
        made_by: made_by.trim_end().to_string(),
    }
}

fn schema_diff(a: &Version, b: &Version) -> SchemaDiff {
    let (ca, cb) = (&a.manifest.schema, &b.manifest.schema);
    let find = |cols: &[super::manifest::Column], name: &str| {
        cols.iter()
            .find(|c| c.name == name)
            .map(|c| c.logical.clone())
    };
    let mut d = SchemaDiff::default();
    for c in cb {
        match find(ca, &c.name) {
            None => d.added.push(ColumnType {
                name: c.name.clone(),
                logical: c.logical.clone(),
            }),
            Some(t) if t != c.logical => d.retyped.push(Retyped {
                name: c.name.clone(),
                from: t,
                to: c.logical.clone(),
            }),
            Some(_) => {}
        }
    }
    for c in ca {
        if find(cb, &c.name).is_none() {
            d.removed.push(ColumnType {
                name: c.name.clone(),
                logical: c.logical.clone(),
            });
        }
    }
    d
}

/// Segments of A and of B left after cancelling identical ones; and how many were cancelled.
fn unmatched_segments(a: &Version, b: &Version) -> (Vec<usize>, Vec<usize>, u64) {
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
fn positioned_fingerprints(
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

fn segment_selection(store: &Store, seg: &Segment) -> Result<RoaringBitmap, store::Error> {
    match &seg.selection {
        Some(id) => super::decode_selection(id, &store.objects().get(id)?),
        None => Ok(selection::full(seg.rows)),
    }
}

/// (rows of A not matched in B, rows of B not matched in A), each in side order.
fn multiset_difference(mut a: Vec<(u128, At)>, mut b: Vec<(u128, At)>) -> (Vec<At>, Vec<At>) {
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
fn json_rows(store: &Store, v: &Version, at: &[At]) -> Result<Vec<serde_json::Value>, DiffError> {
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
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(work.len());
    type Part = Result<Vec<(At, serde_json::Value)>, DiffError>;
    let parts: std::sync::Mutex<Vec<Part>> = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((s, rows)) = work.get(i) else { return };
                    let seg = &v.manifest.segments[*s as usize];
                    let part = (|| -> Part {
                        let mut out = Vec::new();
                        for (ids, batch) in selection::segment_batches(store, seg, rows)? {
                            let batch =
                                RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
                                    .map_err(|e| ReadError::Mismatch {
                                        id: seg.shard,
                                        reason: e.to_string(),
                                    })?;
                            for (id, value) in ids.iter().zip(batch_to_json(&batch)) {
                                out.push(((*s, *id), value));
                            }
                        }
                        Ok(out)
                    })();
                    parts.lock().expect("lock").push(part);
                }
            });
        }
    });
    let mut by_at: HashMap<At, serde_json::Value> = HashMap::new();
    for part in parts.into_inner().expect("lock") {
        by_at.extend(part?);
    }
    Ok(at.iter().filter_map(|a| by_at.get(a).cloned()).collect())
}

fn batch_to_json(batch: &RecordBatch) -> Vec<serde_json::Value> {
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

/// The key of each row of a batch: the key columns' values, joined by ", ".
fn key_strings(batch: &RecordBatch, keys: &[String]) -> Vec<String> {
    let cols: Vec<&ArrayRef> = keys
        .iter()
        .filter_map(|k| batch.column_by_name(k))
        .collect();
    let fmts: Vec<ArrayFormatter> = cols
        .iter()
        .filter_map(|c| {
            ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default().with_null("null")).ok()
        })
        .collect();
    (0..batch.num_rows())
        .map(|i| {
            fmts.iter()
                .map(|f| f.value(i).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

/// Pairs removed and added rows by key.
fn key_diff(
    store: &Store,
    (a, removed): (&Version, &[At]),
    (b, added): (&Version, &[At]),
    opts: &Options,
    samples: &mut Samples,
) -> Result<KeyDiff, DiffError> {
    // Changed rows of each side: key → rows (as JSON objects).
    let changed =
        |v: &Version, at: &[At]| -> Result<Vec<(String, serde_json::Value, At)>, DiffError> {
            let rows = json_rows(store, v, at)?;
            let keys: Vec<String> = rows
                .iter()
                .map(|r| {
                    opts.keys
                        .iter()
                        .map(|k| json_cell(&r[k]))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect();
            Ok(keys
                .into_iter()
                .zip(rows)
                .zip(at.iter().copied())
                .map(|((k, r), at)| (k, r, at))
                .collect())
        };
    let ra = changed(a, removed)?;
    let rb = changed(b, added)?;
    let mut by_key_a: IndexMap<&str, Vec<usize>> = IndexMap::new();
    for (i, r) in ra.iter().enumerate() {
        by_key_a.entry(r.0.as_str()).or_default().push(i);
    }
    let mut by_key_b: IndexMap<&str, Vec<usize>> = IndexMap::new();
    for (i, r) in rb.iter().enumerate() {
        by_key_b.entry(r.0.as_str()).or_default().push(i);
    }
    let mut d = KeyDiff {
        columns: opts.keys.clone(),
        ..KeyDiff::default()
    };
    let columns: Vec<String> = {
        let mut c: Vec<String> = a.manifest.schema.iter().map(|c| c.name.clone()).collect();
        for col in &b.manifest.schema {
            if !c.contains(&col.name) {
                c.push(col.name.clone());
            }
        }
        c
    };
    let mut paired_a = vec![false; ra.len()];
    let mut paired_b = vec![false; rb.len()];
    for (key, ia) in &by_key_a {
        let Some(ib) = by_key_b.get(key) else {
            continue;
        };
        // Pair one to one, in order; extra rows stay added or removed.
        for (&x, &y) in ia.iter().zip(ib) {
            paired_a[x] = true;
            paired_b[y] = true;
            d.modified += 1;
            let (va, vb) = (&ra[x].1, &rb[y].1);
            let mut changes = IndexMap::new();
            for c in &columns {
                let (ca, cb) = (
                    va.get(c).cloned().unwrap_or(serde_json::Value::Null),
                    vb.get(c).cloned().unwrap_or(serde_json::Value::Null),
                );
                if ca != cb {
                    *d.changed_columns.entry(c.clone()).or_insert(0) += 1;
                    changes.insert(c.clone(), [ca, cb]);
                }
            }
            if samples.modified.len() < opts.samples {
                samples.modified.push(Modified {
                    key: key.to_string(),
                    changes,
                });
            }
        }
    }
    d.removed = paired_a.iter().filter(|p| !**p).count() as u64;
    d.added = paired_b.iter().filter(|p| !**p).count() as u64;
    samples.removed = ra
        .iter()
        .zip(&paired_a)
        .filter(|(_, p)| !**p)
        .take(opts.samples)
        .map(|(r, _)| r.1.clone())
        .collect();
    samples.added = rb
        .iter()
        .zip(&paired_b)
        .filter(|(_, p)| !**p)
        .take(opts.samples)
        .map(|(r, _)| r.1.clone())
        .collect();
    (d.duplicate_keys_a, d.duplicate_examples_a) = duplicate_keys(store, a, &opts.keys)?;
    (d.duplicate_keys_b, d.duplicate_examples_b) = duplicate_keys(store, b, &opts.keys)?;
    Ok(d)
}

/// A JSON cell as key text: strings bare, others as JSON.
fn json_cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Key values that occur more than once in a version (reads only the key columns).
fn duplicate_keys(
    store: &Store,
    v: &Version,
    keys: &[String],
) -> Result<(u64, Vec<String>), DiffError> {
    let mut seen: HashMap<u128, u32> = HashMap::new();
    let mut examples = Vec::new();
    let mut dups = 0u64;
    for batch in super::columns(store, v, keys)? {
        for k in key_strings(&batch, keys) {
            let n = seen
                .entry(xxhash_rust::xxh3::xxh3_128(k.as_bytes()))
                .or_insert(0);
            *n += 1;
            if *n == 2 {
                dups += 1;
                if examples.len() < 5 {
                    examples.push(k);
                }
            }
        }
    }
    Ok((dups, examples))
}

/// Class counts of a column on both sides (reads only that column).
fn label_counts(
    store: &Store,
    a: &Version,
    b: &Version,
    col: &str,
) -> Result<IndexMap<String, ClassChange>, DiffError> {
    let mut counts: BTreeMap<String, ClassChange> = BTreeMap::new();
    for (k, v) in [a, b].iter().enumerate() {
        for batch in super::columns(store, v, &[col.to_string()])? {
            for class in key_strings(&batch, &[col.to_string()]) {
                let c = counts.entry(class).or_insert(ClassChange { a: 0, b: 0 });
                if k == 0 {
                    c.a += 1;
                } else {
                    c.b += 1;
                }
            }
        }
    }
    Ok(counts.into_iter().collect())
}

fn lineage_diff(a: &Version, b: &Version) -> LineageDiff {
    let l = &b.manifest.lineage;
    let b_from_a =
        l.parents.contains(&a.id) || l.pipeline.as_ref().is_some_and(|p| p.source == a.id);
    let spec_diff = match (&a.manifest.lineage.pipeline, &l.pipeline) {
        (Some(pa), Some(pb)) if pa.spec_hash != pb.spec_hash => {
            line_diff(&pretty(&pa.spec), &pretty(&pb.spec))
        }
        _ => Vec::new(),
    };
    LineageDiff {
        b_from_a,
        spec_diff,
    }
}

fn pretty(spec: &str) -> String {
    serde_json::from_str::<serde_json::Value>(spec)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| spec.to_string())
}

/// A line diff by longest common subsequence (specs are small).
pub fn line_diff(a: &str, b: &str) -> Vec<String> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let (n, m) = (la.len(), lb.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if la[i] == lb[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && la[i] == lb[j] {
            out.push(format!("  {}", la[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {}", lb[j]));
            j += 1;
        } else {
            out.push(format!("- {}", la[i]));
            i += 1;
        }
    }
    out
}

/// The JSON schema of `sift diff --json`, as checked in under `schemas/`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Diff);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multisets_count_repeats() {
        let a = vec![(1, (0, 0)), (2, (0, 1)), (2, (0, 2)), (3, (0, 3))];
        let b = vec![(2, (0, 0)), (3, (0, 1)), (3, (0, 2)), (4, (0, 3))];
        let (removed, added) = multiset_difference(a, b);
        assert_eq!(removed, [(0, 0), (0, 2)]);
        assert_eq!(added, [(0, 2), (0, 3)]);
    }

    #[test]
    fn line_diffs_keep_common_lines() {
        let d = line_diff("a\nb\nc\n", "a\nx\nc\nd\n");
        assert_eq!(d, ["  a", "+ x", "- b", "  c", "+ d"]);
    }
}

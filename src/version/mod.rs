//! Versions: manifests in the store, how they are committed, resolved and read.
//!
//! ```text
//!  commit:  shards + sidecars (already stored) ──▶ manifest object ──▶ catalog entry + tags
//!  read:    ref ──catalog──▶ version id ──▶ manifest ──▶ segments ──▶ shard rows ∩ selection
//! ```

pub mod card;
pub mod commit;
pub mod compact;
pub mod diff;
pub mod export;
pub mod fsck;
pub mod gc;
pub mod import;
pub mod manifest;
pub mod nulls;
pub mod selection;
pub mod stats;

use std::sync::{Arc, Mutex};

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::PageIndexPolicy;
use roaring::RoaringBitmap;

pub use commit::{Draft, commit, existing, stage_rows};
pub use manifest::{Manifest, Segment};
pub use stats::StageStats;

use crate::store::{self, ObjectId, Store, VersionEntry};

/// A version read from the store.
#[derive(Debug, Clone)]
pub struct Version {
    pub id: ObjectId,
    pub manifest: Manifest,
}

impl Version {
    pub fn entry(&self) -> VersionEntry {
        let m = &self.manifest;
        VersionEntry {
            id: self.id,
            content_id: m.content_id.clone(),
            rows: m.stats.rows,
            bytes: m.stats.stored_bytes,
            created: m.created.clone(),
            message: m.message.clone(),
            parents: m.lineage.parents.clone(),
        }
    }

    pub fn schema(&self) -> Result<SchemaRef, store::Error> {
        self.manifest
            .arrow_schema()
            .map_err(|reason| store::Error::BadObject {
                id: self.id,
                what: "manifest",
                reason,
            })
    }
}

/// Loads a manifest object.
pub fn load(store: &Store, id: &ObjectId) -> Result<Version, store::Error> {
    let bytes = store.objects().get(id)?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| store::Error::BadObject {
            id: *id,
            what: "manifest",
            reason: e.to_string(),
        })?;
    Ok(Version { id: *id, manifest })
}

/// Resolves a tag, id or id prefix to a version.
pub fn resolve(store: &Store, name: &str) -> Result<Version, store::Error> {
    let id = store.catalog()?.resolve(name)?;
    load(store, &id)
}

const SELECTION_MAGIC: &[u8; 8] = b"SIFTSEL1";

/// Encodes a selection (kept row indexes of one shard) as an object.
pub fn encode_selection(bitmap: &RoaringBitmap) -> Vec<u8> {
    let mut out = SELECTION_MAGIC.to_vec();
    bitmap
        .serialize_into(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// `seg` under the selection `rows` of its shard rows, each once: the
/// selection stored (none when it keeps every row), its bytes pro rata.
pub fn restrict(
    store: &Store,
    seg: &Segment,
    rows: &RoaringBitmap,
) -> Result<Segment, store::Error> {
    let mut s = seg.clone();
    s.repeats = None;
    s.selection = if rows.len() == seg.rows {
        None
    } else {
        Some(store.objects().put(&encode_selection(rows))?.id)
    };
    s.data_bytes = seg.pro_rata(rows.len());
    s.selected_rows = rows.len();
    Ok(s)
}

pub fn decode_selection(id: &ObjectId, bytes: &[u8]) -> Result<RoaringBitmap, store::Error> {
    let bad = |reason: String| store::Error::BadObject {
        id: *id,
        what: "selection",
        reason,
    };
    if bytes.len() < 8 || &bytes[..8] != SELECTION_MAGIC {
        return Err(bad("missing header".into()));
    }
    RoaringBitmap::deserialize_from(&bytes[8..]).map_err(|e| bad(e.to_string()))
}

const REPEATS_MAGIC: &[u8; 8] = b"SIFTREP1";

/// Copies of repeated rows of one shard: shard row → copies (≥ 2).
pub type Repeats = std::collections::BTreeMap<u32, u32>;

/// Encodes a segment's repeat counts as an object.
pub fn encode_repeats(r: &Repeats) -> Vec<u8> {
    store::codec::encode_records(
        REPEATS_MAGIC,
        r.iter()
            .map(|(row, n)| store::codec::u32s::<2, 8>([*row, *n])),
    )
}

pub fn decode_repeats(id: &ObjectId, bytes: &[u8]) -> Result<Repeats, store::Error> {
    let bad = |reason: &str| store::Error::BadObject {
        id: *id,
        what: "repeat counts",
        reason: reason.into(),
    };
    let records = store::codec::decode_records::<8>(REPEATS_MAGIC, bytes).map_err(bad)?;
    let mut out = Repeats::new();
    let mut last = None;
    for c in records {
        let (row, copies) = (store::codec::u32_at(&c, 0), store::codec::u32_at(&c, 1));
        if copies < 2 || last.is_some_and(|l| l >= row) {
            return Err(bad("rows out of order or a count below 2"));
        }
        last = Some(row);
        out.insert(row, copies);
    }
    Ok(out)
}

const REPEAT_SET_MAGIC: &[u8; 8] = b"SIFTRPS1";

/// Encodes repeat counts over a version's segments, one map per segment.
pub fn encode_repeat_set(set: &[Repeats]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = set.iter().map(encode_repeats).collect();
    store::codec::encode_parts(REPEAT_SET_MAGIC, &parts)
}

/// Loads the repeat counts a stage recorded, one map per segment.
pub fn load_repeat_set(store: &Store, id: &ObjectId) -> Result<Vec<Repeats>, store::Error> {
    let bytes = store.objects().get(id)?;
    store::codec::decode_parts(REPEAT_SET_MAGIC, &bytes)
        .map_err(|reason| store::Error::BadObject {
            id: *id,
            what: "repeat counts",
            reason: reason.into(),
        })?
        .into_iter()
        .map(|p| decode_repeats(id, p))
        .collect()
}

/// A segment's repeat counts, if it has any.
pub(crate) fn load_repeats(store: &Store, seg: &Segment) -> Result<Option<Repeats>, store::Error> {
    match &seg.repeats {
        Some(id) => Ok(Some(decode_repeats(id, &store.objects().get(id)?)?)),
        None => Ok(None),
    }
}

/// How many times a selected shard row appears.
fn copies(repeats: &Option<Repeats>, row: u32) -> usize {
    repeats
        .as_ref()
        .and_then(|r| r.get(&row))
        .map_or(1, |&n| n as usize)
}

/// The row fingerprints of a version, in order (from sidecars; no data is read).
pub fn fingerprints(store: &Store, version: &Version) -> Result<Vec<u128>, store::Error> {
    segment_fingerprints(store, &version.manifest.segments)
}

/// The row fingerprints of a list of segments, in order.
pub fn segment_fingerprints(
    store: &Store,
    segments: &[Segment],
) -> Result<Vec<u128>, store::Error> {
    let mut out = Vec::with_capacity(segments.iter().map(|s| s.selected_rows as usize).sum());
    for seg in segments {
        let fps = store::shard::decode_sidecar(
            &seg.fingerprints,
            &store.objects().get(&seg.fingerprints)?,
        )?;
        let repeats = load_repeats(store, seg)?;
        match (&seg.selection, &repeats) {
            (None, None) => out.extend_from_slice(&fps),
            _ => {
                let bitmap = match &seg.selection {
                    Some(sel) => decode_selection(sel, &store.objects().get(sel)?)?,
                    None => selection::full(fps.len() as u64),
                };
                for i in bitmap.iter() {
                    if let Some(fp) = fps.get(i as usize) {
                        out.extend(std::iter::repeat_n(*fp, copies(&repeats, i)));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Recomputes a version's content id from its sidecars and selections.
pub fn recompute_content_id(store: &Store, version: &Version) -> Result<String, store::Error> {
    let schema = version.schema()?;
    content_id_of(store, &schema, &version.manifest.segments).map_err(|e| match e {
        ContentIdError::Store(e) => e,
        ContentIdError::Schema(reason) => store::Error::BadObject {
            id: version.id,
            what: "manifest",
            reason,
        },
    })
}

/// Why a content id could not be computed.
pub(crate) enum ContentIdError {
    Store(store::Error),
    Schema(String),
}

/// The content id of rows given as segments under a schema.
pub(crate) fn content_id_of(
    store: &Store,
    schema: &arrow::datatypes::Schema,
    segments: &[Segment],
) -> Result<String, ContentIdError> {
    let canonical = store::fingerprint::canonical_schema(schema)
        .map_err(|e| ContentIdError::Schema(e.to_string()))?;
    let mut h = store::fingerprint::ContentHasher::new(&canonical);
    for fp in segment_fingerprints(store, segments).map_err(ContentIdError::Store)? {
        h.push(fp);
    }
    Ok(h.finish())
}

/// Errors reading rows.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("shard {id} could not be decoded")]
    Decode {
        id: ObjectId,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("shard {id} does not match its manifest: {reason}")]
    Mismatch { id: ObjectId, reason: String },
}

impl ReadError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ReadError::Store(e) => e.hint(),
            _ => Some("run `sift fsck --read-data`".into()),
        }
    }
}

/// The rows of a version, segment after segment, as batches.
pub fn rows(store: &Store, version: &Version) -> Result<Rows, store::Error> {
    Ok(Rows {
        store: store.clone(),
        schema: version.schema()?,
        segments: version.manifest.segments.clone().into_iter(),
        current: None,
    })
}

/// A verified shard object, opened for reading in batches.
pub(crate) fn open_shard(
    store: &Store,
    seg: &Segment,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, ReadError> {
    open_shard_rows(store, seg, None, None)
}

/// A reader of a segment's shard that decodes only the rows `only` names
/// (all of them when `None`), and only the `columns` named (all when
/// `None`); pages holding none of them are skipped.
pub(crate) fn open_shard_rows(
    store: &Store,
    seg: &Segment,
    only: Option<&RoaringBitmap>,
    columns: Option<&[&str]>,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, ReadError> {
    let bytes = Bytes::from(store.objects().get(&seg.shard)?);
    ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| {
            let b = projected(b, columns);
            match only {
                None => b.build(),
                Some(rows) => b.with_row_selection(row_selection(rows, seg.rows)).build(),
            }
        })
        .map_err(|source| ReadError::Decode {
            id: seg.shard,
            source,
        })
}

/// The rows `rows` of a segment's shard, with only the `columns` named (all
/// when `None`), as batches. A shard with a tree (see [`store::tree`]) is
/// read in part: its offset index gives the pages that hold those rows, and
/// only the 64 KiB groups under them and its footer are read and checked
/// against its id. Other shards are read whole.
pub(crate) fn read_shard_rows(
    store: &Store,
    seg: &Segment,
    rows: &RoaringBitmap,
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>, ReadError> {
    let Some(partial) = store.objects().partial(&seg.shard) else {
        return open_shard_rows(store, seg, Some(rows), columns)?
            .map(|b| {
                b.map_err(|e| ReadError::Decode {
                    id: seg.shard,
                    source: e.into(),
                })
            })
            .collect();
    };
    let shard = PartialShard {
        object: Arc::new(partial),
        failure: Arc::new(Mutex::new(None)),
    };
    let failure = shard.failure.clone();
    // A damaged group is the object's corruption, whatever Parquet made of it.
    let error = |source: parquet::errors::ParquetError| match failure
        .lock()
        .expect("failure lock")
        .take()
    {
        Some(e) => ReadError::Store(e),
        None => ReadError::Decode {
            id: seg.shard,
            source,
        },
    };
    let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
    let builder =
        ParquetRecordBatchReaderBuilder::try_new_with_options(shard, options).map_err(error)?;
    projected(builder, columns)
        .with_row_selection(row_selection(rows, seg.rows))
        .build()
        .map_err(error)?
        .map(|b| b.map_err(|e| error(e.into())))
        .collect()
}

/// `b` in batches of [`crate::source::BATCH_ROWS`], decoding only the
/// `columns` named (all when `None`; names the shard lacks are left out).
fn projected<T: parquet::file::reader::ChunkReader + 'static>(
    b: ParquetRecordBatchReaderBuilder<T>,
    columns: Option<&[&str]>,
) -> ParquetRecordBatchReaderBuilder<T> {
    let b = b.with_batch_size(crate::source::BATCH_ROWS);
    match columns {
        None => b,
        Some(names) => {
            let roots: Vec<usize> = names
                .iter()
                .filter_map(|n| b.schema().index_of(n).ok())
                .collect();
            let mask = parquet::arrow::ProjectionMask::roots(b.parquet_schema(), roots);
            b.with_projection(mask)
        }
    }
}

/// A shard read in part, as Parquet reads it.
#[derive(Clone)]
struct PartialShard {
    object: Arc<store::tree::Partial>,
    /// The store's error behind the last failed read.
    failure: Arc<Mutex<Option<store::Error>>>,
}

impl PartialShard {
    fn read(&self, start: u64, len: usize) -> parquet::errors::Result<Bytes> {
        self.object.read(start, len).map_err(|e| {
            let message = e.to_string();
            *self.failure.lock().expect("failure lock") = Some(e);
            parquet::errors::ParquetError::External(message.into())
        })
    }
}

impl parquet::file::reader::Length for PartialShard {
    fn len(&self) -> u64 {
        self.object.len()
    }
}

impl parquet::file::reader::ChunkReader for PartialShard {
    type T = GroupReader;

    fn get_read(&self, start: u64) -> parquet::errors::Result<GroupReader> {
        Ok(GroupReader {
            shard: self.clone(),
            at: start,
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.read(start, length)
    }
}

/// The bytes of a partly read shard from some offset on, group by group.
struct GroupReader {
    shard: PartialShard,
    at: u64,
}

impl std::io::Read for GroupReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let group = store::tree::GROUP as u64;
        let left = self.shard.object.len().saturating_sub(self.at);
        let n = (buf.len() as u64).min(left).min(group - self.at % group) as usize;
        if n == 0 {
            return Ok(0);
        }
        let bytes = self.shard.read(self.at, n).map_err(std::io::Error::other)?;
        buf[..n].copy_from_slice(&bytes);
        self.at += n as u64;
        Ok(n)
    }
}

/// `rows` of a shard of `total` rows as a Parquet row selection.
fn row_selection(rows: &RoaringBitmap, total: u64) -> parquet::arrow::arrow_reader::RowSelection {
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for r in rows.iter().map(|r| r as usize) {
        match ranges.last_mut() {
            Some(last) if last.end == r => last.end = r + 1,
            _ => ranges.push(r..r + 1),
        }
    }
    parquet::arrow::arrow_reader::RowSelection::from_consecutive_ranges(
        ranges.into_iter(),
        total as usize,
    )
}

/// The rows of `batch` (shard rows `offset..`) that `sel` keeps.
pub(crate) fn select(
    shard: ObjectId,
    batch: RecordBatch,
    sel: &RoaringBitmap,
    offset: u32,
) -> Result<RecordBatch, ReadError> {
    let n = batch.num_rows() as u32;
    if sel.range_cardinality(offset..offset + n) == n as u64 {
        return Ok(batch);
    }
    let mask: BooleanArray = (offset..offset + n)
        .map(|i| Some(sel.contains(i)))
        .collect();
    filter_record_batch(&batch, &mask).map_err(|e| ReadError::Decode {
        id: shard,
        source: e.into(),
    })
}

/// The rows of `batch` (shard rows `offset..`) a segment contributes: its
/// selection applied, then its repeat counts.
fn view(
    shard: ObjectId,
    batch: RecordBatch,
    selection: &Option<RoaringBitmap>,
    repeats: &Option<Repeats>,
    offset: u32,
) -> Result<RecordBatch, ReadError> {
    let n = batch.num_rows() as u32;
    match selection {
        None => repeat(shard, batch, offset..offset + n, repeats),
        Some(sel) => {
            let b = select(shard, batch, sel, offset)?;
            repeat(shard, b, sel.range(offset..offset + n), repeats)
        }
    }
}

/// Repeats the rows of `batch` (the selected rows `ids` of a shard) by their counts.
pub(crate) fn repeat(
    shard: ObjectId,
    batch: RecordBatch,
    ids: impl Iterator<Item = u32>,
    repeats: &Option<Repeats>,
) -> Result<RecordBatch, ReadError> {
    if repeats.is_none() {
        return Ok(batch);
    }
    let mut take: Vec<u32> = Vec::with_capacity(batch.num_rows());
    for (k, id) in ids.enumerate() {
        take.extend(std::iter::repeat_n(k as u32, copies(repeats, id)));
    }
    if take.len() == batch.num_rows() {
        return Ok(batch);
    }
    arrow::compute::take_record_batch(&batch, &arrow::array::UInt32Array::from(take)).map_err(|e| {
        ReadError::Decode {
            id: shard,
            source: e.into(),
        }
    })
}

/// Some columns of a version's rows (selections and repeats applied), reading
/// only those columns of each shard.
pub fn columns(
    store: &Store,
    version: &Version,
    names: &[String],
) -> Result<Vec<RecordBatch>, ReadError> {
    let all: Vec<usize> = (0..version.manifest.segments.len()).collect();
    segment_columns(store, version, &all, Some(names))
}

/// The rows of some of a version's segments (by index, in the order given),
/// selections and repeats applied: all columns, or only `names`, reading
/// only those columns of each shard.
pub fn segment_columns(
    store: &Store,
    version: &Version,
    segments: &[usize],
    names: Option<&[String]>,
) -> Result<Vec<RecordBatch>, ReadError> {
    let mut out = Vec::new();
    for &i in segments {
        let seg = &version.manifest.segments[i];
        let bytes = Bytes::from(store.objects().get(&seg.shard)?);
        let decode = |source| ReadError::Decode {
            id: seg.shard,
            source,
        };
        let mut builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(decode)?;
        if let Some(names) = names {
            let roots: Vec<usize> = names
                .iter()
                .map(|n| {
                    builder
                        .schema()
                        .index_of(n)
                        .map_err(|_| ReadError::Mismatch {
                            id: seg.shard,
                            reason: format!("the shard has no column '{n}'"),
                        })
                })
                .collect::<Result<_, _>>()?;
            let mask = parquet::arrow::ProjectionMask::roots(
                builder.parquet_schema(),
                roots.iter().copied(),
            );
            builder = builder.with_projection(mask);
        }
        let reader = builder
            .with_batch_size(crate::source::BATCH_ROWS)
            .build()
            .map_err(decode)?;
        let selection = match &seg.selection {
            Some(id) => Some(decode_selection(id, &store.objects().get(id)?)?),
            None => None,
        };
        let repeats = load_repeats(store, seg)?;
        let mut offset = 0u32;
        for batch in reader {
            let batch = batch.map_err(|e| decode(e.into()))?;
            let n = batch.num_rows() as u32;
            let batch = view(seg.shard, batch, &selection, &repeats, offset)?;
            offset += n;
            if batch.num_rows() > 0 {
                out.push(batch);
            }
        }
    }
    Ok(out)
}

/// Iterator over a version's batches; verifies every object it reads.
pub struct Rows {
    store: Store,
    schema: SchemaRef,
    segments: std::vec::IntoIter<Segment>,
    current: Option<SegmentRows>,
}

struct SegmentRows {
    shard: ObjectId,
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    selection: Option<RoaringBitmap>,
    repeats: Option<Repeats>,
    offset: u32,
}

impl Rows {
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn open(&self, seg: &Segment) -> Result<SegmentRows, ReadError> {
        let reader = open_shard(&self.store, seg)?;
        let selection = match &seg.selection {
            Some(id) => Some(decode_selection(id, &self.store.objects().get(id)?)?),
            None => None,
        };
        Ok(SegmentRows {
            shard: seg.shard,
            reader,
            selection,
            repeats: load_repeats(&self.store, seg)?,
            offset: 0,
        })
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, ReadError> {
        loop {
            if self.current.is_none() {
                match self.segments.next() {
                    None => return Ok(None),
                    Some(seg) => self.current = Some(self.open(&seg)?),
                }
            }
            let cur = self.current.as_mut().expect("just set");
            let Some(batch) = cur.reader.next() else {
                self.current = None;
                continue;
            };
            let batch = batch.map_err(|e| ReadError::Decode {
                id: cur.shard,
                source: e.into(),
            })?;
            let n = batch.num_rows() as u32;
            let batch = view(cur.shard, batch, &cur.selection, &cur.repeats, cur.offset)?;
            cur.offset += n;
            if batch.num_rows() == 0 {
                continue;
            }
            let batch = RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())
                .map_err(|e| ReadError::Mismatch {
                    id: cur.shard,
                    reason: e.to_string(),
                })?;
            return Ok(Some(batch));
        }
    }
}

impl Iterator for Rows {
    type Item = Result<RecordBatch, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

//! Versions: manifests in the store, how they are committed, resolved and read.
//!
//! ```text
//!  commit:  shards + sidecars (already stored) ──▶ manifest object ──▶ catalog entry + tags
//!  read:    ref ──catalog──▶ version id ──▶ manifest ──▶ segments ──▶ shard rows ∩ selection
//! ```

pub mod compact;
pub mod export;
pub mod import;
pub mod manifest;
pub mod selection;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use roaring::RoaringBitmap;

pub use manifest::{Manifest, Segment};

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

/// Stores the manifest, then indexes it and sets `tags` (in that order).
pub fn commit(store: &Store, manifest: Manifest, tags: &[String]) -> Result<Version, store::Error> {
    for t in tags {
        store::catalog::validate_tag(t)?;
    }
    let put = store.objects().put(&manifest.to_bytes())?;
    let version = Version {
        id: put.id,
        manifest,
    };
    let catalog = store.catalog()?;
    catalog.add_version(&version.entry())?;
    for t in tags {
        catalog.set_tag(t, &version.id)?;
    }
    Ok(version)
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

/// The row fingerprints of a version, in order (from sidecars; no data is read).
pub fn fingerprints(store: &Store, version: &Version) -> Result<Vec<u128>, store::Error> {
    let mut out = Vec::with_capacity(version.manifest.stats.rows as usize);
    for seg in &version.manifest.segments {
        let fps = store::shard::decode_sidecar(
            &seg.fingerprints,
            &store.objects().get(&seg.fingerprints)?,
        )?;
        match &seg.selection {
            None => out.extend_from_slice(&fps),
            Some(sel) => {
                let bitmap = decode_selection(sel, &store.objects().get(sel)?)?;
                out.extend(bitmap.iter().filter_map(|i| fps.get(i as usize).copied()));
            }
        }
    }
    Ok(out)
}

/// Recomputes a version's content id from its sidecars and selections.
pub fn recompute_content_id(store: &Store, version: &Version) -> Result<String, store::Error> {
    let schema = version.schema()?;
    let canonical =
        store::fingerprint::canonical_schema(&schema).map_err(|e| store::Error::BadObject {
            id: version.id,
            what: "manifest",
            reason: e.to_string(),
        })?;
    let mut h = store::fingerprint::ContentHasher::new(&canonical);
    for fp in fingerprints(store, version)? {
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
    let bytes = Bytes::from(store.objects().get(&seg.shard)?);
    ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.with_batch_size(crate::source::BATCH_ROWS).build())
        .map_err(|source| ReadError::Decode {
            id: seg.shard,
            source,
        })
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
            let batch = match &cur.selection {
                None => batch,
                Some(sel) => select(cur.shard, batch, sel, cur.offset)?,
            };
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

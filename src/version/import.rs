//! Import: input files → shards → a committed version.

use crate::source::{self, Source};
use crate::store::shard::{ShardOptions, WriteError, write_shards};
use crate::store::{self, Store};

use super::{Draft, Version, commit, manifest};

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Source(#[from] source::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("encoding a Parquet shard failed")]
    Encode(#[source] parquet::errors::ParquetError),
    #[error(transparent)]
    Unsupported(store::fingerprint::UnsupportedType),
}

impl ImportError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ImportError::Source(e) => e.hint(),
            ImportError::Store(e) => e.hint(),
            _ => None,
        }
    }
}

impl From<WriteError<source::Error>> for ImportError {
    fn from(e: WriteError<source::Error>) -> Self {
        match e {
            WriteError::Input(e) => ImportError::Source(e),
            WriteError::Store(e) => ImportError::Store(e),
            WriteError::Encode(e) => ImportError::Encode(e),
            WriteError::Unsupported(e) => ImportError::Unsupported(e),
        }
    }
}

/// What to record about an import.
pub struct ImportInfo {
    pub inputs: Vec<String>,
    pub message: Option<String>,
    pub tags: Vec<String>,
    /// Answer with an earlier import of the same rows from the same inputs
    /// (and message) instead of committing another (a pipeline's source).
    pub reuse: bool,
}

/// Writes the rows of `src` as shards and commits them as a version.
pub fn import(
    store: &Store,
    src: Source,
    opts: ShardOptions,
    info: ImportInfo,
) -> Result<Version, ImportError> {
    let schema = src.schema();
    let skips = src.skips();
    import_batches(store, schema, src.batches(), skips, opts, info)
}

/// Imports rows handed over as Arrow batches (from Python, say) as a new
/// version, like [`import`]; a column of a type sift does not store is refused.
pub fn import_batches(
    store: &Store,
    schema: arrow::datatypes::SchemaRef,
    batches: impl Iterator<Item = Result<arrow::array::RecordBatch, source::Error>> + Send,
    skips: Option<source::Skips>,
    opts: ShardOptions,
    info: ImportInfo,
) -> Result<Version, ImportError> {
    for t in &info.tags {
        store::catalog::validate_tag(t)?;
    }
    for f in schema.fields() {
        if store::fingerprint::logical_type(f.data_type()).is_none() {
            return Err(source::Error::Unsupported {
                column: f.name().clone(),
                data_type: f.data_type().clone(),
            }
            .into());
        }
    }
    // A failed import takes back the objects it wrote itself (and only those).
    let (objects, journal) = store.objects().journaled();
    let written = match write_shards(&objects, schema.clone(), batches, opts) {
        Ok(w) => w,
        Err(e) => {
            journal.roll_back(store.objects());
            return Err(e.into());
        }
    };
    if written.rows == 0 {
        return Err(source::Error::Empty {
            paths: info.inputs.iter().map(Into::into).collect(),
        }
        .into());
    }
    let segments: Vec<manifest::Segment> = written
        .shards
        .iter()
        .map(manifest::Segment::whole)
        .collect();
    let mut new_bytes: u64 = written
        .shards
        .iter()
        .flat_map(|s| [s.shard, s.sidecar])
        .filter(|p| p.new)
        .map(|p| p.len)
        .sum();
    // The rows left out, with where and why, as an object of their own.
    let skipped = skips.map(|s| s.taken()).unwrap_or_default();
    let quarantine = if skipped.is_empty() {
        None
    } else {
        let mut bytes = manifest::QUARANTINE_MAGIC.to_vec();
        for s in &skipped {
            bytes.extend(serde_json::to_vec(s).expect("a skipped row serializes"));
            bytes.push(b'\n');
        }
        let put = objects.put(&bytes)?;
        if put.new {
            new_bytes += put.len;
        }
        Some(manifest::Quarantine {
            object: put.id,
            rows: skipped.len() as u64,
        })
    };
    let mut draft = Draft::new(schema, segments, "import", vec![]);
    draft.lineage.inputs = info.inputs;
    draft.message = info.message;
    draft.new_bytes = new_bytes;
    draft.content_id = Some(written.content_id.clone());
    draft.quarantine = quarantine;
    if info.reuse
        && let Some(v) = super::existing(store, &draft)?
    {
        let catalog = store.catalog()?;
        for t in &info.tags {
            catalog.set_tag(t, &v.id)?;
        }
        return Ok(v);
    }
    Ok(commit(store, draft, &info.tags)?)
}

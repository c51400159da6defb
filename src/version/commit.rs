//! The one way a version comes to be: a [`Draft`] and [`commit`].
//!
//! ```text
//!  import ─┐
//!  run ────┼─▶ Draft { schema, segments, lineage, message } ──commit──▶ stats, content id, time
//!  compact ┘                                                            │
//!                                    manifest object ──▶ catalog entry ──▶ tags
//! ```
//!
//! Every object a draft names is already stored; `commit` checks, under the
//! catalog lock, that they still are, so a crash or a concurrent `gc` leaves
//! either no new version or a whole one.

use arrow::datatypes::SchemaRef;

use super::manifest::{self, Lineage, Manifest, Segment};
use super::{ContentIdError, Version, content_id_of};
use crate::store::{self, ObjectId, Store};

/// A version before it is committed.
#[derive(Debug, Clone)]
pub struct Draft {
    pub schema: SchemaRef,
    /// The rows, in order.
    pub segments: Vec<Segment>,
    pub lineage: Lineage,
    pub message: Option<String>,
    /// Bytes this draft's writes added to the store.
    pub new_bytes: u64,
    /// The content id, when the writer already knows it (an import hashes
    /// the rows as it writes them); otherwise it is computed from the sidecars.
    pub content_id: Option<String>,
    /// Rows an import left out.
    pub quarantine: Option<manifest::Quarantine>,
}

impl Draft {
    /// A draft of `segments` under `schema`, made by `command` from `parents`.
    pub fn new(
        schema: SchemaRef,
        segments: Vec<Segment>,
        command: &str,
        parents: Vec<ObjectId>,
    ) -> Draft {
        Draft {
            schema,
            segments,
            lineage: Lineage {
                parents,
                command: command.into(),
                inputs: vec![],
                sift_version: env!("CARGO_PKG_VERSION").into(),
                pipeline: None,
            },
            message: None,
            new_bytes: 0,
            content_id: None,
            quarantine: None,
        }
    }

    /// The content id of the draft's rows (from the sidecars; no data is read).
    pub fn content_id(&self, store: &Store) -> Result<String, store::Error> {
        if let Some(c) = &self.content_id {
            return Ok(c.clone());
        }
        content_id_of(store, &self.schema, &self.segments).map_err(|e| match e {
            ContentIdError::Store(e) => e,
            ContentIdError::Schema(reason) => store::Error::Unsupported { reason },
        })
    }
}

/// An earlier, whole version that holds exactly what `draft` would: the
/// same rows, stored the same way, made by the same command from the same
/// parents, inputs and spec (the same stage outputs), with the same message.
/// Its time and stage timings may differ.
pub fn existing(store: &Store, draft: &Draft) -> Result<Option<Version>, store::Error> {
    let content_id = draft.content_id(store)?;
    let columns = manifest::columns(&draft.schema);
    let entries = store.catalog()?.versions()?;
    for e in entries.iter().filter(|e| e.content_id == content_id) {
        let Ok(v) = super::load(store, &e.id) else {
            continue;
        };
        let (m, l) = (&v.manifest, &draft.lineage);
        let same_pipeline = match (&m.lineage.pipeline, &l.pipeline) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.spec_hash == b.spec_hash
                    && a.source == b.source
                    && a.stages.len() == b.stages.len()
                    && a.stages
                        .iter()
                        .zip(&b.stages)
                        .all(|(x, y)| x.output == y.output && x.spec_hash == y.spec_hash)
            }
            _ => false,
        };
        let same = same_pipeline
            && m.lineage.command == l.command
            && m.lineage.parents == l.parents
            && m.lineage.inputs == l.inputs
            && m.message == draft.message
            && m.quarantine == draft.quarantine
            && m.schema == columns
            && m.segments.len() == draft.segments.len()
            && m.segments.iter().zip(&draft.segments).all(|(a, b)| {
                a.shard == b.shard && a.selection == b.selection && a.repeats == b.repeats
            })
            && m.objects()
                .iter()
                .all(|(id, _)| store.objects().contains(id));
        if same {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The manifest a draft becomes, at time `created`.
fn manifest_of(store: &Store, draft: Draft, created: String) -> Result<Manifest, store::Error> {
    let content_id = draft.content_id(store)?;
    let segments = draft.segments;
    Ok(Manifest {
        format: manifest::FORMAT,
        content_id,
        schema: manifest::columns(&draft.schema),
        stats: manifest::Stats {
            rows: segments.iter().map(|s| s.selected_rows).sum(),
            data_bytes: segments.iter().map(|s| s.data_bytes).sum(),
            stored_bytes: segments.iter().map(|s| s.shard_bytes).sum(),
            new_bytes: draft.new_bytes,
        },
        segments,
        lineage: draft.lineage,
        message: draft.message,
        created,
        quarantine: draft.quarantine,
    })
}

/// Stores the rows a transform stage passes on as a manifest of command
/// `stage`: not indexed, not tagged, and with a fixed time, so the same
/// rows from the same input are the same object.
pub fn stage_rows(store: &Store, mut draft: Draft) -> Result<Version, store::Error> {
    draft.lineage.command = manifest::STAGE_COMMAND.into();
    let manifest = manifest_of(store, draft, "1970-01-01T00:00:00Z".into())?;
    let put = store.objects().put(&manifest.to_bytes())?;
    Ok(Version {
        id: put.id,
        manifest,
    })
}

/// Computes the draft's stats, content id and time, stores its manifest,
/// then indexes it and sets `tags` (in that order).
pub fn commit(store: &Store, draft: Draft, tags: &[String]) -> Result<Version, store::Error> {
    for t in tags {
        store::catalog::validate_tag(t)?;
    }
    let manifest = manifest_of(store, draft, crate::now())?;
    // Under the lock, so that `sift gc` cannot run between the check and the index.
    let catalog = store.catalog()?;
    for (id, what) in manifest.objects() {
        if !store.objects().contains(&id) {
            return Err(store::Error::BadObject {
                id,
                what,
                reason: "it vanished before the version was committed (did `sift gc --grace 0` run meanwhile?); run the command again".into(),
            });
        }
    }
    let put = store.objects().put(&manifest.to_bytes())?;
    let version = Version {
        id: put.id,
        manifest,
    };
    catalog.add_version(&version.entry())?;
    for t in tags {
        catalog.set_tag(t, &version.id)?;
    }
    Ok(version)
}

//! `sift gc`: delete objects that no kept version needs.
//!
//! Kept: every version a tag names, every version newer than
//! `--keep-untagged`, and all their ancestors (parents and pipeline sources).
//! Everything those versions name stays; so does every object written or
//! reused within the grace period (an in-flight run's shards, selections and
//! cached stages, not yet committed). The store's lock is held throughout,
//! and a commit re-checks its objects under the same lock, so a version is
//! never committed over a deleted object.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::store::{self, ObjectId, Store};

/// What gc did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GcReport {
    pub dry_run: bool,
    pub versions_kept: u64,
    /// Versions whose manifests were deleted (untagged, older than --keep-untagged).
    pub versions_deleted: Vec<ObjectId>,
    pub objects_deleted: u64,
    pub bytes_freed: u64,
    /// Unneeded objects spared because they are younger than the grace period.
    pub objects_spared: u64,
    /// Stage-cache entries dropped because they named deleted objects, and
    /// band sidecars dropped with their shards.
    pub cache_entries_dropped: u64,
}

/// Collects garbage.
pub fn gc(
    store: &Store,
    keep_untagged: Duration,
    grace: Duration,
    dry_run: bool,
) -> Result<GcReport, store::Error> {
    let catalog = store.catalog()?;
    let now = SystemTime::now();
    let mut report = GcReport {
        dry_run,
        ..GcReport::default()
    };
    // Roots: tagged versions, and recent ones.
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(keep_untagged).unwrap_or(chrono::Duration::MAX);
    let mut roots: Vec<ObjectId> = catalog.tags()?.into_iter().map(|(_, id)| id).collect();
    let indexed = catalog.versions()?;
    for e in &indexed {
        let recent = chrono::DateTime::parse_from_rfc3339(&e.created)
            .map(|t| t.with_timezone(&chrono::Utc) >= cutoff)
            .unwrap_or(true);
        if recent {
            roots.push(e.id);
        }
    }
    // Ancestors, and everything the kept versions name.
    let mut kept: BTreeSet<ObjectId> = BTreeSet::new();
    let mut live: HashSet<ObjectId> = HashSet::new();
    // Manifests of a transform stage's rows are kept with their run, but are not versions.
    let mut stage_rows = 0u64;
    while let Some(id) = roots.pop() {
        if !kept.insert(id) {
            continue;
        }
        live.insert(id);
        // A manifest that cannot be read keeps what it would name unknown;
        // refuse rather than delete blindly.
        let v = super::load(store, &id)?;
        if v.manifest.is_stage_rows() {
            stage_rows += 1;
        }
        for (o, what) in v.manifest.objects() {
            live.insert(o);
            if matches!(
                what,
                "parent manifest" | "source manifest" | "stage rows manifest"
            ) {
                roots.push(o);
            }
        }
    }
    report.versions_kept = kept.len() as u64 - stage_rows;
    // A band sidecar lives as long as the shard it describes.
    let mut dead_sidecars = Vec::new();
    for (key, shard, id) in catalog.band_sidecars()? {
        if shard.is_some_and(|s| live.contains(&s)) && store.objects().contains(&id) {
            live.insert(id);
        } else {
            dead_sidecars.push(key);
        }
    }

    // What is neither live nor young (files that are not objects are not ours to delete).
    let mut garbage: Vec<(ObjectId, std::path::PathBuf, u64)> = Vec::new();
    for (id, path) in store.objects().list()? {
        let Some(id) = id.filter(|id| !live.contains(id)) else {
            continue;
        };
        // Gone since the listing (another gc): nothing to do.
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or(Duration::ZERO);
        if age < grace {
            report.objects_spared += 1;
            continue;
        }
        garbage.push((id, path, meta.len()));
    }
    let doomed: HashSet<ObjectId> = garbage.iter().map(|g| g.0).collect();
    report.objects_deleted = garbage.len() as u64;
    report.bytes_freed = garbage.iter().map(|g| g.2).sum();
    report.versions_deleted = indexed
        .iter()
        .filter(|e| doomed.contains(&e.id))
        .map(|e| e.id)
        .collect();
    let stale: Vec<String> = catalog
        .cached_stages()?
        .into_iter()
        .filter(|(_, ids)| {
            ids.iter()
                .any(|i| doomed.contains(i) || !store.objects().contains(i))
        })
        .map(|(k, _)| k)
        .collect();
    report.cache_entries_dropped = (stale.len() + dead_sidecars.len()) as u64;
    if dry_run {
        return Ok(report);
    }
    // Order matters for a crash at any instant: first the catalog forgets the
    // versions, then their manifests go (so no manifest ever names a deleted
    // object), then everything else (at worst, orphans remain).
    for id in &report.versions_deleted {
        catalog.remove_version(id)?;
    }
    for key in &stale {
        catalog.remove_cached_stage(key)?;
    }
    for key in &dead_sidecars {
        catalog.remove_band_sidecar(key)?;
    }
    catalog.flush()?;
    let is_manifest = |path: &std::path::Path| {
        let mut head = [0u8; 1];
        fs::File::open(path)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .is_ok_and(|n| n == 1 && head[0] == b'{')
    };
    let (manifests, rest): (Vec<_>, Vec<_>) =
        garbage.into_iter().partition(|(_, p, _)| is_manifest(p));
    let remove = |path: &std::path::Path| match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(store::Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    };
    let mut dirs: BTreeSet<std::path::PathBuf> = BTreeSet::new();
    for (id, path, _) in &manifests {
        remove(path)?;
        store.objects().remove_tree(id);
        dirs.extend(path.parent().map(|p| p.to_path_buf()));
    }
    // Durable before any object they named goes, even across a power cut.
    for d in dirs {
        store::objects::sync_dir(&d)?;
    }
    for (id, path, _) in &rest {
        remove(path)?;
        store.objects().remove_tree(id);
    }
    Ok(report)
}

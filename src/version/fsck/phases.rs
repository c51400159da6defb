//! The three phases of `sift fsck`, one function each.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;

use super::{Found, Report, Severity, last_refs};
use crate::store::{self, ObjectId, Store, catalog};
use crate::version::{Manifest, Version};

/// Phase 1: objects on their own.
pub(super) fn check_objects(found: &BTreeMap<ObjectId, Found>, report: &mut Report) {
    for (id, f) in found {
        if let Some(actual) = f.corrupt {
            report.add(
                Severity::Error,
                1,
                id.hex(),
                format!("object is corrupt: its bytes hash to {actual}"),
                Some("restore the object from a copy of the store; `sift fsck` lists the versions it breaks"),
            );
        }
        if f.len == 0 && *id != ObjectId::of(b"") {
            report.add(
                Severity::Error,
                1,
                id.hex(),
                "object is empty (truncated)",
                Some("restore the object from a copy of the store"),
            );
        }
        if f.writable {
            report.add(
                Severity::Warning,
                1,
                id.hex(),
                "object is writable; objects are kept read-only",
                Some("chmod a-w the file"),
            );
        }
    }
}

/// What phase 2 learned: the manifests that parse, who names each object,
/// and the versions that are not whole.
pub(super) struct Manifests {
    pub(super) versions: BTreeMap<ObjectId, Manifest>,
    pub(super) users: HashMap<ObjectId, Vec<ObjectId>>,
    pub(super) broken: BTreeSet<ObjectId>,
}

/// Phase 2: manifests and what they name.
pub(super) fn check_manifests(
    store: &Store,
    found: &BTreeMap<ObjectId, Found>,
    read_data: bool,
    report: &mut Report,
) -> Manifests {
    let mut versions: BTreeMap<ObjectId, Manifest> = BTreeMap::new();
    let mut users: HashMap<ObjectId, Vec<ObjectId>> = HashMap::new();
    let mut broken: BTreeSet<ObjectId> = BTreeSet::new();
    for (id, f) in found {
        if f.head[0] != b'{' || f.corrupt.is_some() {
            continue;
        }
        let bytes = match store.objects().get(id) {
            Ok(b) => b,
            Err(_) => continue,
        };
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) => {
                for (o, _) in m.objects() {
                    users.entry(o).or_default().push(*id);
                }
                versions.insert(*id, m);
            }
            Err(e) => {
                report.add(
                    Severity::Error,
                    2,
                    id.hex(),
                    format!("a manifest that does not parse: {e}"),
                    Some("restore the object from a copy of the store"),
                );
                broken.insert(*id);
            }
        }
    }
    report.manifests = versions.len() as u64;
    for (vid, m) in &versions {
        for (o, what) in m.objects() {
            match found.get(&o) {
                None => {
                    report
                        .add(
                            Severity::Error,
                            2,
                            o.hex(),
                            format!("{what} named by version {} is missing", vid.short()),
                            Some("restore it from a copy of the store, or delete the version's tags and run `sift gc`"),
                        )
                        .versions = vec![*vid];
                    broken.insert(*vid);
                }
                Some(f) if f.corrupt.is_some() || f.len == 0 => {
                    broken.insert(*vid);
                }
                Some(_) => {}
            }
        }
        for s in &m.segments {
            if let Some(f) = found.get(&s.shard)
                && f.len != s.shard_bytes
            {
                report
                    .add(
                        Severity::Error,
                        2,
                        s.shard.hex(),
                        format!(
                            "shard is {} bytes; version {} says {}",
                            f.len,
                            vid.short(),
                            s.shard_bytes
                        ),
                        Some("run `sift fsck --read-data`; restore the shard from a copy"),
                    )
                    .versions = vec![*vid];
                broken.insert(*vid);
            }
        }
        if read_data && !broken.contains(vid) {
            let v = Version {
                id: *vid,
                manifest: m.clone(),
            };
            match crate::version::recompute_content_id(store, &v) {
                Ok(c) if c == m.content_id => {}
                Ok(c) => {
                    report
                        .add(
                            Severity::Error,
                            2,
                            vid.hex(),
                            format!(
                                "version's rows hash to content id {c}, not {}",
                                m.content_id
                            ),
                            None,
                        )
                        .versions = vec![*vid];
                    broken.insert(*vid);
                }
                Err(e) => {
                    report
                        .add(
                            Severity::Error,
                            2,
                            vid.hex(),
                            e.to_string(),
                            e.hint().as_deref(),
                        )
                        .versions = vec![*vid];
                    broken.insert(*vid);
                }
            }
        }
    }
    Manifests {
        versions,
        users,
        broken,
    }
}

/// Phase 3: the catalog.
pub(super) fn check_catalog(
    store: &Store,
    catalog: &catalog::Catalog,
    found: &BTreeMap<ObjectId, Found>,
    m: &Manifests,
    report: &mut Report,
) -> Result<(), store::Error> {
    let (versions, users, broken) = (&m.versions, &m.users, &m.broken);
    let mut named: BTreeSet<ObjectId> = versions.keys().copied().collect();
    named.extend(users.keys().copied());
    match catalog.versions() {
        Ok(entries) => {
            report.indexed_versions = entries.len() as u64;
            let indexed: BTreeSet<ObjectId> = entries.iter().map(|e| e.id).collect();
            for e in &entries {
                if !versions.contains_key(&e.id) && !broken.contains(&e.id) {
                    report
                        .add(
                            Severity::Error,
                            3,
                            e.id.hex(),
                            "the catalog indexes a version whose manifest is missing",
                            Some("restore the manifest from a copy, or `sift fsck --rebuild-catalog` to drop the entry"),
                        )
                        .versions = vec![e.id];
                }
            }
            for (id, v) in versions {
                if !indexed.contains(id) && !v.is_stage_rows() {
                    report.add(
                        Severity::Warning,
                        3,
                        id.hex(),
                        "a whole version is not in the catalog (an interrupted commit, or a lost catalog)",
                        Some("`sift fsck --rebuild-catalog` indexes it; `sift gc` deletes it if nothing tags it"),
                    );
                }
            }
        }
        Err(e) => {
            report.add(
                Severity::Error,
                3,
                "catalog",
                format!("the version index cannot be read: {e}"),
                Some("rebuild it: `sift fsck --rebuild-catalog`"),
            );
        }
    }
    match catalog.tags() {
        Ok(tags) => {
            report.tags = tags.len() as u64;
            for (tag, id) in &tags {
                if broken.contains(id) || !versions.contains_key(id) {
                    report
                        .add(
                            Severity::Error,
                            3,
                            format!("tag {tag}"),
                            format!("tag names version {}, which is not whole", id.short()),
                            Some("see the findings above for what it lacks; `sift tag --delete` removes the tag"),
                        )
                        .versions = vec![*id];
                }
            }
            // refs.log should end where the catalog is.
            let logged = last_refs(store)?;
            let current: BTreeMap<String, ObjectId> = tags.into_iter().collect();
            if logged != current {
                let differ: Vec<String> = logged
                    .keys()
                    .chain(current.keys())
                    .filter(|t| logged.get(*t) != current.get(*t))
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                report.add(
                    Severity::Warning,
                    3,
                    "refs.log",
                    format!(
                        "refs.log and the catalog disagree on tags: {}",
                        differ.join(", ")
                    ),
                    Some("`sift fsck --rebuild-catalog` sets the tags refs.log records"),
                );
            }
        }
        Err(e) => {
            report.add(
                Severity::Error,
                3,
                "catalog",
                format!("the tags cannot be read: {e}"),
                Some("rebuild it: `sift fsck --rebuild-catalog`"),
            );
        }
    }
    if let Ok(cached) = catalog.cached_stages() {
        for (key, ids) in cached {
            let missing: Vec<&ObjectId> = ids.iter().filter(|i| !found.contains_key(i)).collect();
            if !missing.is_empty() {
                report.add(
                    Severity::Warning,
                    3,
                    format!("stage cache {}", &key[..key.len().min(12)]),
                    format!(
                        "a cached stage names a missing object {}",
                        missing[0].short()
                    ),
                    Some("harmless: the stage runs again; `sift gc` drops the entry"),
                );
            }
            named.extend(ids);
        }
    }
    if let Ok(sidecars) = catalog.band_sidecars() {
        for (key, _, id) in sidecars {
            if !found.contains_key(&id) {
                report.add(
                    Severity::Warning,
                    3,
                    format!("band sidecar {}", &key[..key.len().min(12)]),
                    format!("a band sidecar names a missing object {}", id.short()),
                    Some("harmless: dedup hashes that shard again; `sift gc` drops the entry"),
                );
            }
            named.insert(id);
        }
    }
    for (id, f) in found {
        if !named.contains(id) {
            report.orphans += 1;
            report.orphan_bytes += f.len;
        }
    }
    if report.orphans > 0 {
        report.add(
            Severity::Info,
            3,
            "objects",
            format!(
                "{} objects ({} bytes) are named by no version or cached stage",
                report.orphans, report.orphan_bytes
            ),
            Some("`sift gc` deletes them once they are older than its grace period (an hour by default); `sift gc --grace 0` deletes them now"),
        );
    }
    let cleaned = store.cleaned();
    if !cleaned.is_empty() {
        let spills = cleaned.iter().filter(|n| n.contains("-spill-")).count();
        report.add(
            Severity::Info,
            3,
            "tmp/",
            format!(
                "opening the store removed {} leftovers of processes that no longer run ({} dedup spill files, {} unfinished writes)",
                cleaned.len(),
                spills,
                cleaned.len() - spills
            ),
            Some("a run that was killed leaves them; nothing of a version was lost"),
        );
    }
    let tmp: Vec<_> = fs::read_dir(store.root().join("tmp"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    if !tmp.is_empty() {
        report.add(
            Severity::Info,
            3,
            "tmp/",
            format!("{} unfinished writes lie in tmp/", tmp.len()),
            Some("they are removed when their process has exited and sift next opens the store"),
        );
    }
    Ok(())
}

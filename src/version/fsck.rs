//! `sift fsck`: check that every version in the store is whole.
//!
//! ```text
//! phase 1  objects/     every object present; names well formed; read-only;
//!                       with --read-data, every object re-hashed
//! phase 2  manifests    every manifest parses, and every object it names exists
//!                       (shard sizes match; with --read-data, sidecars and
//!                       selections decode and the content id recomputes)
//! phase 3  catalog      every tag and index entry points at a whole version;
//!                       manifests missing from the index, stale cache entries,
//!                       refs.log disagreements and orphan objects are listed
//! ```
//!
//! `--rebuild-catalog` rebuilds the sled catalog from the manifest objects
//! and `refs.log` alone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Read;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Manifest, Version};
use crate::store::{self, ObjectId, Store, catalog};

/// How bad a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A version, tag or index entry is not whole: data is lost or unreachable.
    Error,
    /// Something is off but no version is broken.
    Warning,
    /// Worth knowing (orphans, leftovers).
    Info,
}

/// One thing fsck found.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub severity: Severity,
    pub phase: u8,
    /// The object, tag or file concerned.
    pub subject: String,
    pub message: String,
    /// Versions this breaks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<ObjectId>,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What fsck checked and found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub read_data: bool,
    pub objects: u64,
    pub object_bytes: u64,
    pub manifests: u64,
    pub indexed_versions: u64,
    pub tags: u64,
    /// Objects no manifest or cache entry names (`sift gc` frees them).
    pub orphans: u64,
    pub orphan_bytes: u64,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    fn add(
        &mut self,
        severity: Severity,
        phase: u8,
        subject: impl Into<String>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) -> &mut Finding {
        self.findings.push(Finding {
            severity,
            phase,
            subject: subject.into(),
            message: message.into(),
            versions: Vec::new(),
            hint: hint.map(str::to_owned),
        });
        self.findings.last_mut().expect("just pushed")
    }
}

/// An object found on disk.
struct Found {
    len: u64,
    /// First bytes, to tell manifests from the rest.
    head: [u8; 8],
    writable: bool,
    /// With --read-data: does it hash to its name?
    corrupt: Option<ObjectId>,
}

/// Every object under `objects/`, with findings for foreign files.
fn scan(
    store: &Store,
    read_data: bool,
    report: &mut Report,
    progress: &dyn Fn(u64),
) -> Result<BTreeMap<ObjectId, Found>, store::Error> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| store::Error::Io { path: p, source }
    };
    let mut out = BTreeMap::new();
    for (id, path) in store.objects().list()? {
        let Some(id) = id else {
            report.add(
                Severity::Warning,
                1,
                path.display().to_string(),
                "a file sift did not write lies in objects/",
                Some("move it out of the store"),
            );
            continue;
        };
        let meta = fs::metadata(&path).map_err(io(&path))?;
        let mut head = [0u8; 8];
        let mut corrupt = None;
        if read_data {
            let bytes = fs::read(&path).map_err(io(&path))?;
            let n = bytes.len().min(8);
            head[..n].copy_from_slice(&bytes[..n]);
            let actual = ObjectId::of(&bytes);
            if actual != id {
                corrupt = Some(actual);
            }
        } else {
            let mut f = fs::File::open(&path).map_err(io(&path))?;
            let _ = f.read(&mut head).map_err(io(&path))?;
        }
        report.objects += 1;
        report.object_bytes += meta.len();
        progress(meta.len());
        out.insert(
            id,
            Found {
                len: meta.len(),
                head,
                writable: !meta.permissions().readonly(),
                corrupt,
            },
        );
    }
    Ok(out)
}

/// Total bytes under `objects/` (for a progress bar).
pub fn object_bytes(store: &Store) -> u64 {
    store
        .objects()
        .list()
        .unwrap_or_default()
        .iter()
        .map(|(_, p)| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// Checks the store. Never modifies it.
pub fn fsck(
    store: &Store,
    read_data: bool,
    progress: &dyn Fn(u64),
) -> Result<Report, store::Error> {
    let mut report = Report {
        read_data,
        ..Report::default()
    };
    // The lock keeps writers (and gc) out while we look.
    let catalog = store.catalog();
    let found = scan(store, read_data, &mut report, progress)?;

    // Phase 1: objects on their own.
    for (id, f) in &found {
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

    // Phase 2: manifests and what they name.
    let mut versions: BTreeMap<ObjectId, Manifest> = BTreeMap::new();
    let mut users: HashMap<ObjectId, Vec<ObjectId>> = HashMap::new();
    let mut broken: BTreeSet<ObjectId> = BTreeSet::new();
    for (id, f) in &found {
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
            match super::recompute_content_id(store, &v) {
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
    // Name the versions each damaged object breaks.
    for f in report.findings.iter_mut().filter(|f| f.phase == 1) {
        if let Ok(id) = f.subject.parse::<ObjectId>() {
            f.versions = users.get(&id).cloned().unwrap_or_default();
        }
    }
    for f in report.findings.iter_mut() {
        f.versions.sort();
        f.versions.dedup();
    }

    // Phase 3: the catalog.
    let catalog = match catalog {
        Ok(c) => c,
        Err(e) => {
            report.add(
                Severity::Error,
                3,
                "catalog",
                format!("the catalog cannot be opened: {e}"),
                Some("rebuild it: `sift fsck --rebuild-catalog`"),
            );
            return Ok(report);
        }
    };
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
            for id in versions.keys() {
                if !indexed.contains(id) {
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
    for (id, f) in &found {
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
            Some("`sift gc` deletes them"),
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
    report.findings.sort_by_key(|f| (f.severity, f.phase));
    Ok(report)
}

/// Each tag's last recorded state in `refs.log` (deleted tags absent).
fn last_refs(store: &Store) -> Result<BTreeMap<String, ObjectId>, store::Error> {
    let mut out = BTreeMap::new();
    for c in catalog::read_ref_log(&store.root().join("refs.log"))? {
        match c.version {
            Some(v) => out.insert(c.tag, v),
            None => out.remove(&c.tag),
        };
    }
    Ok(out)
}

/// What a rebuild did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rebuilt {
    pub versions: u64,
    pub tags: u64,
    /// Tags refs.log names whose version is gone.
    pub tags_lost: Vec<String>,
}

/// Rebuilds the catalog from the manifest objects and `refs.log`.
pub fn rebuild_catalog(store: &Store) -> Result<Rebuilt, store::Error> {
    let catalog = store.fresh_catalog()?;
    let mut out = Rebuilt::default();
    let mut present = BTreeSet::new();
    let mut report = Report::default();
    for (id, f) in scan(store, false, &mut report, &|_| {})? {
        if f.head[0] != b'{' {
            continue;
        }
        let Ok(v) = super::load(store, &id) else {
            continue;
        };
        catalog.add_version(&v.entry())?;
        present.insert(id);
        out.versions += 1;
    }
    for (tag, id) in last_refs(store)? {
        if present.contains(&id) {
            catalog.restore_tag(&tag, &id)?;
            out.tags += 1;
        } else {
            out.tags_lost.push(tag);
        }
    }
    catalog.flush()?;
    drop(catalog);
    store.drop_old_catalog()?;
    Ok(out)
}

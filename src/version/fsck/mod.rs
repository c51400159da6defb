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

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod phases;

use crate::store::{self, ObjectId, Store, catalog};
use phases::{check_catalog, check_manifests, check_objects};

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
pub(super) struct Found {
    pub(super) len: u64,
    /// First bytes, to tell manifests from the rest.
    pub(super) head: [u8; 8],
    pub(super) writable: bool,
    /// With --read-data: does it hash to its name?
    pub(super) corrupt: Option<ObjectId>,
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
    check_objects(&found, &mut report);
    let manifests = check_manifests(store, &found, read_data, &mut report);
    // Name the versions each damaged object breaks.
    for f in report.findings.iter_mut().filter(|f| f.phase == 1) {
        if let Ok(id) = f.subject.parse::<ObjectId>() {
            f.versions = manifests.users.get(&id).cloned().unwrap_or_default();
        }
    }
    for f in report.findings.iter_mut() {
        f.versions.sort();
        f.versions.dedup();
    }

    match catalog {
        Ok(catalog) => check_catalog(store, &catalog, &found, &manifests, &mut report)?,
        Err(e) => {
            report.add(
                Severity::Error,
                3,
                "catalog",
                format!("the catalog cannot be opened: {e}"),
                Some("rebuild it: `sift fsck --rebuild-catalog`"),
            );
        }
    }
    report.findings.sort_by_key(|f| (f.severity, f.phase));
    Ok(report)
}

/// Each tag's last recorded state in `refs.log` (deleted tags absent).
pub(super) fn last_refs(store: &Store) -> Result<BTreeMap<String, ObjectId>, store::Error> {
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
        let Ok(v) = crate::version::load(store, &id) else {
            continue;
        };
        if v.manifest.is_stage_rows() {
            continue;
        }
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

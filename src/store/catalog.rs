//! The catalog: tags and the version index, in sled.
//!
//! It is an index only: every entry can be rebuilt from manifest objects.
//! It is open only while the store's `LOCK` is held (see [`super::Store::catalog`]).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Error, ObjectId};

/// What the catalog remembers of a version (all of it is in the manifest).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionEntry {
    pub id: ObjectId,
    pub content_id: String,
    pub rows: u64,
    pub bytes: u64,
    pub created: String,
    pub message: Option<String>,
    pub parents: Vec<ObjectId>,
}

/// A cached stage output: its selection-set id and per-rule removal counts.
pub type CachedStage = (
    ObjectId,
    indexmap::IndexMap<String, u64>,
    Option<serde_json::Value>,
);

#[derive(Serialize, Deserialize)]
struct StageCacheEntry {
    output: ObjectId,
    removed: indexmap::IndexMap<String, u64>,
    #[serde(default)]
    extra: Option<serde_json::Value>,
}

/// An open catalog; the store lock is released when it drops.
pub struct Catalog {
    db: sled::Db,
    refs: sled::Tree,
    versions: sled::Tree,
    stages: sled::Tree,
    /// Band sidecars of dedup: `SHARD.PARAMS` → the object with a shard's
    /// first-pass results for those parameters.
    bands: sled::Tree,
    /// `refs.log`: every tag change, appended before the catalog changes.
    ref_log: PathBuf,
    _lock: File,
}

/// One line of `refs.log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefChange {
    pub time: String,
    pub tag: String,
    /// The version the tag now names; absent when it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<ObjectId>,
}

impl Catalog {
    pub(super) fn new(db: sled::Db, lock: File, ref_log: PathBuf) -> Result<Catalog, Error> {
        let c = Catalog {
            refs: db.open_tree("refs")?,
            versions: db.open_tree("versions")?,
            stages: db.open_tree("stage_cache")?,
            bands: db.open_tree("band_sidecars")?,
            db,
            ref_log,
            _lock: lock,
        };
        // A store made before refs.log existed: record its tags once.
        if !c.ref_log.exists() {
            for (tag, id) in c.tags()? {
                c.log_ref(&tag, Some(&id))?;
            }
        }
        Ok(c)
    }

    /// Appends a tag change to `refs.log`, durably (the journal `fsck
    /// --rebuild-catalog` replays).
    fn log_ref(&self, tag: &str, version: Option<&ObjectId>) -> Result<(), Error> {
        let line = serde_json::to_string(&RefChange {
            time: crate::now(),
            tag: tag.to_string(),
            version: version.copied(),
        })
        .expect("a ref change serializes");
        let io = |source| Error::Io {
            path: self.ref_log.clone(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.ref_log)
            .map_err(io)?;
        f.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
        f.sync_data().map_err(io)
    }

    /// Removes every entry (for a rebuild).
    pub fn clear(&self) -> Result<(), Error> {
        self.refs.clear()?;
        self.versions.clear()?;
        self.stages.clear()?;
        self.bands.clear()?;
        self.flush()
    }

    /// Sets a tag without logging it (replaying the log).
    pub fn restore_tag(&self, name: &str, id: &ObjectId) -> Result<(), Error> {
        self.refs.insert(name.as_bytes(), &id.0)?;
        Ok(())
    }

    /// Every stage-cache entry: key and the objects it names.
    pub fn cached_stages(&self) -> Result<Vec<(String, Vec<ObjectId>)>, Error> {
        let mut out = Vec::new();
        for item in self.stages.iter() {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let ids = match serde_json::from_slice::<StageCacheEntry>(&v) {
                Ok(e) => {
                    let mut ids = vec![e.output];
                    if let Some(x) = &e.extra {
                        ids.extend(ids_in(x));
                    }
                    ids
                }
                Err(_) => Vec::new(),
            };
            out.push((key, ids));
        }
        Ok(out)
    }

    pub fn remove_cached_stage(&self, key: &str) -> Result<(), Error> {
        self.stages.remove(key.as_bytes())?;
        Ok(())
    }

    /// The band sidecar recorded under `key` (see [`band_sidecar_key`]).
    pub fn band_sidecar(&self, key: &str) -> Result<Option<ObjectId>, Error> {
        Ok(self
            .bands
            .get(key.as_bytes())?
            .and_then(|v| <[u8; 32]>::try_from(v.as_ref()).ok())
            .map(ObjectId))
    }

    /// Records band sidecars (durably, in one flush).
    pub fn set_band_sidecars(&self, entries: &[(String, ObjectId)]) -> Result<(), Error> {
        for (key, id) in entries {
            self.bands.insert(key.as_bytes(), &id.0)?;
        }
        self.flush()
    }

    /// Every band sidecar: its key, the shard it describes and its object.
    pub fn band_sidecars(&self) -> Result<Vec<(String, Option<ObjectId>, ObjectId)>, Error> {
        let mut out = Vec::new();
        for item in self.bands.iter() {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let shard = key.split('.').next().and_then(|h| h.parse().ok());
            if let Ok(id) = <[u8; 32]>::try_from(v.as_ref()) {
                out.push((key, shard, ObjectId(id)));
            }
        }
        Ok(out)
    }

    pub fn remove_band_sidecar(&self, key: &str) -> Result<(), Error> {
        self.bands.remove(key.as_bytes())?;
        Ok(())
    }

    pub fn remove_version(&self, id: &ObjectId) -> Result<(), Error> {
        self.versions.remove(id.0)?;
        Ok(())
    }

    pub fn flush(&self) -> Result<(), Error> {
        self.db.flush()?;
        Ok(())
    }

    pub fn add_version(&self, entry: &VersionEntry) -> Result<(), Error> {
        let value = serde_json::to_vec(entry).expect("entry serializes");
        self.versions.insert(entry.id.0, value)?;
        self.flush()
    }

    pub fn version(&self, id: &ObjectId) -> Result<Option<VersionEntry>, Error> {
        self.versions
            .get(id.0)?
            .map(|v| decode_entry(&v))
            .transpose()
    }

    /// Every version, newest first.
    pub fn versions(&self) -> Result<Vec<VersionEntry>, Error> {
        let mut all = Vec::new();
        for item in self.versions.iter() {
            let (_, v) = item?;
            all.push(decode_entry(&v)?);
        }
        all.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        Ok(all)
    }

    /// The versions from `start` back through each first parent, or every
    /// version (newest first) when `start` is `None`.
    pub fn history(&self, start: Option<ObjectId>) -> Result<Vec<VersionEntry>, Error> {
        let all = self.versions()?;
        let Some(start) = start else {
            return Ok(all);
        };
        let by_id: std::collections::HashMap<ObjectId, &VersionEntry> =
            all.iter().map(|e| (e.id, e)).collect();
        let mut chain = Vec::new();
        let mut cur = by_id.get(&start).copied();
        while let Some(e) = cur {
            chain.push(e.clone());
            cur = e.parents.first().and_then(|p| by_id.get(p).copied());
        }
        Ok(chain)
    }

    /// A stage's cached output: its selection-set id and per-rule removal counts.
    pub fn cached_stage(&self, key: &str) -> Result<Option<CachedStage>, Error> {
        let Some(v) = self.stages.get(key.as_bytes())? else {
            return Ok(None);
        };
        // An unreadable entry is a miss: the stage runs again and rewrites it.
        Ok(serde_json::from_slice::<StageCacheEntry>(&v)
            .ok()
            .map(|e| (e.output, e.removed, e.extra)))
    }

    pub fn cache_stage(
        &self,
        key: &str,
        output: &ObjectId,
        removed: &indexmap::IndexMap<String, u64>,
        extra: Option<serde_json::Value>,
    ) -> Result<(), Error> {
        let entry = StageCacheEntry {
            output: *output,
            removed: removed.clone(),
            extra,
        };
        self.stages.insert(
            key.as_bytes(),
            serde_json::to_vec(&entry).expect("entry serializes"),
        )?;
        self.flush()
    }

    pub fn set_tag(&self, name: &str, id: &ObjectId) -> Result<Option<ObjectId>, Error> {
        validate_tag(name)?;
        self.log_ref(name, Some(id))?;
        let old = self.refs.insert(name.as_bytes(), &id.0)?;
        self.flush()?;
        old.map(|v| id_from(&v)).transpose()
    }

    pub fn delete_tag(&self, name: &str) -> Result<ObjectId, Error> {
        if self.refs.get(name.as_bytes())?.is_none() {
            return Err(Error::NoSuchTag { name: name.into() });
        }
        self.log_ref(name, None)?;
        let old = self.refs.remove(name.as_bytes())?;
        self.flush()?;
        match old {
            Some(v) => id_from(&v),
            None => Err(Error::NoSuchTag { name: name.into() }),
        }
    }

    pub fn tag(&self, name: &str) -> Result<Option<ObjectId>, Error> {
        self.refs
            .get(name.as_bytes())?
            .map(|v| id_from(&v))
            .transpose()
    }

    /// All tags, sorted by name.
    pub fn tags(&self) -> Result<Vec<(String, ObjectId)>, Error> {
        let mut out = Vec::new();
        for item in self.refs.iter() {
            let (k, v) = item?;
            out.push((String::from_utf8_lossy(&k).into_owned(), id_from(&v)?));
        }
        Ok(out)
    }

    /// The tags that name version `id`.
    pub fn tags_of(&self, id: &ObjectId) -> Result<Vec<String>, Error> {
        Ok(self
            .tags()?
            .into_iter()
            .filter(|(_, v)| v == id)
            .map(|(t, _)| t)
            .collect())
    }

    /// Resolves a tag, a full version id, or a unique prefix of one.
    pub fn resolve(&self, name: &str) -> Result<ObjectId, Error> {
        if let Some(id) = self.tag(name)? {
            return Ok(id);
        }
        let lower = name.to_ascii_lowercase();
        if lower.len() >= 4 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
            let matches: Vec<ObjectId> = self
                .versions()?
                .into_iter()
                .map(|e| e.id)
                .filter(|id| id.hex().starts_with(&lower))
                .collect();
            match matches.len() {
                1 => return Ok(matches[0]),
                0 => {}
                _ => {
                    return Err(Error::AmbiguousRef {
                        prefix: name.into(),
                        matches: matches.iter().map(|m| m.short()).collect(),
                    });
                }
            }
        }
        let mut closest: Vec<(usize, String)> = self
            .tags()?
            .into_iter()
            .map(|(t, _)| (edit_distance(&t, name), t))
            .filter(|(d, t)| *d <= 2.max(t.len() / 3))
            .collect();
        closest.sort();
        Err(Error::UnknownRef {
            name: name.into(),
            closest: closest.into_iter().take(3).map(|(_, t)| t).collect(),
        })
    }
}

fn decode_entry(bytes: &[u8]) -> Result<VersionEntry, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::BadCatalog {
        what: "a version index entry",
        reason: e.to_string(),
    })
}

fn id_from(bytes: &[u8]) -> Result<ObjectId, Error> {
    let id: [u8; 32] = bytes.try_into().map_err(|_| Error::BadCatalog {
        what: "a ref",
        reason: format!("{} bytes, not a 32-byte id", bytes.len()),
    })?;
    Ok(ObjectId(id))
}

/// Object ids named anywhere in a JSON value (64-hex strings).
fn ids_in(v: &serde_json::Value) -> Vec<ObjectId> {
    match v {
        serde_json::Value::String(s) if s.len() == 64 => s.parse().into_iter().collect(),
        serde_json::Value::Array(a) => a.iter().flat_map(ids_in).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(ids_in).collect(),
        _ => Vec::new(),
    }
}

/// Reads `refs.log`: each tag's last change, in order. A torn last line (a
/// crash mid-append) is skipped.
pub fn read_ref_log(path: &Path) -> Result<Vec<RefChange>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<RefChange>(l).ok())
        .collect())
}

/// Tag names: `[A-Za-z0-9._-]`, starting with a letter or digit, ≤128 bytes.
/// The catalog key of a shard's band sidecar for dedup parameters `params`
/// (a hash of everything the first pass depends on).
pub fn band_sidecar_key(shard: &ObjectId, params: &str) -> String {
    format!("{}.{params}", shard.hex())
}

pub fn validate_tag(name: &str) -> Result<(), Error> {
    let bad = |reason| {
        Err(Error::BadTagName {
            name: name.into(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 128 {
        return bad("it is longer than 128 characters");
    }
    if !name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return bad("it must start with a letter or digit");
    }
    if name.contains("..") {
        return bad("it contains '..'");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return bad("it contains a character other than letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// Levenshtein distance, for "did you mean".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_names_are_validated() {
        for ok in ["raw", "v1.0", "release_2024-01", "9lives"] {
            assert!(validate_tag(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a/b",
            "../x",
            "a..b",
            "-x",
            ".x",
            "a\0b",
            "tab\there",
            &"x".repeat(129),
        ] {
            assert!(validate_tag(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("raw", "raw"), 0);
        assert_eq!(edit_distance("raw", "rew"), 1);
        assert_eq!(edit_distance("release", "relase"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}

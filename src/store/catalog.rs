//! The catalog: tags and the version index, in sled.
//!
//! It is an index only: every entry can be rebuilt from manifest objects.
//! It is open only while the store's `LOCK` is held (see [`super::Store::catalog`]).

use std::fs::File;

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
    _lock: File,
}

impl Catalog {
    pub(super) fn new(db: sled::Db, lock: File) -> Result<Catalog, Error> {
        Ok(Catalog {
            refs: db.open_tree("refs")?,
            versions: db.open_tree("versions")?,
            stages: db.open_tree("stage_cache")?,
            db,
            _lock: lock,
        })
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
        Ok(self.versions.get(id.0)?.map(|v| decode_entry(&v)))
    }

    /// Every version, newest first.
    pub fn versions(&self) -> Result<Vec<VersionEntry>, Error> {
        let mut all = Vec::new();
        for item in self.versions.iter() {
            let (_, v) = item?;
            all.push(decode_entry(&v));
        }
        all.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        Ok(all)
    }

    /// A stage's cached output: its selection-set id and per-rule removal counts.
    pub fn cached_stage(&self, key: &str) -> Result<Option<CachedStage>, Error> {
        let Some(v) = self.stages.get(key.as_bytes())? else {
            return Ok(None);
        };
        let entry: StageCacheEntry =
            serde_json::from_slice(&v).expect("cache entries are written by sift");
        Ok(Some((entry.output, entry.removed, entry.extra)))
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
        let old = self.refs.insert(name.as_bytes(), &id.0)?;
        self.flush()?;
        Ok(old.map(|v| id_from(&v)))
    }

    pub fn delete_tag(&self, name: &str) -> Result<ObjectId, Error> {
        let old = self.refs.remove(name.as_bytes())?;
        self.flush()?;
        old.map(|v| id_from(&v))
            .ok_or_else(|| Error::NoSuchTag { name: name.into() })
    }

    pub fn tag(&self, name: &str) -> Result<Option<ObjectId>, Error> {
        Ok(self.refs.get(name.as_bytes())?.map(|v| id_from(&v)))
    }

    /// All tags, sorted by name.
    pub fn tags(&self) -> Result<Vec<(String, ObjectId)>, Error> {
        let mut out = Vec::new();
        for item in self.refs.iter() {
            let (k, v) = item?;
            out.push((String::from_utf8_lossy(&k).into_owned(), id_from(&v)));
        }
        Ok(out)
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

fn decode_entry(bytes: &[u8]) -> VersionEntry {
    serde_json::from_slice(bytes).expect("catalog entries are written by sift")
}

fn id_from(bytes: &[u8]) -> ObjectId {
    let mut id = [0u8; 32];
    id.copy_from_slice(&bytes[..32]);
    ObjectId(id)
}

/// Tag names: `[A-Za-z0-9._-]`, starting with a letter or digit, ≤128 bytes.
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

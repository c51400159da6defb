//! Immutable objects named by the BLAKE3 of their bytes.
//!
//! ```text
//!   bytes ──hash──▶ id ── exists? ──yes──▶ done ("already there" is success)
//!                          │no
//!                          ▼
//!   tmp/<pid>-<n> ── write, fsync ── chmod 0444 ── rename ─▶ objects/ab/cdef…
//!                                                              │
//!                                                     fsync objects/ab/
//! ```
//! A crash at any point leaves either no object or a whole one (plus a
//! `tmp/` leftover that the next command removes). Readers re-hash what they
//! read, so a flipped byte is an error naming the object.

use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Error;

/// BLAKE3-256 of an object's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 32]);

impl ObjectId {
    pub fn of(bytes: &[u8]) -> Self {
        ObjectId(*blake3::hash(bytes).as_bytes())
    }

    pub fn hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.short())
    }
}

impl FromStr for ObjectId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        blake3::Hash::from_hex(s)
            .map(|h| ObjectId(*h.as_bytes()))
            .map_err(|_| format!("'{s}' is not a 64-digit hex object id"))
    }
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> serde::Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for ObjectId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ObjectId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "BLAKE3-256 of the object's bytes, as lowercase hex"
        })
    }
}

/// Where objects live, and how they are written and read.
#[derive(Debug, Clone)]
pub struct Objects {
    root: PathBuf,
    /// The groups' chaining values of large objects (see [`super::tree`]).
    pub(super) trees: PathBuf,
    tmp: PathBuf,
    /// Where new objects are recorded, for a writer that may have to take them back.
    journal: Option<Journal>,
}

/// The objects a writer added (not those it found already stored), so that
/// a failed write can remove exactly what it wrote.
#[derive(Debug, Clone, Default)]
pub struct Journal(std::sync::Arc<std::sync::Mutex<Vec<ObjectId>>>);

impl Journal {
    /// Removes every object recorded; returns how many were removed.
    pub fn roll_back(&self, objects: &Objects) -> usize {
        let ids = std::mem::take(&mut *self.0.lock().expect("journal lock"));
        ids.iter()
            .filter(|id| {
                objects.remove_tree(id);
                fs::remove_file(objects.path(id)).is_ok()
            })
            .count()
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What `put` did.
#[derive(Debug, Clone, Copy)]
pub struct Put {
    pub id: ObjectId,
    pub len: u64,
    /// False when an identical object was already stored.
    pub new: bool,
}

impl Objects {
    /// Objects under `root`; their trees go beside it, in `trees/`.
    pub fn new(root: PathBuf, tmp: PathBuf) -> Self {
        Objects {
            trees: root.with_file_name("trees"),
            root,
            tmp,
            journal: None,
        }
    }

    /// These objects, recording every new object in the returned journal.
    pub fn journaled(&self) -> (Objects, Journal) {
        let journal = Journal::default();
        let mut o = self.clone();
        o.journal = Some(journal.clone());
        (o, journal)
    }

    pub fn path(&self, id: &ObjectId) -> PathBuf {
        let hex = id.hex();
        self.root.join(&hex[..2]).join(&hex[2..])
    }

    pub fn contains(&self, id: &ObjectId) -> bool {
        self.path(id).exists()
    }

    /// Stores `bytes`, durably, and returns its id.
    pub fn put(&self, bytes: &[u8]) -> Result<Put, Error> {
        let (id, cvs) = super::tree::hash(bytes);
        let len = bytes.len() as u64;
        let path = self.path(&id);
        if let Some(cvs) = &cvs {
            self.put_tree(&id, cvs);
        }
        if path.exists() {
            // Mark it as just used, so that `sift gc`'s grace period spares it
            // until the version naming it is committed.
            if let Ok(f) = File::open(&path) {
                let _ = f.set_modified(std::time::SystemTime::now());
            }
            return Ok(Put {
                id,
                len,
                new: false,
            });
        }
        let dir = path.parent().expect("object path has a parent");
        let tmp = self.tmp_path();
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| Error::Io { path: p, source }
        };
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        let mut perms = fs::metadata(&tmp).map_err(io(&tmp))?.permissions();
        perms.set_readonly(true);
        fs::set_permissions(&tmp, perms).map_err(io(&tmp))?;
        fs::create_dir_all(dir).map_err(io(dir))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(dir)?;
        if let Some(j) = &self.journal {
            j.0.lock().expect("journal lock").push(id);
        }
        Ok(Put { id, len, new: true })
    }

    /// A new file name in `tmp/`.
    pub(super) fn tmp_path(&self) -> PathBuf {
        self.tmp.join(format!(
            "{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// Reads an object and checks that its bytes still hash to its id.
    pub fn get(&self, id: &ObjectId) -> Result<Vec<u8>, Error> {
        let path = self.path(id);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::MissingObject { id: *id, path });
            }
            Err(source) => return Err(Error::Io { path, source }),
        };
        let actual = ObjectId::of(&bytes);
        if actual != *id {
            return Err(Error::CorruptObject {
                id: *id,
                path,
                actual,
            });
        }
        Ok(bytes)
    }

    /// Every file under `objects/`, sorted by path, with its id (`None` for a
    /// file whose place or name is not an object's).
    pub fn list(&self) -> Result<Vec<(Option<ObjectId>, PathBuf)>, Error> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| Error::Io { path: p, source }
        };
        let mut out = Vec::new();
        for dir in fs::read_dir(&self.root).map_err(io(&self.root))?.flatten() {
            let (dir, prefix) = (dir.path(), dir.file_name().to_string_lossy().into_owned());
            if !dir.is_dir() || prefix.len() != 2 {
                out.push((None, dir));
                continue;
            }
            for f in fs::read_dir(&dir).map_err(io(&dir))?.flatten() {
                let id = format!("{prefix}{}", f.file_name().to_string_lossy())
                    .parse::<ObjectId>()
                    .ok();
                out.push((id, f.path()));
            }
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// Size on disk, without reading.
    pub fn len(&self, id: &ObjectId) -> Result<u64, Error> {
        let path = self.path(id);
        fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => Error::MissingObject { id: *id, path },
                _ => Error::Io { path, source },
            })
    }
}

/// fsync a directory so that a rename into it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> (tempfile::TempDir, Objects) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let o = Objects::new(dir.path().join("objects"), dir.path().join("tmp"));
        (dir, o)
    }

    #[test]
    fn put_get_round_trip_and_dedup() {
        let (_d, o) = objects();
        let a = o.put(b"hello").unwrap();
        assert!(a.new);
        assert_eq!(a.id, ObjectId::of(b"hello"));
        let b = o.put(b"hello").unwrap();
        assert!(!b.new);
        assert_eq!(o.get(&a.id).unwrap(), b"hello");
        assert!(
            fs::metadata(o.path(&a.id))
                .unwrap()
                .permissions()
                .readonly()
        );
    }

    #[test]
    fn flipped_byte_is_detected_and_named() {
        let (_d, o) = objects();
        let p = o.put(b"some object bytes").unwrap();
        let path = o.path(&p.id);
        let mut perms = fs::metadata(&path).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&path, perms).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes[3] ^= 0x01;
        fs::write(&path, bytes).unwrap();
        let err = o.get(&p.id).unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }));
        assert!(err.to_string().contains(&p.id.hex()), "{err}");
    }

    #[test]
    fn id_parses_back() {
        let id = ObjectId::of(b"x");
        assert_eq!(id.hex().parse::<ObjectId>().unwrap(), id);
        assert!("zz".parse::<ObjectId>().is_err());
    }
}

//! The store: immutable objects plus a rebuildable catalog.
//!
//! ```text
//! .sift/
//!   objects/ab/cdef…   shards, fingerprint sidecars, selections, manifests
//!   trees/ab/cdef…     chaining values of a large object's 64 KiB groups (partial reads)
//!   catalog/           sled: refs (tags) and the version index
//!   tmp/               writes in progress (<pid>-<n>); stale ones are removed
//!   refs.log           every tag change, appended (the catalog's tags can be rebuilt from it)
//!   LOCK               held while the catalog is open
//! ```
//!
//! Write order for a version: shards and sidecars → manifest → catalog. The
//! catalog is written last and only indexes manifests, so a crash leaves
//! either no new version or a whole one.

pub mod catalog;
pub mod codec;
pub mod fingerprint;
pub mod objects;
pub mod shard;
pub mod tree;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use catalog::{Catalog, VersionEntry};
pub use objects::{ObjectId, Objects};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no sift store at {}", path.display())]
    NotAStore { path: PathBuf },
    #[error("a sift store already exists at {}", path.display())]
    AlreadyExists { path: PathBuf },
    #[error("I/O error on {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("object {id} is missing ({})", path.display())]
    MissingObject { id: ObjectId, path: PathBuf },
    #[error("object {id} is corrupt: its bytes hash to {actual} ({})", path.display())]
    CorruptObject {
        id: ObjectId,
        path: PathBuf,
        actual: ObjectId,
    },
    #[error("object {id} is not a valid {what}: {reason}")]
    BadObject {
        id: ObjectId,
        what: &'static str,
        reason: String,
    },
    #[error("the catalog could not be read or written")]
    Catalog(#[from] sled::Error),
    #[error("the store is busy: held by pid {holder} for over {waited:?}")]
    Busy { holder: String, waited: Duration },
    #[error("unknown ref '{name}'")]
    UnknownRef { name: String, closest: Vec<String> },
    #[error("ref '{prefix}' is ambiguous: it matches {}", matches.join(", "))]
    AmbiguousRef {
        prefix: String,
        matches: Vec<String>,
    },
    #[error("invalid tag name '{name}': {reason}")]
    BadTagName { name: String, reason: &'static str },
    #[error("tag '{name}' does not exist")]
    NoSuchTag { name: String },
    #[error("the catalog holds {what} sift cannot read: {reason}")]
    BadCatalog { what: &'static str, reason: String },
    #[error("these rows cannot be versioned: {reason}")]
    Unsupported { reason: String },
}

impl Error {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::NotAStore { path } => format!(
                "create one with `sift init --store {}`, or point --store / SIFT_STORE at an existing one",
                path.display()
            ),
            Error::AlreadyExists { .. } => "use the existing store, or choose another --store".into(),
            Error::MissingObject { .. } | Error::CorruptObject { .. } | Error::BadObject { .. } => {
                "run `sift fsck --read-data` to see which versions are affected".into()
            }
            Error::Busy { .. } => {
                "another sift process is writing; retry, or raise --wait (seconds)".into()
            }
            Error::UnknownRef { closest, .. } if !closest.is_empty() => {
                format!("did you mean: {}?", closest.join(", "))
            }
            Error::UnknownRef { .. } => "list tags with `sift tags` and versions with `sift log`".into(),
            Error::AmbiguousRef { .. } => "give more digits of the id".into(),
            Error::BadTagName { .. } => {
                "tag names use letters, digits, '.', '_' and '-', start with a letter or digit, and are at most 128 characters".into()
            }
            Error::NoSuchTag { .. } => "list tags with `sift tags`".into(),
            Error::Unsupported { .. } => return None,
            Error::BadCatalog { .. } => {
                "rebuild it from the manifests and refs.log: `sift fsck --rebuild-catalog`".into()
            }
            _ => return None,
        })
    }
}

/// An opened store.
#[derive(Clone)]
pub struct Store {
    root: PathBuf,
    objects: Objects,
    /// How long to wait for the catalog lock.
    wait: Duration,
    /// Told once when a lock wait goes on (the face says so; the library prints nothing).
    on_wait: Option<WaitHook>,
    /// `tmp/` leftovers of processes that no longer run, removed when the store was opened.
    cleaned: Vec<String>,
}

/// Hears that the store is held by another process: its pid.
pub type WaitHook = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.root)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Creates a new, empty store at `root`.
    pub fn init(root: &Path) -> Result<Store, Error> {
        if root.join("objects").exists() || root.join("catalog").exists() {
            return Err(Error::AlreadyExists {
                path: root.to_path_buf(),
            });
        }
        for dir in ["objects", "tmp"] {
            let p = root.join(dir);
            fs::create_dir_all(&p).map_err(|source| Error::Io { path: p, source })?;
        }
        let store = Store::at(root);
        store.catalog()?.flush()?;
        Ok(store)
    }

    /// Opens an existing store, removing stale `tmp/` leftovers.
    pub fn open(root: &Path) -> Result<Store, Error> {
        if !root.join("objects").is_dir() {
            return Err(Error::NotAStore {
                path: root.to_path_buf(),
            });
        }
        let mut store = Store::at(root);
        store.cleaned = store.clean_tmp();
        Ok(store)
    }

    /// Opens a store that other processes, perhaps on other machines, are
    /// using: to read objects only. Nothing in `tmp/` is touched (its pids
    /// may be another machine's).
    pub fn open_shared(root: &Path) -> Result<Store, Error> {
        if !root.join("objects").is_dir() {
            return Err(Error::NotAStore {
                path: root.to_path_buf(),
            });
        }
        Ok(Store::at(root))
    }

    fn at(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
            objects: Objects::new(root.join("objects"), root.join("tmp")),
            wait: Duration::from_secs(60),
            on_wait: None,
            cleaned: Vec::new(),
        }
    }

    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Calls `hook` with the holder's pid when a lock wait lasts over half a second.
    pub fn on_wait(mut self, hook: WaitHook) -> Self {
        self.on_wait = Some(hook);
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// Where writes in progress and spill files live.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The `tmp/` leftovers (writes in progress, dedup spill files) of
    /// processes that no longer run, which opening the store removed.
    pub fn cleaned(&self) -> &[String] {
        &self.cleaned
    }

    /// Removes `tmp/` files left by processes that no longer run; returns their names.
    fn clean_tmp(&self) -> Vec<String> {
        let mut cleaned = Vec::new();
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return cleaned;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
            let alive = match pid {
                Some(pid) if pid == std::process::id() => true,
                Some(pid) => Path::new("/proc").join(pid.to_string()).exists(),
                None => false,
            };
            if !alive
                && fs::remove_file(entry.path())
                    .or_else(|_| fs::remove_dir_all(entry.path()))
                    .is_ok()
            {
                cleaned.push(name.into_owned());
            }
        }
        cleaned.sort();
        cleaned
    }

    /// Opens the catalog, waiting (with back-off) while another process holds it.
    pub fn catalog(&self) -> Result<Catalog, Error> {
        let lock = self.lock()?;
        self.open_catalog(lock)
    }

    /// Takes the lock, moves the catalog aside to `catalog.old` and opens an
    /// empty one (for a rebuild; [`Store::drop_old_catalog`] removes the old one).
    pub fn fresh_catalog(&self) -> Result<Catalog, Error> {
        let lock = self.lock()?;
        let (dir, old) = (self.root.join("catalog"), self.root.join("catalog.old"));
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| Error::Io { path: p, source }
        };
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        if dir.exists() {
            fs::rename(&dir, &old).map_err(io(&dir))?;
        }
        self.open_catalog(lock)
    }

    /// Removes the catalog a rebuild replaced.
    pub fn drop_old_catalog(&self) -> Result<(), Error> {
        let old = self.root.join("catalog.old");
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|source| Error::Io { path: old, source })?;
        }
        Ok(())
    }

    fn open_catalog(&self, lock: File) -> Result<Catalog, Error> {
        // sled takes its own lock on its files. No background flusher (every
        // write is flushed explicitly), so that lock is gone when the last
        // handle drops; should it linger (longer on a loaded machine), retry.
        // The store lock is held here, so no other handle can be the cause.
        let config = sled::Config::new()
            .path(self.root.join("catalog"))
            .mode(sled::Mode::LowSpace)
            .flush_every_ms(None);
        let start = Instant::now();
        loop {
            match config.open() {
                Ok(db) => return Catalog::new(db, lock, self.root.join("refs.log")),
                // sled reports its file lock as an `Other` error that wraps
                // the WouldBlock, so the message is what tells it apart.
                Err(sled::Error::Io(e))
                    if (e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("could not acquire lock"))
                        && start.elapsed() < Duration::from_secs(30) =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Takes the store's exclusive lock (`LOCK`, holding our pid), waiting
    /// with back-off up to the store's wait.
    pub fn lock(&self) -> Result<File, Error> {
        let lock_path = self.root.join("LOCK");
        let io = |source| Error::Io {
            path: lock_path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io)?;
        let start = Instant::now();
        let mut delay = Duration::from_millis(5);
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    let holder = read_holder(&mut file);
                    if start.elapsed() >= self.wait {
                        return Err(Error::Busy {
                            holder,
                            waited: self.wait,
                        });
                    }
                    if !said && start.elapsed() > Duration::from_millis(500) {
                        if let Some(hook) = &self.on_wait {
                            hook(&holder);
                        }
                        said = true;
                    }
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(200));
                }
                Err(fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(file)
    }
}

fn read_holder(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.rewind().and_then(|_| file.read_to_string(&mut s));
    let s = s.trim();
    if s.is_empty() {
        "unknown".into()
    } else {
        s.to_string()
    }
}

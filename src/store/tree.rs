//! Verified reads of part of an object.
//!
//! An object's id is the BLAKE3 of its bytes, and BLAKE3 is itself a tree:
//! the chaining values of an object's 64 KiB groups merge, pair by pair,
//! into the id. Those values (32 bytes per group, 0.05% of the object) are
//! kept beside every object larger than one group, in `trees/`:
//!
//! ```text
//!   objects/ab/cdef…   the object (N bytes)
//!   trees/ab/cdef…     ⌈N / 64 KiB⌉ chaining values; they merge into ab·cdef…
//! ```
//!
//! A reader that wants a few pages of a large shard checks the tree against
//! the id once (a thousand merges for a 64 MB shard), then reads only the
//! groups that hold its pages and hashes each against its chaining value.
//! Every byte it uses is still checked against the id, as a whole read
//! would check it. A tree is derived data: one that is missing, truncated
//! or does not merge into the id is not used, and the whole object is read
//! instead.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;

use blake3::hazmat::{HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root};

use super::{Error, ObjectId, Objects};

/// Bytes per group: 64 BLAKE3 chunks.
pub const GROUP: usize = 64 << 10;

/// The chaining value of one group.
pub type Cv = [u8; 32];

/// The id of `bytes` and, when they span more than one group, the chaining
/// values of their groups. Costs what [`ObjectId::of`] costs.
pub fn hash(bytes: &[u8]) -> (ObjectId, Option<Vec<Cv>>) {
    if bytes.len() <= GROUP {
        return (ObjectId::of(bytes), None);
    }
    let cvs: Vec<Cv> = bytes
        .chunks(GROUP)
        .enumerate()
        .map(|(i, g)| group_cv(i, g))
        .collect();
    (root(&cvs), Some(cvs))
}

/// The chaining value of group `i`, whose bytes are `g`.
fn group_cv(i: usize, g: &[u8]) -> Cv {
    let mut h = blake3::Hasher::new();
    h.set_input_offset((i * GROUP) as u64);
    h.update(g);
    h.finalize_non_root()
}

/// The id that the chaining values of two or more groups merge into.
///
/// BLAKE3's left subtree holds the largest power of two of chunks that
/// leaves the right one non-empty; over whole groups (the last perhaps
/// short) that is the largest power of two of groups below their count.
fn root(cvs: &[Cv]) -> ObjectId {
    debug_assert!(cvs.len() >= 2);
    let (l, r) = cvs.split_at(left_len(cvs.len()));
    ObjectId(*merge_subtrees_root(&subtree(l), &subtree(r), Mode::Hash).as_bytes())
}

fn subtree(cvs: &[Cv]) -> Cv {
    if cvs.len() == 1 {
        return cvs[0];
    }
    let (l, r) = cvs.split_at(left_len(cvs.len()));
    merge_subtrees_non_root(&subtree(l), &subtree(r), Mode::Hash)
}

/// The largest power of two below `n` (n ≥ 2).
fn left_len(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

impl Objects {
    pub(super) fn tree_path(&self, id: &ObjectId) -> PathBuf {
        let hex = id.hex();
        self.trees.join(&hex[..2]).join(&hex[2..])
    }

    /// Keeps the chaining values of an object's groups beside it. Not
    /// synced: a tree lost or torn in a crash is not used (see [`Objects::partial`]).
    pub(super) fn put_tree(&self, id: &ObjectId, cvs: &[Cv]) {
        let path = self.tree_path(id);
        if path.exists() {
            return;
        }
        let tmp = self.tmp_path();
        let bytes: Vec<u8> = cvs.iter().flatten().copied().collect();
        // A tree that cannot be written costs whole reads later, nothing else.
        let _ = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, &bytes))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            });
    }

    /// Removes an object's tree, if it has one.
    pub fn remove_tree(&self, id: &ObjectId) {
        let _ = std::fs::remove_file(self.tree_path(id));
    }

    /// An object opened for verified reads of parts of it, or `None` when it
    /// has no usable tree (it is small, older than trees, or its tree is
    /// damaged): then read it whole with [`Objects::get`].
    pub fn partial(&self, id: &ObjectId) -> Option<Partial> {
        let file = File::open(self.path(id)).ok()?;
        let len = file.metadata().ok()?.len();
        let groups = len.div_ceil(GROUP as u64) as usize;
        if groups < 2 {
            return None;
        }
        let bytes = std::fs::read(self.tree_path(id)).ok()?;
        if bytes.len() != groups * 32 {
            return None;
        }
        let cvs: Vec<Cv> = bytes
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect();
        if root(&cvs) != *id {
            return None;
        }
        Some(Partial {
            objects: self.clone(),
            id: *id,
            file,
            len,
            cvs,
            groups: Mutex::new(HashMap::new()),
        })
    }
}

/// An object whose groups are read, and checked against its id, as they are
/// needed (see [`Objects::partial`]).
pub struct Partial {
    objects: Objects,
    id: ObjectId,
    file: File,
    len: u64,
    cvs: Vec<Cv>,
    /// The groups read so far.
    groups: Mutex<HashMap<usize, bytes::Bytes>>,
}

impl Partial {
    pub fn id(&self) -> ObjectId {
        self.id
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Group `i`, read and checked.
    fn group(&self, i: usize) -> Result<bytes::Bytes, Error> {
        if let Some(g) = self.groups.lock().expect("groups lock").get(&i) {
            return Ok(g.clone());
        }
        let start = (i * GROUP) as u64;
        let mut buf = vec![0u8; (self.len - start).min(GROUP as u64) as usize];
        let path = self.objects.path(&self.id);
        self.file
            .read_exact_at(&mut buf, start)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        if group_cv(i, &buf) != self.cvs[i] {
            // The whole object's hash names what the bytes now are.
            return Err(match self.objects.get(&self.id) {
                Err(e) => e,
                Ok(_) => Error::Io {
                    path,
                    source: std::io::Error::other("the object changed while it was read"),
                },
            });
        }
        let g = bytes::Bytes::from(buf);
        self.groups
            .lock()
            .expect("groups lock")
            .insert(i, g.clone());
        Ok(g)
    }

    /// `len` bytes from `start`, every group they touch checked.
    pub fn read(&self, start: u64, len: usize) -> Result<bytes::Bytes, Error> {
        let end = start + len as u64;
        if end > self.len {
            return Err(Error::Io {
                path: self.objects.path(&self.id),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("bytes {start}..{end} of an object of {} bytes", self.len),
                ),
            });
        }
        if len == 0 {
            return Ok(bytes::Bytes::new());
        }
        let (first, last) = (
            (start / GROUP as u64) as usize,
            ((end - 1) / GROUP as u64) as usize,
        );
        let offset = (start - (first * GROUP) as u64) as usize;
        if first == last {
            return Ok(self.group(first)?.slice(offset..offset + len));
        }
        let mut out = Vec::with_capacity(len);
        for i in first..=last {
            out.extend_from_slice(&self.group(i)?);
        }
        Ok(bytes::Bytes::from(out).slice(offset..offset + len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Vec<u8> {
        let mut state = 0x243f_6a88_85a3_08d3u64;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                (state >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn groups_merge_into_the_blake3_of_the_whole() {
        for n in [
            GROUP + 1,
            2 * GROUP,
            2 * GROUP + 1,
            3 * GROUP - 1,
            4 * GROUP,
            5 * GROUP + 1024,
            7 * GROUP + 17,
            9 * GROUP,
            33 * GROUP + 5,
        ] {
            let b = bytes(n);
            let (id, cvs) = hash(&b);
            assert_eq!(id, ObjectId::of(&b), "{n} bytes");
            assert_eq!(cvs.unwrap().len(), n.div_ceil(GROUP), "{n} bytes");
        }
        let small = bytes(GROUP);
        assert_eq!(hash(&small), (ObjectId::of(&small), None));
    }

    fn objects() -> (tempfile::TempDir, Objects) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let o = Objects::new(dir.path().join("objects"), dir.path().join("tmp"));
        (dir, o)
    }

    fn writable(path: &std::path::Path) {
        let mut perms = std::fs::metadata(path).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(path, perms).unwrap();
    }

    #[test]
    fn partial_reads_give_the_bytes_and_name_a_flipped_one() {
        let (_d, o) = objects();
        let b = bytes(5 * GROUP + 300);
        let id = o.put(&b).unwrap().id;
        let p = o.partial(&id).expect("a tree was kept");
        for (start, len) in [
            (0, 10),
            (GROUP - 3, 7),
            (3 * GROUP + 5, GROUP + 9),
            (0, b.len()),
        ] {
            assert_eq!(
                &p.read(start as u64, len).unwrap()[..],
                &b[start..start + len]
            );
        }
        assert!(p.read(b.len() as u64 - 1, 2).is_err());
        // A flipped byte in a group that is read is the object's corruption.
        let path = o.path(&id);
        writable(&path);
        let mut damaged = b.clone();
        damaged[2 * GROUP + 100] ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        let p = o.partial(&id).expect("the tree still merges into the id");
        assert_eq!(&p.read(10, 20).unwrap()[..], &b[10..30]);
        let err = p.read(2 * GROUP as u64, 200).unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }), "{err}");
        assert!(err.to_string().contains(&id.hex()), "{err}");
    }

    #[test]
    fn a_damaged_or_missing_tree_is_not_used() {
        let (_d, o) = objects();
        let b = bytes(3 * GROUP);
        let id = o.put(&b).unwrap().id;
        let tree = o.tree_path(&id);
        let good = std::fs::read(&tree).unwrap();
        let mut bad = good.clone();
        bad[40] ^= 1;
        std::fs::write(&tree, &bad).unwrap();
        assert!(o.partial(&id).is_none());
        std::fs::write(&tree, &good[..64]).unwrap();
        assert!(o.partial(&id).is_none());
        std::fs::remove_file(&tree).unwrap();
        assert!(o.partial(&id).is_none());
        // Putting the object again puts its tree back.
        assert!(!o.put(&b).unwrap().new);
        assert!(o.partial(&id).is_some());
        // Small objects have none.
        let small = o.put(&bytes(100)).unwrap().id;
        assert!(o.partial(&small).is_none());
    }
}

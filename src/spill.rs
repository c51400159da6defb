//! External sorting under a memory budget: fixed-size records are sorted in
//! memory until the buffer is full, then written as a sorted run to the
//! store's `tmp/`, and read back as one merged, sorted stream.
//!
//! ```text
//! push ─▶ buffer (≤ cap records) ──full──▶ sort (one chunk per thread) ─▶ tmp/<pid>-spill-<n>
//!                                                                               │
//! finish ─▶ sort what is left ─▶ k-way merge of the chunks and the runs ◀───────┘
//! ```
//!
//! The merged stream is the same sorted sequence whatever the budget, so
//! results built on it do not depend on how often it spilled. Run files are
//! removed when they are dropped, on success or on an error; a process that
//! is killed leaves them behind as `<pid>-…` files, which the next command
//! that opens the store removes (see [`crate::store::Store::open`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::Error;

/// A record of fixed size on disk.
pub trait Record: Copy + Ord + Send + Sync {
    /// Its encoded size in bytes (at most 64).
    const SIZE: usize;
    fn encode(&self, out: &mut [u8]);
    fn decode(b: &[u8]) -> Self;
}

static SPILL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A spill file; removed when dropped.
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A new, empty file under `dir`, named after this process.
    pub fn create(dir: &Path, what: &str) -> Result<(TempFile, File), Error> {
        let path = dir.join(format!(
            "{}-{what}-{}",
            std::process::id(),
            SPILL_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let f = File::create(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok((TempFile { path }, f))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self) -> impl Fn(std::io::Error) -> Error + '_ {
        |source| Error::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A sorted run on disk: its file and how many records it holds.
struct Run {
    file: TempFile,
    records: u64,
}

/// What a sorter did: records pushed, runs written, bytes spilled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpillStats {
    pub records: u64,
    pub runs: u64,
    pub bytes: u64,
}

/// Sorts records under a budget of `cap` records in memory.
pub struct Sorter<R: Record> {
    buf: Vec<R>,
    cap: usize,
    runs: Vec<Run>,
    dir: PathBuf,
    threads: usize,
    stats: SpillStats,
}

/// The smallest buffer a sorter keeps, whatever the budget.
pub const MIN_RECORDS: usize = 16;

impl<R: Record> Sorter<R> {
    /// A sorter that holds at most `budget` bytes of records in memory and
    /// spills sorted runs to `dir`.
    pub fn new(dir: &Path, budget: u64, threads: usize) -> Self {
        let cap = ((budget / std::mem::size_of::<R>() as u64) as usize).max(MIN_RECORDS);
        Sorter {
            buf: Vec::new(),
            cap,
            runs: Vec::new(),
            dir: dir.to_path_buf(),
            threads: threads.max(1),
            stats: SpillStats::default(),
        }
    }

    /// Reserves room for `records` (up to the budget), so the buffer does not
    /// grow by doubling past what it needs.
    pub fn expect(&mut self, records: u64) {
        let want = (records.min(self.cap as u64) as usize).saturating_sub(self.buf.len());
        self.buf.reserve_exact(want);
    }

    pub fn push(&mut self, r: R) -> Result<(), Error> {
        if self.buf.len() == self.cap {
            self.spill()?;
        }
        if self.buf.len() == self.buf.capacity() {
            // Grow by doubling, never past the cap; a small input never takes the whole budget.
            let c = self.buf.capacity();
            self.buf
                .reserve_exact(c.max(1 << 12).min(self.cap.saturating_sub(c)));
        }
        self.buf.push(r);
        self.stats.records += 1;
        Ok(())
    }

    /// Sorts the buffer and writes it out as one run.
    fn spill(&mut self) -> Result<(), Error> {
        let chunks = sort_chunks(&mut self.buf, self.threads);
        let (file, f) = TempFile::create(&self.dir, "spill")?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut merged =
            Merge::new(&self.buf, chunks, Vec::new()).map_err(|e| e.into_store(&file))?;
        let mut bytes = [0u8; 64];
        let mut n = 0u64;
        while let Some(r) = merged.next().map_err(|e| e.into_store(&file))? {
            r.encode(&mut bytes[..R::SIZE]);
            w.write_all(&bytes[..R::SIZE]).map_err(file.io())?;
            n += 1;
        }
        w.flush().map_err(file.io())?;
        self.stats.runs += 1;
        self.stats.bytes += n * R::SIZE as u64;
        self.runs.push(Run { file, records: n });
        self.buf.clear();
        Ok(())
    }

    /// Whether anything was written to disk so far.
    pub fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Merges runs into one new run (to keep the final merge's open files few).
    fn merge_runs(&mut self, runs: Vec<Run>) -> Result<Run, Error> {
        let files = open_runs(runs)?;
        let (file, f) = TempFile::create(&self.dir, "spill")?;
        let paths: Vec<PathBuf> = files.iter().map(|s| s.file.path.clone()).collect();
        let mut m = Merge::<R>::new(&[], Vec::new(), files).map_err(|e| e.into_store_at(&paths))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut bytes = [0u8; 64];
        let mut n = 0u64;
        while let Some(r) = m.next().map_err(|e| e.into_store_at(&paths))? {
            r.encode(&mut bytes[..R::SIZE]);
            w.write_all(&bytes[..R::SIZE]).map_err(file.io())?;
            n += 1;
        }
        w.flush().map_err(file.io())?;
        self.stats.bytes += n * R::SIZE as u64;
        Ok(Run { file, records: n })
    }

    /// The records in sorted order.
    pub fn finish(mut self) -> Result<Sorted<R>, Error> {
        let chunks = sort_chunks(&mut self.buf, self.threads);
        while self.runs.len() > FAN_IN {
            let group: Vec<Run> = self.runs.drain(..FAN_IN).collect();
            let merged = self.merge_runs(group)?;
            self.runs.push(merged);
        }
        let files = open_runs(std::mem::take(&mut self.runs))?;
        Ok(Sorted {
            stats: self.stats,
            buf: self.buf,
            chunks,
            files,
        })
    }
}

/// The most runs merged at once (each holds an open file and a 64 KiB buffer).
const FAN_IN: usize = 64;

fn open_runs(runs: Vec<Run>) -> Result<Vec<FileSource>, Error> {
    let mut files = Vec::with_capacity(runs.len());
    for run in runs {
        let f = File::open(run.file.path()).map_err(run.file.io())?;
        files.push(FileSource {
            reader: BufReader::with_capacity(1 << 16, f),
            left: run.records,
            file: run.file,
        });
    }
    Ok(files)
}

/// Sorts `buf` as up to `threads` chunks in parallel; returns their ranges.
fn sort_chunks<R: Record>(buf: &mut [R], threads: usize) -> Vec<(usize, usize)> {
    let n = buf.len();
    let parts = if n < 1 << 16 { 1 } else { threads };
    let size = n.div_ceil(parts).max(1);
    std::thread::scope(|s| {
        for chunk in buf.chunks_mut(size) {
            s.spawn(move || chunk.sort_unstable());
        }
    });
    (0..n)
        .step_by(size)
        .map(|a| (a, (a + size).min(n)))
        .collect()
}

struct FileSource {
    reader: BufReader<File>,
    left: u64,
    file: TempFile,
}

/// A sorter's records, merged into one sorted stream. Holds the run files
/// until it is dropped.
pub struct Sorted<R: Record> {
    pub stats: SpillStats,
    buf: Vec<R>,
    chunks: Vec<(usize, usize)>,
    files: Vec<FileSource>,
}

impl<R: Record> Sorted<R> {
    /// Calls `f` with every record in order.
    pub fn for_each<E: From<Error>>(self, mut f: impl FnMut(R) -> Result<(), E>) -> Result<(), E> {
        let paths: Vec<PathBuf> = self.files.iter().map(|s| s.file.path.clone()).collect();
        let mut m = Merge::new(&self.buf, self.chunks, self.files)
            .map_err(|e| E::from(e.into_store_at(&paths)))?;
        while let Some(r) = m.next().map_err(|e| E::from(e.into_store_at(&paths)))? {
            f(r)?;
        }
        Ok(())
    }
}

/// A read error of the merge: which source (a file index) and the error.
struct MergeError {
    file: usize,
    source: std::io::Error,
}

impl MergeError {
    fn into_store(self, file: &TempFile) -> Error {
        Error::Io {
            path: file.path.clone(),
            source: self.source,
        }
    }

    fn into_store_at(self, paths: &[PathBuf]) -> Error {
        Error::Io {
            path: paths.get(self.file).cloned().unwrap_or_default(),
            source: self.source,
        }
    }
}

/// A k-way merge of sorted slices of `buf` and sorted run files.
struct Merge<'a, R: Record> {
    buf: &'a [R],
    chunks: Vec<(usize, usize)>,
    files: Vec<FileSource>,
    heap: BinaryHeap<Reverse<(R, usize)>>,
}

impl<'a, R: Record> Merge<'a, R> {
    fn new(
        buf: &'a [R],
        chunks: Vec<(usize, usize)>,
        files: Vec<FileSource>,
    ) -> Result<Self, MergeError> {
        let mut m = Merge {
            buf,
            chunks,
            files,
            heap: BinaryHeap::new(),
        };
        for s in 0..m.chunks.len() + m.files.len() {
            if let Some(r) = m.pull(s)? {
                m.heap.push(Reverse((r, s)));
            }
        }
        Ok(m)
    }

    /// The next record of source `s`.
    fn pull(&mut self, s: usize) -> Result<Option<R>, MergeError> {
        if let Some(c) = self.chunks.get_mut(s) {
            if c.0 == c.1 {
                return Ok(None);
            }
            c.0 += 1;
            return Ok(Some(self.buf[c.0 - 1]));
        }
        let i = s - self.chunks.len();
        let src = &mut self.files[i];
        if src.left == 0 {
            return Ok(None);
        }
        let mut bytes = [0u8; 64];
        src.reader
            .read_exact(&mut bytes[..R::SIZE])
            .map_err(|source| MergeError { file: i, source })?;
        src.left -= 1;
        Ok(Some(R::decode(&bytes[..R::SIZE])))
    }

    fn next(&mut self) -> Result<Option<R>, MergeError> {
        // One source left: no heap needed.
        if self.heap.len() <= 1 {
            let Some(Reverse((r, s))) = self.heap.pop() else {
                return Ok(None);
            };
            if let Some(n) = self.pull(s)? {
                self.heap.push(Reverse((n, s)));
            }
            return Ok(Some(r));
        }
        let Reverse((r, s)) = *self.heap.peek().expect("non-empty heap");
        match self.pull(s)? {
            Some(n) => *self.heap.peek_mut().expect("non-empty heap") = Reverse((n, s)),
            None => {
                self.heap.pop();
            }
        }
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    struct Pair(u64, u32);

    impl Record for Pair {
        const SIZE: usize = 12;
        fn encode(&self, out: &mut [u8]) {
            out[..8].copy_from_slice(&self.0.to_le_bytes());
            out[8..12].copy_from_slice(&self.1.to_le_bytes());
        }
        fn decode(b: &[u8]) -> Self {
            Pair(
                u64::from_le_bytes(b[..8].try_into().unwrap()),
                u32::from_le_bytes(b[8..12].try_into().unwrap()),
            )
        }
    }

    fn sorted(budget: u64, threads: usize, input: &[Pair]) -> (Vec<Pair>, SpillStats) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path(), budget, threads);
        for r in input {
            s.push(*r).unwrap();
        }
        let done = s.finish().unwrap();
        let stats = done.stats;
        let mut out = Vec::new();
        done.for_each(|r| {
            out.push(r);
            Ok::<_, Error>(())
        })
        .unwrap();
        // Every run file is gone once the stream is consumed and dropped.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        (out, stats)
    }

    proptest::proptest! {
        #[test]
        fn any_budget_gives_the_sorted_input(
            input in proptest::collection::vec((0u64..50, 0u32..1000), 0..3000),
            budget in 0u64..2000,
            threads in 1usize..4,
        ) {
            let input: Vec<Pair> = input.into_iter().map(|(a, b)| Pair(a, b)).collect();
            let mut want = input.clone();
            want.sort();
            let (got, stats) = sorted(budget, threads, &input);
            proptest::prop_assert_eq!(got, want);
            let cap = (budget as usize / 16).max(MIN_RECORDS);
            proptest::prop_assert_eq!(stats.runs as usize, input.len().saturating_sub(1) / cap);
        }
    }

    #[test]
    fn large_inputs_sort_in_parallel_chunks_and_spill() {
        let input: Vec<Pair> = (0..200_000u64)
            .map(|i| Pair(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40, i as u32))
            .collect();
        let mut want = input.clone();
        want.sort();
        let (got, stats) = sorted(1 << 20, 2, &input);
        assert_eq!(got, want);
        assert_eq!(stats.runs, 3);
        assert_eq!(stats.bytes, 3 * 65_536 * 12);
    }

    #[test]
    fn many_runs_merge_in_levels() {
        let input: Vec<Pair> = (0..20_000u64)
            .map(|i| Pair(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 50, i as u32))
            .collect();
        let mut want = input.clone();
        want.sort();
        // 16 records a run: 1,250 runs, merged 64 at a time.
        let (got, stats) = sorted(0, 1, &input);
        assert_eq!(got, want);
        assert_eq!(stats.runs, 1_249);
        assert!(stats.bytes > 20_000 * 12, "merged levels are written too");
    }

    #[test]
    fn run_files_are_removed_when_the_stream_is_dropped_unread() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path(), 0, 1);
        for i in 0..100u32 {
            s.push(Pair(u64::from(100 - i), i)).unwrap();
        }
        assert!(s.spilled());
        assert!(std::fs::read_dir(dir.path()).unwrap().count() > 0);
        let done = s.finish().unwrap();
        drop(done);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

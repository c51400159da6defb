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
    /// For records whose leading key is spread evenly (hashes): a bucket
    /// number that grows with the order (a ≤ b ⇒ bucket(a) ≤ bucket(b)).
    /// Buffers are then first distributed by bucket in place, and each
    /// bucket, small enough for the cache, sorted on its own.
    fn bucket(&self) -> Option<u32> {
        None
    }
    /// A partition that grows with the order (a ≤ b ⇒ partition(a) ≤
    /// partition(b)), such as a band: records are buffered and sorted per
    /// partition, partitions on different threads.
    fn partition(&self) -> usize {
        0
    }
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

    /// Maps an I/O error on this file to the store's error, naming the file.
    pub fn io(&self) -> impl Fn(std::io::Error) -> Error + '_ {
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

/// A run being written: its file, buffered, and the records so far.
struct RunWriter {
    file: TempFile,
    w: BufWriter<File>,
    records: u64,
}

impl RunWriter {
    fn create(dir: &Path) -> Result<RunWriter, Error> {
        let (file, f) = TempFile::create(dir, "spill")?;
        Ok(RunWriter {
            file,
            w: BufWriter::with_capacity(1 << 20, f),
            records: 0,
        })
    }

    fn push<R: Record>(&mut self, r: &R) -> Result<(), Error> {
        let mut bytes = [0u8; 64];
        r.encode(&mut bytes[..R::SIZE]);
        self.w
            .write_all(&bytes[..R::SIZE])
            .map_err(self.file.io())?;
        self.records += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<Run, Error> {
        self.w.flush().map_err(self.file.io())?;
        Ok(Run {
            file: self.file,
            records: self.records,
        })
    }
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
    /// The buffer, by partition ([`Record::partition`]).
    parts: Vec<Vec<R>>,
    /// Records in `parts`.
    len: usize,
    cap: usize,
    /// Records expected in all (see [`Sorter::expect`]).
    expected: u64,
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
            parts: Vec::new(),
            len: 0,
            cap,
            expected: 0,
            runs: Vec::new(),
            dir: dir.to_path_buf(),
            threads: threads.max(1),
            stats: SpillStats::default(),
        }
    }

    /// Says `records` will come, spread evenly over `partitions`: each
    /// partition's buffer is reserved once (up to its share of the budget)
    /// instead of growing by doubling past what it needs.
    pub fn expect(&mut self, records: u64, partitions: usize) {
        self.expected = records;
        let partitions = partitions.max(1);
        let share = (records.min(self.cap as u64) as usize).div_ceil(partitions);
        self.parts
            .resize_with(partitions.max(self.parts.len()), Vec::new);
        for p in &mut self.parts[..partitions] {
            p.reserve_exact(share.saturating_sub(p.len()));
        }
    }

    pub fn push(&mut self, r: R) -> Result<(), Error> {
        if self.len == self.cap {
            self.spill()?;
        }
        let p = r.partition();
        if p >= self.parts.len() {
            self.parts.resize_with(p + 1, Vec::new);
        }
        let part = &mut self.parts[p];
        if part.len() == part.capacity() {
            // Grow by doubling, never past the cap; a small input never takes the whole budget.
            let c = part.capacity();
            part.reserve_exact(c.max(1 << 12).min(self.cap.saturating_sub(self.len)));
        }
        part.push(r);
        self.len += 1;
        self.stats.records += 1;
        Ok(())
    }

    /// Sorts the buffer and writes it out as one run.
    fn spill(&mut self) -> Result<(), Error> {
        sort_parts(&mut self.parts, self.threads);
        let mut run = RunWriter::create(&self.dir)?;
        for r in self.parts.iter().flatten() {
            run.push(r)?;
        }
        let run = run.finish()?;
        self.stats.runs += 1;
        self.stats.bytes += run.records * R::SIZE as u64;
        self.runs.push(run);
        for p in &mut self.parts {
            p.clear();
        }
        self.len = 0;
        Ok(())
    }

    /// Merges runs into one new run (to keep the final merge's open files few).
    fn merge_runs(&mut self, runs: Vec<Run>) -> Result<Run, Error> {
        let files = open_runs(runs)?;
        let paths: Vec<PathBuf> = files.iter().map(|s| s.file.path.clone()).collect();
        let mut m = Merge::<R>::new(&[], files).map_err(|e| e.into_store_at(&paths))?;
        let mut run = RunWriter::create(&self.dir)?;
        while let Some(r) = m.next().map_err(|e| e.into_store_at(&paths))? {
            run.push(&r)?;
        }
        let run = run.finish()?;
        self.stats.bytes += run.records * R::SIZE as u64;
        Ok(run)
    }

    /// The records grouped by bucket, when nothing was spilled (else the
    /// sorter back, for [`Sorter::finish`]). Equal records share a bucket.
    /// A partition whose records have no buckets, or too few records for
    /// them, is one bucket.
    pub fn grouped(self) -> Result<Grouped<R>, Box<Self>> {
        if !self.runs.is_empty() {
            return Err(Box::new(self));
        }
        let mut parts: Vec<(Vec<R>, Vec<usize>)> = self
            .parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .map(|p| (p, Vec::new()))
            .collect();
        // Partitions shared among the threads; each thread scatters into
        // one spare buffer, the partition it leaves the next one's spare, so
        // memory is touched for the first time once per thread, not per partition.
        let per = parts.len().div_ceil(self.threads).max(1);
        std::thread::scope(|s| {
            for group in parts.chunks_mut(per) {
                s.spawn(move || {
                    let mut spare = Vec::new();
                    for (records, bounds) in group {
                        let (out, b) = scatter(std::mem::take(records), &mut spare);
                        *records = out;
                        *bounds = b;
                    }
                });
            }
        });
        Ok(Grouped {
            stats: self.stats,
            parts,
        })
    }

    /// The records in sorted order.
    pub fn finish(mut self) -> Result<Sorted<R>, Error> {
        sort_parts(&mut self.parts, self.threads);
        while self.runs.len() > FAN_IN {
            let group: Vec<Run> = self.runs.drain(..FAN_IN).collect();
            let merged = self.merge_runs(group)?;
            self.runs.push(merged);
        }
        let files = open_runs(std::mem::take(&mut self.runs))?;
        Ok(Sorted {
            stats: self.stats,
            parts: self.parts,
            files,
        })
    }
}

/// A sorter's records when it spilled nothing, each partition distributed
/// by bucket ([`Record::bucket`]) but not sorted within a bucket, for a
/// caller that needs equal records together rather than in order: a
/// bucket, small enough for the cache, can be grouped by hashing, which
/// costs less than sorting it.
pub struct Grouped<R: Record> {
    pub stats: SpillStats,
    /// Each partition's records and its buckets' bounds (`bounds[b]..bounds[b + 1]`).
    pub parts: Vec<(Vec<R>, Vec<usize>)>,
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

/// Sorts each partition. Several partitions are shared among the threads,
/// each sorted whole by one; a single one is distributed by bucket and its
/// buckets sorted on every thread.
fn sort_parts<R: Record>(parts: &mut [Vec<R>], threads: usize) {
    let used: Vec<&mut Vec<R>> = parts.iter_mut().filter(|p| !p.is_empty()).collect();
    match used.len() {
        0 => {}
        1 => {
            let part = used.into_iter().next().expect("one partition");
            sort_one(part, threads);
        }
        n => {
            let per = n.div_ceil(threads);
            let mut used = used;
            std::thread::scope(|s| {
                for group in used.chunks_mut(per) {
                    s.spawn(move || {
                        for p in group {
                            sort_one(p, 1);
                        }
                    });
                }
            });
        }
    }
}

/// Sorts one partition on up to `threads` threads: by bucket in place
/// first, then each bucket, when its records have buckets.
fn sort_one<R: Record>(buf: &mut [R], threads: usize) {
    let n = buf.len();
    let Some(starts) = distribute(buf) else {
        buf.sort_unstable();
        return;
    };
    let parts = if n < 1 << 16 { 1 } else { threads };
    // Contiguous groups of buckets of about n / parts records each.
    let mut rest: &mut [R] = buf;
    let mut groups = Vec::new();
    let (mut at, mut b) = (0usize, 0usize);
    for p in 1..=parts {
        let goal = n * p / parts;
        let from = b;
        while b + 1 < starts.len() && starts[b + 1] <= goal {
            b += 1;
        }
        let (group, tail) = std::mem::take(&mut rest).split_at_mut(starts[b] - at);
        groups.push((group, &starts[from..=b], at));
        at = starts[b];
        rest = tail;
    }
    std::thread::scope(|s| {
        for (group, bounds, at) in groups {
            s.spawn(move || {
                for w in bounds.windows(2) {
                    group[w[0] - at..w[1] - at].sort_unstable();
                }
            });
        }
    });
}

/// `buf` distributed by bucket into `spare` (one counting pass, one
/// pass writing each record to its bucket's next place: sequential streams,
/// where swapping in place jumps across the buffer), and the buckets'
/// bounds; `buf` becomes the spare. Records with no buckets, or too few
/// for them, are one bucket.
fn scatter<R: Record>(buf: Vec<R>, spare: &mut Vec<R>) -> (Vec<R>, Vec<usize>) {
    let Some(start) = bucket_starts(&buf) else {
        let len = buf.len();
        return (buf, vec![0, len]);
    };
    let mut next = start.clone();
    let mut out = std::mem::take(spare);
    out.clear();
    out.extend_from_slice(&buf);
    for r in &buf {
        let b = bucket_of(r);
        out[next[b]] = *r;
        next[b] += 1;
    }
    *spare = buf;
    (out, start)
}

fn bucket_of<R: Record>(r: &R) -> usize {
    r.bucket().expect("every record has a bucket") as usize
}

/// Where each bucket of `buf` starts once distributed (and where the last
/// ends), when the records have buckets and there are not too many for them.
fn bucket_starts<R: Record>(buf: &[R]) -> Option<Vec<usize>> {
    let max = buf.iter().map(|r| r.bucket()).max().flatten()?;
    let n = max as usize + 1;
    if n > buf.len() / 4 || n > 1 << 22 {
        return None;
    }
    let mut start = vec![0usize; n + 1];
    for r in buf {
        start[bucket_of(r) + 1] += 1;
    }
    for b in 0..n {
        start[b + 1] += start[b];
    }
    Some(start)
}

/// Distributes `buf` by bucket in place (an American flag sort pass) and
/// returns the buckets' bounds, when the records have buckets and there
/// are not too many for them.
fn distribute<R: Record>(buf: &mut [R]) -> Option<Vec<usize>> {
    let start = bucket_starts(buf)?;
    let n = start.len() - 1;
    let mut next = start.clone();
    for b in 0..n {
        while next[b] < start[b + 1] {
            let mut r = buf[next[b]];
            let mut t = bucket_of(&r);
            while t != b {
                std::mem::swap(&mut r, &mut buf[next[t]]);
                next[t] += 1;
                t = bucket_of(&r);
            }
            buf[next[b]] = r;
            next[b] += 1;
        }
    }
    Some(start)
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
    parts: Vec<Vec<R>>,
    files: Vec<FileSource>,
}

impl<R: Record> Sorted<R> {
    /// Calls `f` with every record in order.
    pub fn for_each<E: From<Error>>(self, mut f: impl FnMut(R) -> Result<(), E>) -> Result<(), E> {
        if self.files.is_empty() {
            // Nothing spilled: the partitions in order are the sorted stream.
            for r in self.parts.iter().flatten() {
                f(*r)?;
            }
            return Ok(());
        }
        let paths: Vec<PathBuf> = self.files.iter().map(|s| s.file.path.clone()).collect();
        let mut m =
            Merge::new(&self.parts, self.files).map_err(|e| E::from(e.into_store_at(&paths)))?;
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
    fn into_store_at(self, paths: &[PathBuf]) -> Error {
        Error::Io {
            path: paths.get(self.file).cloned().unwrap_or_default(),
            source: self.source,
        }
    }
}

/// A k-way merge of the sorted buffer (its partitions in order) and sorted run files.
struct Merge<'a, R: Record> {
    parts: &'a [Vec<R>],
    /// The buffer's next record: (partition, position).
    at: (usize, usize),
    files: Vec<FileSource>,
    heap: BinaryHeap<Reverse<(R, usize)>>,
}

impl<'a, R: Record> Merge<'a, R> {
    /// Source 0 is the buffer, source `i + 1` the `i`-th file.
    fn new(parts: &'a [Vec<R>], files: Vec<FileSource>) -> Result<Self, MergeError> {
        let mut m = Merge {
            parts,
            at: (0, 0),
            files,
            heap: BinaryHeap::new(),
        };
        for s in 0..=m.files.len() {
            if let Some(r) = m.pull(s)? {
                m.heap.push(Reverse((r, s)));
            }
        }
        Ok(m)
    }

    /// The next record of source `s`.
    fn pull(&mut self, s: usize) -> Result<Option<R>, MergeError> {
        if s == 0 {
            while let Some(p) = self.parts.get(self.at.0) {
                if let Some(r) = p.get(self.at.1) {
                    self.at.1 += 1;
                    return Ok(Some(*r));
                }
                self.at = (self.at.0 + 1, 0);
            }
            return Ok(None);
        }
        let i = s - 1;
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
        fn partition(&self) -> usize {
            (self.0 / 8) as usize
        }
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

    /// Bucketed by the top bits of the first field.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    struct Hashed(u64, u32);

    impl Record for Hashed {
        const SIZE: usize = 12;
        fn encode(&self, out: &mut [u8]) {
            Pair(self.0, self.1).encode(out)
        }
        fn decode(b: &[u8]) -> Self {
            let p = Pair::decode(b);
            Hashed(p.0, p.1)
        }
        fn bucket(&self) -> Option<u32> {
            Some((self.0 >> 56) as u32)
        }
    }

    #[test]
    fn bucketed_records_sort_like_the_rest() {
        let input: Vec<Hashed> = (0..200_000u64)
            .map(|i| Hashed(i.wrapping_mul(0x9E37_79B9_7F4A_7C15), (i % 7) as u32))
            .chain((0..5_000).map(|i| Hashed(42, i)))
            .collect();
        let mut want = input.clone();
        want.sort();
        for threads in [1, 2, 3] {
            for len in [0, 1, 100, 70_000, input.len()] {
                let mut got = input[..len].to_vec();
                sort_one(&mut got, threads);
                let mut w = input[..len].to_vec();
                w.sort();
                assert_eq!(got, w, "{threads} threads, {len} records");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path(), 1 << 20, 2);
        for r in &input {
            s.push(*r).unwrap();
        }
        let mut got = Vec::new();
        s.finish()
            .unwrap()
            .for_each(|r| {
                got.push(r);
                Ok::<_, Error>(())
            })
            .unwrap();
        assert_eq!(got, want);
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
        assert!(s.stats.runs > 0);
        assert!(std::fs::read_dir(dir.path()).unwrap().count() > 0);
        let done = s.finish().unwrap();
        drop(done);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

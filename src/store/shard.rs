//! Content-defined sharding: rows → immutable Parquet shards + fingerprint sidecars.
//!
//! ```text
//!  batches ──▶ fingerprint rows ──▶ cut after a boundary row ──▶ encode shard ──▶ objects
//!  (reader      (xxh3-128 of the     (fingerprint-chosen, with     (workers, in      shard +
//!   thread)      canonical row)       min / max bytes)              any order)        sidecar
//! ```
//!
//! A row *qualifies* when its fingerprint falls under a threshold
//! proportional to the row's size (so qualifying rows come on average every
//! `target · 3/4` bytes, whatever the row sizes). A qualifying row ends a shard
//! when at least `min` bytes lie between it and the previous qualifying row —
//! counted from that row whether or not it ended a shard, so whether a row
//! is a boundary depends only on the rows since the previous qualifying one.
//! An inserted or deleted block smaller than `min` therefore moves at most
//! one boundary near it and adds at most one: at most two shards change, and
//! the others are byte-identical (fixed writer settings, one
//! concatenated batch per shard) and so are stored once.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::fingerprint::{ContentHasher, Fingerprint, canonical_schema, fingerprint_batch};
use super::objects::{Objects, Put};
use super::{Error, ObjectId};

/// Default target shard size: 64 MiB of canonical row bytes.
pub const DEFAULT_SHARD_SIZE: u64 = 64 << 20;

const SIDECAR_MAGIC: &[u8; 8] = b"SIFTFP01";

/// How shards are cut and how many threads write them.
#[derive(Debug, Clone, Copy)]
pub struct ShardOptions {
    pub target: u64,
    pub threads: usize,
}

impl ShardOptions {
    fn min(&self) -> u64 {
        self.target / 4
    }
    /// A hard cut, reached with probability about e^-10 per shard.
    fn max(&self) -> u64 {
        self.target.saturating_mul(8).max(1)
    }
    /// Mean bytes past `min` until a fingerprint boundary.
    fn extra(&self) -> u64 {
        (self.target - self.min()).max(1)
    }

    /// Does this row qualify as a boundary candidate? P = row_bytes / extra,
    /// decided by the fingerprint's high half.
    fn qualifies(&self, fp: Fingerprint, row_bytes: u64) -> bool {
        let h = (fp >> 64) as u64 as u128;
        h * (self.extra() as u128) < (row_bytes as u128) << 64
    }
}

/// One written shard.
#[derive(Debug, Clone)]
pub struct WrittenShard {
    pub shard: Put,
    pub sidecar: Put,
    pub rows: u64,
    pub data_bytes: u64,
}

/// The outcome of writing a stream of rows as shards.
#[derive(Debug, Clone)]
pub struct Written {
    pub shards: Vec<WrittenShard>,
    pub content_id: String,
    pub canonical_schema: String,
    pub rows: u64,
    pub data_bytes: u64,
}

/// Why writing shards failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Input(E),
    #[error(transparent)]
    Store(#[from] Error),
    #[error("encoding a Parquet shard failed")]
    Encode(#[from] ParquetError),
    #[error(transparent)]
    Unsupported(#[from] super::fingerprint::UnsupportedType),
}

/// The writer settings that make shard bytes a function of their rows alone.
///
/// Pages hold at most 256 rows or 256 KiB, so that reading a few rows (the
/// candidates a dedup verifies, a row explained) decodes little more than
/// them (see `version::read_shard_rows`); smaller pages compress worse.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by("sift".into())
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(Some(64 * 1024))
        .set_write_batch_size(256)
        .set_data_page_size_limit(256 << 10)
        .build()
}

/// Encodes batches as one Parquet file in memory.
pub fn encode_parquet(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<Vec<u8>, ParquetError> {
    let batch = concat_batches(schema, batches)?;
    let mut out = Vec::with_capacity(batch.get_array_memory_size() / 2);
    let mut w = ArrowWriter::try_new(&mut out, schema.clone(), Some(writer_properties()))?;
    w.write(&batch)?;
    w.close()?;
    Ok(out)
}

/// Encodes fingerprints as a sidecar object.
pub fn encode_sidecar(fps: &[Fingerprint]) -> Vec<u8> {
    super::codec::encode_records(SIDECAR_MAGIC, fps.iter().map(|fp| fp.to_le_bytes()))
}

/// Decodes a sidecar object.
pub fn decode_sidecar(id: &ObjectId, bytes: &[u8]) -> Result<Vec<Fingerprint>, Error> {
    let bad = |reason: &str| Error::BadObject {
        id: *id,
        what: "fingerprint sidecar",
        reason: reason.into(),
    };
    Ok(super::codec::decode_records::<16>(SIDECAR_MAGIC, bytes)
        .map_err(bad)?
        .map(u128::from_le_bytes)
        .collect())
}

struct Job {
    seq: usize,
    batches: Vec<RecordBatch>,
    fps: Vec<Fingerprint>,
    data_bytes: u64,
}

type Fingerprinted = (RecordBatch, Vec<Fingerprint>, Vec<u64>);

fn fingerprinted(batch: RecordBatch) -> Fingerprinted {
    let (mut fps, mut sizes) = (
        Vec::with_capacity(batch.num_rows()),
        Vec::with_capacity(batch.num_rows()),
    );
    fingerprint_batch(&batch, &mut fps, &mut sizes);
    (batch, fps, sizes)
}

fn encode_job(
    objects: &Objects,
    schema: &SchemaRef,
    job: Job,
) -> Result<(usize, WrittenShard), WriteErrorInner> {
    let rows = job.fps.len() as u64;
    let bytes = encode_parquet(schema, &job.batches)?;
    drop(job.batches);
    let shard = objects.put(&bytes)?;
    let sidecar = objects.put(&encode_sidecar(&job.fps))?;
    Ok((
        job.seq,
        WrittenShard {
            shard,
            sidecar,
            rows,
            data_bytes: job.data_bytes,
        },
    ))
}

#[derive(Debug)]
enum WriteErrorInner {
    Store(Error),
    Encode(ParquetError),
}
impl From<Error> for WriteErrorInner {
    fn from(e: Error) -> Self {
        WriteErrorInner::Store(e)
    }
}
impl From<ParquetError> for WriteErrorInner {
    fn from(e: ParquetError) -> Self {
        WriteErrorInner::Encode(e)
    }
}
impl<E: std::error::Error + 'static> From<WriteErrorInner> for WriteError<E> {
    fn from(e: WriteErrorInner) -> Self {
        match e {
            WriteErrorInner::Store(e) => WriteError::Store(e),
            WriteErrorInner::Encode(e) => WriteError::Encode(e),
        }
    }
}

/// Writes `input` (batches in row order, all with `schema`) as shards.
///
/// The bytes written are the same for any `threads`: boundaries are chosen
/// sequentially and each shard is encoded on its own.
pub fn write_shards<I, E>(
    objects: &Objects,
    schema: SchemaRef,
    input: I,
    opts: ShardOptions,
) -> Result<Written, WriteError<E>>
where
    I: Iterator<Item = Result<RecordBatch, E>> + Send,
    E: std::error::Error + Send + 'static,
{
    let canonical = canonical_schema(&schema)?;
    let mut hasher = ContentHasher::new(&canonical);
    let mut results: Vec<WrittenShard> = Vec::new();
    let (mut rows, mut data_bytes) = (0u64, 0u64);

    if opts.threads <= 1 {
        let mut sink = |job: Job| -> Result<(), WriteError<E>> {
            let (_, w) = encode_job(objects, &schema, job)?;
            results.push(w);
            Ok(())
        };
        let mut chunker = Chunker::new(opts);
        for batch in input {
            let (batch, fps, sizes) = fingerprinted(batch.map_err(WriteError::Input)?);
            for fp in &fps {
                hasher.push(*fp);
            }
            rows += fps.len() as u64;
            data_bytes += sizes.iter().sum::<u64>();
            chunker.push(batch, &fps, &sizes, &mut sink)?;
        }
        chunker.finish(&mut sink)?;
    } else {
        // One encoder per thread: encoding (zstd) costs more than decoding
        // and fingerprinting, so the reader and the producer share the cores
        // with them rather than keep one to themselves.
        let encoders = opts.threads;
        let outcome: Result<Vec<(usize, WrittenShard)>, WriteError<E>> = std::thread::scope(|s| {
            // Reader thread: decode and fingerprint.
            let (btx, brx) = sync_channel::<Result<Fingerprinted, E>>(4);
            s.spawn(move || {
                for batch in input {
                    let item = batch.map(fingerprinted);
                    let stop = item.is_err();
                    if btx.send(item).is_err() || stop {
                        break;
                    }
                }
            });
            // Encoder threads.
            let (jtx, jrx) = sync_channel::<Job>(encoders);
            let jrx = Arc::new(std::sync::Mutex::new(jrx));
            // Unbounded: results are small, and they are drained only after producing.
            let (rtx, rrx) =
                std::sync::mpsc::channel::<Result<(usize, WrittenShard), WriteErrorInner>>();
            for _ in 0..encoders {
                let (jrx, rtx, schema) = (jrx.clone(), rtx.clone(), schema.clone());
                s.spawn(move || worker(objects, &schema, &jrx, &rtx));
            }
            drop(rtx);
            let produced = produce(opts, brx, jtx, &mut hasher, &mut rows, &mut data_bytes);
            let mut done = Vec::new();
            let mut first_err: Option<WriteError<E>> = produced.err();
            for r in rrx {
                match r {
                    Ok(w) => done.push(w),
                    Err(e) => {
                        first_err.get_or_insert(e.into());
                    }
                }
            }
            match first_err {
                Some(e) => Err(e),
                None => Ok(done),
            }
        });
        let mut done = outcome?;
        done.sort_by_key(|(seq, _)| *seq);
        results = done.into_iter().map(|(_, w)| w).collect();
    }
    Ok(Written {
        shards: results,
        content_id: hasher.finish(),
        canonical_schema: canonical,
        rows,
        data_bytes,
    })
}

fn worker(
    objects: &Objects,
    schema: &SchemaRef,
    jobs: &std::sync::Mutex<Receiver<Job>>,
    results: &std::sync::mpsc::Sender<Result<(usize, WrittenShard), WriteErrorInner>>,
) {
    loop {
        let job = { jobs.lock().expect("job queue lock").recv() };
        let Ok(job) = job else { return };
        let r = encode_job(objects, schema, job);
        let failed = r.is_err();
        if results.send(r).is_err() || failed {
            return;
        }
    }
}

fn produce<E: std::error::Error + 'static>(
    opts: ShardOptions,
    batches: Receiver<Result<Fingerprinted, E>>,
    jobs: SyncSender<Job>,
    hasher: &mut ContentHasher,
    rows: &mut u64,
    data_bytes: &mut u64,
) -> Result<(), WriteError<E>> {
    let mut chunker = Chunker::new(opts);
    let mut sink = |job: Job| -> Result<(), WriteError<E>> {
        // A closed queue means a worker failed; its error is reported instead.
        let _ = jobs.send(job);
        Ok(())
    };
    for item in batches {
        let (batch, fps, sizes) = item.map_err(WriteError::Input)?;
        for fp in &fps {
            hasher.push(*fp);
        }
        *rows += fps.len() as u64;
        *data_bytes += sizes.iter().sum::<u64>();
        chunker.push(batch, &fps, &sizes, &mut sink)?;
    }
    chunker.finish(&mut sink)
}

/// Accumulates rows and cuts them into shard jobs.
struct Chunker {
    opts: ShardOptions,
    seq: usize,
    batches: Vec<RecordBatch>,
    fps: Vec<Fingerprint>,
    bytes: u64,
    /// Bytes since the previous qualifying row (whether or not it ended a shard).
    since_qualifying: u64,
}

impl Chunker {
    fn new(opts: ShardOptions) -> Self {
        Chunker {
            opts,
            seq: 0,
            batches: Vec::new(),
            fps: Vec::new(),
            bytes: 0,
            since_qualifying: 0,
        }
    }

    fn push<E>(
        &mut self,
        batch: RecordBatch,
        fps: &[Fingerprint],
        sizes: &[u64],
        sink: &mut impl FnMut(Job) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut start = 0;
        for i in 0..fps.len() {
            self.bytes += sizes[i];
            self.since_qualifying += sizes[i];
            let boundary = if self.opts.qualifies(fps[i], sizes[i]) {
                let far_enough = self.since_qualifying >= self.opts.min();
                self.since_qualifying = 0;
                far_enough
            } else {
                false
            };
            if boundary || self.bytes >= self.opts.max() {
                self.batches.push(batch.slice(start, i + 1 - start));
                self.fps.extend_from_slice(&fps[start..=i]);
                start = i + 1;
                self.emit(sink)?;
            }
        }
        if start < fps.len() {
            self.batches.push(batch.slice(start, fps.len() - start));
            self.fps.extend_from_slice(&fps[start..]);
        }
        Ok(())
    }

    fn emit<E>(&mut self, sink: &mut impl FnMut(Job) -> Result<(), E>) -> Result<(), E> {
        let job = Job {
            seq: self.seq,
            batches: std::mem::take(&mut self.batches),
            fps: std::mem::take(&mut self.fps),
            data_bytes: std::mem::take(&mut self.bytes),
        };
        self.seq += 1;
        sink(job)
    }

    fn finish<E>(mut self, sink: &mut impl FnMut(Job) -> Result<(), E>) -> Result<(), E> {
        if !self.fps.is_empty() {
            self.emit(sink)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_round_trip_and_rejects_truncation() {
        let fps = vec![1u128, u128::MAX, 42];
        let bytes = encode_sidecar(&fps);
        let id = ObjectId::of(&bytes);
        assert_eq!(decode_sidecar(&id, &bytes).unwrap(), fps);
        assert!(decode_sidecar(&id, &bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn qualifying_is_by_fingerprint_and_row_size() {
        let o = ShardOptions {
            target: 1000,
            threads: 1,
        };
        assert!(o.qualifies(0, 10));
        assert!(!o.qualifies(u128::MAX, 10));
        // A row larger than the mean gap always qualifies.
        assert!(o.qualifies(u128::MAX, 10_000));
    }

    #[test]
    fn shards_are_cut_after_min_bytes_from_the_previous_qualifying_row() {
        use arrow::array::Int64Array;
        use arrow::datatypes::{DataType, Field, Schema};
        let o = ShardOptions {
            target: 1000,
            threads: 1,
        };
        let mut c = Chunker::new(o);
        let schema =
            std::sync::Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema,
            vec![std::sync::Arc::new(Int64Array::from(vec![0i64; 6]))],
        )
        .unwrap();
        // Rows of 100 bytes; rows 1 and 5 qualify (zero high half). Row 1 is only
        // 200 bytes from the start (< min 250): no cut, but it resets the count,
        // so row 5 (400 bytes after row 1) ends the shard.
        let fps = [u128::MAX, 0, u128::MAX, u128::MAX, u128::MAX, 0];
        let mut cuts = Vec::new();
        c.push(batch, &fps, &[100; 6], &mut |j: Job| -> Result<(), ()> {
            cuts.push(j.fps.len());
            Ok(())
        })
        .unwrap();
        assert_eq!(cuts, vec![6]);
    }
}

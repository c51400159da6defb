//! The eval sets' n-gram index: built once per (eval content ids, columns,
//! n), stored as an object of sorted (hash, eval set, eval row) records, and
//! found again through the catalog's stage cache.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use indexmap::IndexMap;

use super::{EvalRows, Plan, ngrams, texts};
use crate::source::Source;
use crate::stage::{Context, RunError};
use crate::store::shard::ShardOptions;
use crate::store::{ObjectId, Store, codec};
use crate::version::import::{ImportError, ImportInfo, import};
use crate::version::{self, Version};

pub(super) const INDEX_MAGIC: &[u8; 8] = b"SIFTDCN1";

/// n-gram hash → (eval set, eval row) of its first occurrence.
pub(super) type Index = HashMap<u64, (u32, u32), BuildHasherDefault<KeyHasher>>;

/// The keys are xxh3 hashes already, so the map uses them as they are.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else in anyway.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Plan {
    /// The eval sets as versions (files are imported, reusing an earlier import).
    pub(super) fn eval_versions(&self, store: &Store) -> Result<Vec<Version>, RunError> {
        let mut out = Vec::new();
        for e in &self.evals {
            out.push(match &e.rows {
                EvalRows::Version(v) => v.as_ref().clone(),
                EvalRows::Files(paths) => {
                    let src = Source::open(paths, None, None).map_err(ImportError::from)?;
                    let info = ImportInfo {
                        inputs: paths.iter().map(|p| p.display().to_string()).collect(),
                        message: Some(format!("eval set {}", e.name)),
                        tags: vec![],
                        reuse: true,
                    };
                    let opts = ShardOptions {
                        target: crate::store::shard::DEFAULT_SHARD_SIZE,
                        threads: 1,
                    };
                    import(store, src, opts, info)?
                }
                EvalRows::Recorded => {
                    return Err(RunError::Recorded {
                        stage: 0,
                        name: String::new(),
                        message: format!(
                            "eval set {} is only known from the recorded stats",
                            e.name
                        ),
                    });
                }
            });
        }
        Ok(out)
    }

    /// The index of the eval sets (built once per eval content ids and params, then cached),
    /// and per set its rows and rows too short for an n-gram.
    pub(super) fn index(&self, cx: &Context) -> Result<(ObjectId, Vec<(u64, u64)>), RunError> {
        let evals = self.eval_versions(cx.store)?;
        let key_text: Vec<String> = evals
            .iter()
            .zip(&self.evals)
            .map(|(v, e)| format!("{}:{}", v.manifest.content_id, e.column))
            .collect();
        let key = format!(
            "decontaminate-index\n{}\nngram {}\nsift {}",
            key_text.join("\n"),
            self.ngram,
            env!("CARGO_PKG_VERSION")
        );
        let key = blake3::hash(key.as_bytes()).to_hex().to_string();
        let counts_key = format!("{key}:counts");
        let catalog = cx.store.catalog()?;
        if let (Some((id, _, _)), Some((_, counts, _))) = (
            catalog.cached_stage(&key)?,
            catalog.cached_stage(&counts_key)?,
        ) && cx.store.objects().contains(&id)
        {
            let counts = (0..evals.len())
                .map(|i| {
                    (
                        counts.get(&format!("rows{i}")).copied().unwrap_or(0),
                        counts.get(&format!("short{i}")).copied().unwrap_or(0),
                    )
                })
                .collect();
            return Ok((id, counts));
        }
        drop(catalog);
        let mut records: Vec<(u64, u32, u32)> = Vec::new();
        let mut counts = Vec::new();
        let mut grams = Vec::new();
        for (ei, (v, e)) in evals.iter().zip(&self.evals).enumerate() {
            let (mut rows, mut short, mut row) = (0u64, 0u64, 0u32);
            for batch in version::columns(cx.store, v, std::slice::from_ref(&e.column))? {
                for text in texts(&batch, &e.column) {
                    ngrams(text, self.ngram, &mut grams);
                    if grams.is_empty() {
                        short += 1;
                    }
                    records.extend(grams.iter().map(|&h| (h, ei as u32, row)));
                    row += 1;
                    rows += 1;
                }
            }
            counts.push((rows, short));
        }
        records.sort_unstable();
        records.dedup_by_key(|r| r.0);
        let bytes = codec::encode_records(
            INDEX_MAGIC,
            records
                .iter()
                .map(|(h, e, r)| codec::u32s::<4, 16>([*h as u32, (*h >> 32) as u32, *e, *r])),
        );
        let id = cx.store.objects().put(&bytes)?.id;
        let mut count_map = IndexMap::new();
        for (i, (rows, short)) in counts.iter().enumerate() {
            count_map.insert(format!("rows{i}"), *rows);
            count_map.insert(format!("short{i}"), *short);
        }
        let catalog = cx.store.catalog()?;
        catalog.cache_stage(&key, &id, &IndexMap::new(), None)?;
        catalog.cache_stage(&counts_key, &id, &count_map, None)?;
        Ok((id, counts))
    }
}

pub(super) fn load_index(store: &Store, id: &ObjectId) -> Result<Index, crate::store::Error> {
    let bytes = store.objects().get(id)?;
    let records = codec::decode_records::<16>(INDEX_MAGIC, &bytes).map_err(|reason| {
        crate::store::Error::BadObject {
            id: *id,
            what: "decontamination index",
            reason: reason.into(),
        }
    })?;
    Ok(records
        .map(|c| {
            let h = codec::u32_at(&c, 0) as u64 | ((codec::u32_at(&c, 1) as u64) << 32);
            (h, (codec::u32_at(&c, 2), codec::u32_at(&c, 3)))
        })
        .collect())
}

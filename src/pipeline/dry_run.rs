//! A dry run: the stages on a seeded sample, in a scratch store.

use schemars::JsonSchema;
use serde::Serialize;

use super::{PlanSource, RunOptions, run_stages};
use crate::plan::Plan;
use crate::source::Source;
use crate::stage::{Observer, RunError};
use crate::store::Store;
use crate::store::shard::{ShardOptions, write_shards};
use crate::version::import::ImportError;
use crate::version::manifest::StageRecord;
use crate::version::{self, Draft, Segment};

/// What a dry run did: the stages over a seeded sample, nothing committed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DryRun {
    /// Rows in the sample, and in the source it was drawn from.
    pub sampled: u64,
    pub source_rows: u64,
    /// The seed of the sample: the same seed draws the same rows.
    pub seed: u64,
    /// Rows the stages kept of the sample.
    pub rows: u64,
    pub stages: Vec<StageRecord>,
}

/// Runs the plan's stages on a seeded sample of `sample` source rows, in a
/// scratch store under the store's `tmp/` that is removed afterwards; the
/// store itself gains nothing. The sample is the `sample` rows whose
/// positions hash lowest with `seed`, in source order.
pub fn dry_run(
    store: &Store,
    plan: &Plan,
    opts: &RunOptions,
    sample: u64,
    seed: u64,
    observer: &dyn Observer,
) -> Result<DryRun, RunError> {
    if plan.stages.iter().any(|s| s.plan.wants_gpu(opts.device)) {
        crate::gpu::open().map_err(RunError::Gpu)?;
    }
    let batches = || -> Result<SourceRows, RunError> {
        Ok(match &plan.source {
            PlanSource::Version(v) => {
                Box::new(version::rows(store, v)?.map(|b| b.map_err(RunError::from)))
            }
            PlanSource::Files {
                paths,
                format,
                schema,
                on_bad_row,
            } => Box::new(
                Source::open_with(paths, *format, schema.clone(), *on_bad_row)
                    .map_err(ImportError::from)?
                    .batches()
                    .map(|b| b.map_err(|e| RunError::Import(e.into()))),
            ),
        })
    };
    let total = match &plan.source {
        PlanSource::Version(v) => v.manifest.stats.rows,
        PlanSource::Files { .. } => {
            let mut n = 0u64;
            for b in batches()? {
                n += b?.num_rows() as u64;
            }
            n
        }
    };
    let rank = |i: u64| xxhash_rust::xxh3::xxh3_64_with_seed(&i.to_le_bytes(), seed);
    let mut order: Vec<u64> = (0..total).collect();
    if total > sample {
        order.select_nth_unstable_by_key(sample as usize, |&i| (rank(i), i));
        order.truncate(sample as usize);
    }
    let picked: std::collections::HashSet<u64> = order.into_iter().collect();
    let mut rows = Vec::new();
    let mut offset = 0u64;
    for b in batches()? {
        let b = b?;
        let take: Vec<u32> = (0..b.num_rows() as u64)
            .filter(|i| picked.contains(&(offset + i)))
            .map(|i| i as u32)
            .collect();
        offset += b.num_rows() as u64;
        if !take.is_empty() {
            let idx = arrow::array::UInt32Array::from(take);
            let cols = b
                .columns()
                .iter()
                .map(|c| arrow::compute::take(c, &idx, None))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| RunError::Sample(e.to_string()))?;
            rows.push(
                arrow::array::RecordBatch::try_new(b.schema(), cols)
                    .map_err(|e| RunError::Sample(e.to_string()))?,
            );
        }
    }
    let scratch = Scratch::new(store)?;
    let schema = plan.schema.clone();
    let sampled: u64 = rows.iter().map(|b| b.num_rows() as u64).sum();
    let shard_opts = ShardOptions {
        target: plan.shard_size,
        threads: opts.threads.max(1),
    };
    let written = write_shards(
        scratch.store.objects(),
        schema.clone(),
        rows.into_iter().map(Ok::<_, crate::source::Error>),
        shard_opts,
    )
    .map_err(ImportError::from)?;
    let segments = written.shards.iter().map(Segment::whole).collect();
    let mut draft = Draft::new(schema, segments, "import", vec![]);
    draft.content_id = Some(written.content_id.clone());
    let sample_version = version::commit(&scratch.store, draft, &[])?;
    let super::Stages {
        records: stages,
        kept,
        repeats,
        ..
    } = run_stages(&scratch.store, plan, &sample_version, opts, observer)?;
    let extra = super::extra_copies(&repeats);
    Ok(DryRun {
        sampled,
        source_rows: total,
        seed,
        rows: kept.rows() + extra,
        stages,
    })
}

/// The batches of a source, for a dry run.
type SourceRows = Box<dyn Iterator<Item = Result<arrow::array::RecordBatch, RunError>>>;

/// A store under another store's `tmp/`, removed when dropped (and, after a
/// crash, by the next command that opens the store, like any tmp leftover).
struct Scratch {
    dir: std::path::PathBuf,
    store: Store,
}

impl Scratch {
    fn new(store: &Store) -> Result<Scratch, RunError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = store
            .root()
            .join("tmp")
            .join(format!("{}-dry-run-{nanos}", std::process::id()));
        let scratch = Store::init(&dir)?;
        Ok(Scratch {
            dir,
            store: scratch,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! The runner: a validated [`Plan`] becomes a committed version.
//!
//! ```text
//!  source version ──▶ input selection ──stage 1──▶ selection ──stage 2──▶ … ──▶ final selection
//!                          │                          │                              │
//!                     cache key = (stage hash, input selection id, source content id) │
//!                                                                                    ▼
//!                Draft = the source's shards + the final selections (+ compaction) ──commit──▶ version
//! ```
//!
//! Each stage's output is a selection set stored as an object and indexed in
//! the catalog's stage cache, so re-running an unchanged pipeline does no
//! stage work, and changing only the last stage re-runs only it.

use std::time::Instant;

use schemars::JsonSchema;
use serde::Serialize;

use crate::gpu::DeviceChoice;
use crate::plan::{Plan, PlanSource, PlanStage};
use crate::source::Source;
use crate::stage::{Context, Observer, Outcome, RunError, StageStats};
use crate::store::shard::{ShardOptions, write_shards};
use crate::store::{ObjectId, Store};
use crate::version::compact::compact_segments;
use crate::version::import::{ImportError, ImportInfo, import};
use crate::version::manifest::{PipelineLineage, StageRecord};
use crate::version::selection::SelectionSet;
use crate::version::{self, Draft, Repeats, Segment, Version, encode_selection};

/// Overrides from the command line.
#[derive(Debug, Default)]
pub struct RunOptions {
    pub threads: usize,
    pub tags: Vec<String>,
    pub message: Option<String>,
    /// Overrides every GPU-capable stage's `device`.
    pub device: Option<DeviceChoice>,
}

/// What `sift run --json` prints: the version a run made and what each stage did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunSummary {
    pub version: ObjectId,
    pub content_id: String,
    /// The version the stages read (the import of a file source, or the named version).
    pub source: ObjectId,
    pub rows: u64,
    pub stored_bytes: u64,
    /// Bytes the run added to the store.
    pub new_bytes: u64,
    pub segments: usize,
    /// Segments that keep part of their shard.
    pub selections: usize,
    pub stages: Vec<StageRecord>,
    /// True when every stage was cached and an earlier version already held
    /// this result: that version is the answer, and nothing new was committed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unchanged: bool,
}

impl RunSummary {
    /// The summary of a version made by `sift run`.
    pub fn of(v: &Version) -> Option<RunSummary> {
        let p = v.manifest.lineage.pipeline.as_ref()?;
        let m = &v.manifest;
        Some(RunSummary {
            version: v.id,
            content_id: m.content_id.clone(),
            source: p.source,
            rows: m.stats.rows,
            stored_bytes: m.stats.stored_bytes,
            new_bytes: m.stats.new_bytes,
            segments: m.segments.len(),
            selections: m.segments.iter().filter(|s| s.selection.is_some()).count(),
            stages: p.stages.clone(),
            unchanged: false,
        })
    }

    /// The summary of a run: its version, with what the stages did this time.
    pub fn of_run(ran: &Ran) -> Option<RunSummary> {
        let mut s = RunSummary::of(&ran.version)?;
        s.stages = ran.stages.clone();
        s.unchanged = ran.unchanged;
        Some(s)
    }
}

/// What a run gives back.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The version holding the result: new, or an earlier one when `unchanged`.
    pub version: Version,
    /// Every stage came from the cache and an earlier version already held the result.
    pub unchanged: bool,
    /// What each stage did in this run.
    pub stages: Vec<StageRecord>,
}

/// Runs a validated plan and commits its result.
pub fn run(
    store: &Store,
    plan: &Plan,
    opts: &RunOptions,
    observer: &dyn Observer,
) -> Result<Ran, RunError> {
    let threads = opts.threads.max(1);
    // `device = "gpu"` fails now, before any work, when no GPU is usable.
    if plan.stages.iter().any(|s| s.plan.wants_gpu(opts.device)) {
        crate::gpu::open().map_err(RunError::Gpu)?;
    }
    let shard_opts = ShardOptions {
        target: plan.shard_size,
        threads,
    };
    let source = match &plan.source {
        PlanSource::Version(v) => v.as_ref().clone(),
        PlanSource::Files {
            paths,
            format,
            schema,
            on_bad_row,
        } => {
            let src = Source::open_with(paths, *format, schema.clone(), *on_bad_row)
                .map_err(ImportError::from)?;
            let info = ImportInfo {
                inputs: paths.iter().map(|p| p.display().to_string()).collect(),
                message: Some(format!("source of {}", plan.parsed.path.display())),
                tags: vec![],
                reuse: true,
            };
            import(store, src, shard_opts, info)?
        }
    };

    let (records, current, repeats) = run_stages(store, plan, &source, opts, observer)?;
    if current.rows() == 0 && !plan.allow_empty {
        let last = records
            .iter()
            .rev()
            .find(|r| r.rows_in > 0)
            .map(|r| format!("stage {}", r.name))
            .unwrap_or_else(|| "the source".into());
        return Err(RunError::Empty { last });
    }
    let all_cached = records.iter().all(|r| r.cached);
    let stages = records.clone();
    let mut draft = draft(
        store, plan, &source, &current, repeats, records, shard_opts, opts,
    )?;
    let mut tags: Vec<String> = plan.tag.iter().cloned().collect();
    tags.extend(opts.tags.iter().cloned());
    draft.content_id = Some(draft.content_id(store)?);
    if all_cached && let Some(existing) = version::existing(store, &draft)? {
        let catalog = store.catalog()?;
        for t in &tags {
            catalog.set_tag(t, &existing.id)?;
        }
        return Ok(Ran {
            version: existing,
            unchanged: true,
            stages,
        });
    }
    Ok(Ran {
        version: version::commit(store, draft, &tags)?,
        unchanged: false,
        stages,
    })
}

/// Runs the plan's stages over `source`, through the stage cache: what each
/// stage did, the final selection, and any repeat counts.
fn run_stages(
    store: &Store,
    plan: &Plan,
    source: &Version,
    opts: &RunOptions,
    observer: &dyn Observer,
) -> Result<Stages, RunError> {
    let threads = opts.threads.max(1);
    let source = source.clone();
    let base = SelectionSet::of_version(store, &source)?;
    let mut current = base.clone();
    let mut current_id = current.put(store)?;
    let mut records = Vec::new();
    let mut repeats: Option<Vec<Repeats>> = None;
    for stage in &plan.stages {
        let started = Instant::now();
        let key = blake3::hash(
            format!(
                "{}\n{}\n{}",
                stage.hash, current_id, source.manifest.content_id
            )
            .as_bytes(),
        )
        .to_hex()
        .to_string();
        observer.stage_started(&stage.name, current.rows());
        let (outcome, output_id, cached) = match cached_outcome(store, &key)? {
            Some((outcome, id)) => (outcome, id, true),
            None => {
                let cx = Context {
                    store,
                    source: &source,
                    base: &base,
                    threads,
                    device: opts.device,
                    observer,
                    index: stage.index,
                    name: &stage.name,
                };
                let outcome = stage.plan.run(&cx, &current)?;
                let id = outcome.kept.put(store)?;
                let stats = serde_json::to_value(&outcome.stats).expect("stats serialize");
                store
                    .catalog()?
                    .cache_stage(&key, &id, &outcome.removed, Some(stats))?;
                (outcome, id, false)
            }
        };
        // Repeat counts (an oversampling balance, always the last stage).
        repeats = match outcome.stats.repeats() {
            Some(id) => Some(version::load_repeat_set(store, &id)?),
            None => None,
        };
        let extra: u64 = repeats
            .iter()
            .flatten()
            .flat_map(|r| r.values())
            .map(|&n| n as u64 - 1)
            .sum();
        let record = record(
            stage, &current, current_id, &outcome, output_id, extra, started, cached,
        );
        observer.stage_finished(&record);
        records.push(record);
        current = outcome.kept;
        current_id = output_id;
    }

    Ok((records, current, repeats))
}

/// What the stages did, the final selection, and any repeat counts.
type Stages = (Vec<StageRecord>, SelectionSet, Option<Vec<Repeats>>);

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
    let (stages, kept, repeats) =
        run_stages(&scratch.store, plan, &sample_version, opts, observer)?;
    let extra: u64 = repeats
        .iter()
        .flatten()
        .flat_map(|r| r.values())
        .map(|&n| n as u64 - 1)
        .sum();
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

/// A cached stage output, if its entry and everything it names are still there
/// (`sift gc` may have deleted an unused entry's objects).
fn cached_outcome(store: &Store, key: &str) -> Result<Option<(Outcome, ObjectId)>, RunError> {
    let Some((out_id, removed, extra)) = store.catalog()?.cached_stage(key)? else {
        return Ok(None);
    };
    let Some(stats) = extra.and_then(|v| serde_json::from_value::<StageStats>(v).ok()) else {
        return Ok(None);
    };
    let whole = std::iter::once(out_id)
        .chain(stats.objects().into_iter().map(|(id, _)| id))
        .all(|id| store.objects().contains(&id));
    if !whole {
        return Ok(None);
    }
    Ok(SelectionSet::load(store, &out_id).ok().map(|kept| {
        (
            Outcome {
                kept,
                removed,
                stats,
            },
            out_id,
        )
    }))
}

#[allow(clippy::too_many_arguments)]
fn record(
    stage: &PlanStage,
    input: &SelectionSet,
    input_id: ObjectId,
    outcome: &Outcome,
    output_id: ObjectId,
    repeated: u64,
    started: Instant,
    cached: bool,
) -> StageRecord {
    StageRecord {
        name: stage.name.clone(),
        kind: stage.kind.into(),
        spec_hash: stage.hash.clone(),
        spec: stage.spec.clone(),
        input: input_id,
        output: output_id,
        rows_in: input.rows(),
        rows_out: outcome.kept.rows() + repeated,
        removed: outcome.removed.clone(),
        seconds: started.elapsed().as_secs_f64(),
        cached,
        stats: outcome.stats.clone(),
    }
}

/// The result: the source's shards under the final selections, compacted
/// where they keep few rows.
#[allow(clippy::too_many_arguments)]
fn draft(
    store: &Store,
    plan: &Plan,
    source: &Version,
    selection: &SelectionSet,
    repeats: Option<Vec<Repeats>>,
    records: Vec<StageRecord>,
    shard_opts: ShardOptions,
    opts: &RunOptions,
) -> Result<Draft, RunError> {
    let mut segments = Vec::new();
    for (i, (seg, sel)) in source
        .manifest
        .segments
        .iter()
        .zip(&selection.0)
        .enumerate()
    {
        if sel.is_empty() {
            continue;
        }
        let mut s = seg.clone();
        s.selection = if sel.len() == seg.rows {
            None
        } else {
            Some(store.objects().put(&encode_selection(sel))?.id)
        };
        let mut rows = sel.len();
        s.repeats = None;
        if let Some(r) = repeats.as_ref().map(|r| &r[i]).filter(|r| !r.is_empty()) {
            s.repeats = Some(store.objects().put(&version::encode_repeats(r))?.id);
            rows += r.values().map(|&n| n as u64 - 1).sum::<u64>();
        }
        s.data_bytes =
            (seg.data_bytes as u128 * rows as u128 / seg.selected_rows.max(1) as u128) as u64;
        s.selected_rows = rows;
        segments.push(s);
    }
    let schema = source.schema()?;
    let compacted = compact_segments(store, &schema, segments, plan.compact_below, shard_opts)?;
    let mut draft = Draft::new(schema, compacted.segments, "run", vec![source.id]);
    draft.new_bytes = compacted.new_bytes;
    draft.message = opts.message.clone().or_else(|| plan.message.clone());
    draft.lineage.pipeline = Some(PipelineLineage {
        spec_file: plan.parsed.path.display().to_string(),
        spec: plan.canonical.clone(),
        spec_hash: plan.hash.clone(),
        source: source.id,
        stages: records,
    });
    Ok(draft)
}

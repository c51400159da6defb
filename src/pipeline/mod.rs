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

mod dry_run;
pub mod task;

use std::time::Instant;

use schemars::JsonSchema;
use serde::Serialize;

use crate::gpu::DeviceChoice;
use crate::plan::{Plan, PlanSource, PlanStage};
use crate::source::Source;
use crate::stage::{Context, Observer, Outcome, RunError, StageStats};
use crate::store::shard::ShardOptions;
use crate::store::{ObjectId, Store};
use crate::version::compact::compact_segments;
use crate::version::import::{ImportError, ImportInfo, import};
use crate::version::manifest::{PipelineLineage, StageRecord};
use crate::version::selection::SelectionSet;
use crate::version::{self, Draft, Repeats, Version};

/// Overrides from the command line.
#[derive(Debug, Default)]
pub struct RunOptions {
    pub threads: usize,
    pub tags: Vec<String>,
    pub message: Option<String>,
    /// Overrides every GPU-capable stage's `device`.
    pub device: Option<DeviceChoice>,
    /// What stages that can spill (dedup) may hold in memory; `None`: [`crate::size::default_memory`].
    pub memory: Option<u64>,
    /// Where the stages that run segment by segment run instead of here (a cluster).
    pub remote: Option<std::sync::Arc<dyn Remote>>,
}

/// Runs a stage's segments elsewhere: a task per segment, the parts back in
/// segment order (`sift run --cluster`).
pub trait Remote: std::fmt::Debug + Send + Sync {
    /// The stage's parts, one per segment in order.
    fn run(&self, task: &task::StageTask) -> Result<Vec<crate::stage::Part>, RunError>;
    /// The first pass of `task.only`'s segments (`task.prepare`), by segment.
    fn prepare(&self, task: &task::StageTask) -> Result<Vec<(usize, Vec<u8>)>, RunError>;
    /// The candidate pairs (document, its bucket's first document) of the
    /// band hashes `task.mode = bands` gives, grouped by (band, hash) there.
    fn group(&self, task: &task::StageTask) -> Result<Vec<(u32, u32)>, RunError>;
    /// Hears that a stage runs here, none of it on the cluster, and why
    /// where its kind alone does not say.
    fn runs_here(&self, _task: &task::StageTask, _why: Option<&str>) {}
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

    let Stages {
        records,
        rows,
        kept: current,
        repeats,
    } = run_stages(store, plan, &source, opts, observer)?;
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
        store, plan, &source, &rows, &current, repeats, records, shard_opts, opts,
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

pub use dry_run::{DryRun, dry_run};

/// Runs the plan's stages over `source`, through the stage cache: what each
/// stage did, the rows the last one read, the final selection over them, and
/// any repeat counts. A transform stage hands the stages after it the
/// manifest of the rows it rewrote (see [`crate::stage::transform`]).
pub(crate) fn run_stages(
    store: &Store,
    plan: &Plan,
    source: &Version,
    opts: &RunOptions,
    observer: &dyn Observer,
) -> Result<Stages, RunError> {
    let threads = opts.threads.max(1);
    let mut rows = source.clone();
    let source_base = SelectionSet::of_version(store, &rows)?;
    let mut origins = crate::stage::transform::Origins::default();
    let mut current = source_base.clone();
    let mut current_id = current.put(store)?;
    let mut records = Vec::new();
    let mut repeats: Option<Vec<Repeats>> = None;
    for stage in &plan.stages {
        let started = Instant::now();
        let key = blake3::hash(
            format!(
                "{}\n{}\n{}",
                stage.hash, current_id, rows.manifest.content_id
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
                    source: &rows,
                    base: &source_base,
                    origins: &origins,
                    threads,
                    shard_size: plan.shard_size,
                    device: opts.device,
                    memory: opts
                        .memory
                        .unwrap_or_else(|| crate::size::default_memory().0),
                    observer,
                    index: stage.index,
                    name: &stage.name,
                };
                let outcome = match &opts.remote {
                    Some(remote) if origins.is_empty() => {
                        let t = task::StageTask {
                            sift: task::SIFT_VERSION.into(),
                            store: std::path::absolute(store.root()).map_err(|e| {
                                crate::store::Error::Io {
                                    path: store.root().to_path_buf(),
                                    source: e,
                                }
                            })?,
                            rows: rows.id,
                            input: current_id,
                            kind: stage.kind.into(),
                            spec: stage.spec.clone(),
                            index: stage.index,
                            name: stage.name.clone(),
                            segments: rows.manifest.segments.len(),
                            only: None,
                            inputs: stage.plan.inputs(),
                            mode: task::Mode::Run,
                            aux: None,
                        };
                        remote_stage(remote.as_ref(), t, &stage.plan, &cx, &current)?
                    }
                    _ => stage.plan.run(&cx, &current)?,
                };
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
        let extra = extra_copies(&repeats);
        let record = record(
            stage, &current, current_id, &outcome, output_id, extra, started, cached,
        );
        observer.stage_finished(&record);
        records.push(record);
        if let Some(t) = outcome.stats.rewritten() {
            // The stages after a transform read the rows it passed on, all of them.
            rows = version::load(store, &t.version)?;
            let changed = SelectionSet::load(store, &t.changed)?;
            origins.push(rows.clone(), outcome.kept, changed);
            current = SelectionSet::of_version(store, &rows)?;
            current_id = current.put(store)?;
        } else {
            current = outcome.kept;
            current_id = output_id;
        }
    }

    Ok(Stages {
        records,
        rows,
        kept: current,
        repeats,
    })
}

/// A stage with a cluster at hand: run segment by segment there, or its
/// first pass there and the rest here, or all of it here.
fn remote_stage(
    remote: &dyn Remote,
    mut t: task::StageTask,
    plan: &crate::stage::StagePlan,
    cx: &Context,
    input: &SelectionSet,
) -> Result<Outcome, RunError> {
    if plan.per_segment() {
        plan.keep_inputs(cx.store)?;
        let parts = remote.run(&t)?;
        for b in &input.0 {
            cx.observer.rows_done(b.len());
        }
        return Ok(plan.merge(parts));
    }
    // The stored input selection (the task names it by id).
    let input_id = t.input;
    let mut remote_work = false;
    if let Some(todo) = plan.prepare(cx, input)? {
        remote_work = true;
        t.input = todo.put(cx.store)?;
        t.only = Some(
            (0..todo.0.len() as u32)
                .filter(|&i| !todo.0[i as usize].is_empty())
                .collect(),
        );
        t.mode = task::Mode::Prepare;
        let prepared = remote.prepare(&t)?;
        if plan.gathers() {
            return plan.run_gathered(cx, input, prepared);
        }
        plan.absorb(cx, prepared)?;
    }
    if let Some(aux) = plan.band_sources(cx, input)? {
        t.input = input_id;
        t.only = None;
        t.mode = task::Mode::Bands;
        t.aux = Some(cx.store.objects().put(&aux)?.id);
        let pairs = remote.group(&t)?;
        return plan.run_with_pairs(cx, input, pairs);
    }
    if !remote_work {
        remote.runs_here(&t, plan.why_here());
    }
    plan.run(cx, input)
}

/// Rows that repeat counts add beyond each row's first copy.
pub(crate) fn extra_copies(repeats: &Option<Vec<Repeats>>) -> u64 {
    repeats
        .iter()
        .flatten()
        .flat_map(|r| r.values())
        .map(|&n| n as u64 - 1)
        .sum()
}

/// What the stages did, the rows the last one read, the final selection
/// over them, and any repeat counts.
pub(crate) struct Stages {
    pub records: Vec<StageRecord>,
    pub rows: Version,
    pub kept: SelectionSet,
    pub repeats: Option<Vec<Repeats>>,
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
    // A transform's output rows: its manifest and every shard it names.
    let rows_whole = match stats.rewritten() {
        Some(t) if whole => version::load(store, &t.version).is_ok_and(|v| {
            v.manifest
                .objects()
                .iter()
                .all(|(id, _)| store.objects().contains(id))
        }),
        _ => true,
    };
    if !whole || !rows_whole {
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

/// The result: the shards of the rows the last stage read (the source's,
/// and any a transform wrote) under the final selections, compacted where
/// they keep few rows.
#[allow(clippy::too_many_arguments)]
fn draft(
    store: &Store,
    plan: &Plan,
    source: &Version,
    rows_read: &Version,
    selection: &SelectionSet,
    repeats: Option<Vec<Repeats>>,
    records: Vec<StageRecord>,
    shard_opts: ShardOptions,
    opts: &RunOptions,
) -> Result<Draft, RunError> {
    let mut segments = Vec::new();
    for (i, (seg, sel)) in rows_read
        .manifest
        .segments
        .iter()
        .zip(&selection.0)
        .enumerate()
    {
        if sel.is_empty() {
            continue;
        }
        let mut s = version::restrict(store, seg, sel)?;
        if let Some(r) = repeats.as_ref().map(|r| &r[i]).filter(|r| !r.is_empty()) {
            s.repeats = Some(store.objects().put(&version::encode_repeats(r))?.id);
            let rows = sel.len() + r.values().map(|&n| n as u64 - 1).sum::<u64>();
            s.data_bytes = seg.pro_rata(rows);
            s.selected_rows = rows;
        }
        segments.push(s);
    }
    let schema = rows_read.schema()?;
    let compacted = compact_segments(store, &schema, segments, plan.compact_below, shard_opts)?;
    // What transforms stored this run counts as new, as compaction does.
    let transformed: u64 = records
        .iter()
        .filter(|r| !r.cached)
        .filter_map(|r| r.stats.rewritten())
        .map(|t| t.new_bytes)
        .sum();
    let mut draft = Draft::new(schema, compacted.segments, "run", vec![source.id]);
    draft.new_bytes = compacted.new_bytes + transformed;
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

//! Stages and the runner.
//!
//! ```text
//!  source version ──▶ input selection ──stage 1──▶ selection ──stage 2──▶ … ──▶ final selection
//!                          │                          │                              │
//!                     cache key = (stage hash, input selection id, source content id) │
//!                                                                                    ▼
//!                         version = the source's shards + the final selections (+ compaction)
//! ```
//!
//! Each stage's output is a selection set stored as an object and indexed in
//! the catalog's stage cache, so re-running an unchanged pipeline does no
//! stage work, and changing only the last stage re-runs only it.

pub mod balance;
pub mod dedup;
pub mod filter;
pub mod quality;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use indexmap::IndexMap;
use roaring::RoaringBitmap;

use crate::plan::{Plan, PlanSource, PlanStage, kind_name};
use crate::source::Source;
use crate::store::shard::ShardOptions;
use crate::store::{self, ObjectId, Store};
use crate::version::compact::{CompactError, compact_segments};
use crate::version::import::{ImportError, ImportInfo, import};
use crate::version::manifest::{self, PipelineLineage, StageRecord};
use crate::version::selection::{SelectionSet, segment_batches};
use crate::version::{self, ReadError, Version, encode_selection};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Compact(#[from] CompactError),
    #[error(
        "stage {stage} ({name}): rule `{rule}` = `{expr}` failed on source row {row}: {message}"
    )]
    Row {
        stage: usize,
        name: String,
        rule: String,
        expr: String,
        row: u64,
        message: String,
    },
    #[error("balance by `{label}`: {message}")]
    Balance { label: String, message: String },
    #[error("the GPU cannot be used")]
    Gpu(#[source] crate::gpu::GpuError),
}

impl RunError {
    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Row { .. } => Some("set `on_error = \"drop\"` or `\"keep\"` on the stage to go on past such rows; `sift explain` shows a row".into()),
            RunError::Import(e) => e.hint(),
            RunError::Store(e) => e.hint(),
            RunError::Read(e) => e.hint(),
            RunError::Compact(_) => None,
            RunError::Gpu(e) => e.hint(),
            RunError::Balance { .. } => Some("`sift query` shows the class counts, e.g. SELECT label, count(*) FROM \"<tag>\" GROUP BY label".into()),
        }
    }
}

/// Overrides from the command line.
#[derive(Debug, Default)]
pub struct RunOptions {
    pub threads: usize,
    pub tags: Vec<String>,
    pub message: Option<String>,
    /// Overrides every dedup stage's `device`.
    pub device: Option<crate::gpu::DeviceChoice>,
}

/// Hears what a run is doing (progress bars; all methods optional).
pub trait Observer: Sync {
    fn stage_started(&self, _name: &str, _rows_in: u64) {}
    fn rows_done(&self, _rows: u64) {}
    fn stage_finished(&self, _record: &StageRecord) {}
}

/// Runs a validated plan and commits its result.
pub fn run(
    store: &Store,
    plan: &Plan,
    opts: &RunOptions,
    observer: &dyn Observer,
) -> Result<Version, RunError> {
    let threads = opts.threads.max(1);
    // `device = "gpu"` fails now, before any work, when no GPU is usable.
    let wants_gpu = plan.stages.iter().any(|s| {
        s.dedup.as_ref().is_some_and(|d| {
            d.method == dedup::Method::Minhash
                && opts.device.unwrap_or(d.device) == crate::gpu::DeviceChoice::Gpu
        })
    });
    if wants_gpu {
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
        } => {
            let src = Source::open(paths, *format, schema.clone()).map_err(ImportError::from)?;
            let info = ImportInfo {
                inputs: paths.iter().map(|p| p.display().to_string()).collect(),
                message: Some(format!("source of {}", plan.parsed.path.display())),
                tags: vec![],
            };
            import(store, src, shard_opts, info)?
        }
    };

    let base = SelectionSet::of_version(store, &source)?;
    let mut current = base.clone();
    let mut current_id = current.put(store)?;
    let mut records = Vec::new();
    let mut repeats: Option<Vec<version::Repeats>> = None;
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
        // A cache entry counts only if everything it names is still there
        // (`sift gc` may have deleted an unused entry's objects).
        let cached = store
            .catalog()?
            .cached_stage(&key)?
            .map(|(out_id, removed, extra)| (out_id, removed, StageStats::from_value(stage, extra)))
            .filter(|(out_id, _, stats)| {
                std::iter::once(*out_id)
                    .chain(stats.objects())
                    .all(|id| store.objects().contains(&id))
            })
            .and_then(|(out_id, removed, stats)| {
                SelectionSet::load(store, &out_id)
                    .ok()
                    .map(|sel| (sel, out_id, removed, stats))
            });
        let (output, output_id, removed, stats, cached) = match cached {
            Some((sel, out_id, removed, stats)) => (sel, out_id, removed, stats, true),
            None => {
                let (out, removed, stats) = if let Some(plan) = &stage.dedup {
                    let (out, removed, stats) = dedup::run(
                        store,
                        &source,
                        &current,
                        plan,
                        opts.device,
                        threads,
                        observer,
                    )?;
                    (out, removed, StageStats::Dedup(stats))
                } else if let Some(plan) = &stage.balance {
                    let (out, removed, stats, _) =
                        balance::run(store, &source, &current, plan, threads, observer)?;
                    (out, removed, StageStats::Balance(stats))
                } else {
                    let (out, removed) =
                        run_filter(store, &source, &base, &current, stage, threads, observer)?;
                    (out, removed, StageStats::None)
                };
                let id = out.put(store)?;
                store
                    .catalog()?
                    .cache_stage(&key, &id, &removed, stats.to_value())?;
                (out, id, removed, stats, false)
            }
        };
        // Repeat counts (an oversampling balance, always the last stage).
        repeats = match &stats {
            StageStats::Balance(b) => match &b.repeats {
                Some(id) => Some(balance::load_repeat_set(store, id)?),
                None => None,
            },
            _ => None,
        };
        let extra: u64 = repeats
            .iter()
            .flatten()
            .flat_map(|r| r.values())
            .map(|&n| n as u64 - 1)
            .sum();
        let (dedup_stats, balance_stats) = match stats {
            StageStats::Dedup(d) => (Some(d), None),
            StageStats::Balance(b) => (None, Some(b)),
            StageStats::None => (None, None),
        };
        let record = StageRecord {
            name: stage.name.clone(),
            kind: kind_name(stage.kind).into(),
            spec_hash: stage.hash.clone(),
            spec: stage.spec.clone(),
            input: current_id,
            output: output_id,
            rows_in: current.rows(),
            rows_out: output.rows() + extra,
            removed,
            seconds: started.elapsed().as_secs_f64(),
            cached,
            dedup: dedup_stats,
            balance: balance_stats,
        };
        observer.stage_finished(&record);
        records.push(record);
        current = output;
        current_id = output_id;
    }

    // The result: the source's shards under the final selections.
    let mut segments = Vec::new();
    for (i, (seg, sel)) in source.manifest.segments.iter().zip(&current.0).enumerate() {
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
    let mut m = manifest::Manifest {
        format: manifest::FORMAT,
        content_id: String::new(),
        schema: source.manifest.schema.clone(),
        stats: manifest::Stats {
            rows: compacted.segments.iter().map(|s| s.selected_rows).sum(),
            data_bytes: compacted.segments.iter().map(|s| s.data_bytes).sum(),
            stored_bytes: compacted.segments.iter().map(|s| s.shard_bytes).sum(),
            new_bytes: compacted.new_bytes,
        },
        segments: compacted.segments,
        lineage: manifest::Lineage {
            parents: vec![source.id],
            command: "run".into(),
            inputs: vec![],
            sift_version: env!("CARGO_PKG_VERSION").into(),
            pipeline: Some(PipelineLineage {
                spec_file: plan.parsed.path.display().to_string(),
                spec: plan.canonical.clone(),
                spec_hash: plan.hash.clone(),
                source: source.id,
                stages: records,
            }),
        },
        message: opts.message.clone().or_else(|| plan.message.clone()),
        created: crate::now(),
    };
    let probe = Version {
        id: ObjectId([0; 32]),
        manifest: m.clone(),
    };
    m.content_id = version::recompute_content_id(store, &probe)?;
    let mut tags: Vec<String> = plan.tag.iter().cloned().collect();
    tags.extend(opts.tags.iter().cloned());
    Ok(version::commit(store, m, &tags)?)
}

/// What a stage records besides its selection.
enum StageStats {
    None,
    Dedup(dedup::DedupStats),
    Balance(balance::BalanceStats),
}

impl StageStats {
    fn to_value(&self) -> Option<serde_json::Value> {
        match self {
            StageStats::None => None,
            StageStats::Dedup(d) => Some(serde_json::to_value(d).expect("stats serialize")),
            StageStats::Balance(b) => Some(serde_json::to_value(b).expect("stats serialize")),
        }
    }

    /// Objects the stats name.
    fn objects(&self) -> Vec<ObjectId> {
        match self {
            StageStats::None => vec![],
            StageStats::Dedup(d) => vec![d.details],
            StageStats::Balance(b) => std::iter::once(b.details).chain(b.repeats).collect(),
        }
    }

    fn from_value(stage: &PlanStage, v: Option<serde_json::Value>) -> StageStats {
        let Some(v) = v else {
            return StageStats::None;
        };
        if stage.dedup.is_some() {
            serde_json::from_value(v).map_or(StageStats::None, StageStats::Dedup)
        } else if stage.balance.is_some() {
            serde_json::from_value(v).map_or(StageStats::None, StageStats::Balance)
        } else {
            StageStats::None
        }
    }
}

/// Runs a filter stage over the selected rows, segment by segment, in parallel.
fn run_filter(
    store: &Store,
    source: &Version,
    base: &SelectionSet,
    input: &SelectionSet,
    stage: &PlanStage,
    threads: usize,
    observer: &dyn Observer,
) -> Result<(SelectionSet, IndexMap<String, u64>), RunError> {
    let segments = &source.manifest.segments;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<SegmentOutcome>>> = Mutex::new(vec![None; segments.len()]);
    let failure: Mutex<Option<RunError>> = Mutex::new(None);
    // Segments in parallel; when there are fewer segments than threads, each
    // segment's batches are split across the threads left over.
    let outer = threads.min(segments.len()).max(1);
    let inner = (threads / outer).max(1);
    std::thread::scope(|s| {
        for _ in 0..outer {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= segments.len() || failure.lock().expect("lock").is_some() {
                        return;
                    }
                    match filter_segment(
                        store,
                        i,
                        &segments[i],
                        &input.0[i],
                        stage,
                        inner,
                        observer,
                    ) {
                        Ok(o) => results.lock().expect("lock")[i] = Some(o),
                        Err(e) => {
                            failure.lock().expect("lock").get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().expect("lock") {
        // Report the failing row as a source row index.
        return Err(match e {
            RunError::Row {
                stage: st,
                name,
                rule,
                expr,
                row,
                message,
            } => RunError::Row {
                stage: st,
                name,
                rule,
                expr,
                row: global_row(base, row),
                message,
            },
            other => other,
        });
    }
    let mut removed: IndexMap<String, u64> =
        stage.rules.iter().map(|r| (r.name.clone(), 0)).collect();
    let mut out = Vec::with_capacity(segments.len());
    for r in results.into_inner().expect("lock") {
        let r = r.expect("every segment ran");
        for (k, v) in r.removed {
            *removed.entry(k).or_insert(0) += v;
        }
        out.push(r.kept);
    }
    Ok((SelectionSet(out), removed))
}

#[derive(Clone)]
struct SegmentOutcome {
    kept: RoaringBitmap,
    removed: IndexMap<String, u64>,
}

/// Encodes (segment, shard row) in a u64 until it is mapped to a source row.
fn pack(seg: usize, row: u32) -> u64 {
    ((seg as u64) << 32) | row as u64
}

type BatchVerdicts = Result<Vec<filter::Verdict>, filter::RowError>;

fn filter_segment(
    store: &Store,
    seg_index: usize,
    seg: &version::Segment,
    sel: &RoaringBitmap,
    stage: &PlanStage,
    threads: usize,
    observer: &dyn Observer,
) -> Result<SegmentOutcome, RunError> {
    let batches = segment_batches(store, seg, sel)?;
    // Batches are evaluated on `threads` threads and merged in order, so the
    // outcome does not depend on the thread count.
    let next = AtomicUsize::new(0);
    let verdicts: Mutex<Vec<Option<BatchVerdicts>>> =
        Mutex::new((0..batches.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, batches.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= batches.len() {
                        return;
                    }
                    let v = filter::evaluate(&stage.rules, stage.on_error, &batches[i].1);
                    observer.rows_done(batches[i].1.num_rows() as u64);
                    verdicts.lock().expect("lock")[i] = Some(v);
                }
            });
        }
    });
    let mut kept = RoaringBitmap::new();
    let mut removed: IndexMap<String, u64> = IndexMap::new();
    for ((ids, _), v) in batches.iter().zip(verdicts.into_inner().expect("lock")) {
        let v = v.expect("every batch ran").map_err(|e| {
            let rule = &stage.rules[e.rule];
            RunError::Row {
                stage: stage.index + 1,
                name: stage.name.clone(),
                rule: rule.name.clone(),
                expr: rule.expr.clone(),
                row: pack(seg_index, ids[e.row]),
                message: e.message,
            }
        })?;
        for (id, v) in ids.iter().zip(v) {
            match v {
                filter::Verdict::Keep => {
                    kept.insert(*id);
                }
                filter::Verdict::Removed(r) => {
                    *removed.entry(stage.rules[r].name.clone()).or_insert(0) += 1
                }
                filter::Verdict::Errored(r, _) => {
                    *removed
                        .entry(format!("error:{}", stage.rules[r].name))
                        .or_insert(0) += 1
                }
            }
        }
    }
    Ok(SegmentOutcome { kept, removed })
}

/// Maps a packed (segment, shard row) to its index among the source version's rows.
fn global_row(base: &SelectionSet, packed: u64) -> u64 {
    let (seg, row) = ((packed >> 32) as usize, packed as u32);
    let before: u64 = base.0[..seg.min(base.0.len())]
        .iter()
        .map(|b| b.len())
        .sum();
    before
        + base
            .0
            .get(seg)
            .map(|b| b.rank(row).saturating_sub(1))
            .unwrap_or(0)
}

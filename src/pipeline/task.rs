//! A stage's work on one segment, everything named by id in the store: what
//! `sift run --cluster` sends a cluster's executors, a task per segment.
//!
//! ```text
//!  client: StageTask (JSON) ──▶ executor: open the store read-only ─▶ load rows, input
//!                                  selection, spec ─▶ validate ─▶ run_segment ─▶ Part
//!  client: Parts in segment order ──▶ StagePlan::merge ──▶ Outcome (as a local run's)
//! ```
//!
//! Executors read the same store as the client: the same path on a shared
//! filesystem, or the path `sift cluster executor --store` gives. They write
//! nothing to it. A task carries sift's version, and an executor of another
//! version refuses it: the same spec must mean the same code.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::stage::{Check, Context, Inputs, Observer, Part, StagePlan};
use crate::store::{ObjectId, Store};
use crate::version::{self, selection::SelectionSet};

/// sift's version, which a task and the executor running it must share.
pub const SIFT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One stage of a run, for the segments of its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTask {
    /// The sift that made the task.
    pub sift: String,
    /// The store's path on the client.
    pub store: PathBuf,
    /// The version whose rows the stage reads.
    pub rows: ObjectId,
    /// The selection of those rows the stage sees (a stored object).
    pub input: ObjectId,
    pub kind: String,
    /// The stage's canonical spec (JSON), as a manifest records it.
    pub spec: String,
    /// 0-based position in the pipeline, and name, for messages.
    pub index: usize,
    pub name: String,
    /// Segments of `rows`.
    pub segments: usize,
    /// The segments to run, if not all (one task each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Vec<u32>>,
    /// The content ids of the files the stage reads (a model, a
    /// tokenizer), whose bytes the client has kept in the store.
    #[serde(default, skip_serializing_if = "Inputs::is_empty")]
    pub inputs: Inputs,
    /// What to do with each segment.
    #[serde(default)]
    pub mode: Mode,
    /// A stored object the mode reads (for `bands`: the stage's own description of where its data is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux: Option<ObjectId>,
}

/// What a task does with its segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Run the stage on it ([`crate::stage::StagePlan::run_segment`]).
    #[default]
    Run,
    /// Its first pass on `input`'s rows ([`crate::stage::StagePlan::prepare_segment`]).
    Prepare,
    /// (band, hash, document) of each row, for the engine to group
    /// ([`crate::stage::StagePlan::band_rows`]).
    Bands,
}

/// What a task gives back for its segment.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The stage's part of it.
    Part(Part),
    /// Its first pass, as bytes.
    Prepared(Vec<u8>),
    /// (band, hash, document) of each of its rows.
    Bands(Vec<(u32, u64, u32)>),
}

/// Why a task failed on an executor: a sentence and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskError {
    pub message: String,
    pub hint: Option<String>,
}

impl TaskError {
    fn new(message: impl Into<String>, hint: Option<&str>) -> TaskError {
        TaskError {
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

struct Quiet;
impl Observer for Quiet {}

impl StageTask {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a task serializes")
    }

    pub fn decode(bytes: &[u8]) -> Result<StageTask, TaskError> {
        serde_json::from_slice(bytes).map_err(|e| {
            TaskError::new(
                format!("the task could not be read: {e}"),
                Some("the client and the executors must run the same sift"),
            )
        })
    }

    /// That an executor running sift `own` may run the task: the same
    /// version made it.
    pub fn check_version(&self, own: &str) -> Result<(), TaskError> {
        if self.sift == own {
            return Ok(());
        }
        Err(TaskError::new(
            format!(
                "the executor runs sift {own}, and the run's sift is {}: it refused the task",
                self.sift
            ),
            Some("run the same sift on the client, the scheduler and every executor"),
        ))
    }

    /// Runs the stage on segment `segment` of its input, reading the store at
    /// `store` (the executor's own path to it) or else at the client's path.
    pub fn run(
        &self,
        store: Option<&Path>,
        segment: usize,
        threads: usize,
    ) -> Result<Output, TaskError> {
        let root = store.unwrap_or(&self.store);
        let unreadable = |e: &dyn std::fmt::Display| {
            TaskError::new(
                format!("cannot read the store at {}: {e}", root.display()),
                Some(
                    "executors read shards from the client's store: mount it at the same path \
                     (a shared filesystem), or give this machine's path to it with `sift cluster executor --store-path`",
                ),
            )
        };
        let store = Store::open_shared(root).map_err(|e| unreadable(&e))?;
        let rows = version::load(&store, &self.rows).map_err(|e| unreadable(&e))?;
        let input = SelectionSet::load(&store, &self.input).map_err(|e| unreadable(&e))?;
        if input.0.len() != self.segments || rows.manifest.segments.len() != self.segments {
            return Err(TaskError::new(
                format!(
                    "the task names {} segments, but the store holds {} rows segments and {} selected",
                    self.segments,
                    rows.manifest.segments.len(),
                    input.0.len()
                ),
                None,
            ));
        }
        let Some(rows_in) = input.0.get(segment) else {
            return Err(TaskError::new(
                format!(
                    "segment {segment} is out of range (there are {})",
                    self.segments
                ),
                None,
            ));
        };
        let plan = self.plan(&store, &rows)?;
        let base = SelectionSet::of_version(&store, &rows).map_err(|e| unreadable(&e))?;
        let origins = crate::stage::transform::Origins::default();
        let cx = Context {
            store: &store,
            source: &rows,
            base: &base,
            origins: &origins,
            threads: threads.max(1),
            shard_size: crate::store::shard::DEFAULT_SHARD_SIZE,
            device: None,
            memory: crate::size::default_memory().0,
            observer: &Quiet,
            index: self.index,
            name: &self.name,
        };
        let failed = |e: crate::stage::RunError| match e {
            // Already a sentence about this stage on the cluster.
            crate::stage::RunError::Cluster { message, hint, .. } => TaskError { message, hint },
            e => TaskError {
                message: e.to_string(),
                hint: e.hint(),
            },
        };
        let out = match self.mode {
            Mode::Prepare => plan
                .prepare_segment(&cx, segment, rows_in)
                .map(|r| r.map(Output::Prepared).map_err(failed)),
            Mode::Run => plan
                .run_segment(&cx, segment, rows_in)
                .map(|r| r.map(Output::Part).map_err(failed)),
            Mode::Bands => {
                let aux = match self.aux {
                    Some(id) => store.objects().get(&id).map_err(|e| unreadable(&e))?,
                    None => Vec::new(),
                };
                let first = input.0[..segment].iter().map(|b| b.len()).sum::<u64>();
                plan.band_rows(&cx, segment, rows_in, first, &aux)
                    .map(|r| r.map(Output::Bands).map_err(failed))
            }
        };
        out.unwrap_or_else(|| {
            Err(TaskError::new(
                format!("a {} stage does not run segment by segment", self.kind),
                None,
            ))
        })
    }

    /// The stage's plan, validated again against the rows it reads.
    pub fn plan(&self, store: &Store, rows: &version::Version) -> Result<StagePlan, TaskError> {
        let spec = crate::stage::recorded_spec(&self.kind, &self.spec)
            .map_err(|e| TaskError::new(format!("stage {}: {e}", self.name), None))?;
        let schema = rows
            .schema()
            .map_err(|e| TaskError::new(e.to_string(), None))?;
        spec.validate(&Check {
            schema: &schema,
            store,
            dir: None,
            inputs: &self.inputs,
        })
        .map_err(|e| {
            TaskError::new(
                format!("stage {}, field `{}`: {}", self.name, e.field, e.message),
                None,
            )
        })
    }
}

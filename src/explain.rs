//! Why a row of a `sift run` version is there, or which stage removed it.
//!
//! A row is followed through the stages' recorded output selections; the
//! first stage that did not keep it is asked (through its own `explain`) why.

use arrow::util::display::{ArrayFormatter, FormatOptions};
use schemars::JsonSchema;
use serde::Serialize;

use crate::stage::transform::{Edit, Origins, follow};
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::stage::{Check, Detail, ExplainContext, Reason, RowCache, RunError, StagePlan};
use crate::store::{self, Store};
use crate::version::manifest::{PipelineLineage, StageRecord};
use crate::version::selection::SelectionSet;
use crate::version::{self, Version};

/// What happened to one source row.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Explanation {
    /// The row's index among the source's rows.
    pub row: u64,
    pub kept: bool,
    /// Where a kept row is in the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// The stage that removed it (1-based), its name and kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason<Detail>>,
    /// What transform stages rewrote in the row, stage by stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// What one transform stage rewrote in a row.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Change {
    /// The stage (1-based), its name and kind.
    pub stage: usize,
    pub stage_name: String,
    pub kind: String,
    /// Each edit, in the order the stage made them.
    pub edits: Vec<Edit>,
}

/// How a row is named: by index, or by a column's value.
#[derive(Debug, Clone)]
pub enum RowRef {
    Index(u64),
    Key { column: String, value: String },
}

/// Why explaining failed.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{id} was made by `sift {command}`, not `sift run`: it keeps every row of its input")]
    NotARun { id: String, command: String },
    #[error(
        "row {row} is out of range: the source {source_id} has {rows} rows (0..{})",
        rows.saturating_sub(1)
    )]
    OutOfRange {
        row: u64,
        source_id: String,
        rows: u64,
    },
    #[error("the source has no column '{column}'; its columns are: {}", columns.join(", "))]
    NoColumn {
        column: String,
        columns: Vec<String>,
    },
    #[error("no row of source {source_id} has {column} = {value}")]
    NoSuchRow {
        source_id: String,
        column: String,
        value: String,
    },
    #[error("could not read the source's rows: {0}")]
    Read(String),
    #[error("there is no stage {stage}: the version was made by {stages} stage(s)")]
    NoStage { stage: usize, stages: usize },
}

impl ExplainError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ExplainError::Store(e) => e.hint(),
            ExplainError::Run(e) => e.hint(),
            ExplainError::NotARun { .. } => Some(
                "explain a version made by `sift run`; `sift log` shows how each was made".into(),
            ),
            ExplainError::OutOfRange { .. } => {
                Some("rows are numbered from 0 in source order".into())
            }
            ExplainError::NoSuchRow { .. } => Some(
                "`sift query` finds rows by value, e.g. SELECT * FROM \"<tag>\" WHERE ...".into(),
            ),
            ExplainError::NoStage { .. } => {
                Some("stages are numbered from 1; `sift show REF` lists them".into())
            }
            ExplainError::NoColumn { .. } | ExplainError::Read(_) => None,
        }
    }
}

/// The source a `sift run` version was made from.
pub fn source_of(store: &Store, v: &Version) -> Result<Version, ExplainError> {
    Ok(run_of(store, v)?.0)
}

/// The source and the pipeline lineage of a `sift run` version.
fn run_of<'v>(
    store: &Store,
    v: &'v Version,
) -> Result<(Version, &'v PipelineLineage), ExplainError> {
    let Some(p) = &v.manifest.lineage.pipeline else {
        return Err(ExplainError::NotARun {
            id: v.id.short().to_string(),
            command: v.manifest.lineage.command.clone(),
        });
    };
    Ok((version::load(store, &p.source)?, p))
}

/// Explains each source row `row` names in the version `v`.
pub fn explain(store: &Store, v: &Version, row: &RowRef) -> Result<Vec<Explanation>, ExplainError> {
    let (source, p) = run_of(store, v)?;
    let base = SelectionSet::of_version(store, &source)?;
    let total = base.rows();
    let rows = match row {
        RowRef::Index(r) if *r < total => vec![*r],
        RowRef::Index(r) => {
            return Err(ExplainError::OutOfRange {
                row: *r,
                source_id: source.id.short().to_string(),
                rows: total,
            });
        }
        RowRef::Key { column, value } => {
            let found = find_by_key(store, &source, column, value)?;
            if found.is_empty() {
                return Err(ExplainError::NoSuchRow {
                    source_id: source.id.short().to_string(),
                    column: column.clone(),
                    value: value.clone(),
                });
            }
            found
        }
    };
    let mut out = Vec::new();
    for global in rows {
        out.push(explain_row(store, &source, &base, &p.stages, global)?);
    }
    Ok(out)
}

/// What one stage of a run read and removed.
pub struct StageWalk {
    /// The rows the stage read, and how they came from the source's.
    pub rows: Version,
    origins: Origins,
    /// The rows it removed, per segment of `rows`.
    pub removed: Vec<roaring::RoaringBitmap>,
    /// Canonical bytes of the rows it read and kept (pro rata under selections).
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// A walk through a run's stages: its source, the source's rows, its
/// lineage, and what each stage read and removed.
pub struct RunWalk<'v> {
    pub source: Version,
    pub base: SelectionSet,
    pub lineage: &'v PipelineLineage,
    pub stages: Vec<StageWalk>,
}

/// Walks the stages of run `v` (checking that stage `stage`, 1-based, exists).
pub fn walk<'v>(
    store: &Store,
    v: &'v Version,
    stage: Option<usize>,
) -> Result<RunWalk<'v>, ExplainError> {
    let (source, p) = run_of(store, v)?;
    if let Some(k) = stage
        && (k == 0 || k > p.stages.len())
    {
        return Err(ExplainError::NoStage {
            stage: k,
            stages: p.stages.len(),
        });
    }
    let base = SelectionSet::of_version(store, &source)?;
    let mut rows = source.clone();
    let mut origins = Origins::default();
    let mut out = Vec::new();
    let bytes = |rows: &Version, set: &SelectionSet| -> u64 {
        rows.manifest
            .segments
            .iter()
            .zip(&set.0)
            .map(|(seg, b)| seg.pro_rata(b.len()))
            .sum()
    };
    for st in &p.stages {
        let input = SelectionSet::load(store, &st.input)?;
        let output = SelectionSet::load(store, &st.output)?;
        let removed = input.0.iter().zip(&output.0).map(|(i, o)| i - o).collect();
        out.push(StageWalk {
            bytes_in: bytes(&rows, &input),
            bytes_out: bytes(&rows, &output),
            rows: rows.clone(),
            origins: origins.clone(),
            removed,
        });
        if let Some(t) = st.stats.rewritten() {
            let changed = SelectionSet::load(store, &t.changed)?;
            rows = version::load(store, &t.version)?;
            origins.push(rows.clone(), output, changed);
        }
    }
    Ok(RunWalk {
        source,
        base,
        lineage: p,
        stages: out,
    })
}

/// A removed row as (source segment, shard row), and why.
pub type Reasoned = ((usize, u32), Reason<Detail>);

impl RunWalk<'_> {
    /// (source segment, shard row) of stage `k`'s (0-based) row `at`.
    pub fn to_source(&self, k: usize, at: (usize, u32)) -> (usize, u32) {
        self.stages[k].origins.to_source(at)
    }

    /// The index among the source's rows of stage `k`'s row `at`.
    pub fn source_row(&self, k: usize, at: (usize, u32)) -> u64 {
        let (s, r) = self.to_source(k, at);
        self.base.position(s, r)
    }

    /// Why stage `k` (0-based) removed each of the rows `want` (per segment
    /// of the rows it read), each as (source segment, shard row) and its
    /// reason, in the stage's row order. Rows are taken from `cache` where
    /// it holds them (see [`RowCache::read`]), else read one at a time.
    pub fn reasons(
        &self,
        store: &Store,
        k: usize,
        want: &[roaring::RoaringBitmap],
        cache: &RowCache,
    ) -> Result<Vec<Reasoned>, ExplainError> {
        let (w, st) = (&self.stages[k], &self.lineage.stages[k]);
        if want.iter().all(|b| b.is_empty()) {
            return Ok(vec![]);
        }
        let recorded = |message: String| RunError::Recorded {
            stage: k + 1,
            name: st.name.clone(),
            message,
        };
        let plan = recorded_plan(store, &w.rows, st).map_err(recorded)?;
        let mut out = Vec::new();
        for (seg, rows) in want.iter().enumerate() {
            for row in rows {
                let cx = ExplainContext {
                    store,
                    source: &w.rows,
                    base: &self.base,
                    origins: &w.origins,
                    stats: &st.stats,
                    at: (seg, row),
                    cache: Some(cache),
                };
                out.push((w.origins.to_source((seg, row)), plan.explain(&cx)?));
            }
        }
        Ok(out)
    }
}

/// A seeded sample of `limit` source rows the version's stages removed
/// (only stage `stage`, 1-based, when given), each explained, in source
/// order. The same seed draws the same rows.
pub fn removed(
    store: &Store,
    v: &Version,
    stage: Option<usize>,
    limit: usize,
    seed: u64,
) -> Result<Vec<Explanation>, ExplainError> {
    let run = walk(store, v, stage)?;
    let mut picked: Vec<(u64, u64)> = Vec::new();
    for (k, w) in run.stages.iter().enumerate() {
        if stage.is_some_and(|s| s != k + 1) {
            continue;
        }
        for (seg, rows) in w.removed.iter().enumerate() {
            for row in rows {
                let global = run.source_row(k, (seg, row));
                let rank = xxhash_rust::xxh3::xxh3_64_with_seed(&global.to_le_bytes(), seed);
                picked.push((rank, global));
            }
        }
        // Keep the sample small as it grows.
        if picked.len() > 4 * limit.max(1) {
            picked.sort_unstable();
            picked.truncate(limit);
        }
    }
    picked.sort_unstable();
    picked.truncate(limit);
    let mut rows: Vec<u64> = picked.into_iter().map(|(_, g)| g).collect();
    rows.sort_unstable();
    rows.into_iter()
        .map(|g| explain_row(store, &run.source, &run.base, &run.lineage.stages, g))
        .collect()
}

/// Every source row the version's stages removed (only stage `stage` when
/// given), in source order: the source's columns, then `stage` (1-based),
/// `stage_name`, `kind`, `rule` and `reason`. Each stage's rows are read
/// once, and each kind says why it removed each row.
pub fn removed_rows(
    store: &Store,
    v: &Version,
    stage: Option<usize>,
) -> Result<(SchemaRef, Vec<RecordBatch>), ExplainError> {
    let run = walk(store, v, stage)?;
    let (source, p) = (&run.source, run.lineage);
    // (source segment, shard row) → (stage, rule, reason).
    let mut why: std::collections::BTreeMap<(usize, u32), (usize, Option<String>, String)> =
        Default::default();
    for (k, w) in run.stages.iter().enumerate() {
        if stage.is_some_and(|s| s != k + 1) {
            continue;
        }
        let cache = RowCache::read(store, &w.rows, &w.removed)?;
        for (at, r) in run.reasons(store, k, &w.removed, &cache)? {
            why.insert(at, (k + 1, r.rule, r.because));
        }
    }
    let mut want = vec![roaring::RoaringBitmap::new(); source.manifest.segments.len()];
    for (s, r) in why.keys() {
        want[*s].insert(*r);
    }
    let schema = source.schema()?;
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("stage", DataType::Int64, false));
    fields.push(Field::new("stage_name", DataType::Utf8, false));
    fields.push(Field::new("kind", DataType::Utf8, false));
    fields.push(Field::new("rule", DataType::Utf8, true));
    fields.push(Field::new("reason", DataType::Utf8, false));
    let out_schema = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    for (seg, sel) in want.iter().enumerate() {
        for (ids, batch) in
            crate::version::selection::segment_batches(store, &source.manifest.segments[seg], sel)
                .map_err(RunError::from)?
        {
            let meta: Vec<&(usize, Option<String>, String)> =
                ids.iter().map(|r| &why[&(seg, *r)]).collect();
            let st = |m: &&(usize, Option<String>, String)| &p.stages[m.0 - 1];
            let mut cols = batch.columns().to_vec();
            cols.push(Arc::new(Int64Array::from_iter_values(
                meta.iter().map(|m| m.0 as i64),
            )));
            cols.push(Arc::new(StringArray::from_iter_values(
                meta.iter().map(|m| st(m).name.clone()),
            )));
            cols.push(Arc::new(StringArray::from_iter_values(
                meta.iter().map(|m| st(m).kind.clone()),
            )));
            cols.push(Arc::new(StringArray::from_iter(
                meta.iter().map(|m| m.1.clone()),
            )));
            cols.push(Arc::new(StringArray::from_iter_values(
                meta.iter().map(|m| m.2.clone()),
            )));
            batches.push(
                RecordBatch::try_new(out_schema.clone(), cols)
                    .map_err(|e| ExplainError::Read(e.to_string()))?,
            );
        }
    }
    Ok((out_schema, batches))
}

/// `removed('tag')` and `removed('tag', 2)` for `sift query`: the rows a
/// run's stages removed, with why (see [`removed_rows`]).
#[derive(Debug)]
pub struct RemovedFunction {
    pub store: Store,
}

impl datafusion::catalog::TableFunctionImpl for RemovedFunction {
    fn call_with_args(
        &self,
        args: datafusion::catalog::TableFunctionArgs,
    ) -> datafusion::error::Result<Arc<dyn datafusion::catalog::TableProvider>> {
        use datafusion::common::ScalarValue;
        use datafusion::error::DataFusionError;
        use datafusion::logical_expr::Expr;
        let usage = || {
            DataFusionError::Plan(
                "removed() takes a version and optionally a stage: removed('clean') or removed('clean', 2)"
                    .into(),
            )
        };
        let exprs = args.exprs();
        let reference = match exprs.first() {
            Some(Expr::Literal(ScalarValue::Utf8(Some(s)), _)) => s.clone(),
            _ => return Err(usage()),
        };
        let stage = match exprs.get(1) {
            None => None,
            Some(Expr::Literal(v, _)) => match v.cast_to(&DataType::Int64) {
                Ok(ScalarValue::Int64(Some(n))) if n > 0 => Some(n as usize),
                _ => return Err(usage()),
            },
            Some(_) => return Err(usage()),
        };
        if exprs.len() > 2 {
            return Err(usage());
        }
        let external = |e: String| DataFusionError::Plan(e);
        let v = version::resolve(&self.store, &reference).map_err(|e| external(e.to_string()))?;
        let (schema, batches) =
            removed_rows(&self.store, &v, stage).map_err(|e| external(e.to_string()))?;
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
        Ok(Arc::new(table))
    }
}

/// Follows source row `global` through `stages`.
fn explain_row(
    store: &Store,
    source: &Version,
    base: &SelectionSet,
    stages: &[StageRecord],
    global: u64,
) -> Result<Explanation, ExplainError> {
    let mut at = locate(base, global);
    let mut explanation = Explanation {
        row: global,
        kept: true,
        position: None,
        stage: None,
        stage_name: None,
        kind: None,
        reason: None,
        changes: vec![],
    };
    // The rows the stage reads: the source's, until a transform passes on its own.
    let mut rows = source.clone();
    let mut origins = Origins::default();
    let mut last = base.clone();
    for (k, st) in stages.iter().enumerate() {
        let output = SelectionSet::load(store, &st.output)?;
        let kept = output.0[at.0].contains(at.1);
        let rewritten = st.stats.rewritten().filter(|_| kept);
        if kept && rewritten.is_none() {
            last = output;
            continue;
        }
        let recorded = |message: String| RunError::Recorded {
            stage: k + 1,
            name: st.name.clone(),
            message,
        };
        let plan = recorded_plan(store, &rows, st).map_err(recorded)?;
        let cx = ExplainContext {
            store,
            source: &rows,
            base,
            origins: &origins,
            stats: &st.stats,
            at,
            cache: None,
        };
        if let Some(t) = rewritten {
            let changed = SelectionSet::load(store, &t.changed)?;
            if changed.0[at.0].contains(at.1) {
                explanation.changes.push(Change {
                    stage: k + 1,
                    stage_name: st.name.clone(),
                    kind: st.kind.clone(),
                    edits: plan.edits(&cx)?,
                });
            }
            let next = version::load(store, &t.version)?;
            at = follow(&next, &output, &changed, at);
            rows = next;
            last = SelectionSet::of_version(store, &rows)?;
            origins.push(rows.clone(), output, changed);
            continue;
        }
        let reason = plan.explain(&cx).map_err(|e| match e {
            RunError::Recorded { message, .. } => recorded(message),
            e => e,
        })?;
        explanation.kept = false;
        explanation.stage = Some(k + 1);
        explanation.stage_name = Some(st.name.clone());
        explanation.kind = Some(st.kind.clone());
        explanation.reason = Some(reason);
        return Ok(explanation);
    }
    explanation.position = Some(last.position(at.0, at.1));
    Ok(explanation)
}

/// A recorded stage's plan, validated again against the rows it read.
fn recorded_plan(store: &Store, rows: &Version, st: &StageRecord) -> Result<StagePlan, String> {
    let spec = crate::stage::recorded_spec(&st.kind, &st.spec)?;
    let schema = rows.schema().map_err(|e| e.to_string())?;
    spec.validate(&Check {
        schema: &schema,
        store,
        dir: None,
        inputs: &st.inputs(),
    })
    .map_err(|e| format!("field `{}`: {}", e.field, e.message))
}

/// (segment, shard row) of the source's `global`-th row.
fn locate(base: &SelectionSet, mut global: u64) -> (usize, u32) {
    for (i, b) in base.0.iter().enumerate() {
        if global < b.len() {
            return (i, b.select(global as u32).expect("in range"));
        }
        global -= b.len();
    }
    unreachable!("row index checked against the row count")
}

fn find_by_key(
    store: &Store,
    source: &Version,
    col: &str,
    value: &str,
) -> Result<Vec<u64>, ExplainError> {
    let schema = source.schema()?;
    let Ok(idx) = schema.index_of(col) else {
        return Err(ExplainError::NoColumn {
            column: col.to_string(),
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
        });
    };
    let mut out = Vec::new();
    let mut offset = 0u64;
    for b in version::rows(store, source)? {
        let b = b.map_err(|e| ExplainError::Read(e.to_string()))?;
        let f = ArrayFormatter::try_new(b.column(idx).as_ref(), &FormatOptions::default())
            .map_err(|e| ExplainError::Read(e.to_string()))?;
        for i in 0..b.num_rows() {
            if f.value(i).to_string() == value {
                out.push(offset + i as u64);
            }
        }
        offset += b.num_rows() as u64;
    }
    Ok(out)
}

//! `sift report`: one self-contained HTML page (inline CSS and SVG, no
//! script, no network) that shows a version: who it is, what each stage of
//! its run did, its columns, its quality metrics against the filters'
//! thresholds, and sampled rows each stage removed, with why. Or, for two
//! versions, what changed between them.
//!
//! ```text
//!  manifest + stage records ──▶ identity, lineage, funnel (no row data)
//!  selections + details     ──▶ removed rows ranked by a seeded hash ──▶ explained in bulk
//!  sidecars                 ──▶ a seeded sample of each side ──▶ columns, metrics
//!  Report (JSON, schemas/report.schema.json) ──html──▶ the page
//! ```
//!
//! Only the sampled rows are decoded, so a report costs about the same for
//! a thousand rows or a million. The same version and seed give the same
//! bytes.

pub mod html;
mod sample;
mod svg;

use indexmap::IndexMap;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::Serialize;

use crate::explain::{self, ExplainError, RunWalk};
use crate::stage::{RowCache, RowWants};
use crate::store::{self, ObjectId, Store};
use crate::version::Version;
use crate::version::diff::{self, Diff, DiffError};
use crate::version::manifest::PipelineLineage;
use crate::version::stats::{Benchmark, ClassCounts, RowCount, StageStats, TokensStats};

pub use sample::METRICS;

/// What a report looks at.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows sampled from each side for the columns and metrics.
    pub sample: usize,
    pub seed: u64,
    /// Rows shown per rule, per dedup stage and per class.
    pub rows: usize,
    /// The text column (default: `text`, else the first string column).
    pub column: Option<String>,
    /// For two versions: key columns pairing modified rows, and a label column.
    pub keys: Vec<String>,
    pub label: Option<String>,
    /// Threads reading shards (the report is the same on any number).
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sample: 2000,
            seed: 1,
            rows: 3,
            column: None,
            keys: vec![],
            label: None,
            threads: 1,
        }
    }
}

/// The report of one version.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// The report format version.
    pub format: u32,
    pub seed: u64,
    pub identity: Identity,
    /// From the source version through each stage to this one.
    pub lineage: Vec<Node>,
    /// What each stage read, kept and removed (empty for a version not made by `sift run`).
    pub funnel: Vec<StageFunnel>,
    pub columns: Columns,
    pub quality: Quality,
    pub samples: Samples,
}

/// The report of two versions: what changed from A to B.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DiffReport {
    pub format: u32,
    pub seed: u64,
    pub a: Identity,
    pub b: Identity,
    /// Rows added, removed and modified; class shift; schema change; spec diff.
    pub diff: Diff,
    /// Metrics of both, series `A` and `B`.
    pub quality: Quality,
}

/// Who a version is.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Identity {
    /// How it was named.
    pub reference: String,
    pub version: ObjectId,
    pub content_id: String,
    pub tags: Vec<String>,
    pub created: String,
    pub message: Option<String>,
    /// The command that made it (`import`, `run`, …).
    pub command: String,
    pub sift_version: String,
    /// Where MinHash signatures were computed (`cpu` or a GPU's name), for a run with a dedup stage.
    pub device: Option<String>,
    pub rows: u64,
    pub data_bytes: u64,
    pub stored_bytes: u64,
    /// The spec file of a run, and the BLAKE3 of its canonical form.
    pub spec_file: Option<String>,
    pub spec_hash: Option<String>,
}

/// One step of the lineage.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Node {
    /// `source`, `stage` or `version`.
    pub role: String,
    pub label: String,
    /// The version; for a stage, its output selection object, or for a
    /// stage that rewrites rows the manifest of the rows it passed on.
    pub id: ObjectId,
    /// Rows at this step.
    pub rows: u64,
}

/// What one stage did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StageFunnel {
    /// 1-based.
    pub stage: usize,
    pub name: String,
    pub kind: String,
    pub rows_in: u64,
    pub rows_out: u64,
    /// Canonical bytes read and kept (pro rata where a segment keeps part of its shard).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Rows removed per rule, in spec order.
    pub removed: IndexMap<String, u64>,
    pub seconds: f64,
    pub cached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedup: Option<DedupFunnel>,
    /// Class counts before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<IndexMap<String, ClassCounts>>,
    /// Rows per detected language before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<IndexMap<String, RowCount>>,
    /// For a classifier stage: rows per tenth of the score range before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<IndexMap<String, RowCount>>,
    /// For a tokens stage: its tokenizer and token totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokensStats>,
    /// Per eval set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decontaminate: Option<IndexMap<String, Benchmark>>,
    /// For a stage that rewrites rows: rows rewritten and edits per rule or entity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrites: Option<Rewrites>,
}

/// A dedup stage's clusters.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DedupFunnel {
    pub method: String,
    pub clusters: u64,
    pub removed: u64,
    /// Removed rows identical to the row kept (Jaccard 1), and the others.
    pub exact: u64,
    pub near: u64,
    /// Cluster size → clusters.
    pub histogram: IndexMap<String, u64>,
}

/// What a transform stage rewrote.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Rewrites {
    pub rows_changed: u64,
    pub edits: IndexMap<String, u64>,
}

/// Column statistics, on the version's sample.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Columns {
    /// Rows sampled, of how many.
    pub sampled: u64,
    pub of_rows: u64,
    pub columns: Vec<ColumnStats>,
}

/// One column, like the Hugging Face viewer's statistics.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ColumnStats {
    pub name: String,
    /// The Arrow type.
    pub data_type: String,
    pub sampled: u64,
    pub nulls: u64,
    pub null_fraction: f64,
    /// Distinct values (strings and other non-numbers).
    pub distinct: Option<u64>,
    /// Numbers: `value`; text: `characters` and `words`.
    pub histograms: Vec<Histogram>,
    /// Labels: the most frequent values.
    pub top: Vec<TopValue>,
}

/// Counts in bins: `counts[i]` is of `edges[i] <= x < edges[i + 1]`; the
/// last bin also holds what lies past it, the first what lies before it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Histogram {
    pub of: String,
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

/// A frequent value and how often it occurs in the sample.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TopValue {
    pub value: String,
    pub count: u64,
    /// True for the line that sums up the values not listed.
    pub other: bool,
}

/// Quality metrics on seeded samples.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Quality {
    /// The text column measured (none: no string column).
    pub column: Option<String>,
    /// Each series (`source` and `version`, or `A` and `B`) and its rows sampled.
    pub series: IndexMap<String, u64>,
    pub metrics: Vec<Metric>,
}

/// One metric's histograms, one per series, on the same bins.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Metric {
    pub name: String,
    pub edges: Vec<f64>,
    /// Series → counts.
    pub counts: IndexMap<String, Vec<u64>>,
    /// Filter rules that compare this metric to a number.
    pub thresholds: Vec<Threshold>,
}

/// A filter rule's threshold on a metric.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Threshold {
    /// The metric compared.
    pub metric: String,
    pub stage: usize,
    pub rule: String,
    /// `<`, `<=`, `>`, `>=`.
    pub op: String,
    pub value: f64,
    /// True where rows for which the comparison holds are kept (a `where`
    /// comparison), false where they are removed (a named rule's, or a rule set's).
    pub keeps: bool,
    /// What it came from: the comparison, or the rule set (`gopher_quality`) that holds it.
    pub from: String,
}

/// Rows shown as examples.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Samples {
    /// Per stage and rule: removed rows.
    pub rules: Vec<RuleSample>,
    /// Per dedup stage: a removed row beside the row kept in its place.
    pub clusters: Vec<Cluster>,
    /// Per balance stage: kept rows of each class.
    pub classes: Vec<ClassSample>,
}

/// Removed rows of one rule.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RuleSample {
    pub stage: usize,
    pub stage_name: String,
    pub kind: String,
    pub rule: String,
    /// Rows the rule removed in all.
    pub removed: u64,
    pub rows: Vec<Row>,
}

/// A row, its text shortened.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Row {
    /// The row's index among the source's rows (or the version's, for class samples).
    pub row: u64,
    pub text: String,
    /// True when the text was cut.
    pub cut: bool,
    pub reason: Option<String>,
}

/// A removed near duplicate and the row kept in its place.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Cluster {
    pub stage: usize,
    pub stage_name: String,
    pub jaccard: f64,
    pub kept: Row,
    pub removed: Row,
}

/// Kept rows of one class of a balance stage.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ClassSample {
    pub stage: usize,
    pub label: String,
    pub class: String,
    /// Rows of the class in the version.
    pub rows_after: u64,
    pub rows: Vec<Row>,
}

/// Why a report failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Explain(#[from] ExplainError),
    #[error(transparent)]
    Read(#[from] crate::version::ReadError),
    #[error(transparent)]
    Run(#[from] crate::stage::RunError),
    #[error(transparent)]
    Diff(#[from] DiffError),
    #[error("drawing the sample failed: {0}")]
    Sample(String),
    #[error("the version has no column '{column}'; its columns are: {}", columns.join(", "))]
    NoColumn {
        column: String,
        columns: Vec<String>,
    },
}

impl ReportError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ReportError::Store(e) => e.hint(),
            ReportError::Explain(e) => e.hint(),
            ReportError::Read(e) => e.hint(),
            ReportError::Run(e) => e.hint(),
            ReportError::Diff(e) => e.hint(),
            ReportError::NoColumn { .. } => {
                Some("`--column` names the text column the metrics are computed on".into())
            }
            ReportError::Sample(_) => None,
        }
    }
}

/// The report format this build writes.
pub const FORMAT: u32 = 1;

/// Longest text shown for a row, in characters.
const SHOWN: usize = 280;

/// The report of version `v` (named `reference`).
pub fn report(
    store: &Store,
    v: &Version,
    reference: &str,
    opts: &Options,
) -> Result<Report, ReportError> {
    let identity = identity(store, v, reference)?;
    let text = text_column(v, opts.column.as_deref())?;
    // Every row the page shows or measures is chosen first, from sidecars,
    // selections and details; then each shard is read once for all of them.
    let ours = sample::choose(store, v, opts.sample, opts.seed)?;
    let mut wants = RowWants::default();
    wants.add(v, &ours.want);
    let run = match v.manifest.lineage.pipeline {
        Some(_) => Some(explain::walk(store, v, None)?),
        None => None,
    };
    let mut picks = Vec::new();
    let mut theirs = None;
    if let Some(run) = &run {
        let d = sample::choose(store, &run.source, opts.sample, opts.seed)?;
        wants.add(&run.source, &d.want);
        theirs = Some(d);
        picks = pick_removed(store, run, opts)?;
        for (w, p) in run.stages.iter().zip(&picks) {
            wants.add(&w.rows, &p.read);
        }
    }
    let cache = wants.read(store, opts.threads)?;
    let ours = ours.take(v, &cache)?;
    let columns = Columns {
        sampled: ours.batch.num_rows() as u64,
        of_rows: ours.of_rows,
        columns: sample::columns(&ours.batch),
    };
    let mut lineage = vec![];
    let mut funnel = vec![];
    let mut samples = Samples {
        rules: vec![],
        clusters: vec![],
        classes: vec![],
    };
    let mut sides: Vec<(String, sample::Sample)> = Vec::new();
    let mut thresholds = vec![];
    if let (Some(run), Some(theirs)) = (&run, theirs) {
        lineage.push(Node {
            role: "source".into(),
            label: format!("source ({})", run.source.manifest.lineage.command),
            id: run.source.id,
            rows: run.source.manifest.stats.rows,
        });
        for (k, st) in run.lineage.stages.iter().enumerate() {
            lineage.push(Node {
                role: "stage".into(),
                label: format!("{} · {}", k + 1, st.name),
                id: st.stats.rewritten().map_or(st.output, |t| t.version),
                rows: st.rows_out,
            });
        }
        funnel = stage_funnel(run, &picks);
        thresholds = filter_thresholds(run.lineage);
        samples = removed_samples(store, run, &picks, &cache, text.as_deref(), opts)?;
        samples.classes = class_samples(run.lineage, &ours, text.as_deref(), opts);
        sides.push(("source".into(), theirs.take(&run.source, &cache)?));
    }
    lineage.push(Node {
        role: "version".into(),
        label: reference.to_string(),
        id: v.id,
        rows: v.manifest.stats.rows,
    });
    sides.push(("version".into(), ours));
    let quality = quality(&sides, text.as_deref(), &thresholds);
    Ok(Report {
        format: FORMAT,
        seed: opts.seed,
        identity,
        lineage,
        funnel,
        columns,
        quality,
        samples,
    })
}

/// The report of what changed from `a` to `b`.
pub fn diff_report(
    store: &Store,
    (a, a_ref): (&Version, &str),
    (b, b_ref): (&Version, &str),
    opts: &Options,
) -> Result<DiffReport, ReportError> {
    let label = opts.label.clone().or_else(|| diff::default_label(a, b));
    let d = diff::diff(
        store,
        (a, a_ref),
        (b, b_ref),
        &diff::Options {
            keys: opts.keys.clone(),
            label,
            samples: opts.rows,
        },
    )?;
    let text = text_column(b, opts.column.as_deref())?;
    let (da, db) = (
        sample::choose(store, a, opts.sample, opts.seed)?,
        sample::choose(store, b, opts.sample, opts.seed)?,
    );
    let mut wants = RowWants::default();
    wants.add(a, &da.want);
    wants.add(b, &db.want);
    let cache = wants.read(store, opts.threads)?;
    let sides = vec![
        ("A".to_string(), da.take(a, &cache)?),
        ("B".to_string(), db.take(b, &cache)?),
    ];
    let thresholds = b
        .manifest
        .lineage
        .pipeline
        .as_ref()
        .map(filter_thresholds)
        .unwrap_or_default();
    Ok(DiffReport {
        format: FORMAT,
        seed: opts.seed,
        a: identity(store, a, a_ref)?,
        b: identity(store, b, b_ref)?,
        diff: d,
        quality: quality(&sides, text.as_deref(), &thresholds),
    })
}

fn identity(store: &Store, v: &Version, reference: &str) -> Result<Identity, ReportError> {
    let m = &v.manifest;
    let tags = store.catalog()?.tags_of(&v.id)?;
    let p = m.lineage.pipeline.as_ref();
    let device = p.and_then(|p| {
        p.stages.iter().find_map(|s| match &s.stats {
            StageStats::Dedup(d) => Some(d.device.clone().unwrap_or_else(|| "cpu".into())),
            _ => None,
        })
    });
    Ok(Identity {
        reference: reference.to_string(),
        version: v.id,
        content_id: m.content_id.clone(),
        tags,
        created: m.created.clone(),
        message: m.message.clone(),
        command: m.lineage.command.clone(),
        sift_version: m.lineage.sift_version.clone(),
        device,
        rows: m.stats.rows,
        data_bytes: m.stats.data_bytes,
        stored_bytes: m.stats.stored_bytes,
        spec_file: p.map(|p| p.spec_file.clone()),
        spec_hash: p.map(|p| p.spec_hash.clone()),
    })
}

/// The column the metrics read: `named`, else `text`, else the first string column.
fn text_column(v: &Version, named: Option<&str>) -> Result<Option<String>, ReportError> {
    let schema = &v.manifest.schema;
    if let Some(c) = named {
        if !schema.iter().any(|col| col.name == c) {
            return Err(ReportError::NoColumn {
                column: c.to_string(),
                columns: schema.iter().map(|c| c.name.clone()).collect(),
            });
        }
        return Ok(Some(c.to_string()));
    }
    Ok(schema
        .iter()
        .find(|c| c.name == "text" && c.logical == "string")
        .or_else(|| schema.iter().find(|c| c.logical == "string"))
        .map(|c| c.name.clone()))
}

fn stage_funnel(run: &RunWalk, picks: &[Picks]) -> Vec<StageFunnel> {
    let mut out = Vec::new();
    for (k, ((st, w), p)) in run
        .lineage
        .stages
        .iter()
        .zip(&run.stages)
        .zip(picks)
        .enumerate()
    {
        let mut f = StageFunnel {
            stage: k + 1,
            name: st.name.clone(),
            kind: st.kind.clone(),
            rows_in: st.rows_in,
            rows_out: st.rows_out,
            bytes_in: w.bytes_in,
            bytes_out: w.bytes_out,
            removed: st.removed.clone(),
            seconds: st.seconds,
            cached: st.cached,
            dedup: None,
            balance: None,
            language: None,
            scores: None,
            tokens: None,
            decontaminate: None,
            rewrites: None,
        };
        match &st.stats {
            StageStats::Dedup(d) => {
                f.dedup = Some(DedupFunnel {
                    method: d.method.clone(),
                    clusters: d.clusters,
                    removed: d.removed,
                    exact: p.exact,
                    near: p.removals - p.exact,
                    histogram: d.histogram.clone(),
                });
            }
            StageStats::Balance(b) => f.balance = Some(b.classes.clone()),
            StageStats::Language(l) => f.language = Some(l.languages.clone()),
            StageStats::Classifier(c) => f.scores = Some(c.histogram.clone()),
            StageStats::Tokens(t) => f.tokens = Some(t.clone()),
            StageStats::Decontaminate(d) => f.decontaminate = Some(d.benchmarks.clone()),
            StageStats::Transform(t) => {
                f.rewrites = Some(Rewrites {
                    rows_changed: t.rows_changed,
                    edits: t.edits.clone(),
                })
            }
            StageStats::None => {}
        }
        out.push(f);
    }
    out
}

/// A row's text for showing: column `text` (else every column), cut to [`SHOWN`].
fn shown(batch: &arrow::array::RecordBatch, i: usize, text: Option<&str>) -> (String, bool) {
    let full = match text.and_then(|c| batch.column_by_name(c)) {
        Some(col) => sample::texts(&col.slice(i, 1))
            .pop()
            .flatten()
            .unwrap_or_default(),
        None => {
            let fmt = arrow::util::display::FormatOptions::default().with_null("null");
            batch
                .schema()
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(f, c)| {
                    let v = arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &fmt)
                        .map(|x| x.value(i).to_string())
                        .unwrap_or_default();
                    format!("{}: {v}", f.name())
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    match full.char_indices().nth(SHOWN) {
        Some((at, _)) => (full[..at].to_string(), true),
        None => (full, false),
    }
}

/// A stage's removed rows drawn for showing, chosen before any is read.
#[derive(Default)]
struct Picks {
    /// Candidates (segment, shard row of the rows the stage read), best
    /// ranked first.
    ranked: Vec<(usize, u32)>,
    /// The candidates, per segment.
    want: Vec<RoaringBitmap>,
    /// Rows to read: the candidates and, for dedup, the rows kept in their place.
    read: Vec<RoaringBitmap>,
    /// Dedup: each candidate → the row kept in its place.
    kept_of: std::collections::HashMap<(usize, u32), (usize, u32)>,
    /// Dedup: rows removed, and of those exact copies.
    removals: u64,
    exact: u64,
}

/// For each stage, up to 400 removed rows ranked by a seeded hash of their
/// source rows (enough for `opts.rows` per rule).
fn pick_removed(store: &Store, run: &RunWalk, opts: &Options) -> Result<Vec<Picks>, ReportError> {
    let mut out = Vec::new();
    for (k, (w, st)) in run.stages.iter().zip(&run.lineage.stages).enumerate() {
        let rules = st.removed.values().filter(|n| **n > 0).count().max(1);
        let candidates = (opts.rows * rules * 8).clamp(16, 400);
        let mut ranked: Vec<(u64, usize, u32)> = Vec::new();
        for (seg, rows) in w.removed.iter().enumerate() {
            for row in rows {
                let global = run.source_row(k, (seg, row));
                ranked.push((
                    xxhash_rust::xxh3::xxh3_64_with_seed(&global.to_le_bytes(), opts.seed),
                    seg,
                    row,
                ));
            }
        }
        ranked.sort_unstable();
        ranked.truncate(candidates);
        let segments = w.rows.manifest.segments.len();
        let mut p = Picks {
            ranked: ranked.iter().map(|&(_, s, r)| (s, r)).collect(),
            want: vec![RoaringBitmap::new(); segments],
            ..Picks::default()
        };
        for &(seg, row) in &p.ranked {
            p.want[seg].insert(row);
        }
        p.read = p.want.clone();
        if let StageStats::Dedup(d) = &st.stats {
            let removals =
                crate::stage::dedup::decode_details(&d.details, &store.objects().get(&d.details)?)?;
            p.removals = removals.len() as u64;
            p.exact = removals.iter().filter(|r| r.similarity >= 1.0).count() as u64;
            // Pairs whose kept row is in an earlier version (`against`) are not sampled here.
            for r in removals.into_iter().filter(|r| r.earlier.is_none()) {
                let (seg, row) = (r.removed.0 as usize, r.removed.1);
                if p.want.get(seg).is_some_and(|b| b.contains(row)) {
                    let kept = (r.kept.0 as usize, r.kept.1);
                    if let Some(b) = p.read.get_mut(kept.0) {
                        b.insert(kept.1);
                    }
                    p.kept_of.insert((seg, row), kept);
                }
            }
        }
        out.push(p);
    }
    Ok(out)
}

/// For each stage, removed rows per rule (dedup: removed rows beside the
/// rows kept in their place), from the stage's picks, explained in bulk,
/// and shown as the stage read them.
fn removed_samples(
    store: &Store,
    run: &RunWalk,
    picks: &[Picks],
    cache: &RowCache,
    text: Option<&str>,
    opts: &Options,
) -> Result<Samples, ReportError> {
    let mut out = Samples {
        rules: vec![],
        clusters: vec![],
        classes: vec![],
    };
    for (k, ((w, st), p)) in run
        .stages
        .iter()
        .zip(&run.lineage.stages)
        .zip(picks)
        .enumerate()
    {
        if p.ranked.is_empty() {
            continue;
        }
        let reasons: std::collections::HashMap<(usize, u32), crate::stage::Reason<_>> =
            run.reasons(store, k, &p.want, cache)?.into_iter().collect();
        let mut per_rule: IndexMap<String, usize> = IndexMap::new();
        let mut chosen = Vec::new();
        for &(seg, row) in &p.ranked {
            let Some(r) = reasons.get(&run.to_source(k, (seg, row))) else {
                continue;
            };
            let rule = r.rule.clone().unwrap_or_else(|| "recorded".into());
            let n = per_rule.entry(rule.clone()).or_default();
            if *n >= opts.rows {
                continue;
            }
            *n += 1;
            let kept = p.kept_of.get(&(seg, row)).copied();
            chosen.push(((seg, row), rule, r, kept));
        }
        let row = |at: (usize, u32), reason: Option<String>| -> Row {
            let (text, cut) = cache
                .get(&w.rows, at)
                .map(|(b, i)| shown(b, i, text))
                .unwrap_or_default();
            Row {
                row: run.source_row(k, at),
                text,
                cut,
                reason,
            }
        };
        for (at, rule, r, kept) in chosen {
            if let Some(kat) = kept {
                let jaccard = match &r.detail {
                    crate::stage::Detail::Dedup(d) => d.jaccard.unwrap_or(1.0),
                    _ => 1.0,
                };
                out.clusters.push(Cluster {
                    stage: k + 1,
                    stage_name: st.name.clone(),
                    jaccard: (jaccard as f64 * 1000.0).round() / 1000.0,
                    kept: row(kat, None),
                    removed: row(at, Some(r.because.clone())),
                });
                continue;
            }
            let shown_row = row(at, Some(r.because.clone()));
            match out
                .rules
                .iter_mut()
                .find(|x| x.stage == k + 1 && x.rule == rule)
            {
                Some(x) => x.rows.push(shown_row),
                None => out.rules.push(RuleSample {
                    stage: k + 1,
                    stage_name: st.name.clone(),
                    kind: st.kind.clone(),
                    removed: st.removed.get(&rule).copied().unwrap_or(0),
                    rule,
                    rows: vec![shown_row],
                }),
            }
        }
    }
    // Rows in source order; rules in spec order within their stage.
    for r in &mut out.rules {
        r.rows.sort_by_key(|x| x.row);
    }
    out.clusters.sort_by_key(|c| (c.stage, c.removed.row));
    out.rules.sort_by_key(|r| {
        let st = &run.lineage.stages[r.stage - 1];
        (
            r.stage,
            st.removed.get_index_of(&r.rule).unwrap_or(usize::MAX),
        )
    });
    Ok(out)
}

/// Kept rows of each class of each balance stage whose label is a column,
/// from the version's sample.
fn class_samples(
    p: &PipelineLineage,
    ours: &sample::Sample,
    text: Option<&str>,
    opts: &Options,
) -> Vec<ClassSample> {
    let mut out = Vec::new();
    for (k, st) in p.stages.iter().enumerate() {
        let StageStats::Balance(b) = &st.stats else {
            continue;
        };
        let Some(col) = ours.batch.column_by_name(&b.label) else {
            continue;
        };
        let values = sample::texts(col);
        for (class, counts) in &b.classes {
            let rows: Vec<Row> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.as_deref().unwrap_or("null") == class)
                .take(opts.rows)
                .map(|(i, _)| {
                    let (t, cut) = shown(&ours.batch, i, text);
                    Row {
                        row: ours.positions[i],
                        text: t,
                        cut,
                        reason: None,
                    }
                })
                .collect();
            out.push(ClassSample {
                stage: k + 1,
                label: b.label.clone(),
                class: class.clone(),
                rows_after: counts.after,
                rows,
            });
        }
    }
    out
}

/// Each metric over each side's sample, on shared bins.
fn quality(
    sides: &[(String, sample::Sample)],
    text: Option<&str>,
    thresholds: &[Threshold],
) -> Quality {
    let Some(col) = text else {
        return Quality {
            column: None,
            series: IndexMap::new(),
            metrics: vec![],
        };
    };
    let values: Vec<(String, Vec<Vec<f64>>)> = sides
        .iter()
        .map(|(name, s)| {
            let texts: Vec<String> = s
                .batch
                .column_by_name(col)
                .map(|c| sample::texts(c).into_iter().flatten().collect())
                .unwrap_or_default();
            (name.clone(), sample::metrics(&texts))
        })
        .collect();
    let metrics = METRICS
        .iter()
        .enumerate()
        .map(|(k, (name, _))| {
            let th: Vec<Threshold> = thresholds
                .iter()
                .filter(|t| t.metric == *name)
                .cloned()
                .collect();
            let series: Vec<&[f64]> = values.iter().map(|(_, v)| v[k].as_slice()).collect();
            let edges =
                sample::metric_edges(k, &series, &th.iter().map(|t| t.value).collect::<Vec<_>>());
            Metric {
                name: name.to_string(),
                counts: values
                    .iter()
                    .map(|(n, v)| (n.clone(), sample::count(&v[k], &edges)))
                    .collect(),
                edges,
                thresholds: th,
            }
        })
        .collect();
    Quality {
        column: Some(col.to_string()),
        series: sides
            .iter()
            .map(|(n, s)| (n.clone(), s.batch.num_rows() as u64))
            .collect(),
        metrics,
    }
}

/// Thresholds the filter stages of `p` set on the report's metrics: a
/// comparison of a metric of a column with a number (`word_count(text) <
/// 50`), alone or joined by AND, and the published rule sets' own.
fn filter_thresholds(p: &PipelineLineage) -> Vec<Threshold> {
    let mut out = Vec::new();
    let compare = regex::Regex::new(
        r"(?i)^\(?\s*([a-z_]+)\s*\(\s*[A-Za-z_][A-Za-z0-9_]*\s*(?:,\s*(\d+)\s*)?\)\s*(<=|>=|<|>)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*\)?$",
    )
    .expect("a valid regex");
    let and = regex::Regex::new(r"(?i)\s+AND\s+").expect("a valid regex");
    for (k, st) in p.stages.iter().enumerate() {
        if st.kind != "filter" {
            continue;
        }
        let Ok(spec) = serde_json::from_str::<serde_json::Value>(&st.spec) else {
            continue;
        };
        let mut rules: Vec<(String, String, bool)> = Vec::new();
        if let Some(w) = spec.get("where").and_then(|w| w.as_str()) {
            rules.push(("where".into(), w.to_string(), true));
        }
        if let Some(r) = spec.get("rules").and_then(|r| r.as_object()) {
            for (name, e) in r {
                if let Some(e) = e.as_str() {
                    rules.push((name.clone(), e.to_string(), false));
                }
            }
        }
        for (rule, expr, keeps) in rules {
            let mut add = |metric: &str, op: &str, value: f64, keeps: bool, from: String| {
                out.push(Threshold {
                    metric: metric.to_string(),
                    stage: k + 1,
                    rule: rule.clone(),
                    op: op.to_string(),
                    value,
                    keeps,
                    from,
                })
            };
            for part in and.split(expr.trim()) {
                if let Some(c) = compare.captures(part.trim()) {
                    let f = c[1].to_ascii_lowercase();
                    let metric = match (f.as_str(), c.get(2).map(|n| n.as_str())) {
                        ("top_ngram_char_fraction", Some("2")) => {
                            "top_ngram_char_fraction(2)".to_string()
                        }
                        (m, None) => m.to_string(),
                        _ => continue,
                    };
                    if METRICS.iter().any(|(m, _)| *m == metric)
                        && let Ok(value) = c[4].parse::<f64>()
                    {
                        add(&metric, &c[3], value, keeps, part.trim().to_string());
                    }
                }
            }
            // The rule sets hold thresholds of their own (QUALITY_RULES.md).
            let lower = expr.to_ascii_lowercase();
            if lower.contains("gopher_quality(") {
                for (m, op, v) in [
                    ("word_count", "<", 50.0),
                    ("mean_word_length", "<", 3.0),
                    ("mean_word_length", ">", 10.0),
                    ("alpha_word_fraction", "<", 0.8),
                ] {
                    add(m, op, v, false, "gopher_quality".into());
                }
            }
            if lower.contains("gopher_repetition(") {
                for (m, op, v) in [
                    ("duplicate_line_fraction", ">", 0.3),
                    ("top_ngram_char_fraction(2)", ">", 0.2),
                ] {
                    add(m, op, v, false, "gopher_repetition".into());
                }
            }
        }
    }
    out
}

/// The JSON schema of `sift report --json` (one version).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Report);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

/// The JSON schema of `sift report A B --json`.
pub fn diff_json_schema() -> String {
    let schema = schemars::schema_for!(DiffReport);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lineage(spec: &str) -> PipelineLineage {
        let id = ObjectId::of(b"x").hex();
        serde_json::from_value(serde_json::json!({
            "spec_file": "p.toml", "spec": "{}", "spec_hash": "h", "source": id,
            "stages": [{
                "name": "q", "kind": "filter", "spec_hash": "h", "spec": spec,
                "input": id, "output": id, "rows_in": 1, "rows_out": 1,
                "removed": {}, "seconds": 0.0, "cached": false
            }]
        }))
        .unwrap()
    }

    #[test]
    fn thresholds_come_from_comparisons_joined_by_and() {
        let p = lineage(
            r#"{"kind":"filter","where":"word_count(text) >= 50 AND top_ngram_char_fraction(text, 2) <= 0.2 AND length(text) > 3",
                "rules":{"odd":"alpha_word_fraction(body) < 0.7","other_n":"top_ngram_char_fraction(text, 3) > 0.1"}}"#,
        );
        let t: Vec<(String, String, f64, bool)> = filter_thresholds(&p)
            .into_iter()
            .map(|t| (t.metric, t.op, t.value, t.keeps))
            .collect();
        assert_eq!(
            t,
            vec![
                ("word_count".into(), ">=".into(), 50.0, true),
                ("top_ngram_char_fraction(2)".into(), "<=".into(), 0.2, true),
                ("alpha_word_fraction".into(), "<".into(), 0.7, false),
            ]
        );
    }
}

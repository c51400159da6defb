//! Stages: one file (or folder) per kind, behind one enum.
//!
//! ```text
//!  spec (TOML/YAML)          validate                run                    explain
//!  [[stage]] kind = "…" ──▶ kind::Spec ──Kind──▶ kind::Plan ──Planned──▶ Outcome ──▶ Reason
//!                                                  │                        (selection, removals,
//!                                                  │                         StageStats)
//! ```
//!
//! A kind is a module with four things: its `Spec` (serde, with its own
//! `deny_unknown_fields`), `Kind::validate` into its `Plan`, `Planned::run`,
//! which returns the rows it keeps plus plain-data stats, and
//! `Planned::explain`, which says why it removed a row. The [`stages!`] list
//! below is the only place that names them all: it makes the [`StageSpec`],
//! [`StagePlan`] and [`Detail`] enums and forwards every call through one
//! `match`. Adding a kind is adding its module and one line there.

pub mod balance;
pub mod classifier;
pub mod decontaminate;
pub mod dedup;
pub mod filter;
pub mod input_file;
pub mod language;
pub mod lines;
pub mod map;
pub mod models;
pub mod normalize;
pub mod pii;
pub mod quality;
pub mod rows;
pub mod tokens;
pub mod transform;

use arrow::datatypes::SchemaRef;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::gpu::DeviceChoice;
use crate::store::{self, Store};
use crate::version::import::ImportError;
use crate::version::manifest::StageRecord;
use crate::version::selection::SelectionSet;
use crate::version::{ReadError, Version};

pub use crate::version::stats::StageStats;

/// The kinds of stage. Each line: the variant, then the module that owns it.
macro_rules! stages {
    ($($(#[$doc:meta])* $variant:ident => $module:ident),* $(,)?) => {
        /// One stage of a pipeline spec, by `kind`.
        #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "kind", rename_all = "lowercase")]
        pub enum StageSpec {
            $($(#[$doc])* $variant($module::Spec),)*
        }

        /// A validated stage, ready to run.
        #[derive(Debug)]
        pub enum StagePlan {
            $($variant($module::Plan),)*
        }

        /// What a kind's explanation holds beyond its rule and sentence.
        #[derive(Debug, Clone, Serialize, JsonSchema)]
        #[serde(untagged)]
        pub enum Detail {
            $($variant(<$module::Plan as Planned>::Detail),)*
        }

        /// Every kind's `kind` value, in order.
        pub const KINDS: &[&str] = &[$(<$module::Spec as Kind>::NAME),*];

        /// Registers sift's SQL functions: the quality metrics and each kind's own.
        pub fn register_udfs(ctx: &datafusion::prelude::SessionContext) {
            quality::udfs::register(ctx);
            $(<$module::Spec as Kind>::register_udfs(ctx);)*
        }

        impl StageSpec {
            /// The `kind` value.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(StageSpec::$variant(_) => <$module::Spec as Kind>::NAME,)*
                }
            }

            /// The name given in the spec, if any.
            pub fn name(&self) -> Option<&str> {
                match self {
                    $(StageSpec::$variant(s) => s.name(),)*
                }
            }

            /// Spec fields that do not change what the stage computes.
            pub fn neutral(&self) -> &'static [&'static str] {
                match self {
                    $(StageSpec::$variant(_) => <$module::Spec as Kind>::NEUTRAL,)*
                }
            }

            /// Validates the stage against the source's columns.
            pub fn validate(&self, cx: &Check) -> Result<StagePlan, Invalid> {
                match self {
                    $(StageSpec::$variant(s) => s.validate(cx).map(StagePlan::$variant),)*
                }
            }

            /// Reads a stage of kind `kind` from its fields; an error names the field.
            pub fn from_value(kind: &str, fields: serde_json::Value) -> Result<StageSpec, FieldError> {
                $(if kind == <$module::Spec as Kind>::NAME {
                    return serde_path_to_error::deserialize(fields)
                        .map(StageSpec::$variant)
                        .map_err(FieldError::from);
                })*
                Err(FieldError::unknown_kind(kind))
            }

            /// The fields a kind's spec takes, from its JSON schema.
            pub fn fields(kind: &str) -> Vec<String> {
                $(if kind == <$module::Spec as Kind>::NAME {
                    return properties(schemars::schema_for!($module::Spec));
                })*
                vec![]
            }
        }

        impl StagePlan {
            /// Runs the stage over the rows of `input`.
            pub fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
                match self {
                    $(StagePlan::$variant(p) => p.run(cx, input),)*
                }
            }

            /// Why the stage removed the row at `cx.at`.
            pub fn explain(&self, cx: &ExplainContext) -> Result<Reason<Detail>, RunError> {
                match self {
                    $(StagePlan::$variant(p) => p.explain(cx).map(|r| r.map(Detail::$variant)),)*
                }
            }

            /// The plan in words, a line per setting or rule, for `sift check`.
            pub fn describe(&self) -> Vec<String> {
                match self {
                    $(StagePlan::$variant(p) => p.describe(),)*
                }
            }

            /// Whether the stage needs a usable GPU, given the run's device override.
            pub fn wants_gpu(&self, device: Option<DeviceChoice>) -> bool {
                match self {
                    $(StagePlan::$variant(p) => p.wants_gpu(device),)*
                }
            }

            /// What a transform stage changed in the row at `cx.at` (nothing for other kinds).
            pub fn edits(&self, cx: &ExplainContext) -> Result<Vec<transform::Edit>, RunError> {
                match self {
                    $(StagePlan::$variant(p) => p.edits(cx),)*
                }
            }

            /// The content ids of the files the stage reads, by field.
            pub fn inputs(&self) -> Inputs {
                match self {
                    $(StagePlan::$variant(p) => p.inputs(),)*
                }
            }

            /// The columns of the rows the stage passes on, given its input's.
            pub fn schema_after(&self, input: &SchemaRef) -> SchemaRef {
                match self {
                    $(StagePlan::$variant(p) => p.schema_after(input),)*
                }
            }

            /// Why the stage runs on the client of a cluster run, where it says more than its kind.
            pub fn why_here(&self) -> Option<&'static str> {
                match self {
                    $(StagePlan::$variant(p) => p.why_here(),)*
                }
            }

            /// Keeps the files it reads in the store (see [`Planned::keep_inputs`]).
            pub fn keep_inputs(&self, store: &crate::store::Store) -> Result<(), RunError> {
                match self {
                    $(StagePlan::$variant(p) => p.keep_inputs(store),)*
                }
            }

            /// The stage's work on one segment, for the kinds that can (see [`Planned::run_segment`]).
            pub fn run_segment(
                &self,
                cx: &Context,
                segment: usize,
                rows: &roaring::RoaringBitmap,
            ) -> Option<Result<Part, RunError>> {
                match self {
                    $(StagePlan::$variant(p) => p.run_segment(cx, segment, rows),)*
                }
            }

            /// The rows a cluster can do the first pass of (see [`Planned::prepare`]).
            pub fn prepare(&self, cx: &Context, input: &SelectionSet) -> Result<Option<SelectionSet>, RunError> {
                match self {
                    $(StagePlan::$variant(p) => p.prepare(cx, input),)*
                }
            }

            /// An executor's share of the first pass (see [`Planned::prepare_segment`]).
            pub fn prepare_segment(
                &self,
                cx: &Context,
                segment: usize,
                rows: &roaring::RoaringBitmap,
            ) -> Option<Result<Vec<u8>, RunError>> {
                match self {
                    $(StagePlan::$variant(p) => p.prepare_segment(cx, segment, rows),)*
                }
            }

            /// What executors need to give band rows (see [`Planned::band_sources`]).
            pub fn band_sources(&self, cx: &Context, input: &SelectionSet) -> Result<Option<Vec<u8>>, RunError> {
                match self {
                    $(StagePlan::$variant(p) => p.band_sources(cx, input),)*
                }
            }

            /// An executor's band rows (see [`Planned::band_rows`]).
            pub fn band_rows(
                &self,
                cx: &Context,
                segment: usize,
                rows: &roaring::RoaringBitmap,
                first: u64,
                sources: &[u8],
            ) -> Option<Result<BandRows, RunError>> {
                match self {
                    $(StagePlan::$variant(p) => p.band_rows(cx, segment, rows, first, sources),)*
                }
            }

            /// The stage with pairs grouped elsewhere (see [`Planned::run_with_pairs`]).
            pub fn run_with_pairs(&self, cx: &Context, input: &SelectionSet, pairs: Vec<(u32, u32)>) -> Result<Outcome, RunError> {
                match self {
                    $(StagePlan::$variant(p) => p.run_with_pairs(cx, input, pairs),)*
                }
            }

            /// Whether the stage runs from what executors gather (see [`Planned::gathers`]).
            pub fn gathers(&self) -> bool {
                match self {
                    $(StagePlan::$variant(p) => p.gathers(),)*
                }
            }

            /// The stage from what executors gathered (see [`Planned::run_gathered`]).
            pub fn run_gathered(&self, cx: &Context, input: &SelectionSet, prepared: Vec<(usize, Vec<u8>)>) -> Result<Outcome, RunError> {
                match self {
                    $(StagePlan::$variant(p) => p.run_gathered(cx, input, prepared),)*
                }
            }

            /// Keeps what the executors prepared (see [`Planned::absorb`]).
            pub fn absorb(&self, cx: &Context, prepared: Vec<(usize, Vec<u8>)>) -> Result<(), RunError> {
                match self {
                    $(StagePlan::$variant(p) => p.absorb(cx, prepared),)*
                }
            }

            /// Whether the stage can run segment by segment (see [`Planned::run_segment`]).
            pub fn per_segment(&self) -> bool {
                match self {
                    $(StagePlan::$variant(p) => p.per_segment(),)*
                }
            }

            /// The outcome of the segments' parts, in order.
            pub fn merge(&self, parts: Vec<Part>) -> Outcome {
                match self {
                    $(StagePlan::$variant(p) => p.merge(parts),)*
                }
            }

            /// Whether no stage may follow this one.
            pub fn must_be_last(&self) -> bool {
                match self {
                    $(StagePlan::$variant(p) => p.must_be_last(),)*
                }
            }
        }
    };
}

stages! {
    /// Keep rows by SQL predicates and named rules.
    Filter => filter,
    /// Remove exact or near duplicates.
    Dedup => dedup,
    /// Cap, downsample, proportion or oversample classes.
    Balance => balance,
    /// Keep rows in the wanted languages.
    Language => language,
    /// Keep rows by the score a fastText classifier gives a label.
    Classifier => classifier,
    /// Count tokens under a tokenizer.json; keep rows within min/max.
    Tokens => tokens,
    /// Remove rows that share word n-grams with evaluation sets.
    Decontaminate => decontaminate,
    /// Replace emails, IP addresses, phone and card numbers, IBANs and URLs.
    Pii => pii,
    /// Drop lines by named rules, SQL or the C4 preset; remove rows left empty.
    Lines => lines,
    /// Repair mojibake, unify line endings, drop controls, NFC/NFKC, collapse whitespace.
    Normalize => normalize,
    /// Compute, rewrite, drop and rename columns with SQL expressions.
    Map => map,
}

/// The default text column of a stage's spec (serde).
pub(crate) fn text_column() -> String {
    "text".into()
}

/// A spec switch that is on unless set (serde).
pub(crate) fn yes() -> bool {
    true
}

/// A kind of stage: implemented by its spec.
pub trait Kind {
    /// The `kind` value in a spec.
    const NAME: &'static str;
    /// Spec fields that do not change what the stage computes (left out of its hash).
    const NEUTRAL: &'static [&'static str] = &[];
    type Plan: Planned;
    /// The name given in the spec, if any.
    fn name(&self) -> Option<&str>;
    /// Checks the spec against the source's columns.
    fn validate(&self, cx: &Check) -> Result<Self::Plan, Invalid>;
    /// SQL functions the kind offers to every filter and to `sift query`.
    fn register_udfs(_ctx: &datafusion::prelude::SessionContext) {}
}

/// A validated stage of one kind.
pub trait Planned {
    /// What the kind's explanation holds beyond its rule and sentence.
    type Detail: Serialize + JsonSchema + Default;
    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError>;
    fn explain(&self, cx: &ExplainContext) -> Result<Reason<Self::Detail>, RunError>;
    fn describe(&self) -> Vec<String>;
    fn wants_gpu(&self, _device: Option<DeviceChoice>) -> bool {
        false
    }
    fn must_be_last(&self) -> bool {
        false
    }
    /// The columns of the rows it passes on (a map stage changes them).
    fn schema_after(&self, input: &SchemaRef) -> SchemaRef {
        input.clone()
    }
    /// The content ids (BLAKE3) of the files it reads, such as a model, by
    /// field: recorded with its spec (`inputs`) and part of its hash, so a
    /// changed file runs the stage again instead of hitting the cache.
    fn inputs(&self) -> Inputs {
        Inputs::new()
    }
    /// Why the stage runs on the client of a cluster run, where its kind
    /// alone does not say (a kind that runs on the executors with other settings).
    fn why_here(&self) -> Option<&'static str> {
        None
    }
    /// Keeps the bytes of the files it reads (see [`Planned::inputs`]) in
    /// the store: a run does so as it starts, and a cluster's executors,
    /// which have no access to the spec's directory, read them from there.
    fn keep_inputs(&self, _store: &crate::store::Store) -> Result<(), RunError> {
        Ok(())
    }
    /// What a transform changed in the row at `cx.at`, for explain.
    fn edits(&self, _cx: &ExplainContext) -> Result<Vec<transform::Edit>, RunError> {
        Ok(vec![])
    }
    /// The stage's work on the rows `rows` of segment `segment` alone, for
    /// kinds that judge each row by itself (a cluster's executors run it, a
    /// task per segment); `None` for the kinds that look across segments.
    fn run_segment(
        &self,
        _cx: &Context,
        _segment: usize,
        _rows: &roaring::RoaringBitmap,
    ) -> Option<Result<Part, RunError>> {
        None
    }
    /// Whether [`Planned::run_segment`] does this plan's work segment by segment.
    fn per_segment(&self) -> bool {
        false
    }
    /// Whether the stage runs from what [`Planned::prepare_segment`] gathers
    /// ([`Planned::run_gathered`]) rather than after [`Planned::absorb`].
    fn gathers(&self) -> bool {
        false
    }
    /// The rows of `input`, per segment, whose first pass a cluster's
    /// executors can do before the stage runs here (dedup: the rows no band
    /// sidecar holds); `None` for the kinds without one.
    fn prepare(
        &self,
        _cx: &Context,
        _input: &SelectionSet,
    ) -> Result<Option<SelectionSet>, RunError> {
        Ok(None)
    }
    /// An executor's share of [`Planned::prepare`]: the first pass over the
    /// rows `rows` of segment `segment`, as bytes for [`Planned::absorb`].
    fn prepare_segment(
        &self,
        _cx: &Context,
        _segment: usize,
        _rows: &roaring::RoaringBitmap,
    ) -> Option<Result<Vec<u8>, RunError>> {
        None
    }
    /// The stage, run from what the executors gathered (see [`Planned::gathers`]).
    fn run_gathered(
        &self,
        cx: &Context,
        input: &SelectionSet,
        _prepared: Vec<(usize, Vec<u8>)>,
    ) -> Result<Outcome, RunError> {
        self.run(cx, input)
    }
    /// Keeps what the executors prepared, by segment, before the stage runs here.
    fn absorb(&self, _cx: &Context, _prepared: Vec<(usize, Vec<u8>)>) -> Result<(), RunError> {
        Ok(())
    }
    /// For a stage whose candidates come from grouping band hashes (MinHash
    /// dedup): what an executor needs to give a segment's (band, hash,
    /// document) rows (see [`Planned::band_rows`]), as bytes to store; `None`
    /// where the grouping is done here.
    fn band_sources(
        &self,
        _cx: &Context,
        _input: &SelectionSet,
    ) -> Result<Option<Vec<u8>>, RunError> {
        Ok(None)
    }
    /// An executor's share of the grouping: (band, hash, document) of rows
    /// `rows` of segment `segment`, whose first document is number `first`.
    fn band_rows(
        &self,
        _cx: &Context,
        _segment: usize,
        _rows: &roaring::RoaringBitmap,
        _first: u64,
        _sources: &[u8],
    ) -> Option<Result<BandRows, RunError>> {
        None
    }
    /// The stage, with its candidate pairs grouped elsewhere.
    fn run_with_pairs(
        &self,
        cx: &Context,
        input: &SelectionSet,
        _pairs: Vec<(u32, u32)>,
    ) -> Result<Outcome, RunError> {
        self.run(cx, input)
    }
    /// The outcome of [`Planned::run_segment`]'s parts, one per segment in
    /// order: the same as [`Planned::run`] gives.
    fn merge(&self, parts: Vec<Part>) -> Outcome {
        merge_parts(IndexMap::new(), parts)
    }
}

/// An outcome from segments' parts in order: each part's kept rows, and the
/// removals added up onto `removed` (rules first named there keep its order).
pub fn merge_parts(mut removed: IndexMap<String, u64>, parts: Vec<Part>) -> Outcome {
    let mut kept = Vec::with_capacity(parts.len());
    for p in parts {
        for (rule, n) in p.removed {
            *removed.entry(rule).or_insert(0) += n;
        }
        kept.push(p.kept);
    }
    Outcome {
        kept: SelectionSet(kept),
        removed,
        stats: StageStats::None,
    }
}

/// (band, hash, document) of each row of a segment, for grouping elsewhere.
pub type BandRows = Vec<(u32, u64, u32)>;

/// What a stage did to one segment: the rows it kept, its removals per rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Part {
    #[serde(skip)]
    pub kept: roaring::RoaringBitmap,
    pub removed: IndexMap<String, u64>,
    /// Rows before and after the stage per group its stats count (a
    /// language stage: per detected language), where it counts any.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub counts: IndexMap<String, (u64, u64)>,
}

/// A stage spec as a manifest recorded it. Fields this sift no longer
/// takes are left out, so versions made by an earlier sift still explain.
pub fn recorded_spec(kind: &str, spec: &str) -> Result<StageSpec, String> {
    let mut fields: serde_json::Value =
        serde_json::from_str(spec).map_err(|e| format!("its spec is not JSON: {e}"))?;
    let obj = fields.as_object_mut().ok_or("its spec is not an object")?;
    obj.remove("kind");
    let known = StageSpec::fields(kind);
    obj.retain(|k, _| known.iter().any(|f| f == k));
    StageSpec::from_value(kind, fields).map_err(|e| e.message)
}

/// What validation sees.
pub struct Check<'a> {
    /// The source's columns.
    pub schema: &'a SchemaRef,
    /// The store, for stages that read other versions.
    pub store: &'a Store,
    /// The spec file's directory, which relative paths are resolved against;
    /// `None` when a recorded spec is checked again (explain), and files
    /// named by it need not still be there.
    pub dir: Option<&'a std::path::Path>,
    /// When a recorded spec is checked again: the content ids of the files
    /// it read then (see [`Planned::inputs`]), whose bytes are in the store.
    pub inputs: &'a Inputs,
}

pub use crate::version::manifest::Inputs;

/// Whether a column of this type holds text (`Utf8`, `LargeUtf8`, `Utf8View`).
pub fn is_text(dt: &arrow::datatypes::DataType) -> bool {
    use arrow::datatypes::DataType::{LargeUtf8, Utf8, Utf8View};
    matches!(dt, Utf8 | LargeUtf8 | Utf8View)
}

impl Check<'_> {
    /// That `column` is a text column of the source; an error names `field`.
    pub fn text_column(&self, field: &str, column: &str) -> Result<(), Invalid> {
        match self.schema.field_with_name(column) {
            Ok(f) if is_text(f.data_type()) => Ok(()),
            Ok(f) => Err(Invalid::new(
                field,
                format!("column '{column}' is {}, not text", f.data_type()),
            )
            .hint("this stage reads a string column")),
            Err(_) => {
                let columns: Vec<&str> = self
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                Err(
                    Invalid::new(field, format!("the source has no column '{column}'"))
                        .hint(format!("the source's columns are: {}", columns.join(", "))),
                )
            }
        }
    }
}

/// A stage parameter that does not hold.
#[derive(Debug)]
pub struct Invalid {
    /// The field, as a path within the stage (`where`, `rules.short`, `keep.by`).
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Invalid {
        self.hint = Some(hint.into());
        self
    }
}

/// A stage's fields did not deserialize: where, and why.
#[derive(Debug)]
pub struct FieldError {
    /// The path within the stage (`threshold`, `keep`), empty for the stage itself.
    pub path: String,
    pub message: String,
}

impl FieldError {
    fn unknown_kind(kind: &str) -> FieldError {
        let names: Vec<String> = KINDS.iter().map(|k| format!("`{k}`")).collect();
        FieldError {
            path: "kind".into(),
            message: format!(
                "unknown variant `{kind}`, expected one of {}",
                names.join(", ")
            ),
        }
    }
}

impl From<serde_path_to_error::Error<serde_json::Error>> for FieldError {
    fn from(e: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        FieldError {
            path: if path == "." { String::new() } else { path },
            message,
        }
    }
}

fn properties(schema: schemars::Schema) -> Vec<String> {
    schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// What a stage sees while it runs.
pub struct Context<'a> {
    pub store: &'a Store,
    /// The source version; selections are over its rows.
    pub source: &'a Version,
    /// Every row of the source once (to map shard rows to source rows).
    pub base: &'a SelectionSet,
    /// How the rows the stage reads came from the source's (through transforms).
    pub origins: &'a transform::Origins,
    pub threads: usize,
    /// Target bytes of a shard, for stages that write rows.
    pub shard_size: u64,
    /// The run's device override for GPU-capable stages.
    pub device: Option<DeviceChoice>,
    /// Bytes a stage may hold in memory beyond the rows it streams; dedup
    /// spills sorted runs to the store's `tmp/` past it. Results do not depend on it.
    pub memory: u64,
    pub observer: &'a dyn Observer,
    /// 0-based position of the stage in the pipeline, and its name.
    pub index: usize,
    pub name: &'a str,
}

impl Context<'_> {
    /// The index among the source's rows of (segment, shard row) of the rows the stage reads.
    pub fn source_row(&self, seg: usize, row: u32) -> u64 {
        let (s, r) = self.origins.to_source((seg, row));
        self.base.position(s, r)
    }
}

/// What a stage returns: the rows it kept, removals per rule, its stats.
#[derive(Debug)]
pub struct Outcome {
    pub kept: SelectionSet,
    /// Rows removed per rule, in spec order.
    pub removed: IndexMap<String, u64>,
    pub stats: StageStats,
}

/// What explain gives a stage: the row it removed and what it recorded.
pub struct ExplainContext<'a> {
    pub store: &'a Store,
    /// The rows the stage read (the source's, or a transform's output).
    pub source: &'a Version,
    /// Every row of the pipeline's source once.
    pub base: &'a SelectionSet,
    /// How the rows the stage read came from the source's.
    pub origins: &'a transform::Origins,
    pub stats: &'a StageStats,
    /// (segment, shard row) of the row.
    pub at: (usize, u32),
    /// Rows already read, when many rows of one stage are explained at once.
    pub cache: Option<&'a RowCache>,
}

/// Rows read once for many explanations and reports: (shard object, shard
/// row) → the batch and the row's index in it. Versions that share a shard
/// share its rows, so one cache serves all of them.
#[derive(Default)]
pub struct RowCache {
    rows: std::collections::HashMap<
        (store::ObjectId, u32),
        (std::sync::Arc<arrow::array::RecordBatch>, usize),
    >,
    /// What a kind derived from an object once (an index of its details).
    memo: std::cell::RefCell<
        std::collections::HashMap<store::ObjectId, std::rc::Rc<dyn std::any::Any>>,
    >,
}

impl std::fmt::Debug for RowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RowCache({} rows)", self.rows.len())
    }
}

/// Rows wanted from the segments of any versions, gathered so that
/// [`RowWants::read`] reads each shard once for all of them.
#[derive(Default)]
pub struct RowWants {
    shards: std::collections::BTreeMap<
        store::ObjectId,
        (crate::version::manifest::Segment, roaring::RoaringBitmap),
    >,
}

impl RowWants {
    /// Wants the rows `want` (shard rows per segment of `v`).
    pub fn add(&mut self, v: &Version, want: &[roaring::RoaringBitmap]) {
        for (seg, rows) in v.manifest.segments.iter().zip(want) {
            if rows.is_empty() {
                continue;
            }
            let (_, all) = self
                .shards
                .entry(seg.shard)
                .or_insert_with(|| (seg.clone(), roaring::RoaringBitmap::new()));
            *all |= rows;
        }
    }

    /// Reads every wanted row, one pass per shard, on up to `threads` threads.
    pub fn read(self, store: &Store, threads: usize) -> Result<RowCache, RunError> {
        let work: Vec<_> = self.shards.into_values().collect();
        let parts = crate::par::map_ordered(threads, work.len(), |i| {
            let (seg, sel) = &work[i];
            crate::version::selection::segment_batches(store, seg, sel)
        })?;
        let mut out = RowCache::default();
        for ((seg, _), batches) in work.iter().zip(parts) {
            for (ids, batch) in batches {
                let batch = std::sync::Arc::new(batch);
                for (i, id) in ids.into_iter().enumerate() {
                    out.rows.insert((seg.shard, id), (batch.clone(), i));
                }
            }
        }
        Ok(out)
    }
}

impl RowCache {
    /// Reads the rows `want` (per segment of `rows`) in one pass per shard.
    pub fn read(
        store: &Store,
        rows: &Version,
        want: &[roaring::RoaringBitmap],
    ) -> Result<RowCache, RunError> {
        let mut wants = RowWants::default();
        wants.add(rows, want);
        wants.read(store, 1)
    }

    /// Row `at` (segment of `v`, shard row) as its batch and its index there, if read.
    pub fn get(
        &self,
        v: &Version,
        (seg, row): (usize, u32),
    ) -> Option<(&arrow::array::RecordBatch, usize)> {
        let shard = v.manifest.segments.get(seg)?.shard;
        self.rows.get(&(shard, row)).map(|(b, i)| (b.as_ref(), *i))
    }
}

impl ExplainContext<'_> {
    /// The index among the source's rows of (segment, shard row).
    pub fn source_row(&self, (seg, row): (u32, u32)) -> u64 {
        let (s, r) = self.origins.to_source((seg as usize, row));
        self.base.position(s, r)
    }

    /// The row being explained, as a one-row batch (`None` if its shard no longer has it).
    /// `make()` of object `id`, made once per cache (each call without one).
    pub fn memo<T: 'static>(
        &self,
        id: &store::ObjectId,
        make: impl FnOnce() -> Result<T, RunError>,
    ) -> Result<std::rc::Rc<T>, RunError> {
        let Some(cache) = self.cache else {
            return Ok(std::rc::Rc::new(make()?));
        };
        if let Some(v) = cache.memo.borrow().get(id)
            && let Ok(t) = v.clone().downcast::<T>()
        {
            return Ok(t);
        }
        let t = std::rc::Rc::new(make()?);
        cache.memo.borrow_mut().insert(*id, t.clone());
        Ok(t)
    }

    pub fn row(&self) -> Result<Option<arrow::array::RecordBatch>, RunError> {
        if let Some((batch, i)) = self.cache.and_then(|c| c.get(self.source, self.at)) {
            return Ok(Some(batch.slice(i, 1)));
        }
        let (seg, shard_row) = self.at;
        let mut one = roaring::RoaringBitmap::new();
        one.insert(shard_row);
        let batches = crate::version::selection::segment_batches(
            self.store,
            &self.source.manifest.segments[seg],
            &one,
        )?;
        Ok(batches.into_iter().next().map(|(_, b)| b))
    }
}

/// Why a stage removed a row.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Reason<D> {
    /// The rule that removed it (`where`, a rule's name, `near_duplicate`, `class_quota`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The expression that decided, for rule-based kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Why, as a sentence.
    pub because: String,
    #[serde(flatten)]
    pub detail: D,
}

impl<D: Default> Reason<D> {
    /// The stage dropped the row but recorded no more about it.
    pub fn recorded() -> Reason<D> {
        Reason {
            rule: None,
            expr: None,
            because: "the stage's recorded selection dropped it".into(),
            detail: D::default(),
        }
    }
}

impl<D> Reason<D> {
    fn map<E>(self, f: impl FnOnce(D) -> E) -> Reason<E> {
        Reason {
            rule: self.rule,
            expr: self.expr,
            because: self.because,
            detail: f(self.detail),
        }
    }
}

/// Hears what a run is doing (progress bars; all methods optional).
pub trait Observer: Sync {
    fn stage_started(&self, _name: &str, _rows_in: u64) {}
    fn rows_done(&self, _rows: u64) {}
    fn stage_finished(&self, _record: &StageRecord) {}
}

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
    Compact(#[from] crate::version::compact::CompactError),
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
    #[error("drawing the dry run's sample failed: {0}")]
    Sample(String),
    #[error("the result is empty: {last} removed the last rows, so nothing was committed")]
    Empty { last: String },
    #[error("the {what} {} changed since the pipeline was checked", path.display())]
    Changed {
        path: std::path::PathBuf,
        what: &'static str,
    },
    #[error("stage {stage} ({name}) on the cluster: {message}")]
    Cluster {
        stage: usize,
        name: String,
        message: String,
        hint: Option<String>,
    },
    #[error("stage {stage} ({name}): its recorded spec no longer validates: {message}")]
    Recorded {
        stage: usize,
        name: String,
        message: String,
    },
}

impl RunError {
    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Row { .. } => Some("set `on_error = \"drop\"` or `\"keep\"` on the stage to go on past such rows; `sift explain` shows a row".into()),
            RunError::Import(e) => e.hint(),
            RunError::Store(e) => e.hint(),
            RunError::Read(e) => e.hint(),
            RunError::Compact(_) => None,
            RunError::Changed { .. } => Some("run it again: sift hashes the file when it checks the spec, and runs with those bytes".into()),
            RunError::Gpu(e) => e.hint(),
            RunError::Balance { .. } => Some("`sift query` shows the class counts, e.g. SELECT label, count(*) FROM \"<tag>\" GROUP BY label".into()),
            RunError::Sample(_) => None,
            RunError::Empty { .. } => Some("`sift explain` on a source row says which rule removed it; to commit an empty version anyway, set `allow_empty = true` under [output]".into()),
            RunError::Cluster { hint, .. } => hint.clone(),
            RunError::Recorded { .. } => Some("the version was made by another sift; run its pipeline again with this one".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_the_kinds_as_they_name_themselves() {
        let schema = serde_json::to_value(schemars::schema_for!(StageSpec)).unwrap();
        let text = schema.to_string();
        for kind in KINDS {
            assert!(
                text.contains(&format!("\"const\":\"{kind}\"")),
                "{kind}: {text}"
            );
            assert!(!StageSpec::fields(kind).is_empty(), "{kind}");
        }
    }
}

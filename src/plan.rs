//! A validated pipeline: everything checked before any work is done.
//!
//! Validation resolves the source (expands the glob and infers the schema, or
//! resolves the version), compiles every expression against the source's
//! columns, and checks the output options. After it, nothing downstream
//! re-checks input, and nothing has been written.

use std::path::PathBuf;

use arrow::datatypes::SchemaRef;
use schemars::JsonSchema;
use serde::Serialize;

use crate::source::{Format, OnBadRow, Source};
use crate::spec::{self, Parsed};
use crate::stage::{Check, StagePlan, StageSpec};
use crate::store::Store;
use crate::version::{self, Version};

/// Default: compact a segment whose selection keeps under a quarter of its shard.
pub const DEFAULT_COMPACT_BELOW: f64 = 0.25;

/// Where the rows come from.
#[derive(Debug)]
pub enum PlanSource {
    Files {
        paths: Vec<PathBuf>,
        format: Option<Format>,
        schema: Option<SchemaRef>,
        on_bad_row: OnBadRow,
    },
    Version(Box<Version>),
}

/// A stage, ready to run.
#[derive(Debug)]
pub struct PlanStage {
    pub index: usize,
    pub name: String,
    pub kind: &'static str,
    /// Canonical JSON of the stage's parameters.
    pub spec: String,
    /// BLAKE3 of `spec` and sift's version.
    pub hash: String,
    pub plan: StagePlan,
}

/// A validated pipeline.
#[derive(Debug)]
pub struct Plan {
    pub parsed: Parsed,
    /// The spec as canonical JSON, and its BLAKE3.
    pub canonical: String,
    pub hash: String,
    pub source: PlanSource,
    pub schema: SchemaRef,
    pub stages: Vec<PlanStage>,
    pub tag: Option<String>,
    pub message: Option<String>,
    pub shard_size: u64,
    pub compact_below: f64,
    /// Commit an empty result instead of failing.
    pub allow_empty: bool,
}

/// What `sift check --json` prints: the plan, in words.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PlanSummary {
    /// The spec file.
    pub spec: String,
    /// BLAKE3 of the canonical spec.
    pub spec_hash: String,
    pub source: SourceSummary,
    /// `name: type` of each source column.
    pub columns: Vec<String>,
    pub stages: Vec<StageSummary>,
    pub tag: Option<String>,
    pub shard_size: u64,
    pub compact_below: f64,
}

/// The source: files, or a version.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceSummary {
    Files(Vec<String>),
    Version(crate::store::ObjectId),
}

/// One stage of a plan.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StageSummary {
    pub name: String,
    pub kind: String,
    /// The stage hash: the first part of its cache key.
    pub hash: String,
    /// Its settings and rules, a line each.
    pub plan: Vec<String>,
}

impl Plan {
    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            spec: self.parsed.path.display().to_string(),
            spec_hash: self.hash.clone(),
            source: match &self.source {
                PlanSource::Files { paths, .. } => {
                    SourceSummary::Files(paths.iter().map(|p| p.display().to_string()).collect())
                }
                PlanSource::Version(v) => SourceSummary::Version(v.id),
            },
            columns: self
                .schema
                .fields()
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect(),
            stages: self
                .stages
                .iter()
                .map(|s| StageSummary {
                    name: s.name.clone(),
                    kind: s.kind.into(),
                    hash: s.hash.clone(),
                    plan: s.plan.describe(),
                })
                .collect(),
            tag: self.tag.clone(),
            shard_size: self.shard_size,
            compact_below: self.compact_below,
        }
    }
}

/// Validates a parsed spec against the store.
pub fn validate(store: &Store, parsed: Parsed) -> Result<Plan, spec::Error> {
    let p = &parsed.pipeline;
    let canonical = serde_json::to_string(p).expect("spec serializes");
    let hash = blake3::hash(canonical.as_bytes()).to_hex().to_string();

    let (source, schema) = match (&p.source.path, &p.source.version) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(parsed.invalid(
                "source",
                "source",
                "give exactly one of `path` or `version`",
                Some("`path = \"data/*.jsonl\"` or `version = \"raw\"`".into()),
            ));
        }
        (Some(pattern), None) => {
            let full = parsed.dir().join(pattern);
            let mut paths: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
                .map_err(|e| {
                    parsed.invalid("source.path", "source.path", format!("bad glob: {e}"), None)
                })?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            paths.sort();
            if paths.is_empty() {
                return Err(parsed.invalid(
                    "source.path",
                    "source.path",
                    format!("no file matches {}", full.display()),
                    Some("paths are relative to the spec file's directory".into()),
                ));
            }
            let schema_file = match &p.source.schema {
                Some(s) => Some(
                    crate::source::read_schema_file(&parsed.dir().join(s)).map_err(|e| {
                        parsed.invalid("source.schema", "source.schema", e.to_string(), e.hint())
                    })?,
                ),
                None => None,
            };
            let src = Source::open_with(
                &paths,
                p.source.format,
                schema_file.clone(),
                p.source.on_bad_row.unwrap_or_default(),
            )
            .map_err(|e| parsed.invalid("source.path", "source.path", e.to_string(), e.hint()))?;
            let schema = src.schema();
            (
                PlanSource::Files {
                    paths,
                    format: p.source.format,
                    schema: schema_file,
                    on_bad_row: p.source.on_bad_row.unwrap_or_default(),
                },
                schema,
            )
        }
        (None, Some(reference)) => {
            let v = version::resolve(store, reference).map_err(|e| {
                parsed.invalid("source.version", "source.version", e.to_string(), e.hint())
            })?;
            let schema = v.schema().map_err(|e| {
                parsed.invalid("source.version", "source.version", e.to_string(), e.hint())
            })?;
            if v.manifest.segments.iter().any(|s| s.repeats.is_some()) {
                return Err(parsed.invalid(
                    "source.version",
                    "source.version",
                    format!("version {} repeats rows (it was oversampled); pipelines read versions whose rows appear once", v.id.short()),
                    Some("run the pipeline on the oversampled version's source, or export it and import the export".into()),
                ));
            }
            (PlanSource::Version(Box::new(v)), schema)
        }
    };

    let mut stages = Vec::new();
    // Each stage sees the columns the one before it passes on.
    let mut columns = schema.clone();
    for (i, s) in p.stages.iter().enumerate() {
        let stages_len = p.stages.len();
        let (name, plan) = validate_stage(store, &parsed, i, s, &columns)?;
        columns = plan.schema_after(&columns);
        if plan.must_be_last() && i + 1 < stages_len {
            let label = format!("{}, field `strategy`", spec::stage_label(i, s));
            return Err(parsed.invalid(
                &label,
                &format!("stage[{i}].strategy"),
                "an oversampling balance must be the last stage",
                Some("later stages would see each repeated row once; move the other stages before it".into()),
            ));
        }
        let (spec, hash) = stage_identity(s, &plan.inputs());
        stages.push(PlanStage {
            index: i,
            name,
            kind: s.kind(),
            spec,
            hash,
            plan,
        });
    }

    let o = &p.output;
    if let Some(t) = &o.tag {
        crate::store::catalog::validate_tag(t)
            .map_err(|e| parsed.invalid("output.tag", "output.tag", e.to_string(), e.hint()))?;
    }
    let shard_size = match o.shard_size {
        Some(s) if s.0 < 1024 => {
            return Err(parsed.invalid(
                "output.shard_size",
                "output.shard_size",
                format!("shard size must be at least 1KiB, got {s}"),
                None,
            ));
        }
        Some(s) => s.0,
        None => crate::store::shard::DEFAULT_SHARD_SIZE,
    };
    let compact_below = o.compact_below.unwrap_or(DEFAULT_COMPACT_BELOW);
    if !(0.0..=1.0).contains(&compact_below) {
        return Err(parsed.invalid(
            "output.compact_below",
            "output.compact_below",
            "must be between 0 and 1",
            None,
        ));
    }
    let allow_empty = o.allow_empty;
    Ok(Plan {
        tag: o.tag.clone(),
        message: o.message.clone(),
        parsed,
        canonical,
        hash,
        source,
        schema,
        stages,
        shard_size,
        compact_below,
        allow_empty,
    })
}

/// Validates one stage; an error names the stage and field, at the field's place.
fn validate_stage(
    store: &Store,
    parsed: &Parsed,
    i: usize,
    s: &StageSpec,
    schema: &SchemaRef,
) -> Result<(String, StagePlan), spec::Error> {
    let name = s
        .name()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}-{}", s.kind(), i + 1));
    let plan = s
        .validate(&Check {
            schema,
            store,
            dir: Some(parsed.dir()),
            inputs: &crate::stage::Inputs::new(),
        })
        .map_err(|e| {
            let label = format!("{}, field `{}`", spec::stage_label(i, s), e.field);
            parsed.invalid(
                &label,
                &format!("stage[{i}].{}", e.field),
                e.message,
                e.hint,
            )
        })?;
    Ok((name, plan))
}

/// A stage's canonical parameters and its hash. Neither the name nor the
/// kind's neutral fields (such as dedup's `device`) change what it computes;
/// the content ids of the files it reads (`inputs`, such as a model) do.
pub fn stage_identity(s: &StageSpec, inputs: &crate::stage::Inputs) -> (String, String) {
    let mut params = serde_json::to_value(s).expect("stage serializes");
    let obj = params.as_object_mut().expect("stage is an object");
    obj.remove("name");
    for f in s.neutral() {
        obj.remove(*f);
    }
    if !inputs.is_empty() {
        obj.insert(
            "inputs".into(),
            serde_json::to_value(inputs).expect("inputs serialize"),
        );
    }
    let spec = serde_json::to_string(&params).expect("json");
    let hash = blake3::hash(format!("{spec}\nsift {}", env!("CARGO_PKG_VERSION")).as_bytes())
        .to_hex()
        .to_string();
    (spec, hash)
}

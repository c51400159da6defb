//! The dedup stage: exact and near-duplicate (MinHash LSH) removal.
//!
//! ```text
//! selected rows ─▶ normalize ─▶ exact: xxh3-128 of the text ──────────────┐
//!   (parallel      (NFKC, lowercase,                                      │
//!    by segment)    digits→0, punct→space)                                ▼
//!                  └▶ minhash: shingles ─▶ signature ─▶ b band hashes ─▶ buckets ─▶ candidate pairs
//!                                                                           │ verify (signature / exact Jaccard)
//!                                                                           ▼
//!                                              union-find clusters ─▶ keep one per cluster
//! ```
//!
//! Documents are numbered in input order; every decision depends only on
//! that order and on the texts, so the result is the same on any thread count.
//!
//! | file | owns |
//! |------|------|
//! | `normalize.rs` | text normalization and shingles |
//! | `minhash.rs` | permutations, signatures, band hashes, b × r choice |
//! | `collect.rs` | the passes over the text (keys, bands, candidate shingle sets) |
//! | `sidecar.rs` | band sidecars: a shard's first-pass results, reused by later runs |
//! | `pairs.rs` | pair sidecars: Jaccards of verified candidate pairs, reused by later runs |
//! | `cluster.rs` | union-find, survivors, the details object |

mod cluster;
mod collect;
pub mod minhash;
mod normalize;
mod pairs;
mod prepare;
mod run;
mod sidecar;
#[cfg(test)]
mod tests;
mod udf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use cluster::{Removal, decode_details};
pub use normalize::{normalize, shingles, texts};

use super::{Check, Context, ExplainContext, Invalid, Kind, Outcome, Planned, Reason, RunError};
use crate::gpu::DeviceChoice;
use crate::version::selection::SelectionSet;
pub use run::bucket_pairs;
use run::run;

/// With `verify = "exact"`, LSH bands are chosen for this fraction of the threshold.
pub const EXACT_VERIFY_LSH_FACTOR: f64 = 0.75;

/// A dedup stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `exact` or `minhash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// The text column (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// MinHash: `word` (default) or `char` shingles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shingle: Option<Shingle>,
    /// MinHash: shingle length in words or characters (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ngram: Option<usize>,
    /// MinHash: permutations (default 128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_perm: Option<usize>,
    /// MinHash: bands and rows per band (both, with bands × rows = num_perm), or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    /// MinHash: Jaccard threshold in (0, 1) (default 0.8); picks bands × rows when they are not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// MinHash: `exact` (default), `signature` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
    /// MinHash: seed of the permutations (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Which row of a cluster survives: `first` (default), `longest`, or `{ by = "COLUMN" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<Keep>,
    /// MinHash: where signatures are computed: `auto` (default: a GPU if one is usable), `cpu` or `gpu`. The result is the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceChoice>,
    /// Earlier versions (tags or ids) to deduplicate against: rows of this
    /// input that duplicate one of their rows are removed; their own rows are
    /// never removed. Their band hashes come from the band sidecars when an
    /// earlier run made them. The versions' ids are part of the stage's hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub against: Vec<String>,
}

/// Exact or near duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Exact,
    Minhash,
}

/// Word or character shingles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Shingle {
    #[default]
    Word,
    Char,
}

/// How candidate pairs are checked before they are merged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// Merge every pair that shares a band.
    None,
    /// Merge when the signatures' estimated Jaccard reaches the threshold.
    Signature,
    /// Merge when the true shingle Jaccard reaches the threshold (re-reads only the candidates).
    #[default]
    Exact,
}

/// Which row of a cluster survives: `"first"`, `"longest"`, or the best
/// score, `{ by = "COLUMN", order = "desc" | "asc" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "`keep` must be \"first\", \"longest\" or { by = \"COLUMN\", order = \"desc\" | \"asc\" }"
)]
pub enum Keep {
    Rule(KeepRule),
    Score(KeepScore),
}

impl Default for Keep {
    fn default() -> Self {
        Keep::Rule(KeepRule::First)
    }
}

/// A fixed survivor rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeepRule {
    /// The first row in input order.
    First,
    /// The longest text (code points); ties go to the first.
    Longest,
}

/// Keep the row with the best value of a numeric column; ties, and rows whose
/// score is null, go by input order (nulls lose to any score).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeepScore {
    /// A numeric column.
    pub by: String,
    /// `desc` (default): the highest score survives; `asc`: the lowest.
    #[serde(default)]
    pub order: Order,
}

/// Sort order of a score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Desc,
    Asc,
}

/// A validated dedup stage.
#[derive(Debug, Clone)]
pub struct Plan {
    pub method: Method,
    pub column: String,
    pub shingle: Shingle,
    pub ngram: usize,
    pub num_perm: usize,
    pub bands: usize,
    pub rows: usize,
    pub threshold: f64,
    pub verify: Verify,
    pub seed: u64,
    pub keep: Keep,
    pub device: DeviceChoice,
    /// The earlier versions this stage deduplicates against.
    pub against: Vec<Earlier>,
}

/// An earlier version a dedup stage deduplicates against.
#[derive(Debug, Clone)]
pub struct Earlier {
    /// As the spec names it (a tag or an id).
    pub name: String,
    pub version: Box<crate::version::Version>,
}

impl Plan {
    /// The columns the first pass reads: the text, and the score of `keep = { by }`.
    fn read_columns(&self) -> Vec<&str> {
        let mut c = vec![self.column.as_str()];
        if let Keep::Score(k) = &self.keep {
            c.push(k.by.as_str());
        }
        c
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Exact => "exact",
        Method::Minhash => "minhash",
    }
}

impl Kind for Spec {
    const NAME: &'static str = "dedup";
    const NEUTRAL: &'static [&'static str] = &["device"];
    type Plan = Plan;

    fn register_udfs(ctx: &datafusion::prelude::SessionContext) {
        ctx.register_udf(udf::minhash_bands());
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        let schema = cx.schema;
        let method = self.method.ok_or_else(|| {
            Invalid::new("method", "a dedup stage needs `method`")
                .hint("method = \"exact\" or method = \"minhash\"")
        })?;
        let column = self.column.clone().unwrap_or_else(|| "text".into());
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        cx.text_column("column", &column)?;
        let ngram = self.ngram.unwrap_or(5);
        if ngram == 0 {
            return Err(Invalid::new("ngram", "ngram must be at least 1"));
        }
        let num_perm = self.num_perm.unwrap_or(128);
        if !(1..=4096).contains(&num_perm) {
            return Err(Invalid::new(
                "num_perm",
                "num_perm must be between 1 and 4096",
            ));
        }
        let threshold = self.threshold.unwrap_or(0.8);
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(Invalid::new(
                "threshold",
                format!("threshold must be in (0, 1), got {threshold}"),
            ));
        }
        let (bands, rows) = match (self.bands, self.rows) {
            (Some(b), Some(r)) if b * r == num_perm && b > 0 => (b, r),
            (Some(b), Some(r)) => {
                return Err(Invalid::new(
                    "bands",
                    format!("bands × rows must equal num_perm: {b} × {r} ≠ {num_perm}"),
                )
                .hint("or omit both and give `threshold`"));
            }
            // With exact verification, false candidates cost only a re-read, so the
            // bands are chosen for a lower threshold: more true pairs become candidates.
            (None, None) if self.verify.unwrap_or_default() == Verify::Exact => {
                minhash::optimal_params(threshold * EXACT_VERIFY_LSH_FACTOR, num_perm)
            }
            (None, None) => minhash::optimal_params(threshold, num_perm),
            _ => {
                return Err(Invalid::new(
                    if self.bands.is_some() {
                        "bands"
                    } else {
                        "rows"
                    },
                    "give both `bands` and `rows`, or neither",
                ));
            }
        };
        if method == Method::Exact
            && (self.bands.is_some() || self.shingle.is_some() || self.verify.is_some())
        {
            return Err(Invalid::new(
                "method",
                "shingles, bands and verify apply to method = \"minhash\"",
            ));
        }
        let keep = self.keep.clone().unwrap_or_default();
        if let Keep::Score(k) = &keep {
            match schema.field_with_name(&k.by) {
                Err(_) => {
                    return Err(Invalid::new(
                        "keep.by",
                        format!("the source has no column '{}'", k.by),
                    )
                    .hint(format!("the source's columns are: {}", columns.join(", "))));
                }
                Ok(f) if !f.data_type().is_numeric() => {
                    return Err(Invalid::new(
                        "keep.by",
                        format!("column '{}' is {}, not a number", k.by, f.data_type()),
                    )
                    .hint("keep by a numeric score column, or use \"first\" or \"longest\""));
                }
                Ok(_) => {}
            }
        }
        let mut against = Vec::new();
        for (i, name) in self.against.iter().enumerate() {
            let field = format!("against[{i}]");
            // A recorded spec is checked again against the versions it read then.
            let reference = cx.inputs.get(&field).unwrap_or(name);
            let version = crate::version::resolve(cx.store, reference).map_err(|e| Invalid {
                field: field.clone(),
                message: e.to_string(),
                hint: e.hint(),
            })?;
            let schema = version
                .schema()
                .map_err(|e| Invalid::new(&field, e.to_string()))?;
            match schema.field_with_name(&column) {
                Ok(f) if super::is_text(f.data_type()) => {}
                _ => {
                    return Err(Invalid::new(
                        &field,
                        format!("version `{name}` has no text column '{column}'"),
                    )
                    .hint("an earlier version is compared on the same column as the input"));
                }
            }
            against.push(Earlier {
                name: name.clone(),
                version: Box::new(version),
            });
        }
        Ok(Plan {
            method,
            column,
            shingle: self.shingle.unwrap_or_default(),
            ngram,
            num_perm,
            bands,
            rows,
            threshold,
            verify: self.verify.unwrap_or_default(),
            seed: self.seed.unwrap_or(1),
            keep,
            device: self.device.unwrap_or_default(),
            against,
        })
    }
}

/// A duplicate's evidence: the row it duplicates and their similarity.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Detail {
    /// The source row kept in its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_row: Option<u64>,
    /// Their shingle Jaccard (1 for exact duplicates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jaccard: Option<f32>,
    /// When the kept row belongs to an earlier version (`against`): that
    /// version as the spec names it, and its id; `kept_row` is then the
    /// row's position in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_version_id: Option<crate::store::ObjectId>,
}

impl Planned for Plan {
    type Detail = Detail;

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        run(cx, input, self)
    }

    fn prepare(
        &self,
        cx: &Context,
        input: &SelectionSet,
    ) -> Result<Option<SelectionSet>, RunError> {
        prepare::missing(cx, self, input)
    }

    fn prepare_segment(
        &self,
        cx: &Context,
        segment: usize,
        rows: &roaring::RoaringBitmap,
    ) -> Option<Result<Vec<u8>, RunError>> {
        Some(prepare::hash_segment(cx, self, segment, rows))
    }

    fn absorb(&self, cx: &Context, prepared: Vec<(usize, Vec<u8>)>) -> Result<(), RunError> {
        prepare::absorb(cx, self, prepared)
    }

    fn band_sources(
        &self,
        cx: &Context,
        input: &SelectionSet,
    ) -> Result<Option<Vec<u8>>, RunError> {
        prepare::band_sources(cx, self, input)
    }

    fn band_rows(
        &self,
        cx: &Context,
        segment: usize,
        rows: &roaring::RoaringBitmap,
        first: u64,
        sources: &[u8],
    ) -> Option<Result<crate::stage::BandRows, RunError>> {
        Some(prepare::band_rows(cx, self, segment, rows, first, sources))
    }

    fn run_with_pairs(
        &self,
        cx: &Context,
        input: &SelectionSet,
        pairs: Vec<(u32, u32)>,
    ) -> Result<Outcome, RunError> {
        run::run_with(cx, input, self, Some(pairs))
    }

    fn explain(&self, cx: &ExplainContext) -> Result<Reason<Detail>, RunError> {
        let Some(details) = cx.stats.details() else {
            return Ok(Reason::recorded());
        };
        let index = cx.memo(&details, || {
            let removals = decode_details(&details, &cx.store.objects().get(&details)?)?;
            Ok(removals
                .into_iter()
                .map(|r| (r.removed, r))
                .collect::<std::collections::HashMap<_, _>>())
        })?;
        let at = (cx.at.0 as u32, cx.at.1);
        let Some(r) = index.get(&at) else {
            return Ok(Reason::recorded());
        };
        let (rule, what) = match self.method {
            Method::Exact => (
                "exact_duplicate",
                "an exact duplicate (after normalization)",
            ),
            Method::Minhash => ("near_duplicate", "a near duplicate"),
        };
        if let Some((v, row)) = r.earlier {
            let name = self
                .against
                .get(v as usize)
                .map_or_else(|| format!("against[{v}]"), |a| a.name.clone());
            let id = self.against.get(v as usize).map(|a| a.version.id);
            return Ok(Reason {
                rule: Some(rule.into()),
                expr: None,
                because: format!(
                    "{what} of row {row} of the earlier version `{name}`{} (Jaccard {:.3})",
                    id.map(|id| format!(" ({})", id.short()))
                        .unwrap_or_default(),
                    r.similarity
                ),
                detail: Detail {
                    kept_row: Some(row),
                    jaccard: Some(r.similarity),
                    kept_version: Some(name),
                    kept_version_id: id,
                },
            });
        }
        let kept_row = cx.source_row(r.kept);
        Ok(Reason {
            rule: Some(rule.into()),
            expr: None,
            because: format!(
                "{what} of source row {kept_row}, which was kept (Jaccard {:.3})",
                r.similarity
            ),
            detail: Detail {
                kept_row: Some(kept_row),
                jaccard: Some(r.similarity),
                ..Detail::default()
            },
        })
    }

    fn inputs(&self) -> super::Inputs {
        self.against
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("against[{i}]"), a.version.id.hex()))
            .collect()
    }

    fn describe(&self) -> Vec<String> {
        let keep = match &self.keep {
            Keep::Rule(KeepRule::First) => "keep first".to_string(),
            Keep::Rule(KeepRule::Longest) => "keep longest".to_string(),
            Keep::Score(k) => format!(
                "keep the {} `{}`",
                match k.order {
                    Order::Desc => "highest",
                    Order::Asc => "lowest",
                },
                k.by
            ),
        };
        let mut lines = match self.method {
            Method::Exact => vec![format!(
                "exact duplicates of normalized `{}`, {keep}",
                self.column
            )],
            Method::Minhash => vec![format!(
                "minhash on `{}`: {} {}-gram shingles, {} perms = {} bands × {} rows, threshold {}, verify {}, {keep}, seed {}",
                self.column,
                match self.shingle {
                    Shingle::Word => "word",
                    Shingle::Char => "char",
                },
                self.ngram,
                self.num_perm,
                self.bands,
                self.rows,
                self.threshold,
                match self.verify {
                    Verify::None => "none",
                    Verify::Signature => "signature",
                    Verify::Exact => "exact",
                },
                self.seed
            )],
        };
        for a in &self.against {
            lines.push(format!(
                "against `{}` ({}): its rows are kept, and rows duplicating them are removed",
                a.name,
                a.version.id.short()
            ));
        }
        lines
    }

    fn wants_gpu(&self, device: Option<DeviceChoice>) -> bool {
        self.method == Method::Minhash && device.unwrap_or(self.device) == DeviceChoice::Gpu
    }
}

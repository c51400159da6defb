//! The decontaminate stage: remove training rows that share word n-grams
//! with evaluation sets.
//!
//! ```text
//! eval sets (versions, or files imported as versions) ─▶ normalized word n-grams (xxh3-64)
//!     ─▶ index object, content-addressed and cached by (eval content ids, columns, n)
//! each row ─▶ its n-grams ─▶ hits in the index ─▶ removed when `any` hit (or the
//!     fraction of its n-grams that hit is above `max_overlap`)
//! ```
//!
//! Text is normalized as dedup normalizes it. An eval row of fewer than
//! `ngram` words yields no n-gram, so it can match nothing; the stats count
//! such rows. An eval set named by a version and the same rows named by a
//! file give the same index.

mod index;

use index::{Index, load_index};

use std::path::PathBuf;

use indexmap::IndexMap;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(super) use super::dedup::texts;
use super::dedup::{Shingle, normalize, shingles};
use super::{
    Check, Context, ExplainContext, Invalid, Kind, Outcome, Planned, Reason, RunError, StageStats,
};
use crate::source::Source;
use crate::version::selection::{SelectionSet, segment_batches};
use crate::version::stats::{Benchmark, DecontaminateStats};
use crate::version::{self, Version};

/// A decontaminate stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The text column of the rows to check (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The evaluation sets: `{ version = "mmlu-test", column = "question" }` or `{ path = "evals/*.jsonl" }`.
    pub against: Vec<Against>,
    /// Words per n-gram (default 13, as GPT-3; datatrove uses 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ngram: Option<usize>,
    /// `any` (default): one shared n-gram removes a row; `fraction`: more than `max_overlap` of its n-grams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// With `mode = "fraction"`: the share of a row's n-grams that may be shared, in [0, 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_overlap: Option<f64>,
}

/// One evaluation set.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Against {
    /// A version in the store: tag, id or id prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Or files: a path or glob, relative to the spec file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The eval text column (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The name stats and explain use (default: the version or path as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// How a row is judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Any,
    Fraction,
}

/// Where an eval set's rows are.
#[derive(Debug)]
enum EvalRows {
    Version(Box<Version>),
    Files(Vec<PathBuf>),
    /// Checked again from a recorded spec: the stats name its index.
    Recorded,
}

#[derive(Debug)]
struct Eval {
    name: String,
    column: String,
    rows: EvalRows,
}

/// A validated decontaminate stage.
#[derive(Debug)]
pub struct Plan {
    column: String,
    evals: Vec<Eval>,
    ngram: usize,
    mode: Mode,
    max_overlap: f64,
}

impl Kind for Spec {
    const NAME: &'static str = "decontaminate";
    type Plan = Plan;

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        let column = self.column.clone().unwrap_or_else(|| "text".into());
        cx.text_column("column", &column)?;
        let ngram = self.ngram.unwrap_or(13);
        if ngram == 0 {
            return Err(Invalid::new("ngram", "ngram must be at least 1"));
        }
        let mode = self.mode.unwrap_or_default();
        let max_overlap = match (mode, self.max_overlap) {
            (Mode::Any, None) => 0.0,
            (Mode::Any, Some(_)) => {
                return Err(Invalid::new(
                    "max_overlap",
                    "`max_overlap` applies to mode = \"fraction\"",
                ));
            }
            (Mode::Fraction, Some(f)) if (0.0..1.0).contains(&f) => f,
            (Mode::Fraction, Some(f)) => {
                return Err(Invalid::new(
                    "max_overlap",
                    format!("max_overlap must be in [0, 1), got {f}"),
                ));
            }
            (Mode::Fraction, None) => {
                return Err(
                    Invalid::new("max_overlap", "mode = \"fraction\" needs `max_overlap`")
                        .hint("e.g. max_overlap = 0.1"),
                );
            }
        };
        if self.against.is_empty() {
            return Err(Invalid::new("against", "name at least one evaluation set")
                .hint("against = [{ version = \"mmlu-test\", column = \"question\" }]"));
        }
        let mut evals = Vec::new();
        for (i, a) in self.against.iter().enumerate() {
            let field = |f: &str| format!("against[{i}].{f}");
            let col = a.column.clone().unwrap_or_else(|| "text".into());
            let (name, rows, schema) = match (&a.version, &a.path) {
                (Some(r), None) => {
                    let v = version::resolve(cx.store, r).map_err(|e| Invalid {
                        field: field("version"),
                        message: e.to_string(),
                        hint: e.hint(),
                    })?;
                    let schema = v
                        .schema()
                        .map_err(|e| Invalid::new(field("version"), e.to_string()))?;
                    (r.clone(), EvalRows::Version(Box::new(v)), Some(schema))
                }
                (None, Some(p)) => match cx.dir {
                    None => (p.clone(), EvalRows::Recorded, None),
                    Some(dir) => {
                        let full = dir.join(p);
                        let mut paths: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
                            .map_err(|e| Invalid::new(field("path"), format!("bad glob: {e}")))?
                            .filter_map(Result::ok)
                            .filter(|p| p.is_file())
                            .collect();
                        paths.sort();
                        if paths.is_empty() {
                            return Err(Invalid::new(
                                field("path"),
                                format!("no file matches {}", full.display()),
                            )
                            .hint("paths are relative to the spec file's directory"));
                        }
                        let src = Source::open(&paths, None, None).map_err(|e| Invalid {
                            field: field("path"),
                            message: e.to_string(),
                            hint: e.hint(),
                        })?;
                        (p.clone(), EvalRows::Files(paths), Some(src.schema()))
                    }
                },
                _ => {
                    return Err(Invalid::new(
                        field("version"),
                        "give exactly one of `version` or `path`",
                    ));
                }
            };
            if let Some(schema) = schema {
                match schema.field_with_name(&col) {
                    Ok(f) if super::is_text(f.data_type()) => {}
                    _ => {
                        let cols: Vec<&str> =
                            schema.fields().iter().map(|f| f.name().as_str()).collect();
                        return Err(Invalid::new(
                            field("column"),
                            format!("the eval set has no text column '{col}'"),
                        )
                        .hint(format!("its columns are: {}", cols.join(", "))));
                    }
                }
            }
            evals.push(Eval {
                name: a.name.clone().unwrap_or(name),
                column: col,
                rows,
            });
        }
        Ok(Plan {
            column,
            evals,
            ngram,
            mode,
            max_overlap,
        })
    }
}

/// A contaminated row's evidence: the eval set, its row and the shared n-gram.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Detail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<String>,
    /// The eval row (0-based, in its version's order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_row: Option<u64>,
    /// The first shared n-gram, normalized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ngram: Option<String>,
    /// Shared n-grams over the row's n-grams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<f64>,
}

/// The n-gram hashes of a text; none when it has fewer than `n` words.
fn ngrams(text: &str, n: usize, out: &mut Vec<u64>) -> String {
    let norm = normalize(text);
    out.clear();
    if norm.split(' ').filter(|w| !w.is_empty()).count() >= n {
        shingles(&norm, Shingle::Word, n, out);
    }
    norm
}

/// The row's first hit and its shared fraction, if it is contaminated.
fn judge(plan: &Plan, index: &Index, grams: &[u64]) -> Option<(usize, (u32, u32), f64)> {
    let first = grams.iter().position(|g| index.contains_key(g))?;
    let overlap = || {
        let hits = grams[first..]
            .iter()
            .filter(|g| index.contains_key(g))
            .count();
        hits as f64 / grams.len() as f64
    };
    let hit = index[&grams[first]];
    match plan.mode {
        // One shared n-gram decides; the overlap is worked out only to say how much.
        Mode::Any => Some((first, hit, f64::NAN)),
        Mode::Fraction => {
            let o = overlap();
            (o > plan.max_overlap).then_some((first, hit, o))
        }
    }
}

/// The overlap of a row already judged contaminated, for explain.
fn overlap_of(index: &Index, grams: &[u64]) -> f64 {
    let hits = grams.iter().filter(|g| index.contains_key(g)).count();
    hits as f64 / grams.len().max(1) as f64
}

impl Planned for Plan {
    type Detail = Detail;

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        let (index_id, counts) = self.index(cx)?;
        let index = load_index(cx.store, &index_id)?;
        let segments = &cx.source.manifest.segments;
        let per_segment = crate::par::map_ordered(cx.threads, segments.len(), |i| {
            let mut kept = RoaringBitmap::new();
            let mut hits = vec![0u64; self.evals.len()];
            let mut grams = Vec::new();
            for (ids, batch) in segment_batches(cx.store, &segments[i], &input.0[i])? {
                for (row, text) in ids.iter().zip(texts(&batch, &self.column)) {
                    ngrams(text, self.ngram, &mut grams);
                    match judge(self, &index, &grams) {
                        None => {
                            kept.insert(*row);
                        }
                        Some((_, (eval, _), _)) => hits[eval as usize] += 1,
                    }
                }
                cx.observer.rows_done(batch.num_rows() as u64);
            }
            Ok::<_, RunError>((kept, hits))
        })?;
        let mut kept = Vec::new();
        let mut hits = vec![0u64; self.evals.len()];
        for (k, h) in per_segment {
            kept.push(k);
            for (a, b) in hits.iter_mut().zip(h) {
                *a += b;
            }
        }
        let mut removed = IndexMap::new();
        removed.insert("contaminated".to_string(), hits.iter().sum());
        let benchmarks = self
            .evals
            .iter()
            .zip(&counts)
            .zip(&hits)
            .map(|((e, (rows, short)), h)| {
                (
                    e.name.clone(),
                    Benchmark {
                        eval_rows: *rows,
                        too_short: *short,
                        rows_removed: *h,
                    },
                )
            })
            .collect();
        Ok(Outcome {
            kept: SelectionSet(kept),
            removed,
            stats: StageStats::Decontaminate(DecontaminateStats {
                ngram: self.ngram,
                index: index_id,
                benchmarks,
            }),
        })
    }

    fn explain(&self, cx: &ExplainContext) -> Result<Reason<Detail>, RunError> {
        let StageStats::Decontaminate(stats) = cx.stats else {
            return Ok(Reason::recorded());
        };
        let index = load_index(cx.store, &stats.index)?;
        let Some(batch) = cx.row()? else {
            return Ok(Reason::recorded());
        };
        let batch = &batch;
        let text = texts(batch, &self.column).first().copied().unwrap_or("");
        let mut grams = Vec::new();
        let norm = ngrams(text, self.ngram, &mut grams);
        let Some((k, (eval, eval_row), _)) = judge(self, &index, &grams) else {
            return Ok(Reason::recorded());
        };
        let overlap = overlap_of(&index, &grams);
        let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
        let shared = words[k..k + self.ngram].join(" ");
        let bench = stats
            .benchmarks
            .get_index(eval as usize)
            .map_or_else(|| format!("eval set {}", eval + 1), |(n, _)| n.clone());
        Ok(Reason {
            rule: Some("contaminated".into()),
            expr: None,
            because: format!(
                "shares the {}-gram \"{shared}\" with row {eval_row} of {bench} ({:.0}% of its {}-grams are shared)",
                self.ngram,
                overlap * 100.0,
                self.ngram
            ),
            detail: Detail {
                benchmark: Some(bench),
                eval_row: Some(eval_row as u64),
                ngram: Some(shared),
                overlap: Some(overlap),
            },
        })
    }

    fn describe(&self) -> Vec<String> {
        let names: Vec<&str> = self.evals.iter().map(|e| e.name.as_str()).collect();
        vec![format!(
            "remove `{}` rows sharing {} {}-grams with {}",
            self.column,
            match self.mode {
                Mode::Any => "any".to_string(),
                Mode::Fraction => format!("more than {} of their", self.max_overlap),
            },
            self.ngram,
            names.join(", ")
        )]
    }
}

//! The classifier stage: keep rows by the score a fastText model gives one
//! of its labels (DCLM's and FineWeb-Edu's fastText quality filters).
//!
//! ```text
//! text ─▶ model ─▶ p(label | text) = score
//!      ─▶ kept if keep_above ≤ score (and score < keep_below, if set)
//! ```
//!
//! The model is any supervised fastText model given by path
//! (`model = { fasttext = "quality.bin" }`); its BLAKE3 is in the stage hash
//! and its spec's `inputs`, and its bytes are kept in the store (see
//! [`super::models`]). The score is the label's probability among all the
//! model's labels, as `model.predict(text, k=-1)` reports it. `min_score` is
//! another name for `keep_above`; `keep_below` alone keeps low scores (a
//! toxicity or boilerplate classifier); both keep a band.
//!
//! With `score_column = "hq"` the stage also writes each kept row's score to
//! a new Float64 column, for later stages (`keep = { by = "hq" }` in dedup
//! keeps the best-scoring duplicate) and for the version. Every kept row then
//! gains a value, so it is written anew, as a `map` adding a column would be.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use indexmap::IndexMap;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::dedup::texts;
use super::models::{self, FastTextFile};
use super::transform::{self, Edit, Fate, Rewrite, RewriteError, Rewritten};
use super::{
    Check, Context, ExplainContext, Invalid, Kind, Outcome, Part, Planned, Reason, RunError,
    StageStats,
};
use crate::version::selection::SelectionSet;
use crate::version::stats::{ClassifierStats, RowCount};

/// A classifier stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The text column (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// `{ fasttext = "quality.bin" }`: a supervised fastText model, relative to the spec file.
    pub model: FastTextFile,
    /// The label whose probability is the score (`__label__hq` or `hq`).
    pub label: String,
    /// Keep rows scoring at least this, in [0, 1] (default 0.5 unless `keep_below` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_above: Option<f64>,
    /// Another name for `keep_above`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
    /// Keep rows scoring less than this, in (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_below: Option<f64>,
    /// Write each kept row's score to this new column (Float64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_column: Option<String>,
}

/// A validated classifier stage.
#[derive(Debug)]
pub struct Plan {
    pub column: String,
    pub model: models::Model,
    /// The label, without `__label__`.
    pub label: String,
    /// Kept: `above ≤ score` and, if set, `score < below`.
    pub above: Option<f64>,
    pub below: Option<f64>,
    /// The score column and the schema with it, when the stage writes one.
    pub score_column: Option<(String, SchemaRef)>,
}

impl Kind for Spec {
    const NAME: &'static str = "classifier";
    type Plan = Plan;

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        let column = self.column.clone().unwrap_or_else(super::text_column);
        cx.text_column("column", &column)?;
        let model = models::Model::open(cx, "model", &self.model.fasttext)?;
        let labels = model.labels();
        let label = models::bare(self.label.trim()).to_string();
        if !labels.contains(&label) {
            let mut shown: Vec<&str> = labels.iter().take(20).map(String::as_str).collect();
            if labels.len() > shown.len() {
                shown.push("…");
            }
            return Err(Invalid::new(
                "label",
                format!("{} has no label `{}`", model.describe(), self.label),
            )
            .hint(format!("its {} labels: {}", labels.len(), shown.join(", "))));
        }
        let above = match (self.keep_above, self.min_score) {
            (Some(_), Some(_)) => {
                return Err(Invalid::new(
                    "min_score",
                    "min_score is another name for keep_above; set one of them",
                ));
            }
            (a, m) => a.or(m),
        };
        let below = self.keep_below;
        let above = match (above, below) {
            (None, None) => Some(0.5),
            (a, _) => a,
        };
        for (field, v) in [("keep_above", above), ("keep_below", below)] {
            if let Some(v) = v
                && !(0.0..=1.0).contains(&v)
            {
                return Err(Invalid::new(
                    field,
                    format!("{field} must be in [0, 1], got {v}"),
                ));
            }
        }
        if let (Some(a), Some(b)) = (above, below)
            && a >= b
        {
            return Err(
                Invalid::new("keep_below", format!("no score is both ≥ {a} and < {b}"))
                    .hint("keep_above must be less than keep_below"),
            );
        }
        let score_column = match &self.score_column {
            None => None,
            Some(c) if c.trim().is_empty() => {
                return Err(Invalid::new("score_column", "the column name is empty"));
            }
            Some(c) if cx.schema.field_with_name(c).is_ok() => {
                return Err(Invalid::new(
                    "score_column",
                    format!("the rows already have a column `{c}`"),
                )
                .hint("name a new column; a `map` stage can drop or rename the old one first"));
            }
            Some(c) => {
                let mut fields: Vec<Field> = cx
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                fields.push(Field::new(c, DataType::Float64, true));
                Some((c.clone(), Arc::new(Schema::new(fields))))
            }
        };
        Ok(Plan {
            column,
            model,
            label,
            above,
            below,
            score_column,
        })
    }
}

/// A classifier removal's evidence: the score.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Detail {
    /// The label's probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// The histogram's bins: tenths of [0, 1].
const BINS: usize = 10;

fn bin_name(i: usize) -> String {
    format!("{:.1}-{:.1}", i as f64 / 10.0, (i + 1) as f64 / 10.0)
}

fn bin_of(score: f64) -> usize {
    ((score * BINS as f64) as usize).min(BINS - 1)
}

/// A part's tally of scores in fixed point (see [`FIXED`]), before the
/// stage and in the rows it keeps; its histogram is counted by bin name.
const SUM: &str = "sum";

impl Plan {
    /// A segment's part: the rows kept, removals per rule, and in `counts`
    /// the rows per score bin and the scores' fixed-point sum, before and after.
    fn part(&self, cx: &Context, batches: &super::rows::SegmentBatches) -> Result<Part, RunError> {
        let mut part = Part::default();
        let mut bins = [(0u64, 0u64); BINS];
        let mut fixed = (0u64, 0u64);
        super::rows::segment_texts(
            cx,
            batches,
            &self.column,
            |text| self.model.score(text, &self.label),
            |row, score| {
                let bin = &mut bins[bin_of(score)];
                let f = (score * FIXED).round() as u64;
                bin.0 += 1;
                fixed.0 += f;
                match self.verdict(score) {
                    None => {
                        part.kept.insert(row);
                        bin.1 += 1;
                        fixed.1 += f;
                    }
                    Some(rule) => *part.removed.entry(rule.to_string()).or_default() += 1,
                }
                Ok(())
            },
        )?;
        for (i, bin) in bins.iter().enumerate() {
            if *bin != (0, 0) {
                part.counts.insert(bin_name(i), *bin);
            }
        }
        part.counts.insert(SUM.into(), fixed);
        Ok(part)
    }

    /// Why a row with this score is removed, or `None` to keep it.
    fn verdict(&self, score: f64) -> Option<&'static str> {
        if self.above.is_some_and(|a| score < a) {
            Some("low_score")
        } else if self.below.is_some_and(|b| score >= b) {
            Some("high_score")
        } else {
            None
        }
    }

    /// `≥ 0.5`, `< 0.2`, `in [0.2, 0.8)`.
    fn wanted(&self) -> String {
        match (self.above, self.below) {
            (Some(a), Some(b)) => format!("in [{a}, {b})"),
            (Some(a), None) => format!("≥ {a}"),
            (None, Some(b)) => format!("< {b}"),
            (None, None) => "any".into(),
        }
    }
}

impl Planned for Plan {
    type Detail = Detail;

    // Scoring alone runs segment by segment (on a cluster's executors);
    // writing a score column writes new rows, which happens here.
    fn per_segment(&self) -> bool {
        self.score_column.is_none()
    }

    fn why_here(&self) -> Option<&'static str> {
        self.score_column
            .is_some()
            .then_some("a classifier stage that writes a score column writes its rows here")
    }

    fn keep_inputs(&self, store: &crate::store::Store) -> Result<(), RunError> {
        self.model.keep(store)
    }

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        self.keep_inputs(cx.store)?;
        if self.score_column.is_some() {
            return self.run_writing(cx, input);
        }
        let parts = super::rows::parts(cx, input, |_, batches| self.part(cx, &batches))?;
        Ok(self.merge(parts))
    }

    fn run_segment(
        &self,
        cx: &Context,
        segment: usize,
        rows: &RoaringBitmap,
    ) -> Option<Result<Part, RunError>> {
        self.per_segment().then(|| {
            super::rows::segment(cx, segment, rows).and_then(|batches| self.part(cx, &batches))
        })
    }

    fn merge(&self, parts: Vec<Part>) -> Outcome {
        let mut removed: IndexMap<String, u64> = IndexMap::new();
        if self.above.is_some() {
            removed.insert("low_score".into(), 0);
        }
        if self.below.is_some() {
            removed.insert("high_score".into(), 0);
        }
        let mut bins = [(0u64, 0u64); BINS];
        let mut fixed = (0u64, 0u64);
        for p in &parts {
            for (i, bin) in bins.iter_mut().enumerate() {
                if let Some((b, a)) = p.counts.get(&bin_name(i)) {
                    bin.0 += b;
                    bin.1 += a;
                }
            }
            if let Some((b, a)) = p.counts.get(SUM) {
                fixed.0 += b;
                fixed.1 += a;
            }
        }
        let sum = (fixed.0 as f64 / FIXED, fixed.1 as f64 / FIXED);
        let mut outcome = super::merge_parts(removed, parts);
        outcome.stats = StageStats::Classifier(self.stats(&bins, sum, None));
        outcome
    }

    fn explain(&self, cx: &ExplainContext) -> Result<Reason<Detail>, RunError> {
        let Some(batch) = cx.row()? else {
            return Ok(Reason::recorded());
        };
        let text = texts(&batch, &self.column).first().copied().unwrap_or("");
        let score = self.model.score(text, &self.label);
        let Some(rule) = self.verdict(score) else {
            return Ok(Reason::recorded());
        };
        Ok(Reason {
            rule: Some(rule.into()),
            expr: None,
            because: format!(
                "scored {score:.2} for `{}`; wanted {}",
                self.label,
                self.wanted()
            ),
            detail: Detail { score: Some(score) },
        })
    }

    fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "keep `{}` whose score for `{}` is {} (model {})",
            self.column,
            self.label,
            self.wanted(),
            self.model.describe()
        )];
        if let Some((c, _)) = &self.score_column {
            lines.push(format!("add     {c} = the score (Float64)"));
        }
        lines
    }

    fn schema_after(&self, input: &SchemaRef) -> SchemaRef {
        match &self.score_column {
            Some((_, schema)) => schema.clone(),
            None => input.clone(),
        }
    }

    fn edits(&self, cx: &ExplainContext) -> Result<Vec<Edit>, RunError> {
        let (Some((c, _)), Some(batch)) = (&self.score_column, cx.row()?) else {
            return Ok(vec![]);
        };
        let text = texts(&batch, &self.column).first().copied().unwrap_or("");
        Ok(vec![Edit {
            rule: c.clone(),
            before: String::new(),
            after: format!("{}", self.model.score(text, &self.label)),
        }])
    }

    fn inputs(&self) -> super::Inputs {
        self.model.inputs()
    }
}

/// Scores are summed as integers of this many parts per unit: the means do
/// not depend on the order rows are added in, and both paths agree.
const FIXED: f64 = 1e9;

impl Plan {
    fn stats(
        &self,
        bins: &[(u64, u64); BINS],
        sum: (f64, f64),
        written: Option<crate::version::stats::TransformStats>,
    ) -> ClassifierStats {
        let (before, after) = bins
            .iter()
            .fold((0, 0), |(b, a), (nb, na)| (b + nb, a + na));
        let mean = |s: f64, n: u64| if n == 0 { 0.0 } else { s / n as f64 };
        ClassifierStats {
            model: self.model.describe(),
            label: self.label.clone(),
            mean_before: mean(sum.0, before),
            mean_after: mean(sum.1, after),
            histogram: bins
                .iter()
                .enumerate()
                .map(|(i, (b, a))| {
                    (
                        bin_name(i),
                        RowCount {
                            before: *b,
                            after: *a,
                        },
                    )
                })
                .collect(),
            written,
        }
    }

    /// The stage with `score_column`: a transform that adds the column to
    /// every kept row, counting the scores as it goes.
    fn run_writing(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        let writer = ScoreWriter {
            plan: self,
            bins: std::array::from_fn(|_| (AtomicU64::new(0), AtomicU64::new(0))),
            sums: (AtomicU64::new(0), AtomicU64::new(0)),
        };
        let mut out = transform::run(cx, input, &writer)?;
        let StageStats::Transform(t) = out.stats else {
            unreachable!("a transform's stats")
        };
        let bins: [(u64, u64); BINS] = std::array::from_fn(|i| {
            (
                writer.bins[i].0.load(Ordering::Relaxed),
                writer.bins[i].1.load(Ordering::Relaxed),
            )
        });
        let sum = (
            writer.sums.0.load(Ordering::Relaxed) as f64 / FIXED,
            writer.sums.1.load(Ordering::Relaxed) as f64 / FIXED,
        );
        let mut removed: IndexMap<String, u64> = IndexMap::new();
        if self.above.is_some() {
            removed.insert("low_score".into(), 0);
        }
        if self.below.is_some() {
            removed.insert("high_score".into(), 0);
        }
        for (rule, n) in out.removed {
            *removed.entry(rule).or_default() += n;
        }
        out.removed = removed;
        out.stats = StageStats::Classifier(self.stats(&bins, sum, Some(t)));
        Ok(out)
    }
}

/// Scores rows and adds the score column to the kept ones.
struct ScoreWriter<'a> {
    plan: &'a Plan,
    bins: [(AtomicU64, AtomicU64); BINS],
    sums: (AtomicU64, AtomicU64),
}

impl Rewrite for ScoreWriter<'_> {
    fn edit_rules(&self) -> Vec<String> {
        self.plan
            .score_column
            .iter()
            .map(|(c, _)| c.clone())
            .collect()
    }

    fn output_schema(&self, input: &SchemaRef) -> SchemaRef {
        self.plan.schema_after(input)
    }

    fn rewrite_batch(
        &self,
        batch: &RecordBatch,
        edits: &mut [u64],
    ) -> Result<Rewritten, RewriteError> {
        let mut fates = Vec::with_capacity(batch.num_rows());
        let mut take = Vec::new();
        let mut scores = Vec::new();
        for (k, text) in texts(batch, &self.plan.column).into_iter().enumerate() {
            let score = self.plan.model.score(text, &self.plan.label);
            let fixed = (score * FIXED).round() as u64;
            let bin = &self.bins[bin_of(score)];
            bin.0.fetch_add(1, Ordering::Relaxed);
            self.sums.0.fetch_add(fixed, Ordering::Relaxed);
            match self.plan.verdict(score) {
                Some(rule) => fates.push(Fate::Removed(rule.to_string())),
                None => {
                    bin.1.fetch_add(1, Ordering::Relaxed);
                    self.sums.1.fetch_add(fixed, Ordering::Relaxed);
                    fates.push(Fate::Changed(()));
                    take.push(k as u32);
                    scores.push(score);
                }
            }
        }
        edits[0] += take.len() as u64;
        if take.is_empty() {
            return Ok(Rewritten { fates, rows: None });
        }
        let idx = UInt32Array::from(take);
        let mut columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| arrow::compute::take(c, &idx, None).expect("indexes in range"))
            .collect();
        columns.push(Arc::new(Float64Array::from(scores)));
        let schema = self.output_schema(&batch.schema());
        let rows = RecordBatch::try_new(schema, columns).expect("the columns of the schema");
        Ok(Rewritten {
            fates,
            rows: Some(rows),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_fall_in_tenths_and_one_in_the_last() {
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(0.099), 0);
        assert_eq!(bin_of(0.1), 1);
        assert_eq!(bin_of(0.95), 9);
        assert_eq!(bin_of(1.0), 9);
        assert_eq!(bin_name(0), "0.0-0.1");
        assert_eq!(bin_name(9), "0.9-1.0");
    }
}

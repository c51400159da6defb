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

use indexmap::IndexMap;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::dedup::texts;
use super::models::{self, FastTextFile};
use super::{
    Check, Context, ExplainContext, Invalid, Kind, Outcome, Planned, Reason, RunError, StageStats,
};
use crate::version::selection::{SelectionSet, segment_batches};
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
        Ok(Plan {
            column,
            model,
            label,
            above,
            below,
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

impl Plan {
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

/// One segment's kept rows, removals by rule, and per bin (rows, kept), with score sums.
#[derive(Default)]
struct Counted {
    kept: RoaringBitmap,
    removed: IndexMap<String, u64>,
    bins: [(u64, u64); BINS],
    sum: (f64, f64),
}

impl Planned for Plan {
    type Detail = Detail;

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        self.model.keep(cx.store)?;
        let segments = &cx.source.manifest.segments;
        let per_segment = crate::par::map_ordered(cx.threads, segments.len(), |i| {
            let mut out = Counted::default();
            for (ids, batch) in segment_batches(cx.store, &segments[i], &input.0[i])? {
                for (row, text) in ids.iter().zip(texts(&batch, &self.column)) {
                    let score = self.model.score(text, &self.label);
                    let bin = &mut out.bins[bin_of(score)];
                    bin.0 += 1;
                    out.sum.0 += score;
                    match self.verdict(score) {
                        None => {
                            out.kept.insert(*row);
                            bin.1 += 1;
                            out.sum.1 += score;
                        }
                        Some(rule) => *out.removed.entry(rule.to_string()).or_default() += 1,
                    }
                }
                cx.observer.rows_done(batch.num_rows() as u64);
            }
            Ok::<_, RunError>(out)
        })?;
        let mut kept = Vec::with_capacity(segments.len());
        let mut removed: IndexMap<String, u64> = IndexMap::new();
        if self.above.is_some() {
            removed.insert("low_score".into(), 0);
        }
        if self.below.is_some() {
            removed.insert("high_score".into(), 0);
        }
        let mut bins = [(0u64, 0u64); BINS];
        let mut sum = (0.0, 0.0);
        // Sums in segment order, so the means do not depend on the thread count.
        for c in per_segment {
            kept.push(c.kept);
            for (rule, n) in c.removed {
                *removed.entry(rule).or_default() += n;
            }
            for (all, one) in bins.iter_mut().zip(c.bins) {
                all.0 += one.0;
                all.1 += one.1;
            }
            sum.0 += c.sum.0;
            sum.1 += c.sum.1;
        }
        let (before, after) = bins
            .iter()
            .fold((0, 0), |(b, a), (nb, na)| (b + nb, a + na));
        let mean = |s: f64, n: u64| if n == 0 { 0.0 } else { s / n as f64 };
        Ok(Outcome {
            kept: SelectionSet(kept),
            removed,
            stats: StageStats::Classifier(ClassifierStats {
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
            }),
        })
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
        vec![format!(
            "keep `{}` whose score for `{}` is {} (model {})",
            self.column,
            self.label,
            self.wanted(),
            self.model.describe()
        )]
    }

    fn inputs(&self) -> super::Inputs {
        self.model.inputs()
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

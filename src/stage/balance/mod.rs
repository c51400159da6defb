//! The balance stage: per-class quotas, filled in the order of a seeded hash.
//!
//! ```text
//! selected rows ─▶ label (a column or SQL expression) ─▶ classes
//!                  rank = xxh3-64(row fingerprint, seed) ─▶ each class sorted by rank
//!                  strategy ─▶ quota per class ─▶ the lowest ranks up to the quota
//! ```
//!
//! A row's rank depends only on its content and the seed, so the selection
//! does not depend on row order or thread count, and adding rows to a class
//! moves its selection little: a new row displaces at most one old one.
//! Oversampling repeats every row of a small class `target / n` times and the
//! `target mod n` lowest-ranked rows once more; the repeats are recorded as
//! counts, and reading the version (cat, query, export) writes them out.

mod quota;
mod select;

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::physical_expr::PhysicalExpr;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use quota::quotas;
use select::run;
pub use select::{Removal, decode_details};

use super::{
    Check, Context, ExplainContext, Invalid, Kind, Outcome, Planned, Reason, RunError, StageStats,
};
use crate::version::selection::SelectionSet;

/// How quotas are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// At most `max_per_class` rows per class.
    Cap,
    /// Every class down to the smallest class's size, or to `min_per_class`.
    Downsample,
    /// Target fractions per class (`proportions`), as many rows as fit, or `total`.
    Proportions,
    /// Every class up to the largest class's size, or to `per_class`, repeating rows.
    Oversample,
}

/// What to do with rows whose label is null.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NullLabel {
    /// Remove them.
    Drop,
    /// Keep them all, outside every quota.
    Keep,
    /// Treat them as one class named `null`.
    #[default]
    Class,
}

/// A balance stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The class label, a column or a SQL expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `cap`, `downsample`, `proportions` or `oversample`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// cap: rows kept per class at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_class: Option<u64>,
    /// downsample: the size every class is cut to (default: the smallest class's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_per_class: Option<u64>,
    /// proportions: class → fraction (summing to 1); classes not listed are removed.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub proportions: IndexMap<String, f64>,
    /// proportions: the total rows (default: the most every class can fill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// oversample: the size every class is raised to (default: the largest class's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_class: Option<u64>,
    /// Rows with a null label: `class` (default, a class named `null`), `drop` or `keep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_label: Option<NullLabel>,
    /// Seed of the row ranks (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// A validated balance stage.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The label: a column name or a SQL expression.
    pub label: String,
    pub expr: Arc<dyn PhysicalExpr>,
    pub strategy: Strategy,
    pub max_per_class: Option<u64>,
    pub min_per_class: Option<u64>,
    pub proportions: IndexMap<String, f64>,
    pub total: Option<u64>,
    pub per_class: Option<u64>,
    pub null_label: NullLabel,
    pub seed: u64,
}

/// Label types that make classes.
pub fn usable_label(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => true,
        DataType::Date32 | DataType::Date64 => true,
        DataType::Dictionary(_, v) => usable_label(v),
        d => d.is_integer(),
    }
}

fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::Cap => "cap",
        Strategy::Downsample => "downsample",
        Strategy::Proportions => "proportions",
        Strategy::Oversample => "oversample",
    }
}

impl Kind for Spec {
    const NAME: &'static str = "balance";
    type Plan = Plan;

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        let schema = cx.schema;
        let label = self.label.clone().ok_or_else(|| {
            Invalid::new("label", "a balance stage needs `label`")
                .hint("a column, e.g. label = \"source\", or an expression")
        })?;
        let strategy = self.strategy.ok_or_else(|| {
            Invalid::new("strategy", "a balance stage needs `strategy`")
                .hint("strategy = \"cap\", \"downsample\", \"proportions\" or \"oversample\"")
        })?;
        // A bare column name is quoted so that names SQL would fold or reject still work.
        let expr_text = if schema.field_with_name(&label).is_ok() {
            format!("\"{}\"", label.replace('"', "\"\""))
        } else {
            label.clone()
        };
        let (expr, dt) = crate::stage::filter::compile_expr(
            &crate::stage::filter::session(),
            schema,
            &expr_text,
        )
        .map_err(|(m, h)| Invalid {
            field: "label".into(),
            message: m,
            hint: h,
        })?;
        if !usable_label(&dt) {
            return Err(Invalid::new(
                "label",
                format!("the label is {dt}; classes need a text, integer, boolean or date label"),
            )
            .hint("derive one, e.g. label = \"CAST(round(score) AS INT)\""));
        }
        let wants = |f: &str, ok: bool| -> Result<(), Invalid> {
            if ok {
                Ok(())
            } else {
                Err(Invalid::new(
                    f,
                    format!(
                        "`{f}` does not apply to strategy = \"{}\"",
                        strategy_name(strategy)
                    ),
                ))
            }
        };
        wants(
            "max_per_class",
            self.max_per_class.is_none() || strategy == Strategy::Cap,
        )?;
        wants(
            "min_per_class",
            self.min_per_class.is_none() || strategy == Strategy::Downsample,
        )?;
        wants(
            "proportions",
            self.proportions.is_empty() || strategy == Strategy::Proportions,
        )?;
        wants(
            "total",
            self.total.is_none() || strategy == Strategy::Proportions,
        )?;
        wants(
            "per_class",
            self.per_class.is_none() || strategy == Strategy::Oversample,
        )?;
        for (f, v) in [
            ("max_per_class", self.max_per_class),
            ("min_per_class", self.min_per_class),
            ("total", self.total),
            ("per_class", self.per_class),
        ] {
            if v == Some(0) {
                return Err(Invalid::new(f, format!("`{f} = 0` keeps no row"))
                    .hint(format!("give `{f}` at least 1, or remove the stage")));
            }
        }
        if strategy == Strategy::Cap && self.max_per_class.is_none() {
            return Err(
                Invalid::new("strategy", "strategy = \"cap\" needs `max_per_class`")
                    .hint("e.g. max_per_class = 1000"),
            );
        }
        if strategy == Strategy::Proportions {
            if self.proportions.is_empty() {
                return Err(Invalid::new(
                    "strategy",
                    "strategy = \"proportions\" needs `proportions`",
                )
                .hint("e.g. proportions = { web = 0.7, books = 0.3 }"));
            }
            if let Some((c, f)) = self
                .proportions
                .iter()
                .find(|(_, f)| !(**f > 0.0 && **f <= 1.0))
            {
                return Err(Invalid::new(
                    format!("proportions.{c}"),
                    format!("a fraction must be in (0, 1], got {f}"),
                ));
            }
            let sum: f64 = self.proportions.values().sum();
            if (sum - 1.0).abs() > 1e-6 {
                return Err(Invalid::new(
                    "proportions",
                    format!("the fractions sum to {sum}, not 1"),
                ));
            }
        }
        Ok(Plan {
            label,
            expr,
            strategy,
            max_per_class: self.max_per_class,
            min_per_class: self.min_per_class,
            proportions: self.proportions.clone(),
            total: self.total,
            per_class: self.per_class,
            null_label: self.null_label.unwrap_or_default(),
            seed: self.seed.unwrap_or(1),
        })
    }
}

/// A balance removal's evidence: the row's class and rank against its quota.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Detail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// 1-based rank of the row within its class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
    /// Rows the class was allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<u64>,
    /// Rows the class had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_rows: Option<u64>,
}

impl Planned for Plan {
    type Detail = Detail;

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        run(cx, input, self)
    }

    // On a cluster the executors read the labels and fingerprints (the rows'
    // ranks); the quotas and the selection are made here.
    fn gathers(&self) -> bool {
        true
    }

    fn prepare(
        &self,
        _cx: &Context,
        input: &SelectionSet,
    ) -> Result<Option<SelectionSet>, RunError> {
        Ok((input.rows() > 0).then(|| input.clone()))
    }

    fn prepare_segment(
        &self,
        cx: &Context,
        segment: usize,
        rows: &roaring::RoaringBitmap,
    ) -> Option<Result<Vec<u8>, RunError>> {
        Some(select::gather(cx, self, segment, rows).map(|g| select::encode_gathered(&g)))
    }

    fn run_gathered(
        &self,
        cx: &Context,
        input: &SelectionSet,
        prepared: Vec<(usize, Vec<u8>)>,
    ) -> Result<Outcome, RunError> {
        let mut segments = vec![Vec::new(); input.0.len()];
        for (i, bytes) in prepared {
            let rows = select::decode_gathered(&bytes).map_err(|e| RunError::Cluster {
                stage: cx.index + 1,
                name: cx.name.to_string(),
                message: format!("segment {i}'s labels from an executor do not read: {e}"),
                hint: Some("run the same sift on the client and the executors".into()),
            })?;
            if let Some(slot) = segments.get_mut(i) {
                *slot = rows;
            }
        }
        select::select(cx, self, segments)
    }

    fn explain(&self, cx: &ExplainContext) -> Result<Reason<Detail>, RunError> {
        let StageStats::Balance(b) = cx.stats else {
            return Ok(Reason::recorded());
        };
        let index = cx.memo(&b.details, || {
            let removals = decode_details(&b.details, &cx.store.objects().get(&b.details)?)?;
            Ok(removals
                .into_iter()
                .map(|r| (r.removed, r))
                .collect::<std::collections::HashMap<_, _>>())
        })?;
        let at = (cx.at.0 as u32, cx.at.1);
        let Some(r) = index.get(&at) else {
            return Ok(Reason::recorded());
        };
        Ok(match r.class.and_then(|c| b.classes.get_index(c)) {
            Some((class, counts)) => Reason {
                rule: Some("class_quota".into()),
                expr: None,
                because: format!(
                    "class '{class}' kept {} of its {} rows (strategy {}), and this row ranks {} (seed {})",
                    counts.quota.min(counts.before),
                    counts.before,
                    b.strategy,
                    r.rank,
                    b.seed
                ),
                detail: Detail {
                    class: Some(class.clone()),
                    rank: Some(r.rank),
                    quota: Some(counts.quota),
                    class_rows: Some(counts.before),
                },
            },
            None => Reason {
                rule: Some("null_label".into()),
                expr: None,
                because: format!("its label `{}` is null, and null_label = \"drop\"", b.label),
                detail: Detail::default(),
            },
        })
    }

    fn describe(&self) -> Vec<String> {
        let quota = match self.strategy {
            Strategy::Cap => format!(
                "at most {} rows per class",
                self.max_per_class.unwrap_or_default()
            ),
            Strategy::Downsample => match self.min_per_class {
                Some(n) => format!("every class down to {n} rows"),
                None => "every class down to the smallest class".into(),
            },
            Strategy::Proportions => {
                let p: Vec<String> = self
                    .proportions
                    .iter()
                    .map(|(c, f)| format!("{c} {f}"))
                    .collect();
                match self.total {
                    Some(t) => format!("proportions {} of {t} rows", p.join(", ")),
                    None => format!("proportions {}", p.join(", ")),
                }
            }
            Strategy::Oversample => match self.per_class {
                Some(n) => format!("every class up to {n} rows, repeating rows"),
                None => "every class up to the largest class, repeating rows".into(),
            },
        };
        let nulls = match self.null_label {
            NullLabel::Class => "null labels are a class",
            NullLabel::Drop => "null labels dropped",
            NullLabel::Keep => "null labels kept",
        };
        vec![format!(
            "balance by `{}`: {} ({quota}), {nulls}, seed {}",
            self.label,
            strategy_name(self.strategy),
            self.seed
        )]
    }

    fn must_be_last(&self) -> bool {
        self.strategy == Strategy::Oversample
    }
}

#[cfg(test)]
mod tests {
    use super::quota::apportion;
    use super::select::{NULL_DROP, encode_details};
    use super::*;
    use crate::store::ObjectId;
    use crate::version::Repeats;

    fn plan(strategy: Strategy) -> Plan {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("c", DataType::Utf8, true),
        ]));
        let (expr, _) =
            super::super::filter::compile_expr(&super::super::filter::session(), &schema, "c")
                .unwrap();
        Plan {
            label: "c".into(),
            expr,
            strategy,
            max_per_class: None,
            min_per_class: None,
            proportions: IndexMap::new(),
            total: None,
            per_class: None,
            null_label: NullLabel::Class,
            seed: 1,
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quotas_follow_each_strategy() {
        let classes = names(&["a", "b", "c"]);
        let counts = [100, 30, 7];
        let mut p = plan(Strategy::Cap);
        p.max_per_class = Some(20);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [20, 20, 7]);
        let mut p = plan(Strategy::Downsample);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [7, 7, 7]);
        p.min_per_class = Some(10);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [10, 10, 7]);
        let mut p = plan(Strategy::Oversample);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [100, 100, 100]);
        p.per_class = Some(50);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [100, 50, 50]);
    }

    #[test]
    fn proportions_fill_the_largest_total_or_the_given_one() {
        let classes = names(&["a", "b", "c"]);
        let counts = [100, 30, 7];
        let mut p = plan(Strategy::Proportions);
        p.proportions = [("a".to_string(), 0.5), ("b".to_string(), 0.5)]
            .into_iter()
            .collect();
        // b limits the total to 60: 30 + 30; c is not listed.
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [30, 30, 0]);
        p.total = Some(41);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [21, 20, 0]);
        p.total = Some(80);
        let err = quotas(&p, &classes, &counts).unwrap_err();
        assert!(
            err.contains("class 'b' has 30 rows, fewer than its quota 40"),
            "{err}"
        );
        p.proportions.insert("z".into(), 0.0);
        let err = quotas(&p, &classes, &counts).unwrap_err();
        assert!(
            err.contains("class 'z' of `proportions` has no rows"),
            "{err}"
        );
    }

    #[test]
    fn apportioning_sums_to_the_total() {
        let f: IndexMap<String, f64> = [("x", 0.1), ("y", 0.2), ("z", 0.7)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        for total in [0, 1, 7, 10, 99, 1001] {
            let a = apportion(total, &f);
            assert_eq!(a.iter().sum::<u64>(), total);
        }
        assert_eq!(apportion(10, &f), [1, 2, 7]);
    }

    #[test]
    fn details_and_repeat_sets_round_trip() {
        let d = encode_details(&[(0, 3, 1, 9), (2, 1, NULL_DROP, 0)]);
        let id = ObjectId::of(&d);
        let back = decode_details(&id, &d).unwrap();
        assert_eq!(back[0].class, Some(1));
        assert_eq!(back[1].class, None);
        assert!(decode_details(&id, &d[..d.len() - 1]).is_err());
        let r: Repeats = [(3, 2), (9, 5)].into_iter().collect();
        let bytes = crate::version::encode_repeats(&r);
        assert_eq!(
            crate::version::decode_repeats(&ObjectId::of(&bytes), &bytes).unwrap(),
            r
        );
    }
}

//! The filter stage: SQL predicates and named rules, evaluated by DataFusion.
//!
//! `where` keeps rows for which it is true; each named rule removes rows for
//! which it is true. A row is removed by the first rule (in spec order,
//! `where` first) that removes it, and that rule is what stats and `sift
//! explain` name. An expression that errors or is null on a row is handled
//! by `on_error`.

mod expr;

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use indexmap::IndexMap;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use expr::{
    CompileError, Compiled, ExprError, RowError, Rule, Verdict, clean, compile, compile_expr,
    evaluate, session, sql_message,
};

use super::{
    Check, Context, ExplainContext, Invalid, Kind, Outcome, Part, Planned, Reason, RunError,
};
use crate::version::selection::SelectionSet;

/// A filter stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A SQL boolean expression; rows where it is true are kept.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<String>,
    /// Named SQL boolean expressions; a row is removed by the first one that is true.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub rules: IndexMap<String, String>,
    /// What to do when an expression errors or is null on a row.
    #[serde(default)]
    pub on_error: OnError,
}

/// What to do with a row whose expression errors or is null.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop the run, naming the row and the rule.
    #[default]
    Fail,
    /// Remove the row (explain says why).
    Drop,
    /// Keep the row.
    Keep,
}

/// A validated filter stage: its rules compiled, `where` first.
#[derive(Debug)]
pub struct Plan {
    pub rules: Vec<Rule>,
    pub on_error: OnError,
}

impl Kind for Spec {
    const NAME: &'static str = "filter";
    type Plan = Plan;

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        let mut rules: Vec<(String, String, bool)> = Vec::new();
        if let Some(w) = &self.where_ {
            rules.push(("where".into(), w.clone(), true));
        }
        for (rname, expr) in &self.rules {
            rules.push((rname.clone(), expr.clone(), false));
        }
        if rules.is_empty() {
            return Err(
                Invalid::new("where", "a filter needs `where` or `[stage.rules]`")
                    .hint("e.g. where = \"word_count(text) >= 50\""),
            );
        }
        let rules = compile(cx.schema, &rules).map_err(|e| Invalid {
            field: if e.rule == "where" {
                "where".into()
            } else {
                format!("rules.{}", e.rule)
            },
            message: e.message,
            hint: e.hint,
        })?;
        Ok(Plan {
            rules,
            on_error: self.on_error,
        })
    }
}

/// A filter's evidence: each rule set's own verdict on the row.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Detail {
    /// `gopher_quality: gopher_short_doc`, … for each rule set the expression calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_sets: Vec<String>,
}

impl Planned for Plan {
    type Detail = Detail;

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        // Segments in order, each one's rows in slices on every thread, while
        // the next segment is read: the threads stay busy to the last slice,
        // and at most two segments are in memory.
        let parts = crate::stage::rows::parts(cx, input, |i, batches| {
            self.segment(cx, i, batches, cx.threads.max(1))
        })?;
        Ok(self.merge(parts))
    }

    fn per_segment(&self) -> bool {
        true
    }

    fn run_segment(
        &self,
        cx: &Context,
        segment: usize,
        rows: &RoaringBitmap,
    ) -> Option<Result<Part, RunError>> {
        Some(
            crate::stage::rows::segment(cx, segment, rows)
                .and_then(|batches| self.segment(cx, segment, batches, cx.threads.max(1))),
        )
    }

    fn merge(&self, parts: Vec<Part>) -> Outcome {
        // Every rule is named, in spec order, even where it removed nothing.
        let rules = self.rules.iter().map(|r| (r.name.clone(), 0)).collect();
        crate::stage::merge_parts(rules, parts)
    }

    fn explain(&self, cx: &ExplainContext) -> Result<Reason<Detail>, RunError> {
        let Some(batch) = cx.row()? else {
            return Ok(Reason::recorded());
        };
        let batch = &batch;
        let verdicts =
            evaluate(&self.rules, OnError::Drop, batch).map_err(|e| RunError::Recorded {
                stage: 0,
                name: String::new(),
                message: e.message,
            })?;
        Ok(match &verdicts[0] {
            Verdict::Removed(r) => {
                let r = &self.rules[*r];
                let mut because = if r.keeps {
                    "the expression is false".to_string()
                } else {
                    "the expression is true".to_string()
                };
                let rule_sets = rule_set_reasons(&r.expr, batch);
                if !rule_sets.is_empty() {
                    because = format!("{because} ({})", rule_sets.join(", "));
                }
                Reason {
                    rule: Some(r.name.clone()),
                    expr: Some(r.expr.clone()),
                    because,
                    detail: Detail { rule_sets },
                }
            }
            Verdict::Errored(r, msg) => Reason {
                rule: Some(self.rules[*r].name.clone()),
                expr: Some(self.rules[*r].expr.clone()),
                because: msg.clone(),
                detail: Detail::default(),
            },
            Verdict::Keep => Reason::recorded(),
        })
    }

    fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .rules
            .iter()
            .map(|r| {
                format!(
                    "{} {:<12} {}",
                    if r.keeps { "keep  " } else { "remove" },
                    r.name,
                    r.expr
                )
            })
            .collect();
        if self.on_error != OnError::Fail {
            lines.push(format!(
                "on_error {}",
                serde_json::to_value(self.on_error)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ));
        }
        lines
    }
}

impl Plan {
    fn segment(
        &self,
        cx: &Context,
        seg_index: usize,
        batches: Vec<(Vec<u32>, RecordBatch)>,
        threads: usize,
    ) -> Result<Part, RunError> {
        // Slices of rows on `threads` threads, merged in order: the outcome
        // does not depend on the thread count.
        let batches = crate::stage::rows::slices(&batches);
        let verdicts = crate::par::map(threads, batches.len(), |i| {
            let v = evaluate(&self.rules, self.on_error, &batches[i].1);
            cx.observer.rows_done(batches[i].1.num_rows() as u64);
            v
        });
        let mut kept = RoaringBitmap::new();
        let mut removed: IndexMap<String, u64> = IndexMap::new();
        for ((ids, _), v) in batches.iter().zip(verdicts) {
            let v = v.map_err(|e| {
                let rule = &self.rules[e.rule];
                RunError::Row {
                    stage: cx.index + 1,
                    name: cx.name.to_string(),
                    rule: rule.name.clone(),
                    expr: rule.expr.clone(),
                    row: cx.source_row(seg_index, ids[e.row]),
                    message: e.message,
                }
            })?;
            for (id, v) in ids.iter().zip(v) {
                match v {
                    Verdict::Keep => {
                        kept.insert(*id);
                    }
                    Verdict::Removed(r) => {
                        *removed.entry(self.rules[r].name.clone()).or_insert(0) += 1
                    }
                    Verdict::Errored(r, _) => {
                        *removed
                            .entry(format!("error:{}", self.rules[r].name))
                            .or_insert(0) += 1
                    }
                }
            }
        }
        Ok(Part {
            kept,
            removed,
            counts: IndexMap::new(),
        })
    }
}

/// A rule set's verdict: `None` keeps, `Some(reason)` drops.
type RuleSet = fn(&str) -> Option<&'static str>;

/// For each rule set called in `expr` as `name(column)`, its verdict on the (one-row) batch.
fn rule_set_reasons(expr: &str, batch: &arrow::array::RecordBatch) -> Vec<String> {
    use crate::stage::quality as q;
    let sets: [(&str, RuleSet); 4] = [
        ("gopher_quality", q::gopher_quality_reason),
        ("gopher_repetition", q::gopher_repetition_reason),
        ("c4_quality", q::c4_quality_reason),
        ("fineweb_quality", q::fineweb_quality_reason),
    ];
    let mut out = Vec::new();
    for (name, f) in sets {
        let Some(at) = expr.find(&format!("{name}(")) else {
            continue;
        };
        let rest = &expr[at + name.len() + 1..];
        let col = rest
            .split(')')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        let Some(array) = batch.column_by_name(col) else {
            continue;
        };
        let Ok(f_) = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()) else {
            continue;
        };
        let text = f_.value(0).to_string();
        out.push(format!("{name}: {}", f(&text).unwrap_or("passes")));
    }
    out
}

//! The map stage: computed or rewritten columns from SQL expressions, and
//! columns dropped or renamed.
//!
//! Every expression sees the row as the stage receives it. A column of
//! `columns` that exists is rewritten in place (its type may change); a new
//! one is added at the end, in spec order. Then `drop` removes columns and
//! `rename` renames them. The rows whose values change are written as new
//! shards; when the columns themselves change, that is every row, and the
//! new schema is the version's.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::physical_expr::PhysicalExpr;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::filter::{OnError, clean, compile_expr, session};
use super::transform::{self, Edit, Fate, Rewrite, RewriteError, Rewritten};
use super::{Check, Context, ExplainContext, Invalid, Kind, Outcome, Planned, Reason, RunError};
use crate::version::selection::SelectionSet;

/// A map stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Columns to compute or rewrite: name → SQL expression over the row,
    /// e.g. `{ text = "trim(text)", n_words = "word_count(text)" }`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub columns: IndexMap<String, String>,
    /// Columns to drop (after computing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
    /// Columns to rename, old → new (after dropping).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub rename: IndexMap<String, String>,
    /// What to do when an expression errors on a row: `fail`, `drop` the
    /// row, or `keep` it with a null value.
    #[serde(default)]
    pub on_error: OnError,
}

/// Where an output column comes from.
#[derive(Debug, Clone, Copy)]
enum From {
    Input(usize),
    Computed(usize),
}

/// One computed column.
#[derive(Debug)]
struct Computed {
    name: String,
    expr: String,
    phys: Arc<dyn PhysicalExpr>,
    data_type: DataType,
    /// The input column of the same name, if it rewrites one.
    replaces: Option<usize>,
}

/// A validated map stage.
#[derive(Debug)]
pub struct Plan {
    computed: Vec<Computed>,
    layout: Vec<From>,
    input: SchemaRef,
    output: SchemaRef,
    on_error: OnError,
}

impl Kind for Spec {
    const NAME: &'static str = "map";
    type Plan = Plan;

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        if self.columns.is_empty() && self.drop.is_empty() && self.rename.is_empty() {
            return Err(
                Invalid::new("columns", "a map needs `columns`, `drop` or `rename`")
                    .hint("e.g. columns = { n_words = \"word_count(text)\" }"),
            );
        }
        let input = cx.schema.clone();
        let ctx = session();
        let mut computed = Vec::new();
        // (name, source, type, nullable), in output order.
        let mut cols: Vec<(String, From, DataType, bool)> = input
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                (
                    f.name().clone(),
                    From::Input(i),
                    f.data_type().clone(),
                    f.is_nullable(),
                )
            })
            .collect();
        for (name, expr) in &self.columns {
            let field = format!("columns.{name}");
            let (phys, data_type) = compile_expr(&ctx, &input, expr).map_err(|(m, h)| Invalid {
                field: field.clone(),
                message: m,
                hint: h,
            })?;
            if crate::store::fingerprint::logical_type(&data_type).is_none() {
                return Err(Invalid::new(
                    field,
                    format!("the expression gives {data_type}, which sift cannot store"),
                )
                .hint("CAST it to a string, number or boolean"));
            }
            let k = computed.len();
            let replaces = input.index_of(name).ok();
            match cols.iter_mut().find(|c| &c.0 == name) {
                Some(c) => {
                    c.1 = From::Computed(k);
                    c.2 = data_type.clone();
                    c.3 = true;
                }
                None => cols.push((name.clone(), From::Computed(k), data_type.clone(), true)),
            }
            computed.push(Computed {
                name: name.clone(),
                expr: expr.clone(),
                phys,
                data_type,
                replaces,
            });
        }
        let names = |cols: &[(String, From, DataType, bool)]| {
            cols.iter()
                .map(|c| c.0.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (i, d) in self.drop.iter().enumerate() {
            let Some(at) = cols.iter().position(|c| &c.0 == d) else {
                return Err(Invalid::new(
                    format!("drop[{i}]"),
                    format!("there is no column '{d}' to drop"),
                )
                .hint(format!("the columns are: {}", names(&cols))));
            };
            cols.remove(at);
        }
        for (old, new) in &self.rename {
            let field = format!("rename.{old}");
            if !cols.iter().any(|c| &c.0 == old) {
                return Err(
                    Invalid::new(field, format!("there is no column '{old}' to rename"))
                        .hint(format!("the columns are: {}", names(&cols))),
                );
            }
            if cols.iter().any(|c| &c.0 == new) {
                return Err(Invalid::new(
                    field,
                    format!("renaming '{old}' to '{new}' would make two columns '{new}'"),
                ));
            }
            if let Some(c) = cols.iter_mut().find(|c| &c.0 == old) {
                c.0 = new.clone();
            }
        }
        if cols.is_empty() {
            return Err(Invalid::new("drop", "the map would leave no column"));
        }
        let output = Arc::new(Schema::new(
            cols.iter()
                .map(|(n, _, dt, nullable)| Field::new(n, dt.clone(), *nullable))
                .collect::<Vec<_>>(),
        ));
        Ok(Plan {
            computed,
            layout: cols.iter().map(|c| c.1).collect(),
            input,
            output,
            on_error: self.on_error,
        })
    }
}

impl Plan {
    /// The computed column `k` over `batch`: its values, and the rows it
    /// failed on (removed by `on_error = "drop"`).
    fn evaluate(
        &self,
        k: usize,
        batch: &RecordBatch,
        failed: &mut [Option<usize>],
        on_error: OnError,
    ) -> Result<ArrayRef, RewriteError> {
        let c = &self.computed[k];
        let eval = |b: &RecordBatch| -> Result<ArrayRef, String> {
            let v = c.phys.evaluate(b).map_err(|e| clean(&e.to_string()))?;
            let a = v
                .into_array(b.num_rows())
                .map_err(|e| clean(&e.to_string()))?;
            if a.data_type() == &c.data_type {
                Ok(a)
            } else {
                arrow::compute::cast(&a, &c.data_type).map_err(|e| e.to_string())
            }
        };
        if let Ok(a) = eval(batch) {
            return Ok(a);
        }
        // The batch failed as a whole: find the rows that fail alone.
        let mut parts: Vec<ArrayRef> = Vec::with_capacity(batch.num_rows());
        for (i, fail) in failed.iter_mut().enumerate().take(batch.num_rows()) {
            match eval(&batch.slice(i, 1)) {
                Ok(a) => parts.push(a),
                Err(message) => match on_error {
                    OnError::Fail => {
                        return Err(RewriteError {
                            row: i,
                            rule: c.name.clone(),
                            expr: c.expr.clone(),
                            message,
                        });
                    }
                    OnError::Drop => {
                        fail.get_or_insert(k);
                        parts.push(new_null_array(&c.data_type, 1));
                    }
                    OnError::Keep => parts.push(new_null_array(&c.data_type, 1)),
                },
            }
        }
        let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
        Ok(arrow::compute::concat(&refs).expect("arrays of one type"))
    }
}

impl Rewrite for Plan {
    fn edit_rules(&self) -> Vec<String> {
        self.computed.iter().map(|c| c.name.clone()).collect()
    }

    fn output_schema(&self, _input: &SchemaRef) -> SchemaRef {
        self.output.clone()
    }

    fn rewrite_batch(
        &self,
        batch: &RecordBatch,
        edits: &mut [u64],
    ) -> Result<Rewritten, RewriteError> {
        let n = batch.num_rows();
        let mut failed = vec![None; n];
        let values: Vec<ArrayRef> = (0..self.computed.len())
            .map(|k| self.evaluate(k, batch, &mut failed, self.on_error))
            .collect::<Result<_, _>>()?;
        let same_columns = self.output.as_ref() == self.input.as_ref();
        let mut changed = vec![!same_columns; n];
        for (k, (c, v)) in self.computed.iter().zip(&values).enumerate() {
            let diff: Vec<bool> = match c.replaces {
                Some(i) if batch.column(i).data_type() == v.data_type() => {
                    let d = arrow::compute::kernels::cmp::distinct(batch.column(i), v)
                        .expect("arrays of one type");
                    (0..n).map(|r| d.value(r)).collect()
                }
                _ => vec![true; n],
            };
            for r in 0..n {
                if diff[r] && failed[r].is_none() {
                    edits[k] += 1;
                    changed[r] = true;
                }
            }
        }
        let fates: Vec<Fate<()>> = (0..n)
            .map(|r| {
                if let Some(k) = failed[r] {
                    Fate::Removed(format!("error:{}", self.computed[k].name))
                } else if changed[r] {
                    Fate::Changed(())
                } else {
                    Fate::Same
                }
            })
            .collect();
        let take: Vec<u32> = (0..n as u32)
            .filter(|&r| matches!(fates[r as usize], Fate::Changed(())))
            .collect();
        if take.is_empty() {
            return Ok(Rewritten { fates, rows: None });
        }
        let columns: Vec<ArrayRef> = self
            .layout
            .iter()
            .map(|f| match f {
                From::Input(i) => batch.column(*i).clone(),
                From::Computed(k) => values[*k].clone(),
            })
            .collect();
        let idx = arrow::array::UInt32Array::from(take);
        let columns: Vec<ArrayRef> = columns
            .iter()
            .map(|c| arrow::compute::take(c, &idx, None).expect("indexes in range"))
            .collect();
        let rows = RecordBatch::try_new(self.output.clone(), columns)
            .expect("columns of the output schema");
        Ok(Rewritten {
            fates,
            rows: Some(rows),
        })
    }
}

fn show(a: &dyn Array, i: usize) -> String {
    if a.is_null(i) {
        return "null".into();
    }
    ArrayFormatter::try_new(a, &FormatOptions::default())
        .map(|f| f.value(i).to_string())
        .unwrap_or_default()
}

impl Planned for Plan {
    type Detail = ();

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        transform::run(cx, input, self)
    }

    fn explain(&self, cx: &ExplainContext) -> Result<Reason<()>, RunError> {
        let Some(batch) = cx.row()? else {
            return Ok(Reason::recorded());
        };
        let mut failed = vec![None];
        for (k, c) in self.computed.iter().enumerate() {
            if let Err(e) = self.evaluate(k, &batch, &mut failed, OnError::Fail) {
                return Ok(Reason {
                    rule: Some(format!("error:{}", c.name)),
                    expr: Some(c.expr.clone()),
                    because: e.message,
                    detail: (),
                });
            }
        }
        Ok(Reason::recorded())
    }

    fn edits(&self, cx: &ExplainContext) -> Result<Vec<Edit>, RunError> {
        let Some(batch) = cx.row()? else {
            return Ok(vec![]);
        };
        let mut failed = vec![None];
        let mut out = Vec::new();
        for (k, c) in self.computed.iter().enumerate() {
            let Ok(v) = self.evaluate(k, &batch, &mut failed, OnError::Keep) else {
                continue;
            };
            let before = c
                .replaces
                .map(|i| show(batch.column(i).as_ref(), 0))
                .unwrap_or_default();
            let after = show(v.as_ref(), 0);
            if before != after || c.replaces.is_none() {
                out.push(Edit {
                    rule: c.name.clone(),
                    before: transform::around(&before, 0, before.len().min(48)),
                    after: transform::around(&after, 0, after.len().min(48)),
                });
            }
        }
        Ok(out)
    }

    fn schema_after(&self, _input: &arrow::datatypes::SchemaRef) -> arrow::datatypes::SchemaRef {
        self.output.clone()
    }

    fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .computed
            .iter()
            .map(|c| {
                let verb = if c.replaces.is_some() {
                    "rewrite"
                } else {
                    "add"
                };
                format!("{verb:<7} {} = {}", c.name, c.expr)
            })
            .collect();
        let out: Vec<&str> = self
            .output
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        lines.push(format!("columns {}", out.join(", ")));
        lines
    }
}

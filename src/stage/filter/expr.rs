//! SQL expressions compiled by DataFusion against a source's columns, and
//! rules evaluated over batches.

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::utils::split_conjunction_owned;
use datafusion::logical_expr::{ColumnarValue, Expr, ScalarUDF, Volatility, create_udf};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

use crate::stage::quality;

use super::OnError;

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `where`, or the rule's name.
    pub name: String,
    pub expr: String,
    /// true for `where` (keeps rows where true); false for rules (remove where true).
    pub keeps: bool,
    /// The expression's top-level conjuncts, evaluated in turn, each on the
    /// rows no earlier one made false.
    conjuncts: Vec<Arc<dyn PhysicalExpr>>,
}

/// Why a rule could not be compiled.
#[derive(Debug)]
pub struct CompileError {
    pub rule: String,
    pub expr: String,
    pub message: String,
    pub hint: Option<String>,
}

/// A session with sift's UDFs, for compiling expressions.
pub fn session() -> SessionContext {
    let ctx = SessionContext::new();
    crate::stage::register_udfs(&ctx);
    ctx
}

/// A compiled expression and its result type.
pub type Compiled = (Arc<dyn PhysicalExpr>, DataType);

/// Why an expression did not compile: the message and a hint.
pub type ExprError = (String, Option<String>);

/// Compiles one SQL expression against `schema`.
pub fn compile_expr(
    ctx: &SessionContext,
    schema: &SchemaRef,
    expr: &str,
) -> Result<Compiled, ExprError> {
    let df_schema = DFSchema::try_from(schema.as_ref().clone()).expect("an Arrow schema converts");
    let explain = |e: datafusion::error::DataFusionError| {
        let (msg, hint) = sql_message(&e.to_string());
        let hint = if msg.contains("No field named") || msg.contains("not found") {
            let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            Some(format!("the source's columns are: {}", columns.join(", ")))
        } else if hint.is_some() {
            hint
        } else if msg.contains("function") {
            Some("quality functions (word_count, gopher_quality, …) take a string column".into())
        } else {
            None
        };
        (msg, hint)
    };
    let logical = ctx.parse_sql_expr(expr, &df_schema).map_err(explain)?;
    let phys = ctx
        .create_physical_expr(logical, &df_schema)
        .map_err(explain)?;
    let dt = phys
        .data_type(schema.as_ref())
        .map_err(|e| (clean(&e.to_string()), None))?;
    Ok((phys, dt))
}

/// A boolean expression's top-level conjuncts, compiled one by one, with the
/// rule-set calls on one column fused (see [`fuse_rule_sets`]); `None` when
/// one of them does not compile to a boolean alone (the whole expression is
/// then evaluated as it is).
fn compile_conjuncts(
    ctx: &SessionContext,
    schema: &SchemaRef,
    expr: &str,
) -> Option<Vec<Arc<dyn PhysicalExpr>>> {
    let df_schema = DFSchema::try_from(schema.as_ref().clone()).ok()?;
    let logical = ctx.parse_sql_expr(expr, &df_schema).ok()?;
    let conjuncts = fuse_rule_sets(split_conjunction_owned(logical));
    let mut out = Vec::with_capacity(conjuncts.len());
    for c in conjuncts {
        let phys = ctx.create_physical_expr(c, &df_schema).ok()?;
        if phys.data_type(schema.as_ref()).ok()? != DataType::Boolean {
            return None;
        }
        out.push(phys);
    }
    Some(out)
}

/// The rule sets whose calls on one column share the document's tokens.
const RULE_SETS: [(&str, RuleSetFn); 4] = [
    ("gopher_quality", quality::gopher_quality_doc),
    ("gopher_repetition", quality::gopher_repetition_doc),
    ("c4_quality", quality::c4_quality_doc),
    ("fineweb_quality", quality::fineweb_quality_doc),
];

type RuleSetFn = fn(&quality::Doc) -> Option<&'static str>;

/// Replaces two or more conjuncts `rule_set(col)` on the same argument by one
/// call that splits each document once and stops at the first rule set that
/// drops it (`gopher_quality(text) AND c4_quality(text)`). The result is the
/// same: each call is true, false, or null for a null text, as its parts.
fn fuse_rule_sets(conjuncts: Vec<Expr>) -> Vec<Expr> {
    let member = |e: &Expr| match e {
        Expr::ScalarFunction(f) if f.args.len() == 1 => RULE_SETS
            .iter()
            .position(|(n, _)| *n == f.func.name())
            .map(|i| (i, f.args[0].clone())),
        _ => None,
    };
    // Argument -> the rule sets called on it, in order.
    let mut groups: Vec<(Expr, Vec<usize>)> = Vec::new();
    for c in &conjuncts {
        if let Some((i, arg)) = member(c) {
            match groups.iter_mut().find(|(a, _)| *a == arg) {
                Some((_, sets)) => sets.push(i),
                None => groups.push((arg, vec![i])),
            }
        }
    }
    let mut out = Vec::with_capacity(conjuncts.len());
    let mut emitted = vec![false; groups.len()];
    for c in conjuncts {
        let Some((_, arg)) = member(&c) else {
            out.push(c);
            continue;
        };
        let g = groups.iter().position(|(a, _)| *a == arg).expect("grouped");
        if groups[g].1.len() < 2 {
            out.push(c);
        } else if !emitted[g] {
            emitted[g] = true;
            let udf = fused_udf(&groups[g].1);
            out.push(Expr::ScalarFunction(ScalarFunction::new_udf(
                Arc::new(udf),
                vec![arg],
            )));
        }
    }
    out
}

/// One UDF for the rule sets `sets` (indices into [`RULE_SETS`]): true when
/// every one keeps the text.
fn fused_udf(sets: &[usize]) -> ScalarUDF {
    let fns: Vec<RuleSetFn> = sets.iter().map(|&i| RULE_SETS[i].1).collect();
    let name = sets
        .iter()
        .map(|&i| RULE_SETS[i].0)
        .collect::<Vec<_>>()
        .join("+");
    create_udf(
        &name,
        vec![DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let rows = crate::stage::quality::udfs::rows_of(args);
            let arr = args[0].to_array(rows)?;
            let keep = |t: &str| {
                let doc = quality::Doc::new(t);
                fns.iter().all(|f| f(&doc).is_none())
            };
            let out: BooleanArray = match arr.data_type() {
                DataType::Utf8 => arr.as_string::<i32>().iter().map(|v| v.map(keep)).collect(),
                DataType::LargeUtf8 => arr.as_string::<i64>().iter().map(|v| v.map(keep)).collect(),
                DataType::Utf8View => arr.as_string_view().iter().map(|v| v.map(keep)).collect(),
                other => {
                    return Err(DataFusionError::Execution(format!(
                        "expected a string column, got {other}"
                    )));
                }
            };
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

/// Compiles `(name, expr, keeps)` against `schema`.
pub fn compile(
    schema: &SchemaRef,
    rules: &[(String, String, bool)],
) -> Result<Vec<Rule>, CompileError> {
    let ctx = session();
    let mut out = Vec::new();
    for (name, expr, keeps) in rules {
        let fail = |(message, hint): (String, Option<String>)| CompileError {
            rule: name.clone(),
            expr: expr.clone(),
            message,
            hint,
        };
        let (phys, dt) = compile_expr(&ctx, schema, expr).map_err(fail)?;
        if dt != DataType::Boolean {
            return Err(fail((
                format!("the expression is {dt}, not a boolean"),
                Some("compare it, e.g. `word_count(text) < 50`".into()),
            )));
        }
        let conjuncts = compile_conjuncts(&ctx, schema, expr).unwrap_or_else(|| vec![phys]);
        out.push(Rule {
            name: name.clone(),
            expr: expr.clone(),
            keeps: *keeps,
            conjuncts,
        });
    }
    Ok(out)
}

/// A DataFusion error as a sentence, and a hint when one helps:
/// `SQL error: ParserError("Expected: ), found: EOF")` becomes
/// "SQL syntax error: expected `)`, but the expression ended".
pub fn sql_message(raw: &str) -> (String, Option<String>) {
    let mut msg = clean(raw.trim());
    for prefix in ["sql parser error: ", "SQL error: "] {
        msg = msg.trim_start_matches(prefix).to_string();
    }
    let mut hint = None;
    if let Some(inner) = msg
        .strip_prefix("ParserError(\"")
        .and_then(|m| m.strip_suffix("\")"))
    {
        msg = inner.replace("\\\"", "\"");
    }
    let text = msg.clone();
    if let Some(rest) = text.strip_prefix("Expected: ") {
        let (expected, found) = rest.split_once(", found: ").unwrap_or((rest, ""));
        let (found, at) = match found.split_once(" at Line: ") {
            Some((f, at)) => (
                f,
                format!(" (line {})", at.replace(", Column: ", ", column ")),
            ),
            None => (found, String::new()),
        };
        let expected = if expected.chars().any(|c| c.is_alphanumeric()) {
            expected.to_string()
        } else {
            format!("`{expected}`")
        };
        msg = match found {
            "EOF" | "" => format!("SQL syntax error: expected {expected}, but the text ended{at}"),
            f => format!("SQL syntax error: expected {expected}, found `{f}`{at}"),
        };
        if found == "-" {
            hint = Some("a name with '-' must be quoted: SELECT * FROM \"web-quality\"".into());
        }
    }
    let text = msg.clone();
    if let Some(rest) = text.strip_prefix("table '")
        && let Some(name) = rest.strip_suffix("' not found")
    {
        let name = name.rsplit('.').next().unwrap_or(name);
        msg = format!("no table `{name}`: it is not a tag, a version id or a unique id prefix");
    }
    if let Some(rest) = text.strip_prefix("Invalid function '") {
        let name = rest.split('\'').next().unwrap_or("");
        let suggestion = rest
            .split("Did you mean '")
            .nth(1)
            .and_then(|s| s.split('\'').next());
        msg = format!("unknown function `{name}`");
        hint = Some(match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => "`SELECT * FROM information_schema.routines` lists the functions".into(),
        });
    }
    (msg.replace('\n', " "), hint)
}

pub fn clean(msg: &str) -> String {
    msg.trim_start_matches("Error during planning: ")
        .trim_start_matches("Schema error: ")
        .trim_start_matches("SQL error: ")
        .to_string()
}

/// The verdict for one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Keep,
    /// Removed by rule `index`.
    Removed(usize),
    /// Rule `index` errored or was null, and `on_error = "drop"`.
    Errored(usize, String),
}

/// Evaluation failed and `on_error = "fail"`.
#[derive(Debug)]
pub struct RowError {
    /// Row index within the batch.
    pub row: usize,
    pub rule: usize,
    pub message: String,
}

/// Evaluates every rule on `batch`; one verdict per row. A rule is
/// evaluated only on the rows no earlier rule removed, and each conjunct of
/// a rule only on the rows no earlier conjunct made false, so an error in a
/// later part on such a row is never seen.
pub fn evaluate(
    rules: &[Rule],
    on_error: OnError,
    batch: &RecordBatch,
) -> Result<Vec<Verdict>, RowError> {
    let n = batch.num_rows();
    let mut verdicts = vec![Verdict::Keep; n];
    for (ri, rule) in rules.iter().enumerate() {
        let live: Vec<u32> = (0..n as u32)
            .filter(|&i| verdicts[i as usize] == Verdict::Keep)
            .collect();
        if live.is_empty() {
            break;
        }
        let values: Vec<Option<Result<bool, String>>> = match eval_bool(rule, batch, &live) {
            Ok(v) => v.into_iter().map(|b| b.map(Ok)).collect(),
            // The batch failed as a whole: find the rows that fail alone.
            Err(_) => live
                .iter()
                .map(
                    |&i| match eval_bool(rule, &batch.slice(i as usize, 1), &[0]) {
                        Ok(v) => v[0].map(Ok),
                        Err(e) => Some(Err(e)),
                    },
                )
                .collect(),
        };
        for (&i, v) in live.iter().zip(values) {
            let i = i as usize;
            let problem = match v {
                Some(Ok(b)) => {
                    if b != rule.keeps {
                        verdicts[i] = Verdict::Removed(ri);
                    }
                    continue;
                }
                None => "the expression is null for this row".to_string(),
                Some(Err(e)) => e,
            };
            match on_error {
                OnError::Fail => {
                    return Err(RowError {
                        row: i,
                        rule: ri,
                        message: problem,
                    });
                }
                OnError::Drop => verdicts[i] = Verdict::Errored(ri, problem),
                OnError::Keep => {}
            }
        }
    }
    Ok(verdicts)
}

/// The rule's value on rows `rows` of `batch` (ascending), in SQL's logic:
/// false if a conjunct is false, else null if one is null, else true.
fn eval_bool(rule: &Rule, batch: &RecordBatch, rows: &[u32]) -> Result<Vec<Option<bool>>, String> {
    let mut acc: Vec<Option<bool>> = vec![Some(true); rows.len()];
    // Positions in `rows` still to evaluate: those not yet false.
    let mut open: Vec<u32> = (0..rows.len() as u32).collect();
    for phys in &rule.conjuncts {
        if open.is_empty() {
            break;
        }
        let sub = if open.len() == batch.num_rows() {
            batch.clone()
        } else {
            let take = UInt32Array::from_iter_values(open.iter().map(|&p| rows[p as usize]));
            take_record_batch(batch, &take).map_err(|e| clean(&e.to_string()))?
        };
        let value = phys.evaluate(&sub).map_err(|e| clean(&e.to_string()))?;
        let array = value
            .into_array(sub.num_rows())
            .map_err(|e| clean(&e.to_string()))?;
        let b = array
            .as_boolean_opt()
            .ok_or("the expression did not give a boolean")?;
        let mut still = Vec::with_capacity(open.len());
        for (k, &p) in open.iter().enumerate() {
            let a = &mut acc[p as usize];
            if !b.is_valid(k) {
                *a = None;
                still.push(p);
            } else if b.value(k) {
                still.push(p);
            } else {
                *a = Some(false);
            }
        }
        open = still;
    }
    Ok(acc)
}

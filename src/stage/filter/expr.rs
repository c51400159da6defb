//! SQL expressions compiled by DataFusion against a source's columns, and
//! rules evaluated over batches.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

use super::OnError;

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `where`, or the rule's name.
    pub name: String,
    pub expr: String,
    /// true for `where` (keeps rows where true); false for rules (remove where true).
    pub keeps: bool,
    phys: Arc<dyn PhysicalExpr>,
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
        out.push(Rule {
            name: name.clone(),
            expr: expr.clone(),
            keeps: *keeps,
            phys,
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

/// Evaluates every rule on `batch`; one verdict per row.
pub fn evaluate(
    rules: &[Rule],
    on_error: OnError,
    batch: &RecordBatch,
) -> Result<Vec<Verdict>, RowError> {
    let n = batch.num_rows();
    let mut verdicts = vec![Verdict::Keep; n];
    for (ri, rule) in rules.iter().enumerate() {
        let values: Vec<Option<Result<bool, String>>> = match eval_bool(rule, batch) {
            Ok(v) => v.into_iter().map(|b| b.map(Ok)).collect(),
            // The batch failed as a whole: find the rows that fail alone.
            Err(_) => (0..n)
                .map(|i| match eval_bool(rule, &batch.slice(i, 1)) {
                    Ok(v) => v[0].map(Ok),
                    Err(e) => Some(Err(e)),
                })
                .collect(),
        };
        for (i, v) in values.into_iter().enumerate() {
            if verdicts[i] != Verdict::Keep {
                continue;
            }
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

fn eval_bool(rule: &Rule, batch: &RecordBatch) -> Result<Vec<Option<bool>>, String> {
    let value = rule
        .phys
        .evaluate(batch)
        .map_err(|e| clean(&e.to_string()))?;
    let array = value
        .into_array(batch.num_rows())
        .map_err(|e| clean(&e.to_string()))?;
    let b = array
        .as_boolean_opt()
        .ok_or("the expression did not give a boolean")?;
    Ok((0..b.len())
        .map(|i| b.is_valid(i).then(|| b.value(i)))
        .collect())
}

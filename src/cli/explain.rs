use std::process::ExitCode;

use clap::Args;

use super::printer::{Printer, say};

use super::Global;
use crate::explain::{self, RowRef};
use crate::version;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A version made by `sift run`: tag, id or unique id prefix.
    pub reference: String,
    /// A source row index (0-based), or a value of the --key column.
    #[arg(required_unless_present = "removed")]
    pub row: Option<String>,
    /// Find the row by this column's value instead of by index.
    #[arg(long, value_name = "COL", conflicts_with = "removed")]
    pub key: Option<String>,
    /// Explain a seeded sample of the rows the stages removed, instead of one row.
    #[arg(long, conflicts_with = "row")]
    pub removed: bool,
    /// With --removed: only the rows this stage (1-based) removed.
    #[arg(long, value_name = "N", requires = "removed")]
    pub stage: Option<usize>,
    /// With --removed: how many rows.
    #[arg(long, value_name = "K", default_value_t = 10, requires = "removed")]
    pub limit: usize,
    /// With --removed: the sample's seed; the same seed draws the same rows.
    #[arg(long, value_name = "S", default_value_t = 1, requires = "removed")]
    pub seed: u64,
    /// Print the explanations as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    let v = version::resolve(&store, &a.reference)?;
    let out = match &a.row {
        None => explain::removed(&store, &v, a.stage, a.limit, a.seed)?,
        Some(r) => {
            let row = match &a.key {
                None => RowRef::Index(r.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "'{r}' is not a row index; use --key COL to find a row by value"
                    )
                })?),
                Some(column) => RowRef::Key {
                    column: column.clone(),
                    value: r.clone(),
                },
            };
            explain::explain(&store, &v, &row)?
        }
    };
    if pr.is_json() {
        pr.json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let source = explain::source_of(&store, &v)?;
    if out.is_empty() {
        match a.stage {
            Some(k) => say!(pr, "stage {k} of {} removed no row", v.id.short()),
            None => say!(pr, "the stages of {} removed no row", v.id.short()),
        }
    }
    for e in out {
        let row = e.row;
        match &e.reason {
            None => say!(
                pr,
                "row {row} of source {}: kept, as row {} of {}",
                source.id.short(),
                e.position.unwrap_or_default(),
                v.id.short()
            ),
            Some(r) => {
                let rule = match (&r.rule, &r.expr) {
                    (Some(rule), Some(expr)) => format!("rule `{rule}` = `{expr}`: "),
                    _ => String::new(),
                };
                say!(
                    pr,
                    "row {row} of source {}: removed by stage {} ({}, {}): {rule}{}",
                    source.id.short(),
                    e.stage.unwrap_or_default(),
                    e.stage_name.as_deref().unwrap_or(""),
                    e.kind.as_deref().unwrap_or(""),
                    r.because
                );
            }
        }
        for c in &e.changes {
            say!(
                pr,
                "  rewritten by stage {} ({}, {}):",
                c.stage,
                c.stage_name,
                c.kind
            );
            for ed in &c.edits {
                let after = if ed.after.is_empty() {
                    "(removed)".to_string()
                } else {
                    format!("{:?}", ed.after)
                };
                say!(pr, "    {:<18} {:?} → {after}", ed.rule, ed.before);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

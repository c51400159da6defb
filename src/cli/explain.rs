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
    pub row: String,
    /// Find the row by this column's value instead of by index.
    #[arg(long, value_name = "COL")]
    pub key: Option<String>,
    /// Print the explanations as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    let v = version::resolve(&store, &a.reference)?;
    let row = match &a.key {
        None => RowRef::Index(a.row.parse().map_err(|_| {
            anyhow::anyhow!(
                "'{}' is not a row index; use --key COL to find a row by value",
                a.row
            )
        })?),
        Some(column) => RowRef::Key {
            column: column.clone(),
            value: a.row.clone(),
        },
    };
    let out = explain::explain(&store, &v, &row)?;
    if pr.is_json() {
        pr.json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let source = explain::source_of(&store, &v)?;
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

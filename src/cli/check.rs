use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::printer::Printer;

use super::Global;
use crate::plan::{self, PlanSummary, SourceSummary};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Pipeline spec (.toml, .yaml or .yml).
    pub spec: PathBuf,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: CheckArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    let parsed = crate::spec::parse_file(&a.spec)?;
    let plan = plan::validate(&store, parsed)?;
    let summary = plan.summary();
    pr.emit(&summary, render)?;
    Ok(ExitCode::SUCCESS)
}

/// The plan in words.
fn render(s: &PlanSummary) -> String {
    let mut out = format!("{} is valid (spec {})\n", s.spec, &s.spec_hash[..12]);
    match &s.source {
        SourceSummary::Files(paths) => {
            out += &format!("source   {} file(s): {}\n", paths.len(), paths.join(", "))
        }
        SourceSummary::Version(v) => out += &format!("source   version {}\n", v.short()),
    }
    out += &format!("columns  {}\n", s.columns.join(", "));
    for (i, st) in s.stages.iter().enumerate() {
        out += &format!("stage {}  {} ({})\n", i + 1, st.name, st.kind);
        for line in &st.plan {
            out += &format!("         {line}\n");
        }
    }
    if let Some(t) = &s.tag {
        out += &format!("output   tag {t}\n");
    }
    out
}

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Global;
use crate::plan::{self, PlanSource};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Pipeline spec (.toml, .yaml or .yml).
    pub spec: PathBuf,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: CheckArgs) -> anyhow::Result<ExitCode> {
    let store = g.open_store()?;
    let parsed = crate::spec::parse_file(&a.spec)?;
    let plan = plan::validate(&store, parsed)?;
    let source = match &plan.source {
        PlanSource::Files { paths, .. } => {
            serde_json::json!({"files": paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>()})
        }
        PlanSource::Version(v) => serde_json::json!({"version": v.id}),
    };
    let columns: Vec<String> = plan
        .schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    if a.json {
        let stages: Vec<_> = plan
            .stages
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name, "kind": s.kind, "hash": s.hash,
                    "plan": s.plan.describe(),
                })
            })
            .collect();
        let out = serde_json::json!({
            "spec": plan.parsed.path.display().to_string(), "spec_hash": plan.hash, "source": source,
            "columns": columns, "stages": stages, "tag": plan.tag, "shard_size": plan.shard_size,
            "compact_below": plan.compact_below,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} is valid (spec {})",
        plan.parsed.path.display(),
        &plan.hash[..12]
    );
    match &plan.source {
        PlanSource::Files { paths, .. } => println!(
            "source   {} file(s): {}",
            paths.len(),
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PlanSource::Version(v) => println!("source   version {}", v.id.short()),
    }
    println!("columns  {}", columns.join(", "));
    for s in &plan.stages {
        println!("stage {}  {} ({})", s.index + 1, s.name, s.kind);
        for line in s.plan.describe() {
            println!("         {line}");
        }
    }
    if let Some(t) = &plan.tag {
        println!("output   tag {t}");
    }
    Ok(ExitCode::SUCCESS)
}

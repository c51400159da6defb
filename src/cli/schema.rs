use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    Manifest,
    Pipeline,
    Diff,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    pub which: Which,
}

pub fn run(a: SchemaArgs) -> anyhow::Result<ExitCode> {
    match a.which {
        Which::Manifest => print!("{}", crate::version::manifest::json_schema()),
        Which::Pipeline => print!("{}", crate::spec::json_schema()),
        Which::Diff => print!("{}", crate::version::diff::json_schema()),
    }
    Ok(ExitCode::SUCCESS)
}

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    Manifest,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    pub which: Which,
}

pub fn run(a: SchemaArgs) -> anyhow::Result<ExitCode> {
    match a.which {
        Which::Manifest => print!("{}", crate::version::manifest::json_schema()),
    }
    Ok(ExitCode::SUCCESS)
}

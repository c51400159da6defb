use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::printer::Printer;

/// The JSON schemas sift generates from its types, one file each under `schemas/`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Which {
    Manifest,
    Pipeline,
    Diff,
    Run,
    RunDry,
    Check,
    Explain,
    Report,
    ReportDiff,
    Fsck,
    Gc,
    Device,
    Import,
    Log,
    Show,
    Tags,
}

impl Which {
    /// The schema file's name under `schemas/`.
    pub fn file(self) -> String {
        let name = self
            .to_possible_value()
            .expect("no variant is skipped")
            .get_name()
            .to_string();
        format!("{name}.schema.json")
    }
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    pub which: Which,
}

fn of<T: schemars::JsonSchema>() -> String {
    let schema = schemars::schema_for!(T);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

/// The JSON schema of a file format or of a command's `--json` output.
pub fn json_schema(which: Which) -> String {
    match which {
        Which::Manifest => crate::version::manifest::json_schema(),
        Which::Pipeline => crate::spec::json_schema(),
        Which::Diff => crate::version::diff::json_schema(),
        Which::Run => of::<crate::pipeline::RunSummary>(),
        Which::RunDry => of::<crate::pipeline::DryRun>(),
        Which::Check => of::<crate::plan::PlanSummary>(),
        Which::Explain => of::<Vec<crate::explain::Explanation>>(),
        Which::Report => crate::report::json_schema(),
        Which::ReportDiff => crate::report::diff_json_schema(),
        Which::Fsck => of::<super::fsck::FsckOutput>(),
        Which::Gc => of::<crate::version::gc::GcReport>(),
        Which::Device => of::<super::device::DeviceOutput>(),
        Which::Import => of::<super::import::ImportSummary>(),
        Which::Log => of::<Vec<super::log::LogEntry>>(),
        Which::Show => of::<super::show::ShowOutput>(),
        Which::Tags => of::<Vec<super::tag::TagEntry>>(),
    }
}

pub fn run(a: SchemaArgs) -> anyhow::Result<ExitCode> {
    Printer::new(false).text(json_schema(a.which));
    Ok(ExitCode::SUCCESS)
}

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::printer::{Printer, say};

use super::{Global, ui};
use crate::version::{self, export::ExportFormat};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Tag, version id, or unique id prefix.
    pub reference: String,
    /// Directory to write `data/train-*.parquet` (or `.jsonl`) into.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// File format of the export.
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: ExportFormat,
    /// Replace an existing DIR/data/.
    #[arg(long)]
    pub force: bool,
    /// Split into files of about this much row data each (`512MiB`; default 256MiB).
    #[arg(long, value_name = "BYTES", value_parser = parse_file_size)]
    pub max_file_size: Option<u64>,
    /// Leave out the dataset card (DIR/README.md, Hugging Face format).
    #[arg(long)]
    pub no_card: bool,
}

fn parse_file_size(s: &str) -> Result<u64, String> {
    match s.parse::<crate::size::ByteSize>()?.0 {
        0 => Err("a file size must be above 0".into()),
        n => Ok(n),
    }
}

pub fn run(g: &Global, a: ExportArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(false);
    let store = g.open_store()?;
    let v = version::resolve(&store, &a.reference)?;
    let max = a.max_file_size.unwrap_or(version::export::FILE_BYTES);
    let out = version::export::export(&store, &v, &a.to, a.format, a.force, max, !a.no_card)?;
    say!(
        pr,
        "exported {} rows of {} to {} file(s):",
        ui::count(out.rows),
        v.id.short(),
        out.files.len()
    );
    for f in out.files {
        say!(pr, "  {}", f.display());
    }
    if let Some(card) = out.card {
        say!(pr, "  {} (dataset card)", card.display());
    }
    Ok(ExitCode::SUCCESS)
}

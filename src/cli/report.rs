use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::printer::Printer;
use super::{Global, ui};
use crate::report::{self, Options};
use crate::store::Store;
use crate::version::{self, Version};

pub const EXAMPLES: &str = "\
Examples:
  sift report web-clean                      writes report-<id>.html: one page, no network needed
  sift report web-clean -o web-clean.html --sample 5000 --seed 7
  sift report web-clean --json               the same numbers as JSON (schemas/report.schema.json)
  sift report web-v1 web-v2 --key id         what changed from v1 to v2, on one page
  # in Jupyter: IPython.display.HTML(open('web-clean.html').read())";

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The version: tag, id or unique id prefix.
    pub reference: String,
    /// A second version: report what changed from the first to it.
    pub other: Option<String>,
    /// Where to write the page (`-` for stdout; default report-<id>.html, or with --json stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the report's numbers as JSON instead of HTML.
    #[arg(long)]
    pub json: bool,
    /// Rows sampled from each side for the column statistics and quality metrics.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub sample: usize,
    /// Seed of the samples: the same version and seed give the same page, byte for byte.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Rows shown per rule, per dedup stage and per class.
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub rows: usize,
    /// The text column the quality metrics measure (default: text, else the first string column).
    #[arg(long, value_name = "COL")]
    pub column: Option<String>,
    /// With two versions: key columns that pair modified rows.
    #[arg(
        long,
        value_name = "COL[,COL]",
        value_delimiter = ',',
        requires = "other"
    )]
    pub key: Vec<String>,
    /// With two versions: a label column to compare class counts of (default: a balance stage's label).
    #[arg(long, value_name = "COL", requires = "other")]
    pub label: Option<String>,
}

pub fn run(g: &Global, a: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = g.open_store()?;
    let v = version::resolve(&store, &a.reference)?;
    let opts = Options {
        sample: a.sample,
        seed: a.seed,
        rows: a.rows,
        column: a.column.clone(),
        keys: a.key.clone(),
        label: a.label.clone(),
        threads: g.threads(),
    };
    let (text, name) = match &a.other {
        None => {
            let r = report::report(&store, &v, &a.reference, &opts)?;
            let text = if a.json {
                serde_json::to_string_pretty(&r)? + "\n"
            } else {
                report::html::render(&r)
            };
            (text, format!("report-{}", v.id.short()))
        }
        Some(b) => {
            let vb = version::resolve(&store, b)?;
            let r = report::diff_report(&store, (&v, &a.reference), (&vb, b), &opts)?;
            let text = if a.json {
                serde_json::to_string_pretty(&r)? + "\n"
            } else {
                report::html::render_diff(&r)
            };
            (text, format!("report-{}-{}", v.id.short(), vb.id.short()))
        }
    };
    let out = match &a.output {
        Some(p) => Some(p.clone()),
        None if a.json => None,
        None => Some(PathBuf::from(format!("{name}.html"))),
    };
    match out {
        Some(p) if p != Path::new("-") => {
            write_atomically(&p, text.as_bytes())?;
            eprintln!("wrote {} ({})", p.display(), ui::bytes(text.len() as u64));
        }
        _ => Printer::new(a.json).line(text.trim_end_matches('\n').to_string()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path` through a temporary file beside it, so a reader
/// never sees half a page.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            anyhow::anyhow!("could not write {}: {e}", path.display())
        })
}

/// Writes the report of `v`, a version just made, to `path` (for `sift run --report`).
pub fn write(
    store: &Store,
    v: &Version,
    reference: &str,
    path: &Path,
    threads: usize,
) -> anyhow::Result<()> {
    let opts = Options {
        threads,
        ..Options::default()
    };
    let r = report::report(store, v, reference, &opts)?;
    let text = report::html::render(&r);
    write_atomically(path, text.as_bytes())?;
    eprintln!(
        "wrote {} ({})",
        path.display(),
        ui::bytes(text.len() as u64)
    );
    Ok(())
}

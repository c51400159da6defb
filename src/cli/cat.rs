use std::io::Write;
use std::process::ExitCode;

use super::printer::Printer;
use clap::Args;

use super::Global;
use crate::version;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RowFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct CatArgs {
    /// Tag, version id, or unique id prefix.
    pub reference: String,
    /// Print at most N rows.
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<u64>,
    /// Output format of the rows.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: RowFormat,
    /// Print the rows an import skipped (`--on-bad-row skip`): file, line, reason and text, as JSONL.
    #[arg(long)]
    pub quarantine: bool,
}

pub fn run(g: &Global, a: CatArgs) -> anyhow::Result<ExitCode> {
    let store = g.open_store()?;
    let v = version::resolve(&store, &a.reference)?;
    if a.quarantine {
        let pr = Printer::new(false);
        if let Some(q) = &v.manifest.quarantine {
            let bytes = store.objects().get(&q.object)?;
            let body = bytes
                .strip_prefix(crate::version::manifest::QUARANTINE_MAGIC.as_slice())
                .ok_or_else(|| crate::store::Error::BadObject {
                    id: q.object,
                    what: "quarantine",
                    reason: "missing header".into(),
                })?;
            let text = String::from_utf8_lossy(body);
            let n = a.limit.map_or(usize::MAX, |n| n as usize);
            for line in text.lines().take(n) {
                pr.line(line);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows = version::rows(&store, &v)?;
    let limited = limit(rows.map(|b| b.map_err(anyhow::Error::from)), a.limit);
    write_rows(&Printer::new(false), limited, a.format)?;
    Ok(ExitCode::SUCCESS)
}

/// Truncates a stream of batches to `limit` rows.
pub fn limit(
    batches: impl Iterator<Item = anyhow::Result<arrow::array::RecordBatch>>,
    limit: Option<u64>,
) -> impl Iterator<Item = anyhow::Result<arrow::array::RecordBatch>> {
    let mut left = limit.unwrap_or(u64::MAX);
    batches.map_while(move |b| {
        if left == 0 {
            return None;
        }
        Some(b.map(|b| {
            let take = (b.num_rows() as u64).min(left);
            left -= take;
            b.slice(0, take as usize)
        }))
    })
}

/// Writes batches to stdout as JSONL or CSV.
pub fn write_rows(
    pr: &Printer,
    batches: impl Iterator<Item = anyhow::Result<arrow::array::RecordBatch>>,
    format: RowFormat,
) -> anyhow::Result<()> {
    let out = std::io::BufWriter::new(pr.stream());
    match format {
        RowFormat::Jsonl => {
            let mut w = arrow::json::LineDelimitedWriter::new(out);
            for b in batches {
                w.write(&b?)?;
            }
            w.finish()?;
            w.into_inner().flush()?;
        }
        RowFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for b in batches {
                w.write(&b?)?;
            }
            w.into_inner().flush()?;
        }
    }
    Ok(())
}

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;

use super::printer::{Printer, say};

use super::{Global, ui};
use crate::source::{self, Format, Source};
use crate::store::shard::{DEFAULT_SHARD_SIZE, ShardOptions};
use crate::version::import::{ImportInfo, import};

pub const EXAMPLES: &str = "\
Examples:
  sift import data/*.jsonl --tag raw -m \"first crawl\"
  sift import dump.csv.gz --schema schema.json
  sift import part-*.parquet --shard-size 16MiB
  # leave out rows that do not read; `sift cat VERSION --quarantine` lists them
  sift import crawl.jsonl.zst --on-bad-row skip";

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Input files (JSONL, CSV or Parquet; JSONL and CSV may be .gz or .zst).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Input format (default: from each file's extension).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A JSON list of {"name", "type", "nullable"} to use instead of inferring one.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Target shard size (bytes; suffixes KiB, MiB, GiB accepted).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub shard_size: Option<u64>,
    /// Tag the new version.
    #[arg(long, value_name = "NAME")]
    pub tag: Vec<String>,
    /// Message recorded in the version.
    #[arg(short, long)]
    pub message: Option<String>,
    /// What to do with a row that does not read: `fail` (nothing is written) or
    /// `skip` it and record it in the version's quarantine (JSONL files).
    #[arg(long, value_enum, value_name = "fail|skip", default_value = "fail")]
    pub on_bad_row: crate::source::OnBadRow,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What `sift import --json` prints.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ImportSummary {
    pub version: crate::store::ObjectId,
    pub content_id: String,
    pub rows: u64,
    /// Canonical (uncompressed) bytes of the rows.
    pub data_bytes: u64,
    pub stored_bytes: u64,
    pub new_bytes: u64,
    pub shards: usize,
    /// Bytes of the input files.
    pub input_bytes: u64,
    pub seconds: f64,
    pub tags: Vec<String>,
    /// Rows left out by `--on-bad-row skip` (`sift cat VERSION --quarantine` prints them).
    pub skipped: u64,
}

/// A shard size: a [`ByteSize`](crate::size::ByteSize) of at least 1KiB.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let n = s.parse::<crate::size::ByteSize>()?.0;
    if n < 1024 {
        return Err(format!("'{s}': shard size must be at least 1KiB"));
    }
    Ok(n)
}

pub fn run(g: &Global, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    let schema = a
        .schema
        .as_deref()
        .map(source::read_schema_file)
        .transpose()?;
    let src = Source::open_with(&a.paths, a.format, schema, a.on_bad_row)?;
    let started = std::time::Instant::now();
    let total = src.total_bytes();
    let progress = ui::ByteProgress::new("importing", total, src.progress());
    let opts = ShardOptions {
        target: a.shard_size.unwrap_or(DEFAULT_SHARD_SIZE),
        threads: g.threads(),
    };
    let info = ImportInfo {
        inputs: a.paths.iter().map(|p| p.display().to_string()).collect(),
        message: a.message.clone(),
        tags: a.tag.clone(),
        // `sift import` always records a new version, so each import is in the log.
        reuse: false,
    };
    let v = import(&store, src, opts, info);
    drop(progress);
    let v = v?;
    let secs = started.elapsed().as_secs_f64();
    let s = &v.manifest.stats;
    if a.json {
        pr.json_line(&ImportSummary {
            version: v.id,
            content_id: v.manifest.content_id.clone(),
            rows: s.rows,
            data_bytes: s.data_bytes,
            stored_bytes: s.stored_bytes,
            new_bytes: s.new_bytes,
            shards: v.manifest.segments.len(),
            input_bytes: total,
            seconds: secs,
            tags: a.tag.clone(),
            skipped: v.manifest.quarantine.as_ref().map_or(0, |q| q.rows),
        })?;
    } else {
        say!(pr, "version  {}", v.id);
        say!(pr, "content  {}", v.manifest.content_id);
        say!(
            pr,
            "rows     {}  ({} of data in {} shards, {} new stored)",
            ui::count(s.rows),
            ui::bytes(s.data_bytes),
            v.manifest.segments.len(),
            ui::bytes(s.new_bytes)
        );
        say!(
            pr,
            "read     {} in {secs:.1}s ({:.0} MiB/s)",
            ui::bytes(total),
            total as f64 / (1u64 << 20) as f64 / secs.max(1e-9)
        );
        if !a.tag.is_empty() {
            say!(pr, "tagged   {}", a.tag.join(", "));
        }
        if let Some(q) = &v.manifest.quarantine {
            say!(
                pr,
                "skipped  {} bad rows; `sift cat {} --quarantine` shows where and why",
                ui::count(q.rows),
                v.id.short()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("12").is_err());
        assert!(parse_size("lots").is_err());
    }
}

//! The command line: clap definitions here, one handler file per subcommand.

mod cat;
mod check;
mod cluster;
mod compact;
mod device;
mod diff;
mod explain;
mod export;
mod fsck;
mod gc;
mod import;
mod init;
mod log;
mod printer;
mod query;
mod report;
mod run;
pub mod schema;
mod show;
mod tag;
pub mod ui;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub use import::parse_size;

use crate::store::Store;

const ABOUT: &str = "Curate training data into content-addressed, reproducible dataset versions.";

const EXAMPLES: &str = "\
Examples:
  sift init
  sift import corpus/*.jsonl.gz --tag raw -m \"crawl 2026-11\"
  sift log
  sift show raw
  sift query \"SELECT source, count(*) FROM raw GROUP BY source\"
  sift diff raw web-clean --stat
  sift export raw --to out/";

#[derive(Debug, Parser)]
#[command(name = "sift", version, about = ABOUT, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The store directory.
    #[arg(
        long,
        global = true,
        env = "SIFT_STORE",
        default_value = ".sift",
        value_name = "DIR"
    )]
    pub store: PathBuf,
    /// Worker threads (default: all cores). Results are identical for any count.
    #[arg(long, global = true, env = "SIFT_THREADS", value_name = "N")]
    pub threads: Option<usize>,
    /// Seconds to wait for the store when another process is writing to it.
    #[arg(long, global = true, default_value_t = 60, value_name = "SECS")]
    pub wait: u64,
}

impl Global {
    pub fn threads(&self) -> usize {
        self.threads.filter(|&n| n > 0).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }

    pub fn open_store(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.store)?
            .with_wait(Duration::from_secs(self.wait))
            .on_wait(std::sync::Arc::new(|holder: &str| {
                eprintln!("waiting for the store (held by pid {holder})")
            })))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new, empty store.
    #[command(after_help = "Examples:\n  sift init\n  sift init --store /data/sift")]
    Init,
    /// Import JSONL (plain, .gz, .zst), CSV or Parquet files as a new version.
    #[command(after_help = import::EXAMPLES)]
    Import(import::ImportArgs),
    /// List versions, newest first (or the history of REF).
    #[command(after_help = "Examples:\n  sift log\n  sift log raw --json")]
    Log(log::LogArgs),
    /// Show a version's manifest: schema, shards, stats, lineage.
    #[command(after_help = "Examples:\n  sift show raw\n  sift show 3f2a9c --json")]
    Show(show::ShowArgs),
    /// Create or move a tag (`sift tag NAME REF`), or delete one (`--delete NAME`).
    #[command(after_help = "Examples:\n  sift tag v1 3f2a9c\n  sift tag --delete v1")]
    Tag(tag::TagArgs),
    /// List tags.
    #[command(after_help = "Examples:\n  sift tags\n  sift tags --json")]
    Tags(tag::TagsArgs),
    /// Print a version's rows.
    #[command(
        after_help = "Examples:\n  sift cat raw --limit 5\n  sift cat raw --format csv > raw.csv"
    )]
    Cat(cat::CatArgs),
    /// Run SQL over versions; every tag is a table.
    #[command(after_help = query::EXAMPLES)]
    Query(query::QueryArgs),
    /// Write a version as plain Parquet (or JSONL) files.
    #[command(
        after_help = "Examples:\n  sift export raw --to out/\n  sift export raw --to out/ --format jsonl\n  sift export raw --to out/ --max-file-size 512MiB"
    )]
    Export(export::ExportArgs),
    /// Validate a pipeline spec and print its plan, without running it.
    #[command(
        after_help = "Examples:\n  sift check pipelines/web_quality.toml\n  sift check pipeline.yaml --json"
    )]
    Check(check::CheckArgs),
    /// Run a pipeline spec: import or resolve its source, run its stages, commit the result.
    #[command(after_help = run::EXAMPLES)]
    Run(run::RunArgs),
    /// Say whether a row was kept by a `sift run` version, or which stage and rule removed it.
    #[command(
        after_help = "Examples:\n  sift explain web-clean 17\n  sift explain web-clean doc-00042 --key id --json\n  sift explain web-clean --removed --stage 2 --limit 5"
    )]
    Explain(explain::ExplainArgs),
    /// Write one self-contained HTML page about a version (or what changed between two).
    #[command(after_help = report::EXAMPLES)]
    Report(report::ReportArgs),
    /// Rewrite segments that keep few rows of their shard as new shards (same content id).
    #[command(
        after_help = "Examples:\n  sift compact web-clean\n  sift compact web-clean --below 0.5 --tag web-clean-compact"
    )]
    Compact(compact::CompactArgs),
    /// What changed between two versions: schema, rows (as multisets), keys, labels, lineage.
    #[command(after_help = diff::EXAMPLES)]
    Diff(diff::DiffArgs),
    /// Check that every version is whole: objects, manifests, catalog; or rebuild the catalog.
    #[command(after_help = fsck::EXAMPLES)]
    Fsck(fsck::FsckArgs),
    /// Delete objects no kept version needs (tagged, recent, and their ancestors).
    #[command(after_help = gc::EXAMPLES)]
    Gc(gc::GcArgs),
    /// GPU support: the driver, devices and NVRTC; compile the kernels.
    #[command(after_help = device::EXAMPLES)]
    Device(device::DeviceArgs),
    /// Run a cluster's scheduler or executors (DataFusion Ballista) for `sift run --cluster`.
    #[command(after_help = cluster::EXAMPLES)]
    Cluster(cluster::ClusterArgs),
    /// Print a generated JSON schema (manifest, pipeline, diff).
    #[command(hide = true)]
    Schema(schema::SchemaArgs),
}

/// Parses arguments and runs the command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Init => init::run(g),
        Command::Import(a) => import::run(g, a),
        Command::Log(a) => log::run(g, a),
        Command::Show(a) => show::run(g, a),
        Command::Tag(a) => tag::run(g, a),
        Command::Tags(a) => tag::list(g, a),
        Command::Cat(a) => cat::run(g, a),
        Command::Query(a) => query::run(g, a),
        Command::Export(a) => export::run(g, a),
        Command::Check(a) => check::run(g, a),
        Command::Run(a) => run::run(g, a),
        Command::Explain(a) => explain::run(g, a),
        Command::Report(a) => report::run(g, a),
        Command::Compact(a) => compact::run(g, a),
        Command::Diff(a) => diff::run(g, a),
        Command::Fsck(a) => fsck::run(g, a),
        Command::Device(a) => device::run(g, a),
        Command::Gc(a) => gc::run(g, a),
        Command::Cluster(a) => cluster::run(g, a),
        Command::Schema(a) => schema::run(a),
    }
}

impl Command {
    /// Whether the command talks to other processes over sockets (a cluster).
    pub fn uses_network(&self) -> bool {
        match self {
            Command::Cluster(_) => true,
            Command::Run(a) => a.cluster.is_some(),
            _ => false,
        }
    }
}

/// The first hint any error in the chain offers.
pub fn hint(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        let h = if let Some(e) = cause.downcast_ref::<crate::store::Error>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<crate::source::Error>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<crate::version::ReadError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<crate::version::export::Error>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<crate::version::import::ImportError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<crate::spec::Error>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<crate::explain::ExplainError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<crate::stage::RunError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<crate::version::diff::DiffError>() {
            e.hint()
        } else if let Some(h) = cluster_hint(cause) {
            Some(h)
        } else if let Some(e) = cause.downcast_ref::<crate::gpu::GpuError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<crate::query::Error>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<crate::report::ReportError>() {
            e.hint()
        } else {
            None
        };
        if h.is_some() {
            return h;
        }
    }
    None
}

#[cfg(feature = "cluster")]
fn cluster_hint(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    cause
        .downcast_ref::<crate::cluster::ClusterError>()
        .and_then(|e| e.hint())
}

#[cfg(not(feature = "cluster"))]
fn cluster_hint(_cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    None
}

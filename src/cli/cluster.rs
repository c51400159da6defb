//! `sift cluster scheduler` and `sift cluster executor`: a DataFusion
//! Ballista cluster with sift's UDFs and codec inside.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::Global;
#[cfg(feature = "cluster")]
use crate::cluster;

pub const EXAMPLES: &str = "\
Examples:
  # on the head node
  sift cluster scheduler --bind 0.0.0.0:50050
  # on each worker (the store on a shared filesystem, at the same path)
  sift cluster executor --scheduler head:50050 --host worker1
  # the store mounted elsewhere on this worker
  sift cluster executor --scheduler head:50050 --host worker2 --store-path /mnt/shared/sift
  # then, from any machine that sees the store
  sift run pipelines/filter_dedup.toml --cluster df://head:50050";

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Run a scheduler: it plans stages into tasks and hands them to executors.
    #[command(after_help = EXAMPLES)]
    Scheduler(SchedulerArgs),
    /// Run an executor: it runs tasks, reading shards from the store.
    #[command(after_help = EXAMPLES)]
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on (port 0: a free one, printed on stderr).
    #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
    pub bind: String,
    /// Seconds without a heartbeat after which an executor counts as lost
    /// and its tasks run again elsewhere.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub executor_timeout: u64,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler's address.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Host (name or address) to listen on, as the scheduler and clients reach it.
    #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
    pub host: String,
    /// Port of its Arrow Flight service, which serves results (0: a free one).
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub port: u16,
    /// Port of its gRPC service (0: a free one).
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub grpc_port: u16,
    /// Tasks to run at once, each a segment on one thread (default: --threads, or the cores).
    #[arg(long, value_name = "N")]
    pub tasks: Option<usize>,
    /// This machine's path to the store (default: the client's path, on a shared filesystem).
    #[arg(long = "store-path", value_name = "DIR")]
    pub store_path: Option<PathBuf>,
    /// Claim another sift version (to test the version check).
    #[arg(long, hide = true, value_name = "VERSION")]
    pub claim_version: Option<String>,
}

#[cfg(feature = "cluster")]
pub fn run(g: &Global, a: ClusterArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        ClusterCommand::Scheduler(s) => {
            let opts = cluster::SchedulerOptions {
                bind: s.bind,
                executor_timeout: s.executor_timeout.max(1),
            };
            cluster::scheduler(&opts, |at| {
                eprintln!("sift scheduler listening on {at}; stop it with Ctrl-C")
            })?;
        }
        ClusterCommand::Executor(e) => {
            let opts = cluster::ExecutorOptions {
                scheduler: cluster::Endpoint::parse(&e.scheduler)?,
                host: e.host,
                port: e.port,
                grpc_port: e.grpc_port,
                tasks: e.tasks.unwrap_or_else(|| g.threads()),
                store: e.store_path,
                version: e
                    .claim_version
                    .unwrap_or_else(|| crate::pipeline::task::SIFT_VERSION.into()),
            };
            let scheduler = opts.scheduler.clone();
            let tasks = opts.tasks;
            cluster::executor(&opts, |at| {
                eprintln!(
                    "sift executor on {at} ({tasks} tasks at once) registering with {scheduler}; stop it with Ctrl-C"
                )
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "cluster"))]
pub fn run(_g: &Global, _a: ClusterArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "this sift was built without the `cluster` feature; build it with `--features cluster`"
    )
}

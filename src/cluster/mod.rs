//! Running stages on a DataFusion Ballista cluster: sift's own scheduler and
//! executor (Ballista's, with sift's UDFs and codec inside), and the client
//! side of `sift run --cluster df://HOST:PORT`.
//!
//! ```text
//!  sift run --cluster ──▶ StageExec (a partition per segment) ──▶ sift cluster scheduler
//!        ▲                                                              │ tasks
//!        │ a row per segment (kept rows, removals)                      ▼
//!        └──────────────── Arrow Flight ◀──────────────── sift cluster executor × N
//!                                                          (read the store's shards)
//! ```
//!
//! Stock Ballista processes cannot run a sift plan: they lack its codec and
//! UDFs, so the scheduler and executors are sift's own subcommands. The
//! executors read shards from the same store as the client (a shared
//! filesystem in a real cluster) and write nothing to it; the client commits
//! the selections as a local run would, so the content id is the same.

pub mod exec;

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::config::BallistaConfig;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::SessionState;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::physical_plan::PhysicalExtensionCodec;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use crate::pipeline::Remote;
use crate::pipeline::task::{SIFT_VERSION, StageTask};
use crate::stage::{Part, RunError};

/// A scheduler's address, from `df://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "df://{}:{}", self.host, self.port)
    }
}

/// Why the cluster could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("`{0}` is not a cluster address: write df://HOST:PORT (e.g. df://10.0.0.5:50050)")]
    BadUrl(String),
    #[error("cannot reach the sift scheduler at {endpoint}: {reason}")]
    Unreachable { endpoint: Endpoint, reason: String },
    #[error("{0}")]
    Start(String),
}

impl ClusterError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ClusterError::Unreachable { endpoint, .. } => Some(format!(
                "start one there with `sift cluster scheduler --bind {}:{}`, and executors with `sift cluster executor --scheduler {}:{}`",
                endpoint.host, endpoint.port, endpoint.host, endpoint.port
            )),
            _ => None,
        }
    }
}

impl Endpoint {
    /// Parses `df://HOST:PORT` (or plain `HOST:PORT`).
    pub fn parse(url: &str) -> Result<Endpoint, ClusterError> {
        let bad = || ClusterError::BadUrl(url.to_string());
        let rest = url.strip_prefix("df://").unwrap_or(url);
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.trim_end_matches('/').parse().map_err(|_| bad())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') {
            return Err(bad());
        }
        Ok(Endpoint {
            host: host.to_string(),
            port,
        })
    }

    /// That something listens there (within 5 s).
    fn reach(&self) -> Result<(), ClusterError> {
        TcpStream::connect_timeout(&self.socket()?, Duration::from_secs(5))
            .map(drop)
            .map_err(|e| ClusterError::Unreachable {
                endpoint: self.clone(),
                reason: e.to_string(),
            })
    }

    fn socket(&self) -> Result<SocketAddr, ClusterError> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| ClusterError::Unreachable {
                endpoint: self.clone(),
                reason: e.to_string(),
            })?
            .next()
            .ok_or_else(|| ClusterError::Unreachable {
                endpoint: self.clone(),
                reason: "the host has no address".into(),
            })
    }
}

/// The client side: runs a stage's segments on the cluster.
#[derive(Debug)]
pub struct Client {
    endpoint: Endpoint,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    /// Checks that a scheduler listens at `url`.
    pub fn connect(url: &str) -> Result<Client, ClusterError> {
        let endpoint = Endpoint::parse(url)?;
        endpoint.reach()?;
        // The client only waits on the cluster: two threads are plenty.
        let runtime = runtime(Some(2))?;
        Ok(Client { endpoint, runtime })
    }

    async fn submit(
        &self,
        task: &StageTask,
    ) -> datafusion::common::Result<Vec<arrow::array::RecordBatch>> {
        let codec: Arc<dyn PhysicalExtensionCodec> =
            Arc::new(exec::Codec::new(None, SIFT_VERSION.into()));
        let stage: Arc<dyn ExecutionPlan> =
            exec::StageExec::plan(task.clone(), SIFT_VERSION.into())?;
        let plan: Arc<dyn ExecutionPlan> = match task.mode {
            // The engine's shuffle puts each (band, hash) in one partition;
            // the buckets there give the candidate pairs.
            crate::pipeline::task::Mode::Bands => {
                let key: Vec<Arc<dyn datafusion::physical_expr::PhysicalExpr>> = vec![
                    Arc::new(Column::new("band", 0)),
                    Arc::new(Column::new("hash", 1)),
                ];
                let partitions = task.segments.clamp(2, 64);
                Arc::new(exec::BucketsExec::new(Arc::new(RepartitionExec::try_new(
                    stage,
                    Partitioning::Hash(key, partitions),
                )?)))
            }
            _ => stage,
        };
        let config = SessionConfig::new_with_ballista()
            .with_ballista_physical_extension_codec(codec.clone())
            .with_ballista_job_name(&format!("sift stage {} ({})", task.index + 1, task.name));
        let session = format!(
            "sift-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let url = format!("http://{}:{}", self.endpoint.host, self.endpoint.port);
        let stream = ballista_core::execution_plans::execute_physical_plan::<PhysicalPlanNode>(
            url,
            &BallistaConfig::default(),
            plan,
            codec.as_ref(),
            session,
            config,
        )
        .await?;
        datafusion::physical_plan::common::collect(stream).await
    }
}

/// Runs of a stage's job before a lost connection fails the run: tasks
/// only read, so a job whose results sat on an executor that went away
/// runs again on the executors left.
const ATTEMPTS: usize = 3;

impl Remote for Client {
    fn run(&self, task: &StageTask) -> Result<Vec<Part>, RunError> {
        let batches = self.job(task)?;
        exec::parts_of(&batches, task.segments).map_err(|e| failed(task, e, None))
    }

    fn prepare(&self, task: &StageTask) -> Result<Vec<(usize, Vec<u8>)>, RunError> {
        let batches = self.job(task)?;
        let only = task.only.clone().unwrap_or_default();
        exec::prepared_of(&batches, &only).map_err(|e| failed(task, e, None))
    }

    fn group(&self, task: &StageTask) -> Result<Vec<(u32, u32)>, RunError> {
        let batches = self.job(task)?;
        exec::pairs_of(&batches).map_err(|e| failed(task, e, None))
    }

    fn runs_here(&self, task: &StageTask, why: Option<&str>) {
        let kind = format!("a {} stage does not run on the cluster yet", task.kind);
        eprintln!(
            "stage {} ({}) runs here: {}",
            task.index + 1,
            task.name,
            why.unwrap_or(&kind)
        );
    }
}

fn failed(task: &StageTask, message: String, hint: Option<String>) -> RunError {
    RunError::Cluster {
        stage: task.index + 1,
        name: task.name.clone(),
        message,
        hint,
    }
}

impl Client {
    /// Runs the task's job, again where a connection was lost.
    fn job(&self, task: &StageTask) -> Result<Vec<arrow::array::RecordBatch>, RunError> {
        let mut attempt = 1;
        let started = std::time::Instant::now();
        loop {
            let e = match self.runtime.block_on(self.submit(task)) {
                Ok(batches) => {
                    let bytes: usize = batches
                        .iter()
                        .flat_map(|b| b.columns())
                        .map(|c| column_bytes(c.as_ref()))
                        .sum();
                    let n = task.only.as_ref().map_or(task.segments, Vec::len);
                    let what = match task.mode {
                        crate::pipeline::task::Mode::Run => format!("{n} segments run"),
                        crate::pipeline::task::Mode::Prepare => {
                            format!("first pass of {n} segments")
                        }
                        crate::pipeline::task::Mode::Bands => {
                            format!("band hashes of {n} segments grouped")
                        }
                    };
                    eprintln!(
                        "stage {} ({}) on the cluster at {}: {what}, {bytes} bytes back, {:.2} s",
                        task.index + 1,
                        task.name,
                        self.endpoint,
                        started.elapsed().as_secs_f64()
                    );
                    return Ok(batches);
                }
                Err(e) => e,
            };
            let text = e.to_string();
            let (message, hint) = match exec::decode_error(&text) {
                Some(t) => (t.message, t.hint),
                None if is_lost_connection(&text) && attempt < ATTEMPTS => {
                    eprintln!(
                        "stage {} ({}): lost an executor or the scheduler ({}); running the stage's job again, attempt {} of {ATTEMPTS}",
                        task.index + 1,
                        task.name,
                        crate::stage::filter::clean(&text),
                        attempt + 1
                    );
                    attempt += 1;
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
                None if is_lost_connection(&text) => (
                    format!(
                        "lost the connection to an executor or the scheduler at {}, {ATTEMPTS} times: {}",
                        self.endpoint,
                        crate::stage::filter::clean(&text)
                    ),
                    Some("check that `sift cluster scheduler` and the executors still run, then run again: stages done before are cached".into()),
                ),
                None => (crate::stage::filter::clean(&text), None),
            };
            return Err(failed(task, message, hint));
        }
    }
}

/// The bytes of a result column's values (binary and text: their bytes).
fn column_bytes(c: &dyn arrow::array::Array) -> usize {
    use arrow::array::AsArray;
    if let Some(b) = c.as_binary_opt::<i32>() {
        return b.value_data().len();
    }
    if let Some(s) = c.as_string_opt::<i32>() {
        return s.value_data().len();
    }
    c.len() * c.data_type().primitive_width().unwrap_or(0)
}

/// Whether a failed job's text says a connection was lost (not a task's error).
fn is_lost_connection(text: &str) -> bool {
    [
        "Connection refused",
        "GrpcConnectionError",
        "transport error",
        "executors were lost",
        "broken pipe",
    ]
    .iter()
    .any(|s| text.contains(s))
}

/// sift's UDFs in a session state, added to what `state` has
/// (`register_udf` on the state, so the built-ins stay).
fn with_sift_udfs(state: SessionState) -> SessionState {
    let ctx = SessionContext::new_with_state(state);
    crate::stage::register_udfs(&ctx);
    ctx.state()
}

/// A bound listener on `bind` (`HOST:PORT`, port 0 for any free one).
fn listen(bind: &str) -> Result<TcpListener, ClusterError> {
    let addr = bind
        .to_socket_addrs()
        .map_err(|e| ClusterError::Start(format!("cannot resolve `{bind}`: {e}")))?
        .next()
        .ok_or_else(|| ClusterError::Start(format!("`{bind}` has no address")))?;
    TcpListener::bind(addr)
        .map_err(|e| ClusterError::Start(format!("cannot listen on {addr}: {e}")))
}

/// A tokio runtime on `threads` threads (default: the cores).
fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, ClusterError> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        b.worker_threads(n);
    }
    b.enable_all()
        .build()
        .map_err(|e| ClusterError::Start(e.to_string()))
}

/// How a scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// `HOST:PORT` to listen on (port 0: any free port).
    pub bind: String,
    /// Seconds without a heartbeat after which an executor counts as lost.
    pub executor_timeout: u64,
}

/// Runs a scheduler until the process is stopped; `ready` hears its address.
pub fn scheduler(
    opts: &SchedulerOptions,
    ready: impl FnOnce(&Endpoint),
) -> Result<(), ClusterError> {
    let listener = listen(&opts.bind)?;
    let local = listener
        .local_addr()
        .map_err(|e| ClusterError::Start(e.to_string()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ClusterError::Start(e.to_string()))?;
    let config = SchedulerConfig {
        bind_host: local.ip().to_string(),
        external_host: local.ip().to_string(),
        bind_port: local.port(),
        override_session_builder: Some(Arc::new(|config: SessionConfig| {
            ballista_core::utils::default_session_builder(config).map(with_sift_udfs)
        })),
        override_physical_codec: Some(Arc::new(exec::Codec::new(None, SIFT_VERSION.into()))),
        executor_timeout_seconds: opts.executor_timeout,
        expire_dead_executor_interval_seconds: opts.executor_timeout.clamp(1, 15),
        no_executors_grace_period_seconds: opts.executor_timeout,
        ..Default::default()
    };
    let rt = runtime(None)?;
    rt.block_on(async move {
        let config = Arc::new(config);
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|e| ClusterError::Start(e.to_string()))?;
        let server = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
            .await
            .map_err(|e| ClusterError::Start(e.to_string()))?;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| ClusterError::Start(e.to_string()))?;
        ready(&Endpoint {
            host: local.ip().to_string(),
            port: local.port(),
        });
        start_grpc_service_with_listener(listener, server)
            .await
            .map_err(|e| ClusterError::Start(e.to_string()))
    })
}

/// How an executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler: Endpoint,
    /// Host to listen on; ports are free ones unless given.
    pub host: String,
    pub port: u16,
    pub grpc_port: u16,
    /// Tasks run at once (a task is one segment on one thread).
    pub tasks: usize,
    /// This machine's path to the store, if not the client's.
    pub store: Option<PathBuf>,
    /// The version it claims (tests of the version check).
    pub version: String,
}

/// An executor's work directory (shuffle files, results) in the temp
/// directory: `sift-executor-PID-…`, removed when it stops.
const WORK_PREFIX: &str = "sift-executor-";

/// Removes the work directories of executors that no longer run (killed
/// before they could remove their own); returns how many.
fn remove_dead_work_dirs(tmp: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(WORK_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid.to_string()).exists()
            && std::fs::remove_dir_all(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

fn free_port(host: &str) -> Result<u16, ClusterError> {
    Ok(listen(&format!("{host}:0"))?
        .local_addr()
        .map_err(|e| ClusterError::Start(e.to_string()))?
        .port())
}

/// Runs an executor until the process is stopped; `ready` hears its
/// Flight address once it starts registering with the scheduler.
pub fn executor(
    opts: &ExecutorOptions,
    ready: impl FnOnce(&SocketAddr),
) -> Result<(), ClusterError> {
    opts.scheduler.reach()?;
    let port = match opts.port {
        0 => free_port(&opts.host)?,
        p => p,
    };
    let grpc_port = match opts.grpc_port {
        0 => free_port(&opts.host)?,
        p => p,
    };
    remove_dead_work_dirs(&std::env::temp_dir());
    let work = tempfile::Builder::new()
        .prefix(&format!("{WORK_PREFIX}{}-", std::process::id()))
        .tempdir()
        .map_err(|e| ClusterError::Start(format!("cannot make a work directory: {e}")))?;
    let mut registry = BallistaFunctionRegistry::default();
    let udfs = with_sift_udfs(SessionContext::new().state());
    for (name, f) in udfs.scalar_functions() {
        registry.scalar_functions.insert(name.clone(), f.clone());
    }
    let config = ExecutorProcessConfig {
        bind_host: opts.host.clone(),
        external_host: Some(opts.host.clone()),
        port,
        grpc_port,
        scheduler_host: opts.scheduler.host.clone(),
        scheduler_port: opts.scheduler.port,
        vcores: opts.tasks.max(1),
        work_dir: Some(work.path().display().to_string()),
        executor_heartbeat_interval_seconds: 2,
        override_function_registry: Some(Arc::new(registry)),
        override_physical_codec: Some(Arc::new(exec::Codec::new(
            opts.store.clone(),
            opts.version.clone(),
        ))),
        ..Default::default()
    };
    let addr: SocketAddr = format!("{}:{port}", opts.host)
        .parse()
        .map_err(|e| ClusterError::Start(format!("`{}`: {e}", opts.host)))?;
    let rt = runtime(None)?;
    ready(&addr);
    let r = rt.block_on(start_executor_process(Arc::new(config)));
    drop(work);
    r.map_err(|e| ClusterError::Start(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_bad_ones_say_how_to_write_them() {
        assert_eq!(
            Endpoint::parse("df://10.0.0.5:50050").unwrap(),
            Endpoint {
                host: "10.0.0.5".into(),
                port: 50050
            }
        );
        assert_eq!(Endpoint::parse("localhost:7").unwrap().port, 7);
        for bad in ["df://host", "df://:50050", "df://h:x", "http://h:1/a:b"] {
            let e = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(e.contains("df://HOST:PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn task_errors_survive_being_wrapped_and_escaped() {
        let e = crate::pipeline::task::TaskError {
            message: "cannot read the store at /x: \"no\"".into(),
            hint: Some("mount it".into()),
        };
        let text = exec::encode_error_for_test(&e);
        for wrapped in [
            format!("Job failed: {text}"),
            format!(
                "Execution(\"{}\")",
                text.replace('\\', "\\\\").replace('"', "\\\"")
            ),
        ] {
            assert_eq!(exec::decode_error(&wrapped), Some(e.clone()), "{wrapped}");
        }
        assert_eq!(exec::decode_error("Job failed: no sift text"), None);
    }
}

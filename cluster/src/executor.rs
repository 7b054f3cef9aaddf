//! `hopscope cluster executor`: Ballista's executor, executing with hopscope's functions.

use std::sync::Arc;

use ballista_core::RuntimeProducer;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;

use crate::object_stores::{ConnectS3, ObjectStores};
use crate::{Error, Result};

/// How long an executor keeps trying to reach its scheduler at start.
const SCHEDULER_CONNECT_SECONDS: u16 = 60;

/// How the executor reaches its scheduler and where it serves its results.
#[derive(Clone)]
pub struct ExecutorOptions {
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// Address to bind (`0.0.0.0` for every interface).
    pub bind: String,
    /// Host name the scheduler and clients reach this executor at (default: the address the
    /// scheduler sees it connect from).
    pub external_host: Option<String>,
    /// Arrow Flight port: query results and shuffle data are fetched here.
    pub port: u16,
    /// gRPC port the scheduler pushes tasks to.
    pub grpc_port: u16,
    /// Tasks run at once (0: one per CPU).
    pub concurrent_tasks: usize,
    /// Where shuffle and spill files go (default: a new temporary directory, removed when the
    /// executor stops).
    pub work_dir: Option<String>,
    /// How to reach a store on S3 (`None`: stores on S3 cannot be read here).
    pub s3: Option<ConnectS3>,
}

/// Runs the executor until it is stopped (SIGTERM, Ctrl-C, or the scheduler).
pub async fn run(options: &ExecutorOptions) -> Result<()> {
    // Ballista's own default directory is removed as soon as it is made (its `TempDir` is
    // dropped): this one lives as long as the executor.
    let temporary;
    let work_dir = match &options.work_dir {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::Builder::new()
                .prefix("hopscope-executor-")
                .tempdir()
                .map_err(|e| Error::Config {
                    what: "the executor's work directory".into(),
                    reason: e.to_string(),
                })?;
            temporary.path().display().to_string()
        }
    };
    // One registry for every task, so a bucket's client (and its connections) is made once.
    let stores = Arc::new(ObjectStores::new(options.s3.clone()));
    let spill_dir = work_dir.clone();
    let runtime: RuntimeProducer = Arc::new(move |_| {
        RuntimeEnvBuilder::new()
            .with_temp_file_path(spill_dir.clone())
            .with_object_store_registry(stores.clone())
            .build_arc()
    });
    let config = ExecutorProcessConfig {
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        bind_host: options.bind.clone(),
        external_host: options.external_host.clone(),
        port: options.port,
        grpc_port: options.grpc_port,
        vcores: options.concurrent_tasks,
        work_dir: Some(work_dir),
        override_function_registry: Some(Arc::new(crate::functions::function_registry()?)),
        override_runtime_producer: Some(runtime),
        // Retry the scheduler for a while (started together, by systemd or compose, the
        // executor may come first) rather than exit at the first refusal.
        scheduler_connect_timeout_seconds: SCHEDULER_CONNECT_SECONDS,
        task_scheduling_policy: crate::SCHEDULING,
        ..ExecutorProcessConfig::default()
    };
    tracing::info!(
        scheduler = %format!("{}:{}", options.scheduler_host, options.scheduler_port),
        port = options.port,
        "Starting a Ballista executor with hopscope's functions."
    );
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

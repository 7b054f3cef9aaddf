//! `hopscope cluster executor`: Ballista's executor, executing with hopscope's functions.

use std::sync::Arc;

use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};

use crate::Result;

/// How the executor reaches its scheduler and where it serves its results.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Where shuffle files go (default: a new temporary directory).
    pub work_dir: Option<String>,
}

/// Runs the executor until it is stopped (SIGTERM, Ctrl-C, or the scheduler).
pub async fn run(options: &ExecutorOptions) -> Result<()> {
    let config = ExecutorProcessConfig {
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        bind_host: options.bind.clone(),
        external_host: options.external_host.clone(),
        port: options.port,
        grpc_port: options.grpc_port,
        vcores: options.concurrent_tasks,
        work_dir: options.work_dir.clone(),
        override_function_registry: Some(Arc::new(crate::functions::function_registry()?)),
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

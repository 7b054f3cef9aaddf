//! `hopscope cluster scheduler`: Ballista's scheduler, planning with hopscope's functions.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

use crate::object_stores::{ConnectS3, ObjectStores};
use crate::{Error, Result};

/// Where the scheduler listens and how clients and executors reach it.
#[derive(Clone)]
pub struct SchedulerOptions {
    /// Address to bind (`0.0.0.0` for every interface).
    pub bind: String,
    pub port: u16,
    /// Host name executors and clients reach this scheduler at.
    pub external_host: String,
    /// How to reach a store on S3, whose files the scheduler lists to split a scan into tasks
    /// (`None`: stores on S3 cannot be queried).
    pub s3: Option<ConnectS3>,
}

/// Runs the scheduler until the process ends (its gRPC service, in-memory cluster state).
pub async fn run(options: &SchedulerOptions) -> Result<()> {
    let address: SocketAddr = format!("{}:{}", options.bind, options.port)
        .parse()
        .map_err(|e: std::net::AddrParseError| Error::Config {
            what: format!("scheduler address {}:{}", options.bind, options.port),
            reason: e.to_string(),
        })?;
    let mut config = SchedulerConfig::default()
        .with_hostname(options.external_host.clone())
        .with_port(options.port)
        .with_scheduler_policy(crate::SCHEDULING)
        .with_override_session_builder(crate::functions::session_builder(Arc::new(
            ObjectStores::new(options.s3.clone()),
        )));
    config.bind_host.clone_from(&options.bind);
    let cluster = BallistaCluster::new_from_config(&config).await?;
    tracing::info!(%address, "Starting the Ballista scheduler with hopscope's functions.");
    start_server(cluster, address, Arc::new(config)).await?;
    Ok(())
}

//! `--cluster df://HOST:PORT` and `hopscope cluster scheduler|executor`: SQL on an Apache
//! DataFusion Ballista cluster whose processes know hopscope's functions.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use hopscope_analyzer::Session;
use hopscope_cluster::ConnectS3;
pub use hopscope_cluster::LocalPart;
use hopscope_cluster::executor::ExecutorOptions;
use hopscope_cluster::scheduler::SchedulerOptions;
use hopscope_collector::aws::S3Clients;
use hopscope_store::Location;

use super::StoreAwsArgs;

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub role: Role,
}

#[derive(Debug, Subcommand)]
pub enum Role {
    /// Run a Ballista scheduler that plans with hopscope's functions (clients connect with
    /// `--cluster df://HOST:PORT`)
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor that executes with hopscope's functions (hdr_*, top_n, json_*)
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on (0.0.0.0: every interface)
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    pub bind: String,

    /// Port to listen on
    #[arg(long, default_value_t = hopscope_cluster::DEFAULT_SCHEDULER_PORT)]
    pub port: u16,

    /// Host name executors and clients reach this scheduler at
    #[arg(long, default_value = "localhost", value_name = "HOST")]
    pub external_host: String,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to register with
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,

    /// Address to listen on (0.0.0.0: every interface)
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    pub bind: String,

    /// Host name the scheduler and clients reach this executor at [default: the address the
    /// scheduler sees it connect from]
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,

    /// Arrow Flight port, where clients and other executors fetch results
    #[arg(long, default_value_t = 50051)]
    pub port: u16,

    /// gRPC port the scheduler sends tasks to
    #[arg(long, default_value_t = 50052)]
    pub grpc_port: u16,

    /// Tasks to run at once (0: one per CPU)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub concurrent_tasks: usize,

    /// Directory for shuffle files [default: a new temporary directory]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

pub async fn run(args: ClusterArgs, store_aws: &StoreAwsArgs) -> anyhow::Result<ExitCode> {
    let s3 = Some(s3_clients(store_aws).await);
    match args.role {
        Role::Scheduler(a) => {
            let options = SchedulerOptions {
                bind: a.bind,
                port: a.port,
                external_host: a.external_host,
                s3,
            };
            eprintln!(
                "Ballista scheduler with hopscope's functions on {}:{} (clients: --cluster df://{}:{}).",
                options.bind, options.port, options.external_host, options.port
            );
            hopscope_cluster::scheduler::run(&options).await?;
        }
        Role::Executor(a) => {
            let (host, port) = host_port(&a.scheduler)?;
            let options = ExecutorOptions {
                scheduler_host: host,
                scheduler_port: port,
                bind: a.bind,
                external_host: a.external_host,
                port: a.port,
                grpc_port: a.grpc_port,
                concurrent_tasks: a.concurrent_tasks,
                work_dir: a.work_dir.map(|d| d.display().to_string()),
                s3,
            };
            eprintln!(
                "Ballista executor with hopscope's functions on {}:{}, scheduler {}.",
                options.bind, options.port, a.scheduler
            );
            hopscope_cluster::executor::run(&options).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How the scheduler and executors build a client of a store's bucket: the AWS settings of the
/// machine they run on (the standard chain, or `--store-profile/--store-region/
/// --store-endpoint-url`), resolved at start. Settings that do not resolve (no Region, say) are
/// reported once, and again to any query of a store on S3; a cluster of local stores runs on.
async fn s3_clients(aws: &StoreAwsArgs) -> ConnectS3 {
    match S3Clients::resolve(&aws.options(), "a store on S3").await {
        Ok(clients) => {
            Arc::new(move |bucket: &str| clients.connect(bucket).map_err(|e| e.to_string()))
        }
        Err(reason) => {
            eprintln!("note: stores on S3 cannot be read here: {reason}");
            Arc::new(move |_: &str| Err(reason.clone()))
        }
    }
}

/// `HOST:PORT` split (the port is required: executors are told where their scheduler is).
fn host_port(s: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("--scheduler {s:?}: expected HOST:PORT"))?;
    let port = port
        .parse()
        .with_context(|| format!("--scheduler {s:?}: {port:?} is not a port"))?;
    anyhow::ensure!(!host.is_empty(), "--scheduler {s:?}: expected HOST:PORT");
    Ok((host.to_owned(), port))
}

/// The session `sql`, `map` and `hops` run on: a local one, or with `--cluster` one whose SQL
/// runs on the cluster. A report with a part that stays on this client says so first, once.
pub async fn open(
    store: &Location,
    cluster: Option<&str>,
    local: Option<LocalPart>,
) -> anyhow::Result<Session> {
    let Some(url) = cluster else {
        return Ok(Session::open_at(store).await?);
    };
    if let Some(part) = local {
        eprintln!("{}", part.notice(url));
    }
    Ok(hopscope_cluster::connect(url, store).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduler_is_host_and_port() {
        assert_eq!(
            host_port("sched.internal:50050").unwrap(),
            ("sched.internal".to_owned(), 50050)
        );
        assert!(host_port("sched.internal").is_err());
        assert!(host_port(":50050").is_err());
        assert!(host_port("sched:port").is_err());
    }
}

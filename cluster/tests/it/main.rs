//! hopscope's SQL on a Ballista cluster in this process (a scheduler and two executors on
//! localhost, from Ballista's standalone API, with hopscope's functions as the processes of
//! `hopscope cluster` register them), against a local session over the same store.

mod reports;
mod sql;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::utils::default_config_producer;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionConfig;
use hopscope_analyzer::Session;

/// Executors of the test cluster, and the tasks each runs at once.
const EXECUTORS: usize = 2;
const TASKS_PER_EXECUTOR: usize = 2;

/// Starts a scheduler and two executors on this test's runtime (they end with it) and returns
/// the scheduler's `df://` URL.
async fn start_cluster() -> String {
    let stores = Arc::new(hopscope_cluster::ObjectStores::new(None));
    let scheduler = ballista_scheduler::standalone::new_standalone_scheduler_with_builder(
        hopscope_cluster::session_builder(stores.clone()),
        Arc::new(default_config_producer),
        BallistaCodec::default(),
    )
    .await
    .expect("scheduler starts");
    let url = format!("http://localhost:{}", scheduler.port());
    let state =
        hopscope_cluster::session_state(SessionConfig::new_with_ballista(), stores).unwrap();
    for _ in 0..EXECUTORS {
        // The server starts in the background: wait until it accepts connections.
        let mut tries = 0;
        let client = loop {
            match SchedulerGrpcClient::connect(url.clone()).await {
                Ok(client) => break client,
                Err(e) if tries == 100 => panic!("no scheduler at {url}: {e}"),
                Err(_) => tries += 1,
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        ballista_executor::new_standalone_executor_from_state(client, TASKS_PER_EXECUTOR, &state)
            .await
            .expect("executor starts");
    }
    format!("df://localhost:{}", scheduler.port())
}

/// A local session and a session on a new test cluster, over the same store.
async fn sessions(store: &Path) -> (Session, Session) {
    let local = Session::open(store).await.unwrap();
    let url = start_cluster().await;
    let location = hopscope_store::Location::Local(store.into());
    let cluster = hopscope_cluster::connect(&url, &location).await.unwrap();
    (local, cluster)
}

/// A result as sorted lines of its rows, for comparing answers whatever the order and
/// partitioning. Floats are rounded to 12 significant digits: sums over partitions that
/// are added in another order may differ in the last bits.
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let columns: Vec<_> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Float64 | DataType::Float32 => {
                    Arc::new(datafusion::arrow::compute::cast(c, &DataType::Float64).unwrap()) as _
                }
                _ => Arc::clone(c),
            })
            .collect();
        let formatters: Vec<_> = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..b.num_rows() {
            let mut line = String::new();
            for (c, f) in columns.iter().zip(&formatters) {
                if c.data_type() == &DataType::Float64 {
                    let c = c.as_primitive::<Float64Type>();
                    if c.is_valid(row) {
                        write!(line, "{:.11e}|", c.value(row)).unwrap();
                        continue;
                    }
                }
                write!(line, "{}|", f.value(row)).unwrap();
            }
            out.push(line);
        }
    }
    out.sort();
    out
}

/// `sql`'s rows through both sessions, which must agree; returns how many rows there were.
async fn same_answer(local: &Session, cluster: &Session, sql: &str) -> usize {
    let want = rows(&local.collect(sql).await.unwrap());
    let got = rows(
        &cluster
            .collect(sql)
            .await
            .unwrap_or_else(|e| panic!("on the cluster: {sql}: {e}")),
    );
    assert_eq!(got, want, "{sql}");
    want.len()
}

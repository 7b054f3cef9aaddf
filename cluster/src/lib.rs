//! hopscope's SQL on an Apache DataFusion Ballista cluster: the client side ([`connect`]), and the
//! scheduler and executor processes ([`scheduler`], [`executor`]) with hopscope's functions
//! registered, so `hdr_*` and `top_n` run where the plan runs.
//!
//! The client plans each query (views are expanded there) and sends the logical plan to the
//! scheduler, which plans its stages and hands tasks to the executors; every process resolves
//! functions by name, so all three register the same ones ([`functions`]). hopscope's
//! hand-written tallies (the service map's and the hops' scans of `spans`) are not SQL: they
//! read the store on the client whatever the session ([`LocalPart`] says which).
//!
//! Tables are listed under the store's location, which the scheduler and every executor must
//! reach too: a local path (one machine, or a shared mount), or a store on S3, which each process
//! reaches with its own client and credentials ([`ObjectStores`]).

pub mod executor;
mod functions;
pub mod object_stores;
pub mod scheduler;

use hopscope_store::Location;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED;
use datafusion::execution::SessionStateBuilder;
use datafusion::optimizer::Optimizer;
use datafusion::prelude::SessionContext;
use hopscope_analyzer::Session;

pub use functions::{function_registry, session_builder, session_state};
pub use object_stores::{ConnectS3, ObjectStores};

/// How the scheduler hands out tasks: executors ask for them. With Ballista 55's default
/// (push), the scheduler dials each registering executor back, and that registration
/// sometimes never completes (8 of 16 executor starts on this 2-core machine), leaving the
/// executor registered but never given work.
pub const SCHEDULING: ballista_core::config::TaskSchedulingPolicy =
    ballista_core::config::TaskSchedulingPolicy::PullStaged;

/// Ballista's default scheduler port.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening the store or planning on the client.
    #[error(transparent)]
    Analyzer(#[from] hopscope_analyzer::Error),
    /// Connecting to the scheduler.
    #[error("connecting to the Ballista scheduler at {url}: {error}")]
    Connect {
        url: String,
        error: datafusion::error::DataFusionError,
    },
    /// Running the scheduler or an executor.
    #[error("{0}")]
    Ballista(#[from] ballista_core::error::BallistaError),
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("{what}: {reason}")]
    Config { what: String, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// DataFusion 55's logical optimizer rules that move struct field access (`b['count']`) towards
/// the scan under generated names (`__datafusion_extracted_1`) that the plan's protobuf form
/// does not decode: the scheduler rejects such a plan ("No field named
/// sum(__datafusion_extracted_1)"). The client sends its optimized plan, so it goes without
/// them; the scheduler optimizes again, with them, after decoding.
const RULES_THAT_DO_NOT_SHIP: [&str; 2] =
    ["extract_leaf_expressions", "push_down_leaf_projections"];

/// A session over `store` whose SQL runs on the Ballista cluster at `url`
/// (`df://HOST:PORT`); the store's tables are listed at its location, which the scheduler and every
/// executor must see too.
pub async fn connect(url: &str, store: &Location) -> Result<Session> {
    let rules = Optimizer::default()
        .rules
        .into_iter()
        .filter(|rule| !RULES_THAT_DO_NOT_SHIP.contains(&rule.name()))
        .collect();
    // Ballista 55's adaptive planner never finishes a job whose left join has an empty right
    // side (the `traces` view when no trace is partial, as in the samples): the static
    // distributed planner does.
    let config = Session::config()
        .upgrade_for_ballista()
        .set_bool(BALLISTA_ADAPTIVE_PLANNER_ENABLED, false);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_optimizer_rules(rules)
        .build();
    let ctx = SessionContext::remote_with_state(url, state)
        .await
        .map_err(|error| Error::Connect {
            url: url.to_owned(),
            error,
        })?;
    Ok(Session::from_context(ctx, store).await?)
}

/// A report part that stays on the client with `--cluster`: a hand-written tally over
/// `Session::scan_pruned`, which reads the store's files directly rather than through a plan
/// the cluster could run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalPart {
    /// `hopscope map`: the one tally is the whole map.
    ServiceMap,
    /// `hopscope hops`: the per-hop tally of the window and its baseline.
    Hops,
}

impl LocalPart {
    /// What runs where, said once on stderr before the report.
    pub fn notice(self, url: &str) -> String {
        match self {
            LocalPart::ServiceMap => format!(
                "note: the service map is a hand-written tally of spans and their per-minute \
                 rollups that cannot run on the cluster: it runs on this client, reading the \
                 store directly; its other queries (coverage) run on {url}."
            ),
            LocalPart::Hops => format!(
                "note: the per-hop tally is hand-written and cannot run on the cluster: it \
                 runs on this client, reading the store directly; the SQL (the window when \
                 none is given, coverage) runs on {url}."
            ),
        }
    }
}

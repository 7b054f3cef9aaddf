//! The functions every process of a cluster registers: they resolve functions by name when
//! decoding a plan, and know only DataFusion's built-ins unless told.

use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_scheduler::scheduler_server::SessionBuilder;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;

use crate::object_stores::ObjectStores;

/// Ballista's default session for `config`, with hopscope's functions, reaching files through
/// `stores`: what the scheduler plans with.
pub fn session_state(
    config: SessionConfig,
    stores: Arc<ObjectStores>,
) -> datafusion::error::Result<SessionState> {
    let state = default_session_builder(config)?;
    let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
        .with_object_store_registry(stores)
        .build_arc()?;
    let mut state = SessionStateBuilder::new_from_existing(state)
        .with_runtime_env(runtime)
        .build();
    hopscope_analyzer::session::register_functions(&mut state).map_err(|e| match e {
        hopscope_analyzer::Error::DataFusion(e) => e,
        other => DataFusionError::External(Box::new(other)),
    })?;
    Ok(state)
}

/// The scheduler's session builder: [`session_state`] with one registry for every job.
pub fn session_builder(stores: Arc<ObjectStores>) -> SessionBuilder {
    Arc::new(move |config| session_state(config, stores.clone()))
}

/// DataFusion's functions and hopscope's: what executors execute with.
pub fn function_registry() -> datafusion::error::Result<BallistaFunctionRegistry> {
    let state = session_state(
        SessionConfig::new_with_ballista(),
        Arc::new(ObjectStores::new(None)),
    )?;
    Ok(BallistaFunctionRegistry::from(&state))
}

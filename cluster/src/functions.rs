//! The functions every process of a cluster registers: they resolve functions by name when
//! decoding a plan, and know only DataFusion's built-ins unless told.

use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionConfig;

/// Ballista's default session for `config`, with hopscope's functions: what the scheduler plans
/// with (its session builder).
pub fn session_state(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let mut state = default_session_builder(config)?;
    hopscope_analyzer::session::register_functions(&mut state).map_err(|e| match e {
        hopscope_analyzer::Error::DataFusion(e) => e,
        other => DataFusionError::External(Box::new(other)),
    })?;
    Ok(state)
}

/// DataFusion's functions and hopscope's: what executors execute with.
pub fn function_registry() -> datafusion::error::Result<BallistaFunctionRegistry> {
    let state = session_state(SessionConfig::new_with_ballista())?;
    Ok(BallistaFunctionRegistry::from(&state))
}

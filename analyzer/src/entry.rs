//! The SQL of the one rule of where a trace enters a service (a hop) or a node of the service
//! map: [`hopscope_schema::spans::enters_service`] and [`hopscope_schema::spans::enters_node`].
//! Every query that counts hops or map edges takes its predicate from here; the hand-written
//! tallies call the schema's functions.

use hopscope_schema::spans::col as s;

/// The span enters its service: its parent's service differs or is unknown. Parenthesized
/// here and below: SQL binds `IS DISTINCT FROM` looser than `AND` and `OR`.
pub(crate) fn enters_service() -> String {
    format!("({} IS DISTINCT FROM {})", s::PARENT_SERVICE, s::SERVICE)
}

/// The span enters its node (service and type): it enters its service, or its parent's type
/// differs (a Lambda function under its Lambda service).
pub(crate) fn enters_node() -> String {
    format!(
        "(({ps} IS DISTINCT FROM {sv}) OR ({pst} IS DISTINCT FROM {st}))",
        ps = s::PARENT_SERVICE,
        pst = s::PARENT_SERVICE_TYPE,
        sv = s::SERVICE,
        st = s::SERVICE_TYPE,
    )
}

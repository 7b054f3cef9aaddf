//! hopscope's data contract: one module per table, each with its `TABLE` name, a `col` module of
//! column-name constants, `schema()`, a plain `*Row` struct and a `*BatchBuilder`.
//!
//! Everything that reads or writes the store names tables and columns through this crate, so a
//! change of the contract shows up in one place (and in the schema snapshot test).

pub mod lambda_invocations;
pub mod log_events;
pub mod metric_points;
pub mod spans;
pub mod store_layout;
pub mod traces;
mod types;

pub use types::{MapColumnBuilder, micros_from_secs, timestamp_type};

use arrow::datatypes::SchemaRef;

/// Version of the store's on-disk contract. Bump it when a column changes meaning or type; readers
/// refuse stores written with a newer version and say so.
pub const SCHEMA_VERSION: u32 = 1;

/// The tables kept as Parquet in the store, with their schemas.
pub fn stored_tables() -> Vec<(&'static str, SchemaRef)> {
    vec![
        (spans::TABLE, spans::schema()),
        (log_events::TABLE, log_events::schema()),
        (lambda_invocations::TABLE, lambda_invocations::schema()),
        (metric_points::TABLE, metric_points::schema()),
    ]
}

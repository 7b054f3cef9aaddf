//! hopscope's data contract: one module per table, each with its `TABLE` name, a `col` module of
//! column-name constants, `schema()`, a plain `*Row` struct and a `*BatchBuilder`.
//!
//! Everything that reads or writes the store names tables and columns through this crate, so a
//! change of the contract shows up in one place (and in the schema snapshot test).

pub mod alarm_history;
pub mod athena;
pub mod s3_location;
pub use s3_location::S3Location;
pub mod hops_1m;
pub mod lambda_functions;
pub mod lambda_invocations;
pub mod lambda_invocations_1m;
pub mod log_events;
pub mod metric_points;
pub mod origin;
pub mod service_edges_1m;
pub mod spans;
pub mod store_layout;
pub mod trace_coverage;
pub mod traces;
mod types;

pub use origin::Origin;
pub use types::{MapColumnBuilder, micros_from_secs, timestamp_type};

use arrow::datatypes::SchemaRef;

/// Version of the store's on-disk contract. Bump it when a column changes meaning or type; readers
/// refuse stores written with a newer version and say so.
pub const SCHEMA_VERSION: u32 = 1;

/// A table kept as Parquet in the store.
#[derive(Debug, Clone)]
pub struct StoredTable {
    pub name: &'static str,
    pub schema: SchemaRef,
    /// Columns whose values identify a row; the store keeps one row per key.
    pub key: &'static [&'static str],
    /// Event-time column that places a row in its hour partition.
    pub time: &'static str,
    /// Text columns stored without a Parquet dictionary (nearly unique per row).
    pub unique_text: &'static [&'static str],
    /// For a rollup, the table it summarizes: each of its files summarizes the data file of that
    /// table with the same partition and name, and is written right after it (see
    /// [`service_edges_1m`]).
    pub source: Option<&'static str>,
}

/// The tables kept as Parquet in the store.
pub fn stored_tables() -> Vec<StoredTable> {
    macro_rules! table {
        ($m:ident) => {
            StoredTable {
                name: $m::TABLE,
                schema: $m::schema(),
                key: $m::KEY,
                time: $m::TIME,
                unique_text: $m::UNIQUE_TEXT,
                source: None,
            }
        };
        (rollup $m:ident) => {
            StoredTable {
                source: Some($m::SOURCE),
                ..table!($m)
            }
        };
    }
    vec![
        table!(spans),
        table!(log_events),
        table!(lambda_invocations),
        table!(metric_points),
        table!(lambda_functions),
        table!(trace_coverage),
        table!(rollup service_edges_1m),
        table!(rollup hops_1m),
        table!(rollup lambda_invocations_1m),
    ]
}

/// The rollups of stored table `source`.
pub fn rollups_of(source: &str) -> Vec<StoredTable> {
    stored_tables()
        .into_iter()
        .filter(|t| t.source == Some(source))
        .collect()
}

/// The stored table called `name`.
pub fn stored_table(name: &str) -> Option<StoredTable> {
    stored_tables().into_iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any change to a table's columns shows up here in review (and may need a SCHEMA_VERSION bump).
    #[test]
    fn table_schemas() {
        let mut text = String::new();
        let all = stored_tables()
            .into_iter()
            .map(|t| (t.name, t.schema))
            .chain([
                (traces::TABLE, traces::schema()),
                (alarm_history::TABLE, alarm_history::schema()),
            ]);
        for (name, schema) in all {
            text.push_str(&format!("{name}\n"));
            for f in schema.fields() {
                let null = if f.is_nullable() { "" } else { " not null" };
                text.push_str(&format!("  {} {}{null}\n", f.name(), f.data_type()));
            }
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn keys_and_time_columns_exist() {
        for t in stored_tables() {
            for k in t.key.iter().chain([&t.time]) {
                assert!(
                    t.schema.field_with_name(k).is_ok(),
                    "{}: no column {k}",
                    t.name
                );
            }
        }
    }
}

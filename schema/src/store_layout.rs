//! Where things live in a store directory. Writers (collector) and readers (analyzer) agree here.
//!
//! ```text
//! STORE/hopscope-store.json                 {"schema_version": 1}
//! STORE/<table>/hour=YYYY-MM-DDTHH/part-<uuid>.parquet
//! ```
//! Partitions are Hive-style directories, so DuckDB, Athena and DataFusion read the files as-is.

/// The marker file naming the schema version a store was written with.
pub const MARKER_FILE: &str = "hopscope-store.json";

/// Directory prefix of an hour partition.
pub const HOUR_PARTITION: &str = "hour=";

/// Finished data files end with this; anything else (temp files) is never read.
pub const DATA_EXTENSION: &str = ".parquet";

/// Prefix of files being written; renamed to their final name only once complete.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Parquet key-value metadata entry carrying the schema version of each file.
pub const VERSION_METADATA_KEY: &str = "hopscope.schema_version";

//! Where things live in a store directory. Writers (collector) and readers (analyzer) agree here.
//!
//! ```text
//! STORE/hopscope-store.json                 {"schema_version": 1}
//! STORE/<table>/hour=YYYY-MM-DDTHH/part-<uuid>.parquet
//! STORE/_keys/<table>/hour=YYYY-MM-DDTHH/part-<uuid>.keys   (the collector's dedupe index)
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

/// Why a store's marker does not admit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerError {
    /// The marker cannot be read or parsed; the reason says how to fix it.
    Unreadable(String),
    /// Written by a newer hopscope.
    Newer { found: u32 },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Marker {
    schema_version: u32,
}

/// The marker a new store is created with.
pub fn marker_json() -> String {
    serde_json::to_string(&Marker {
        schema_version: crate::SCHEMA_VERSION,
    })
    .expect("marker serializes")
}

/// Checks that this build can read a store whose marker holds `bytes`, wherever the marker was
/// read from (a directory or S3).
pub fn check_marker(bytes: &[u8]) -> Result<(), MarkerError> {
    let found: Marker = serde_json::from_slice(bytes).map_err(|e| {
        MarkerError::Unreadable(format!(
            "{MARKER_FILE} is unreadable ({e}); it should hold {}",
            marker_json()
        ))
    })?;
    if found.schema_version > crate::SCHEMA_VERSION {
        return Err(MarkerError::Newer {
            found: found.schema_version,
        });
    }
    Ok(())
}

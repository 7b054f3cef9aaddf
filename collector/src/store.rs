//! The Parquet store (being written).

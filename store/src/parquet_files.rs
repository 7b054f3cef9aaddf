//! The store's Parquet files: the one set of writer settings, a data file's bytes, and which
//! files of a local partition are data.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use hopscope_schema::store_layout::{DATA_EXTENSION, TEMP_PREFIX, VERSION_METADATA_KEY};
use hopscope_schema::{SCHEMA_VERSION, StoredTable};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::objects::Location;

/// Finished data files directly in local directory `dir` (none if it does not exist), in name
/// order.
pub fn data_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let names = Location::Local(dir.into()).list("")?;
    Ok(data_file_names(names)
        .into_iter()
        .map(|n| dir.join(n))
        .collect())
}

/// Of a directory's file names (sorted), those of finished data files.
pub(crate) fn data_file_names(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| n.ends_with(DATA_EXTENSION) && !n.starts_with(TEMP_PREFIX))
        .collect()
}

pub(crate) fn writer_properties(table: &StoredTable) -> WriterProperties {
    let mut builder = table
        .unique_text
        .iter()
        .fold(WriterProperties::builder(), |b, col| {
            b.set_column_dictionary_enabled(ColumnPath::from(*col), false)
        });
    // Rollups are Snappy: a report opens many small summary files, and Parquet makes a codec per
    // column chunk it reads. A ZSTD codec allocates a compression and a decompression context,
    // which took a fifth of a week's `hops` (profiled); a Snappy one allocates nothing.
    let compression = if table.source.is_some() {
        // And only their group keys (the dictionary columns) keep a dictionary: a summary's
        // sums, histograms and slowest traces are nearly unique per row, and interning them was
        // a fifth of encoding a summary at import (profiled), for a dictionary as large as the
        // values.
        builder = builder.set_dictionary_enabled(false);
        for field in table.schema.fields() {
            if matches!(field.data_type(), DataType::Dictionary(..)) {
                builder = builder
                    .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), true);
            }
        }
        Compression::SNAPPY
    } else {
        Compression::ZSTD(ZstdLevel::try_new(1).expect("valid zstd level"))
    };
    builder
        .set_compression(compression)
        .set_max_row_group_row_count(Some(128 * 1024))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            VERSION_METADATA_KEY.to_string(),
            SCHEMA_VERSION.to_string(),
        )]))
        .build()
}

/// A reader of stored file `path` (read whole), and how to name it in a Parquet error.
pub(crate) fn reader(
    location: &Location,
    path: &str,
) -> Result<(
    ParquetRecordBatchReaderBuilder<bytes::Bytes>,
    impl Fn(parquet::errors::ParquetError) -> Error + use<>,
)> {
    let described = location.describe(path);
    let bytes = location.read(path)?.ok_or_else(|| Error::Read {
        path: described.clone(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let parquet_err = move |source| Error::Parquet {
        path: described.clone(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(&parquet_err)?;
    Ok((builder, parquet_err))
}

/// `batch` as a Parquet file's bytes, with the store's settings; `path` names it in errors.
pub(crate) fn encode(batch: &RecordBatch, table: &StoredTable, path: &Path) -> Result<Vec<u8>> {
    let parquet_err = |source| Error::Parquet {
        path: path.into(),
        source,
    };
    let mut writer =
        ArrowWriter::try_new(Vec::new(), batch.schema(), Some(writer_properties(table)))
            .map_err(parquet_err)?;
    writer.write(batch).map_err(parquet_err)?;
    writer.into_inner().map_err(parquet_err)
}

#[cfg(test)]
mod tests {
    use hopscope_schema::stored_table;

    use super::*;

    #[test]
    fn rollups_keep_a_dictionary_for_their_group_keys_only() {
        let hops = writer_properties(&stored_table("hops_1m").unwrap());
        let dictionary = |path: &[&str]| {
            hops.dictionary_enabled(&ColumnPath::new(
                path.iter().map(ToString::to_string).collect(),
            ))
        };
        assert!(dictionary(&["callee"]));
        assert!(dictionary(&["caller"]));
        assert!(!dictionary(&["durations"]));
        assert!(!dictionary(&["critical_ms"]));
        assert!(!dictionary(&["slowest", "list", "item", "trace_id"]));
        let spans = writer_properties(&stored_table("spans").unwrap());
        assert!(spans.dictionary_enabled(&ColumnPath::from("duration_ms")));
        assert!(!spans.dictionary_enabled(&ColumnPath::from("id")));
    }
}

//! The store as Athena (engine v3) and AWS Glue see it: one external table per stored table over
//! `s3://bucket/prefix/<table>/`, Parquet as written, partitioned by the `hour=` directories with
//! partition projection (no partitions to add or crawl).
//!
//! One owner for both ways in: [`ddl`] prints the statements, and `hopscope athena-ddl --apply`
//! sends the same [`AthenaTable`]s to the Glue API. Column types come from the Arrow schemas
//! through [`glue_type`], which refuses a type it does not know: a new column type must be
//! declared here before Athena can be told about it, never guessed.

use arrow::datatypes::{DataType, TimeUnit};

pub use crate::s3_location::S3Location;
use crate::s3_location::S3UrlError;
use crate::store_layout::HOUR_PARTITION;
use crate::{StoredTable, stored_tables};

/// The Glue database `athena-ddl` declares the tables in unless told otherwise.
pub const DEFAULT_DATABASE: &str = "hopscope";

/// The partition column: the `hour=YYYY-MM-DDTHH` directories, kept as a string so that
/// `WHERE hour >= '2026-11-21T10'` compares as the directory names sort.
pub const PARTITION_COLUMN: &str = "hour";

/// The hours partition projection enumerates: from this one to the current hour. What hopscope
/// collects is recent (X-Ray keeps 30 days, CloudWatch metrics 15 months); the start leaves room
/// for imported history, and an earlier one would only lengthen the scans that do not filter on
/// `hour`. Rows of older hours are not seen by Athena.
pub const PROJECTION_START: &str = "2020-01-01T00";

/// The `hour=` directory names as a Java date pattern (Athena's `projection.*.format`).
pub const HOUR_FORMAT: &str = "yyyy-MM-dd'T'HH";

/// What `STORED AS PARQUET` stands for, spelled out for the Glue API.
pub const PARQUET_INPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
pub const PARQUET_OUTPUT_FORMAT: &str =
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
pub const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";

/// Why no DDL can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AthenaError {
    #[error(
        "{url} is not an S3 location: Athena reads tables from S3 only, so give the store's S3 \
         URL with --store s3://BUCKET/PREFIX (or HOPSCOPE_STORE), where the store's tables are \
         s3://BUCKET/PREFIX/<table>/hour=.../"
    )]
    NotS3 { url: String },
    #[error(transparent)]
    BadS3Url(#[from] S3UrlError),
    #[error(
        "database name {name:?}: Athena accepts only lowercase letters, digits and `_` \
         (1 to 255 of them); choose another with --database"
    )]
    BadDatabase { name: String },
    #[error(
        "{table}.{column}: Arrow type {data_type} has no Athena type declared; add it to \
         hopscope_schema::athena::glue_type"
    )]
    UnsupportedType {
        table: String,
        column: String,
        data_type: String,
    },
}

/// Checks a Glue database name as Athena accepts it.
pub fn check_database(name: &str) -> Result<(), AthenaError> {
    let ok = (1..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(AthenaError::BadDatabase {
            name: name.to_string(),
        })
    }
}

/// The Glue (Hive) type Athena engine v3 reads a Parquet column of this Arrow type as; `None` for
/// a type not declared here.
///
/// - Timestamps (INT64 TIMESTAMP, adjusted to UTC) -> `timestamp`: Athena's Hive tables read them
///   at millisecond precision, whatever the unit stored.
/// - Unsigned integers are written with Parquet's unsigned annotations, which Athena v3 (Trino)
///   reads widened: UInt8 -> `smallint`, UInt16 -> `int` (never `smallint`: 65535 does not fit),
///   UInt32 -> `bigint`, UInt64 -> `decimal(20,0)` (`bigint` would overflow past 2^63 - 1; no
///   stored column is UInt64 today).
/// - Dictionary-encoded strings are plain UTF8 in Parquet (dictionary is an encoding there, not a
///   type) -> `string`.
pub fn glue_type(data_type: &DataType) -> Option<String> {
    let simple = match data_type {
        DataType::Boolean => "boolean",
        DataType::Int8 => "tinyint",
        DataType::Int16 | DataType::UInt8 => "smallint",
        DataType::Int32 | DataType::UInt16 => "int",
        DataType::Int64 | DataType::UInt32 => "bigint",
        DataType::UInt64 => "decimal(20,0)",
        DataType::Float32 => "float",
        DataType::Float64 => "double",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary",
        DataType::Date32 => "date",
        DataType::Timestamp(
            TimeUnit::Millisecond | TimeUnit::Microsecond | TimeUnit::Nanosecond,
            Some(tz),
        ) if tz.as_ref() == "UTC" => "timestamp",
        DataType::Dictionary(_, value) => return glue_type(value),
        DataType::List(item) | DataType::LargeList(item) => {
            return Some(format!("array<{}>", glue_type(item.data_type())?));
        }
        DataType::Map(entries, _) => {
            let DataType::Struct(fields) = entries.data_type() else {
                return None;
            };
            let [key, value] = fields.iter().collect::<Vec<_>>()[..] else {
                return None;
            };
            return Some(format!(
                "map<{},{}>",
                glue_type(key.data_type())?,
                glue_type(value.data_type())?
            ));
        }
        DataType::Struct(fields) => {
            let members = fields
                .iter()
                .map(|f| Some(format!("{}:{}", f.name(), glue_type(f.data_type())?)))
                .collect::<Option<Vec<_>>>()?;
            return Some(format!("struct<{}>", members.join(",")));
        }
        _ => return None,
    };
    Some(simple.to_string())
}

/// A column as Glue declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaColumn {
    pub name: String,
    pub glue_type: String,
}

/// One stored table as an Athena external table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaTable {
    pub name: &'static str,
    pub columns: Vec<AthenaColumn>,
    /// `s3://bucket/prefix/<table>/`.
    pub location: String,
    /// Table properties: Parquet, and the partition projection of [`PARTITION_COLUMN`].
    pub properties: Vec<(String, String)>,
}

impl AthenaTable {
    /// The table over `table`'s directory of the store at `location`.
    pub fn new(table: &StoredTable, location: &S3Location) -> Result<AthenaTable, AthenaError> {
        let columns = table
            .schema
            .fields()
            .iter()
            .map(|f| {
                let glue_type =
                    glue_type(f.data_type()).ok_or_else(|| AthenaError::UnsupportedType {
                        table: table.name.to_string(),
                        column: f.name().clone(),
                        data_type: f.data_type().to_string(),
                    })?;
                Ok(AthenaColumn {
                    name: f.name().clone(),
                    glue_type,
                })
            })
            .collect::<Result<Vec<_>, AthenaError>>()?;
        let location_url = location.table_url(table.name);
        let p = format!("projection.{PARTITION_COLUMN}");
        let properties = vec![
            ("classification".to_string(), "parquet".to_string()),
            ("projection.enabled".to_string(), "true".to_string()),
            (format!("{p}.type"), "date".to_string()),
            (format!("{p}.format"), HOUR_FORMAT.to_string()),
            (format!("{p}.range"), format!("{PROJECTION_START},NOW")),
            (format!("{p}.interval"), "1".to_string()),
            (format!("{p}.interval.unit"), "HOURS".to_string()),
            (
                "storage.location.template".to_string(),
                format!("{location_url}{HOUR_PARTITION}${{{PARTITION_COLUMN}}}/"),
            ),
        ];
        Ok(AthenaTable {
            name: table.name,
            columns,
            location: location_url,
            properties,
        })
    }

    /// `CREATE EXTERNAL TABLE IF NOT EXISTS` in Athena's DDL (Hive). Every name is backticked,
    /// not only the reserved ones (`timestamp`, `user`, `function`, ...): a list of reserved
    /// words would have to be kept up to date, backticks are always accepted.
    pub fn ddl(&self, database: &str) -> String {
        let columns = self
            .columns
            .iter()
            .map(|c| format!("  `{}` {}", c.name, c.glue_type))
            .collect::<Vec<_>>()
            .join(",\n");
        let properties = self
            .properties
            .iter()
            .map(|(k, v)| format!("  {} = {}", hive_string(k), hive_string(v)))
            .collect::<Vec<_>>()
            .join(",\n");
        format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{name}` (\n{columns}\n)\n\
             PARTITIONED BY (`{PARTITION_COLUMN}` string)\n\
             STORED AS PARQUET\n\
             LOCATION {location}\n\
             TBLPROPERTIES (\n{properties}\n);\n",
            name = self.name,
            location = hive_string(&self.location),
        )
    }
}

/// Every stored table as an Athena table over the store at `location`.
pub fn athena_tables(location: &S3Location) -> Result<Vec<AthenaTable>, AthenaError> {
    stored_tables()
        .iter()
        .map(|t| AthenaTable::new(t, location))
        .collect()
}

/// `CREATE DATABASE IF NOT EXISTS`.
pub fn database_ddl(database: &str) -> String {
    format!("CREATE DATABASE IF NOT EXISTS `{database}`;\n")
}

/// The whole DDL for the store at `location`: the database, then every table, one statement
/// each, separated by a blank line (Athena runs one statement per query).
pub fn ddl(database: &str, location: &S3Location) -> Result<String, AthenaError> {
    check_database(database)?;
    let mut text = database_ddl(database);
    for table in athena_tables(location)? {
        text.push('\n');
        text.push_str(&table.ddl(database));
    }
    Ok(text)
}

/// A string literal of Athena's DDL in double quotes, as AWS's partition projection examples
/// write them: the date format's `'T'` needs no escape then. `\` and `"` are escaped by a
/// backslash (no value holds them: the location is checked).
fn hive_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Field, Fields};

    use super::*;
    use crate::types::{dict_type, string_map_type, timestamp_type};

    #[test]
    fn arrow_types_map_to_what_athena_v3_reads() {
        let list = DataType::List(Arc::new(Field::new("item", DataType::UInt16, true)));
        let nested = DataType::Struct(Fields::from(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", dict_type(), true),
        ]));
        let cases = [
            (DataType::Utf8, "string"),
            (dict_type(), "string"),
            (DataType::Boolean, "boolean"),
            (DataType::Int32, "int"),
            (DataType::Int64, "bigint"),
            (DataType::UInt16, "int"),
            (DataType::UInt32, "bigint"),
            (DataType::UInt64, "decimal(20,0)"),
            (DataType::Float64, "double"),
            (timestamp_type(), "timestamp"),
            (string_map_type(), "map<string,string>"),
            (list, "array<int>"),
            (nested, "struct<a:bigint,b:string>"),
        ];
        for (arrow, glue) in cases {
            assert_eq!(glue_type(&arrow).as_deref(), Some(glue), "{arrow}");
        }
    }

    #[test]
    fn types_athena_would_misread_are_refused() {
        for arrow in [
            // No time zone: Parquet says "not adjusted to UTC", which Athena reads differently.
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into())),
            DataType::Float16,
            DataType::Decimal128(10, 2),
            DataType::Null,
            DataType::List(Arc::new(Field::new("item", DataType::Float16, true))),
        ] {
            assert_eq!(glue_type(&arrow), None, "{arrow}");
        }
    }

    #[test]
    fn every_column_of_every_stored_table_maps() {
        let location = S3Location::parse("s3://bucket/store").unwrap();
        for table in stored_tables() {
            let athena = AthenaTable::new(&table, &location)
                .unwrap_or_else(|e| panic!("{}: {e}", table.name));
            assert_eq!(athena.columns.len(), table.schema.fields().len());
            for column in &athena.columns {
                // Glue lowercases names: a column with a capital would read as all nulls.
                assert!(
                    column
                        .name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{}.{}",
                    table.name,
                    column.name
                );
                assert_ne!(column.name, PARTITION_COLUMN, "{}", table.name);
            }
        }
    }

    #[test]
    fn an_unknown_column_type_names_the_table_and_column() {
        let mut table = stored_tables().remove(0);
        table.schema = Arc::new(arrow::datatypes::Schema::new(vec![Field::new(
            "odd",
            DataType::Float16,
            true,
        )]));
        let err = AthenaTable::new(&table, &S3Location::parse("s3://bucket").unwrap());
        assert_eq!(
            err,
            Err(AthenaError::UnsupportedType {
                table: "spans".into(),
                column: "odd".into(),
                data_type: "Float16".into(),
            })
        );
    }

    #[test]
    fn s3_urls_give_bucket_and_prefix() {
        for (url, bucket, prefix, shown) in [
            ("s3://my-bucket", "my-bucket", "", "s3://my-bucket"),
            ("s3://my-bucket/", "my-bucket", "", "s3://my-bucket"),
            (
                "s3://my.bucket-1/a/b/",
                "my.bucket-1",
                "a/b",
                "s3://my.bucket-1/a/b",
            ),
        ] {
            let location = S3Location::parse(url).unwrap();
            assert_eq!(
                (location.bucket(), location.prefix()),
                (bucket, prefix),
                "{url}"
            );
            assert_eq!(location.to_string(), shown);
            assert_eq!(location.table_url("spans"), format!("{shown}/spans/"));
        }
    }

    #[test]
    fn database_names_are_checked() {
        assert!(check_database("hopscope_prod2").is_ok());
        for bad in ["", "Hopscope", "hop-scope", "hop scope", "hop`scope"] {
            assert!(check_database(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ddl_strings_are_double_quoted_with_quotes_and_backslashes_escaped() {
        assert_eq!(hive_string(HOUR_FORMAT), r#""yyyy-MM-dd'T'HH""#);
        assert_eq!(hive_string(r#"a\b"c"#), r#""a\\b\"c""#);
    }
}

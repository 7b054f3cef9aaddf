//! The one place that builds the SQL surface: every stored table, every view, every function.
//!
//! Users' SQL runs read-only: no DDL, no DML (so no `COPY ... TO`, `INSERT`, `CREATE EXTERNAL
//! TABLE`), no `SET`: a query cannot write or delete files, or change what later queries see.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::MemTable;
use datafusion::common::exec_datafusion_err;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};
use hopscope_schema::store_layout::{DATA_EXTENSION, MarkerError, check_marker};
use hopscope_schema::{SCHEMA_VERSION, stored_tables};

use crate::error::{Error, Result};
use crate::hdr::{HdrAggregateUdaf, HdrBucketsUdf, HdrCountUdf, HdrQuantileUdf};
use crate::top_n::TopNUdaf;
use crate::views;

/// A table or view users can query, with its schema.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub name: &'static str,
    pub kind: &'static str,
    pub schema: SchemaRef,
}

/// A DataFusion session over one store.
pub struct Session {
    ctx: SessionContext,
    root: PathBuf,
}

impl Session {
    /// Opens the store at `root` (which must exist and carry a supported schema version).
    pub async fn open(root: &Path) -> Result<Session> {
        check_store(root)?;
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("hopscope", "public");
        let ctx = SessionContext::new_with_config(config);
        register_functions(&ctx);
        for table in stored_tables() {
            register_stored(&ctx, root, table.name, table.schema).await?;
        }
        for view in views::all() {
            ctx.sql(&view.sql).await?;
        }
        Ok(Session {
            ctx,
            root: root.into(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The DataFusion context, for callers that add their own views in tests or tools.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Plans a read-only query.
    pub async fn query(&self, sql: &str) -> Result<DataFrame> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        Ok(self.ctx.sql_with_options(sql, options).await?)
    }

    /// Runs a read-only query and collects its result.
    pub async fn collect(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.query(sql).await?.collect().await?)
    }

    /// Runs a read-only query as a stream of batches.
    pub async fn stream(&self, sql: &str) -> Result<SendableRecordBatchStream> {
        Ok(self.query(sql).await?.execute_stream().await?)
    }

    /// Plans `sql` over `table` alone, with its text columns read as `Utf8View`: the Parquet
    /// reader then points into its pages instead of copying every string, which is most of the
    /// decoding in a full scan; its `WHERE` is applied while reading. For hopscope's own scans; the SQL surface keeps `Utf8`.
    pub(crate) async fn query_viewing_text(&self, table: &str, sql: &str) -> Result<DataFrame> {
        let stored = stored_tables()
            .into_iter()
            .find(|t| t.name == table)
            .ok_or_else(|| exec_datafusion_err!("no stored table {table}"))?;
        // The filter runs inside the Parquet reader: no copy of every passing row, and columns
        // are decoded only for rows that pass.
        let mut config = self.ctx.copied_config();
        config.options_mut().execution.parquet.pushdown_filters = true;
        let ctx = SessionContext::new_with_config(config);
        register_stored(&ctx, &self.root, table, text_as_views(&stored.schema)).await?;
        Ok(ctx.sql(sql).await?)
    }

    /// Every table and view of the SQL surface.
    pub async fn tables(&self) -> Result<Vec<TableInfo>> {
        let mut out = Vec::new();
        for t in stored_tables() {
            out.push(TableInfo {
                name: t.name,
                kind: "table",
                schema: t.schema,
            });
        }
        for view in views::all() {
            let table = self.ctx.table(view.name).await?;
            out.push(TableInfo {
                name: view.name,
                kind: "view",
                schema: Arc::new(table.schema().as_arrow().clone()),
            });
        }
        Ok(out)
    }
}

/// hopscope's own SQL functions (the names are the `pub const`s of each module).
fn register_functions(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::from(HdrAggregateUdaf::histogram()));
    ctx.register_udaf(AggregateUDF::from(HdrAggregateUdaf::merge()));
    ctx.register_udf(ScalarUDF::from(HdrQuantileUdf::default()));
    ctx.register_udf(ScalarUDF::from(HdrCountUdf::default()));
    ctx.register_udf(ScalarUDF::from(HdrBucketsUdf::default()));
    ctx.register_udaf(AggregateUDF::from(TopNUdaf::default()));
}

/// `schema` with every `Utf8` column as `Utf8View`.
fn text_as_views(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Utf8View),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn check_store(root: &Path) -> Result<()> {
    check_marker(root).map_err(|e| match e {
        MarkerError::Missing => Error::NoStore { path: root.into() },
        MarkerError::Unreadable(reason) => Error::BadStore {
            path: root.into(),
            reason,
        },
        MarkerError::Newer { found } => Error::NewerStore {
            path: root.into(),
            found,
            supported: SCHEMA_VERSION,
        },
    })
}

/// Registers `root/<name>/` (all hour partitions) as a Parquet listing table with the contract's
/// schema, so an empty or missing table still answers queries with the right columns.
async fn register_stored(
    ctx: &SessionContext,
    root: &Path,
    name: &str,
    schema: SchemaRef,
) -> Result<()> {
    let dir = root.join(name);
    if !dir.is_dir() {
        ctx.register_table(name, Arc::new(MemTable::try_new(schema, vec![vec![]])?))?;
        return Ok(());
    }
    let url = ListingTableUrl::parse(format!("{}/", dir.display()))?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(DATA_EXTENSION);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

//! The one place that builds the SQL surface: every stored table, every view, every function.
//!
//! Users' SQL runs read-only: no DDL, no DML (so no `COPY ... TO`, `INSERT`, `CREATE EXTERNAL
//! TABLE`), no `SET`: a query cannot write or delete files, or change what later queries see.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::common::{DFSchema, DataFusionError, exec_datafusion_err};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::physical_plan::ParquetSource;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::SessionState;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{FunctionRegistry, SendableRecordBatchStream};
use datafusion::logical_expr::{AggregateUDF, Expr, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};
use hopscope_schema::store_layout::DATA_EXTENSION;
use hopscope_schema::{stored_table, stored_tables};
use hopscope_store::Location;

use crate::error::Result;
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
    location: Location,
}

impl Session {
    /// Opens the store at directory `root` (which must exist and carry a supported schema
    /// version).
    pub async fn open(root: &Path) -> Result<Session> {
        Session::open_at(&Location::Local(root.into())).await
    }

    /// Opens the store at `location`, local or on S3.
    pub async fn open_at(location: &Location) -> Result<Session> {
        let ctx = SessionContext::new_with_config(Session::config());
        Session::over(ctx, location, stored_provider).await
    }

    /// The configuration every hopscope context starts from.
    pub fn config() -> SessionConfig {
        SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("hopscope", "public")
    }

    /// A session over the store at `location` on a context built elsewhere (a Ballista client's,
    /// which plans here and executes on a cluster). Registers the functions, every stored table
    /// and the views as [`Session::open`] does, except that a missing table is an empty
    /// [`ListingTable`] rather than a `MemTable`: only listing tables can be shipped to another
    /// process. Register functions after `upgrade_for_ballista`, which replaces the lists.
    pub async fn from_context(ctx: SessionContext, location: &Location) -> Result<Session> {
        Session::over(ctx, location, listing_provider).await
    }

    /// `ctx` with the functions, the store's object store, every stored table (as `provider`
    /// makes it) and the views.
    async fn over(
        mut ctx: SessionContext,
        location: &Location,
        provider: fn(&Location, &str, SchemaRef) -> Result<Arc<dyn TableProvider>>,
    ) -> Result<Session> {
        hopscope_store::check_existing_at(location)?;
        register_functions(&mut ctx)?;
        register_object_store(&ctx, location)?;
        for table in stored_tables() {
            ctx.register_table(table.name, provider(location, table.name, table.schema)?)?;
        }
        for view in views::all() {
            ctx.sql(&view.sql).await?;
        }
        Ok(Session {
            ctx,
            location: location.clone(),
        })
    }

    /// Where the store is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The store's directory, for a local store (alarm state and history live there).
    pub fn local_root(&self) -> Option<&Path> {
        self.location.local_root()
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

    /// The partitions of a scan of stored `table`'s `columns` for hopscope's own hand-written
    /// aggregations. `filter` only prunes: files, row groups and pages its statistics rule out
    /// are skipped, but rows that fail it still come through, so the caller tests each row
    /// itself. That spares evaluating the filter, decoding its columns twice and copying every
    /// passing row, which a `WHERE` costs. Text columns come as `Utf8View`: the Parquet reader
    /// then points into its pages instead of copying every string.
    pub(crate) async fn scan_pruned(
        &self,
        table: &str,
        columns: &[&str],
        filter: Expr,
    ) -> Result<Vec<SendableRecordBatchStream>> {
        let (schema, projection) = scanned(table, columns)?;
        let provider = stored_provider(&self.location, table, schema)?;
        self.scan_partitions(provider, projection, filter).await
    }

    /// [`Session::scan_pruned`] of some of the data files of stored `table` (`files`: paths
    /// relative to the store's root, as [`hopscope_store::pair`] gives them); no partition when
    /// `files` is empty.
    pub(crate) async fn scan_files_pruned(
        &self,
        table: &str,
        files: &[String],
        columns: &[&str],
        filter: Expr,
    ) -> Result<Vec<SendableRecordBatchStream>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let (schema, projection) = scanned(table, columns)?;
        let urls = files
            .iter()
            .map(|f| file_url(&self.location, f))
            .collect::<Result<Vec<_>>>()?;
        let provider = parquet_listing(urls, schema)?;
        self.scan_partitions(provider, projection, filter).await
    }

    /// One stream per partition of a scan of `provider`.
    async fn scan_partitions(
        &self,
        provider: Arc<dyn TableProvider>,
        projection: Vec<usize>,
        filter: Expr,
    ) -> Result<Vec<SendableRecordBatchStream>> {
        let state = self.ctx.state();
        let plan = provider.scan(&state, Some(&projection), &[], None).await?;
        let plan = pruned_by(plan, filter, &provider.schema(), &state)?;
        let partitions = plan.properties().output_partitioning().partition_count();
        (0..partitions)
            .map(|i| Ok(plan.execute(i, state.task_ctx())?))
            .collect()
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

/// hopscope's own SQL functions (the names are the `pub const`s of each module), and the JSON
/// functions of datafusion-functions-json for the `raw` documents and JSON log lines. Public
/// for the processes that execute plans planned elsewhere (a Ballista scheduler and its
/// executors), which resolve functions by name.
pub fn register_functions(registry: &mut dyn FunctionRegistry) -> Result<()> {
    registry.register_udaf(Arc::new(AggregateUDF::from(HdrAggregateUdaf::histogram())))?;
    registry.register_udaf(Arc::new(AggregateUDF::from(HdrAggregateUdaf::merge())))?;
    registry.register_udf(Arc::new(ScalarUDF::from(HdrQuantileUdf::default())))?;
    registry.register_udf(Arc::new(ScalarUDF::from(HdrCountUdf::default())))?;
    registry.register_udf(Arc::new(ScalarUDF::from(HdrBucketsUdf::default())))?;
    registry.register_udaf(Arc::new(AggregateUDF::from(TopNUdaf::default())))?;
    datafusion_functions_json::register_all(registry)?;
    Ok(())
}

/// `plan` (a scan of Parquet files) with `filter` as its pruning predicate: files, row groups
/// and pages whose statistics rule it out are skipped, and no row is filtered. A listing
/// table's `scan` takes filters only to prune partitions (DataFusion leaves the rest to a
/// `FilterExec` that its optimizer pushes into the scan), so a hand-built plan must set it.
fn pruned_by(
    plan: Arc<dyn ExecutionPlan>,
    filter: Expr,
    schema: &SchemaRef,
    state: &SessionState,
) -> Result<Arc<dyn ExecutionPlan>> {
    let Some(scan) = plan.downcast_ref::<DataSourceExec>() else {
        // No file to read (an empty scan).
        return Ok(plan);
    };
    let Some((config, parquet)) = scan.downcast_to_file_source::<ParquetSource>() else {
        return Ok(plan);
    };
    let predicate = state.create_physical_expr(filter, &DFSchema::try_from(schema.clone())?)?;
    let mut config = config.clone();
    config.file_source = Arc::new(parquet.with_predicate(predicate));
    Ok(DataSourceExec::from_data_source(config))
}

/// Stored `table` as the hand-written tallies read it (text as `Utf8View`), and the indexes of
/// `columns` in it.
fn scanned(table: &str, columns: &[&str]) -> Result<(SchemaRef, Vec<usize>)> {
    let stored =
        stored_table(table).ok_or_else(|| exec_datafusion_err!("no stored table {table}"))?;
    let schema = text_as_views(&stored.schema);
    let projection = columns
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(DataFusionError::from)?;
    Ok((schema, projection))
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

/// Makes a store on S3 readable by `ctx`: its client, under `s3://bucket`.
fn register_object_store(ctx: &SessionContext, location: &Location) -> Result<()> {
    if let Location::Remote(remote) = location {
        let bucket = ObjectStoreUrl::parse(remote.url().bucket_url())?;
        ctx.register_object_store(bucket.as_ref(), remote.objects());
    }
    Ok(())
}

/// `<store>/<name>/` as a Parquet listing table read as `schema`, or an empty table when a local
/// store has no such directory (an S3 prefix with nothing under it lists as empty).
fn stored_provider(
    location: &Location,
    name: &str,
    schema: SchemaRef,
) -> Result<Arc<dyn TableProvider>> {
    if let Location::Local(root) = location
        && !root.join(name).is_dir()
    {
        return Ok(Arc::new(MemTable::try_new(schema, vec![vec![]])?));
    }
    listing_provider(location, name, schema)
}

/// Where stored table `name` lives: the one place that turns a store and a table into the URL
/// its files are listed under.
fn table_url(location: &Location, name: &str) -> Result<ListingTableUrl> {
    Ok(ListingTableUrl::parse(format!(
        "{}/",
        store_url(location, name)
    ))?)
}

/// File `relative` of the store (a data file) as a listing URL.
fn file_url(location: &Location, relative: &str) -> Result<ListingTableUrl> {
    Ok(ListingTableUrl::parse(store_url(location, relative))?)
}

/// Path `relative` of the store as a path or an `s3://` URL.
fn store_url(location: &Location, relative: &str) -> String {
    match location {
        Location::Local(root) => root.join(relative).display().to_string(),
        Location::Remote(remote) => remote.url_of(relative),
    }
}

/// Stored table `name` as a Parquet listing table read as `schema`; a missing directory lists
/// no file and reads as an empty table.
fn listing_provider(
    location: &Location,
    name: &str,
    schema: SchemaRef,
) -> Result<Arc<dyn TableProvider>> {
    parquet_listing(vec![table_url(location, name)?], schema)
}

/// How many bytes of a file's end a scan fetches first, for its footer and page index. The
/// store's files need tens of kilobytes; DataFusion's default (512 KiB) made a report that
/// prunes to a few files still read half a megabyte of every file of the hours it touched.
const FOOTER_HINT: usize = 64 * 1024;

/// The store's Parquet files under `urls` (directories or files) as one table read as `schema`.
fn parquet_listing(
    urls: Vec<ListingTableUrl>,
    schema: SchemaRef,
) -> Result<Arc<dyn TableProvider>> {
    let format = ParquetFormat::default().with_metadata_size_hint(Some(FOOTER_HINT));
    let options = ListingOptions::new(Arc::new(format)).with_file_extension(DATA_EXTENSION);
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::TimestampMicrosecondType;
    use futures::TryStreamExt;

    use super::*;
    use crate::window::{Window, in_any};

    /// Rows a pruned scan of the spans' `start_time` delivers: (all of them, those in `w`).
    async fn scanned_rows(session: &Session, w: Window) -> (usize, usize) {
        let streams = session
            .scan_pruned("spans", &["start_time"], in_any(&[w], "start_time"))
            .await
            .unwrap();
        let (mut all, mut inside) = (0, 0);
        for stream in streams {
            let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
            for b in batches {
                let t = b.column(0).as_primitive::<TimestampMicrosecondType>();
                all += b.num_rows();
                inside += t
                    .values()
                    .iter()
                    .filter(|&&t| t >= w.start_us && t < w.end_us)
                    .count();
            }
        }
        (all, inside)
    }

    #[tokio::test]
    async fn a_pruned_scan_skips_what_its_filter_rules_out_and_keeps_every_row_it_holds() {
        let session = Session::open(hopscope_test_support::sample_store())
            .await
            .unwrap();
        let everything = Window {
            start_us: 0,
            end_us: i64::MAX,
        };
        let (total, _) = scanned_rows(&session, everything).await;
        // One minute of the sample data (2026-11-20T09:05Z), whose hour-10 files the statistics
        // rule out.
        let start_us = 1_795_165_500_000_000;
        let minute = Window {
            start_us,
            end_us: start_us + 60_000_000,
        };
        let (read, inside) = scanned_rows(&session, minute).await;
        let held = session
            .collect(
                "SELECT count(*) FROM spans \
                 WHERE start_time >= '2026-11-20T09:05:00Z' AND start_time < '2026-11-20T09:06:00Z'",
            )
            .await
            .unwrap()[0]
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0) as usize;
        assert!(held > 0);
        assert_eq!(inside, held, "every row of the minute comes through");
        assert!(
            read < total / 2,
            "{read} of {total} rows read for one minute: the filter pruned nothing"
        );
    }
}

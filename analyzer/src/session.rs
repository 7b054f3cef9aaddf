//! The one place that builds the SQL surface: every stored table, every view, every function.
//!
//! Users' SQL runs read-only: no DDL, no DML (so no `COPY ... TO`, `INSERT`, `CREATE EXTERNAL
//! TABLE`), no `SET`: a query cannot write or delete files, or change what later queries see.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};
use hopscope_schema::store_layout::{DATA_EXTENSION, MARKER_FILE};
use hopscope_schema::{SCHEMA_VERSION, stored_tables, traces};

use crate::error::{Error, Result};
use crate::hdr::{HdrAggregateUdaf, HdrBucketsUdf, HdrCountUdf, HdrQuantileUdf};

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
        ctx.sql(&traces_view_sql()).await?;
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
        let view = self.ctx.table(traces::TABLE).await?;
        out.push(TableInfo {
            name: traces::TABLE,
            kind: "view",
            schema: Arc::new(view.schema().as_arrow().clone()),
        });
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
}

fn check_store(root: &Path) -> Result<()> {
    let marker = root.join(MARKER_FILE);
    let bytes = match std::fs::read(&marker) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoStore { path: root.into() });
        }
        Err(e) => {
            return Err(Error::BadStore {
                path: root.into(),
                reason: format!("reading {MARKER_FILE}: {e}"),
            });
        }
    };
    #[derive(serde::Deserialize)]
    struct Marker {
        schema_version: u32,
    }
    let found: Marker = serde_json::from_slice(&bytes).map_err(|e| Error::BadStore {
        path: root.into(),
        reason: format!("{MARKER_FILE} is unreadable: {e}"),
    })?;
    if found.schema_version > SCHEMA_VERSION {
        return Err(Error::NewerStore {
            path: root.into(),
            found: found.schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
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

/// `traces`: one row per trace, summarised from all its spans.
fn traces_view_sql() -> String {
    use hopscope_schema::spans::{TABLE as SPANS, col as s, kind};
    use traces::col as t;
    let dict = "'Dictionary(Int32, Utf8)'";
    // The root is the parentless segment, else (a partial trace) the earliest segment.
    let root_order = format!(
        "ORDER BY {p} IS NULL DESC, {k} = '{seg}' DESC, {st}",
        p = s::PARENT_ID,
        k = s::KIND,
        seg = kind::SEGMENT,
        st = s::START_TIME
    );
    let first = |col: &str| format!("first_value({col} {root_order})");
    format!(
        "CREATE VIEW {view} AS
         WITH orphans AS (
           SELECT c.{tid} AS trace_id, count(*) AS n FROM {SPANS} c
           WHERE c.{pid} IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM {SPANS} p WHERE p.{tid} = c.{tid} AND p.{id} = c.{pid})
           GROUP BY c.{tid})
         SELECT a.{tid} AS {t_tid}, a.start_time AS {t_start}, a.end_time AS {t_end},
                (CAST(a.end_time AS BIGINT) - CAST(a.start_time AS BIGINT)) / 1000.0 AS {t_dur},
                arrow_cast(a.root_service, {dict}) AS {t_rs}, arrow_cast(a.root_service_type, {dict}) AS {t_rst},
                a.root_segment_id AS {t_rsid}, arrow_cast(a.http_method, {dict}) AS {t_m}, a.http_url AS {t_u},
                a.http_status AS {t_hs}, a.error AS {t_e}, a.fault AS {t_f}, a.throttle AS {t_th},
                a.span_count AS {t_sc}, a.segment_count AS {t_segc},
                (a.in_progress OR coalesce(o.n, 0) > 0) AS {t_p}
         FROM (
           SELECT {tid}, min({st}) AS start_time, max({et}) AS end_time,
                  {rs} AS root_service, {rst} AS root_service_type, {rsid} AS root_segment_id,
                  {m} AS http_method, {u} AS http_url, {hs} AS http_status,
                  bool_or({err}) AS error, bool_or({flt}) AS fault, bool_or({thr}) AS throttle,
                  count(*) AS span_count,
                  sum(CASE WHEN {k} = '{seg}' THEN 1 ELSE 0 END) AS segment_count,
                  bool_or({ip}) AS in_progress
           FROM {SPANS} GROUP BY {tid}) a
         LEFT JOIN orphans o ON o.trace_id = a.{tid}",
        view = traces::TABLE,
        tid = s::TRACE_ID,
        pid = s::PARENT_ID,
        id = s::ID,
        st = s::START_TIME,
        et = s::END_TIME,
        k = s::KIND,
        seg = kind::SEGMENT,
        err = s::ERROR,
        flt = s::FAULT,
        thr = s::THROTTLE,
        ip = s::IN_PROGRESS,
        rs = first(s::SERVICE),
        rst = first(s::SERVICE_TYPE),
        rsid = first(s::SEGMENT_ID),
        m = first(s::HTTP_METHOD),
        u = first(s::HTTP_URL),
        hs = first(s::HTTP_STATUS),
        t_tid = t::TRACE_ID,
        t_start = t::START_TIME,
        t_end = t::END_TIME,
        t_dur = t::DURATION_MS,
        t_rs = t::ROOT_SERVICE,
        t_rst = t::ROOT_SERVICE_TYPE,
        t_rsid = t::ROOT_SEGMENT_ID,
        t_m = t::HTTP_METHOD,
        t_u = t::HTTP_URL,
        t_hs = t::HTTP_STATUS,
        t_e = t::ERROR,
        t_f = t::FAULT,
        t_th = t::THROTTLE,
        t_sc = t::SPAN_COUNT,
        t_segc = t::SEGMENT_COUNT,
        t_p = t::PARTIAL,
    )
}

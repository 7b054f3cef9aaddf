//! Every view and the query patterns of the analyzer's tests with hopscope's functions give the
//! same answers on the cluster as in a local session.

use datafusion::arrow::datatypes::DataType;
use hopscope_analyzer::hdr::{HDR_BUCKETS, HDR_COUNT, HDR_HISTOGRAM, HDR_MERGE, HDR_QUANTILE};
use hopscope_analyzer::top_n::TOP_N;
use hopscope_analyzer::views;
use hopscope_test_support::sample_store;

use crate::{same_answer, sessions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_table_and_view_answers_the_same() {
    let (local, cluster) = sessions(sample_store()).await;
    let mut with_rows = 0;
    for table in hopscope_schema::stored_tables() {
        let n = same_answer(&local, &cluster, &format!("SELECT * FROM {}", table.name)).await;
        with_rows += usize::from(n > 0);
    }
    // The samples hold spans, log events, invocations, metrics and functions.
    assert!(with_rows >= 5, "{with_rows} tables with rows");
    for view in views::all() {
        let schema = local
            .context()
            .table(view.name)
            .await
            .unwrap()
            .schema()
            .clone();
        // A histogram's bytes depend on the order partitions were merged in (its highest
        // trackable value grows as it resizes): compare what it holds.
        let columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Binary => format!(
                    "{HDR_COUNT}({c}), {HDR_QUANTILE}({c}, 0), {HDR_QUANTILE}({c}, 0.5), \
                     {HDR_QUANTILE}({c}, 0.99), {HDR_QUANTILE}({c}, 1)",
                    c = f.name()
                ),
                _ => format!("\"{}\"", f.name()),
            })
            .collect();
        let sql = format!("SELECT {} FROM {}", columns.join(", "), view.name);
        assert!(same_answer(&local, &cluster, &sql).await > 0, "{sql}");
    }
}

/// Per service: hdr_histogram, then read with the other functions (as the analyzer's tests do).
fn per_service(select: &str) -> String {
    format!(
        "WITH h AS (SELECT CAST(service AS VARCHAR) AS service,
                           {HDR_HISTOGRAM}(duration_ms) AS h
                    FROM spans GROUP BY service)
         SELECT service, {select} FROM h"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hdr_functions_answer_the_same() {
    let (local, cluster) = sessions(sample_store()).await;
    let read = format!(
        "{HDR_COUNT}(h) AS n, {HDR_QUANTILE}(h, 0) AS min, {HDR_QUANTILE}(h, 0.5) AS p50,
         {HDR_QUANTILE}(h, 0.9) AS p90, {HDR_QUANTILE}(h, 0.99) AS p99,
         {HDR_QUANTILE}(h, 0.999) AS p999, {HDR_QUANTILE}(h, 1) AS max"
    );
    for sql in [
        per_service(&read),
        // Per-minute histograms merged per service.
        format!(
            "WITH m AS (SELECT service, date_trunc('minute', start_time) AS minute,
                               {HDR_HISTOGRAM}(duration_ms) AS h
                        FROM spans GROUP BY service, minute),
                  h AS (SELECT CAST(service AS VARCHAR) AS service, {HDR_MERGE}(h) AS h
                        FROM m GROUP BY service)
             SELECT service, {read} FROM h"
        ),
        format!(
            "WITH h AS (SELECT service, {HDR_HISTOGRAM}(duration_ms) AS h
                        FROM spans GROUP BY service),
                  b AS (SELECT service, {HDR_COUNT}(h) AS n, unnest({HDR_BUCKETS}(h, 12)) AS b
                        FROM h)
             SELECT CAST(service AS VARCHAR) AS service, min(n) AS n, count(*) AS buckets,
                    CAST(sum(b['count']) AS BIGINT) AS total,
                    min(b['lower_ms']) AS lowest, max(b['upper_ms']) AS highest
             FROM b GROUP BY service"
        ),
        format!(
            "SELECT b['lower_ms'] AS lower_ms, b['upper_ms'] AS upper_ms, b['count'] AS count
             FROM (SELECT unnest({HDR_BUCKETS}({HDR_HISTOGRAM}(duration_ms), 8)) AS b
                   FROM spans WHERE service = 'users-api-create-user')"
        ),
        format!(
            "SELECT {HDR_COUNT}(h) AS n, {HDR_QUANTILE}(h, 0) AS min_ms, {HDR_QUANTILE}(h, 1) AS max_ms
             FROM (SELECT {HDR_HISTOGRAM}(x) AS h
                   FROM (VALUES (1.5), (NULL), (-5.0), (1e12), (CAST('NaN' AS DOUBLE)), (3)) t(x))"
        ),
        format!(
            "SELECT {HDR_COUNT}(h) AS n, {HDR_QUANTILE}(h, 0.5) IS NULL AS no_p50,
                    cardinality({HDR_BUCKETS}(h, 4)) AS buckets
             FROM (SELECT {HDR_HISTOGRAM}(duration_ms) AS h FROM spans WHERE duration_ms < 0)"
        ),
    ] {
        assert!(same_answer(&local, &cluster, &sql).await > 0, "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn top_n_and_json_functions_answer_the_same() {
    let (local, cluster) = sessions(sample_store()).await;
    for sql in [
        format!(
            "SELECT CAST(service AS VARCHAR) AS service, {TOP_N}(trace_id, duration_ms, 3) AS slowest
             FROM spans WHERE duration_ms IS NOT NULL GROUP BY service"
        ),
        format!("SELECT {TOP_N}(trace_id, critical_ms, 5) AS slowest FROM spans"),
        "SELECT count(*) AS spans,
                sum(CASE WHEN json_get_str(raw, 'id') = id THEN 1 ELSE 0 END) AS ids,
                sum(CASE WHEN (raw->>'name') = name THEN 1 ELSE 0 END) AS names,
                sum(CASE WHEN json_get_str(raw, 'http', 'request', 'method') = http_method
                    THEN 1 ELSE 0 END) AS methods
         FROM spans WHERE kind <> 'otel'"
            .to_owned(),
    ] {
        assert!(same_answer(&local, &cluster, &sql).await > 0, "{sql}");
    }
}

/// Bad arguments fail on the cluster with the functions' own words.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_arguments_fail_the_same() {
    let (_, cluster) = sessions(sample_store()).await;
    let h = format!("(SELECT {HDR_HISTOGRAM}(duration_ms) FROM spans)");
    for (sql, says) in [
        (
            format!("SELECT {HDR_QUANTILE}({h}, 1.5)"),
            "quantile 1.5 is outside [0, 1]",
        ),
        (format!("SELECT {HDR_BUCKETS}({h}, 0)"), "ask for 1 to 1000"),
        (
            format!("SELECT {HDR_COUNT}(duration_ms) FROM spans"),
            "expects a histogram",
        ),
    ] {
        let err = match cluster.collect(&sql).await {
            Ok(_) => panic!("{sql} succeeded"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(says), "{sql}: {err}");
    }
}

/// A store without any table's directory yet: every table and view is empty, not an error
/// (a missing table is an empty listing table, which ships; a `MemTable` would not).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_empty_store_answers_with_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    hopscope_store::Store::open_or_create(dir.path()).unwrap();
    let (local, cluster) = sessions(dir.path()).await;
    let names = hopscope_schema::stored_tables()
        .into_iter()
        .map(|t| t.name)
        .chain(views::all().into_iter().map(|v| v.name));
    for name in names {
        let sql = format!("SELECT * FROM {name}");
        assert_eq!(same_answer(&local, &cluster, &sql).await, 0, "{sql}");
    }
}

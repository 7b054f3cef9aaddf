//! HdrHistogram functions in SQL over the sample store, against exact answers over the same rows.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, UInt64Type};
use hopscope_analyzer::Session;
use hopscope_analyzer::hdr::{HDR_BUCKETS, HDR_COUNT, HDR_HISTOGRAM, HDR_MERGE, HDR_QUANTILE};

use crate::{csv, session};

/// Per service: hdr_histogram, then read with the other functions.
fn per_service(select: &str) -> String {
    format!(
        "WITH h AS (SELECT CAST(service AS VARCHAR) AS service,
                           {HDR_HISTOGRAM}(duration_ms) AS h
                    FROM spans GROUP BY service)
         SELECT service, {select} FROM h ORDER BY service"
    )
}

/// `(service, [f64 columns...])` rows of a query whose first column is the service.
async fn floats(s: &Session, sql: &str) -> BTreeMap<String, Vec<Option<f64>>> {
    let mut out = BTreeMap::new();
    for batch in s.collect(sql).await.unwrap() {
        let services = datafusion::arrow::compute::cast(
            batch.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        for row in 0..batch.num_rows() {
            let values = batch.columns()[1..]
                .iter()
                .map(|c| {
                    let c = datafusion::arrow::compute::cast(
                        c,
                        &datafusion::arrow::datatypes::DataType::Float64,
                    )
                    .unwrap();
                    let c = c.as_primitive::<Float64Type>();
                    c.is_valid(row).then(|| c.value(row))
                })
                .collect();
            out.insert(services.as_string::<i32>().value(row).to_owned(), values);
        }
    }
    out
}

#[tokio::test]
async fn per_service_quantiles_are_within_precision_of_exact_ones() {
    let s = session().await;
    let qs = [0.0, 0.5, 0.9, 0.99, 1.0];
    let hdr_cols: Vec<String> = qs
        .iter()
        .map(|q| format!("{HDR_QUANTILE}(h, {q}) AS q{}", (q * 1000.0) as u32))
        .collect();
    let hdr = floats(
        &s,
        &per_service(&format!("{HDR_COUNT}(h) AS n, {}", hdr_cols.join(", "))),
    )
    .await;
    // Exact: the value at rank ceil(q * n) (at least 1) of the sorted durations, HdrHistogram's
    // quantile definition, over the same rows.
    let exact_cols: Vec<String> = qs
        .iter()
        .map(|q| {
            format!(
                "max(CASE WHEN rn = greatest(CAST(ceil({q} * n) AS BIGINT), 1) THEN d END) AS q{}",
                (q * 1000.0) as u32
            )
        })
        .collect();
    let exact = floats(
        &s,
        &format!(
            "WITH r AS (
               SELECT CAST(service AS VARCHAR) AS service, duration_ms AS d,
                      row_number() OVER (PARTITION BY service ORDER BY duration_ms) AS rn,
                      count(*) OVER (PARTITION BY service) AS n
               FROM spans WHERE duration_ms IS NOT NULL)
             SELECT service, count(*) AS n, {} FROM r GROUP BY service ORDER BY service",
            exact_cols.join(", ")
        ),
    )
    .await;
    assert!(hdr.len() > 20, "expected the samples' services: {hdr:?}");
    assert_eq!(
        hdr.keys().collect::<Vec<_>>(),
        exact.keys().collect::<Vec<_>>()
    );
    for (service, exact) in &exact {
        let got = &hdr[service];
        assert_eq!(got[0], exact[0], "{service}: count");
        for (i, q) in qs.iter().enumerate() {
            let (got, exact) = (got[i + 1].unwrap(), exact[i + 1].unwrap());
            // 10^-3 relative precision, plus half a microsecond of rounding to whole µs.
            let tolerance = exact.abs() * 1e-3 + 0.0005;
            assert!(
                (got - exact).abs() <= tolerance,
                "{service} q={q}: hdr {got} ms, exact {exact} ms"
            );
        }
    }
    let snapshot = csv(
        &s,
        &per_service(&format!(
            "{HDR_COUNT}(h) AS n, {HDR_QUANTILE}(h, 0.5) AS p50_ms, {HDR_QUANTILE}(h, 0.99) AS p99_ms"
        )),
    )
    .await;
    insta::assert_snapshot!(snapshot);
}

/// Per-minute histograms merged per service are the per-service histograms.
#[tokio::test]
async fn merged_minutes_equal_the_whole() {
    let s = session().await;
    let read = format!(
        "{HDR_COUNT}(h) AS n, {HDR_QUANTILE}(h, 0.5) AS p50, {HDR_QUANTILE}(h, 0.9) AS p90,
         {HDR_QUANTILE}(h, 0.999) AS p999, {HDR_QUANTILE}(h, 1) AS max"
    );
    let whole = csv(&s, &per_service(&read)).await;
    let rolled_up = csv(
        &s,
        &format!(
            "WITH m AS (SELECT service, date_trunc('minute', start_time) AS minute,
                               {HDR_HISTOGRAM}(duration_ms) AS h
                        FROM spans GROUP BY service, minute),
                  h AS (SELECT CAST(service AS VARCHAR) AS service, {HDR_MERGE}(h) AS h
                        FROM m GROUP BY service)
             SELECT service, {read} FROM h ORDER BY service"
        ),
    )
    .await;
    let minutes = csv(
        &s,
        "SELECT count(DISTINCT date_trunc('minute', start_time)) > 1 AS many FROM spans",
    )
    .await;
    assert_eq!(minutes, "many\ntrue\n");
    assert_eq!(rolled_up, whole);
}

/// Buckets for plotting hold every value once, in n contiguous log-scaled buckets.
#[tokio::test]
async fn buckets_add_up_to_the_count() {
    let s = session().await;
    let batches = s
        .collect(&format!(
            "WITH h AS (SELECT service, {HDR_HISTOGRAM}(duration_ms) AS h
                        FROM spans GROUP BY service),
                  b AS (SELECT service, {HDR_COUNT}(h) AS n, unnest({HDR_BUCKETS}(h, 12)) AS b
                        FROM h)
             SELECT CAST(service AS VARCHAR) AS service, min(n) AS n, count(*) AS buckets,
                    CAST(sum(b['count']) AS BIGINT) AS total,
                    min(CASE WHEN b['lower_ms'] > 0 THEN b['upper_ms'] / b['lower_ms'] END) AS min_ratio,
                    max(CASE WHEN b['lower_ms'] > 0 THEN b['upper_ms'] / b['lower_ms'] END) AS max_ratio
             FROM b GROUP BY service ORDER BY service"
        ))
        .await
        .unwrap();
    let mut services = 0;
    for b in &batches {
        let n = b.column(1).as_primitive::<UInt64Type>();
        let buckets = b.column(2).as_primitive::<Int64Type>();
        let total = b.column(3).as_primitive::<Int64Type>();
        let (lo, hi) = (
            b.column(4).as_primitive::<Float64Type>(),
            b.column(5).as_primitive::<Float64Type>(),
        );
        for row in 0..b.num_rows() {
            services += 1;
            assert_eq!(buckets.value(row), 12, "row {row}");
            assert_eq!(n.value(row), total.value(row) as u64, "row {row}");
            assert!(
                lo.value(row) > 1.0 && hi.value(row) / lo.value(row) < 1.0 + 1e-9,
                "buckets are not log-scaled"
            );
        }
    }
    assert!(services > 20);
    let plot = csv(
        &s,
        &format!(
            "SELECT b['lower_ms'] AS lower_ms, b['upper_ms'] AS upper_ms, b['count'] AS count
             FROM (SELECT unnest({HDR_BUCKETS}({HDR_HISTOGRAM}(duration_ms), 8)) AS b
                   FROM spans WHERE service = 'users-api-create-user')
             ORDER BY lower_ms"
        ),
    )
    .await;
    insta::assert_snapshot!(plot);
}

/// Outliers and negative values are counted, NULL and NaN are not; an empty input gives the
/// empty histogram, not NULL.
#[tokio::test]
async fn outliers_are_counted_and_nothing_is_empty() {
    let s = session().await;
    let out = csv(
        &s,
        &format!(
            "SELECT {HDR_COUNT}(h) AS n, {HDR_QUANTILE}(h, 0) AS min_ms, {HDR_QUANTILE}(h, 1) AS max_ms
             FROM (SELECT {HDR_HISTOGRAM}(x) AS h
                   FROM (VALUES (1.5), (NULL), (-5.0), (1e12), (CAST('NaN' AS DOUBLE)), (3)) t(x))"
        ),
    )
    .await;
    // 1e12 ms is within 10^-3 of the reported maximum.
    insta::assert_snapshot!(out, @r"
    n,min_ms,max_ms
    4,0.0,1000005825462.271
    ");
    let empty = csv(
        &s,
        &format!(
            "SELECT {HDR_COUNT}(h) AS n, {HDR_QUANTILE}(h, 0.5) IS NULL AS no_p50,
                    cardinality({HDR_BUCKETS}(h, 4)) AS buckets
             FROM (SELECT {HDR_HISTOGRAM}(duration_ms) AS h FROM spans WHERE duration_ms < 0)"
        ),
    )
    .await;
    assert_eq!(empty, "n,no_p50,buckets\n0,true,0\n");
}

#[tokio::test]
async fn bad_arguments_are_query_errors() {
    let s = session().await;
    let h = format!("(SELECT {HDR_HISTOGRAM}(duration_ms) FROM spans)");
    for (sql, says) in [
        (
            format!("SELECT {HDR_QUANTILE}({h}, 1.5)"),
            "quantile 1.5 is outside [0, 1]",
        ),
        (
            format!("SELECT {HDR_QUANTILE}({h}, -0.1)"),
            "outside [0, 1]",
        ),
        (format!("SELECT {HDR_BUCKETS}({h}, 0)"), "ask for 1 to 1000"),
        (
            format!("SELECT {HDR_HISTOGRAM}(service) FROM spans"),
            "expects a duration in milliseconds",
        ),
        (
            format!("SELECT {HDR_COUNT}(duration_ms) FROM spans"),
            "expects a histogram",
        ),
        (
            format!("SELECT {HDR_COUNT}(CAST('not a histogram' AS BYTEA))"),
            "not an HdrHistogram V2 histogram",
        ),
    ] {
        let err = match s.collect(&sql).await {
            Ok(_) => panic!("{sql} succeeded"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(says), "{sql}: {err}");
    }
}

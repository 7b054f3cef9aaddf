//! CloudWatch metric answers -> `metric_points` rows.
//!
//! GetMetricData answers (one page, or an array of pages), optionally next to the request that
//! produced them (`{"MetricDataQueries": [...], "MetricDataResults": [...]}`, as hopscope writes
//! them): the query with the same Id names the metric. GetMetricStatistics answers give one row per
//! datapoint and statistic.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::DateTime;
use hopscope_schema::metric_points::MetricPointRow;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::borrowed::{self, Text};
use crate::error::Result;
use crate::output::{FileCtx, Output};

/// Points are written in chunks of this many, so memory stays bounded on large answers.
const FLUSH_EVERY: usize = 4096;

/// One page of either API, or the combined request + answer document.
#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow, default, rename = "MetricDataQueries")]
    queries: Vec<Query<'a>>,
    #[serde(borrow, default, rename = "MetricDataResults")]
    results: Vec<DataResult<'a>>,
    #[serde(
        borrow,
        default,
        rename = "Label",
        deserialize_with = "borrowed::option"
    )]
    label: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "Datapoints")]
    datapoints: Vec<Datapoint<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Query<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    metric_stat: Option<MetricStat<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricStat<'a> {
    #[serde(borrow)]
    metric: Metric<'a>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    stat: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    unit: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metric<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    metric_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    dimensions: Vec<Dimension<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Dimension<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataResult<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    label: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamps: Option<Times<'a>>,
    #[serde(default)]
    values: Option<Vec<f64>>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    status_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    messages: Option<Vec<Message<'a>>>,
}

/// `Timestamps`: ISO-8601 strings (CLI, SDKs) or epoch seconds; anything else (saved fixtures put
/// a placeholder string there) is kept aside to be reported.
#[derive(Deserialize)]
#[serde(untagged)]
enum Times<'a> {
    List(#[serde(borrow)] Vec<Time<'a>>),
    Other(IgnoredAny),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Time<'a> {
    Text(&'a str),
    Seconds(f64),
}

impl Time<'_> {
    fn micros(&self) -> Option<i64> {
        match self {
            Time::Text(s) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.timestamp_micros()),
            Time::Seconds(s) => Some((s * 1e6).round() as i64),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Message<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    code: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    value: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Datapoint<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Time<'a>>,
    average: Option<f64>,
    sum: Option<f64>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    sample_count: Option<f64>,
    /// `Text` keys: a `&str` key would fail the whole file on a key with an escape.
    #[serde(borrow, default)]
    extended_statistics: BTreeMap<Text<'a>, f64>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    unit: Option<Cow<'a, str>>,
}

pub fn import(text: &str, ctx: &FileCtx<'_>, out: &mut Output<'_>) -> Result<()> {
    let parsed = if text.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<Page>>(text)
    } else {
        serde_json::from_str::<Page>(text).map(|page| vec![page])
    };
    let pages = match parsed {
        Ok(pages) => pages,
        Err(e) => {
            out.records += 1;
            out.reject(
                ctx,
                "file",
                format!("not a GetMetricData or GetMetricStatistics answer: {e}"),
            );
            return Ok(());
        }
    };
    // A request saved next to its pages names the metrics of all of them.
    let queries: HashMap<&str, &MetricStat<'_>> = pages
        .iter()
        .flat_map(|p| &p.queries)
        .filter_map(|q| Some((q.id.as_ref(), q.metric_stat.as_ref()?)))
        .collect();
    let several = pages.len() > 1;
    let mut written = 0;
    for (p, page) in pages.iter().enumerate() {
        let prefix = if several {
            format!("[{p}].")
        } else {
            String::new()
        };
        for (r, result) in page.results.iter().enumerate() {
            let location = format!("{prefix}MetricDataResults[{r}]");
            written += import_result(
                result,
                queries.get(result.id.as_ref()).copied(),
                &location,
                ctx,
                out,
            );
            if written >= FLUSH_EVERY {
                out.flush_full()?;
                written = 0;
            }
        }
        for (d, point) in page.datapoints.iter().enumerate() {
            import_datapoint(
                point,
                page.label.as_deref(),
                &format!("{prefix}Datapoints[{d}]"),
                ctx,
                out,
            );
        }
    }
    out.flush_full()
}

/// One `MetricDataResults` entry; returns the number of rows written.
fn import_result(
    result: &DataResult<'_>,
    query: Option<&MetricStat<'_>>,
    location: &str,
    ctx: &FileCtx<'_>,
    out: &mut Output<'_>,
) -> usize {
    let id = result.id.as_ref();
    let status = result.status_code.as_deref().unwrap_or("Complete");
    if matches!(status, "Forbidden" | "InternalError") {
        let messages: Vec<String> = result
            .messages
            .iter()
            .flatten()
            .map(|m| {
                format!(
                    "{}: {}",
                    m.code.as_deref().unwrap_or(""),
                    m.value.as_deref().unwrap_or("")
                )
            })
            .collect();
        out.records += 1;
        out.reject(
            ctx,
            location,
            format!(
                "query {id:?} returned {status}, no data ({})",
                messages.join("; ")
            ),
        );
        return 0;
    }
    let values = result.values.as_deref().unwrap_or_default();
    let times = match &result.timestamps {
        Some(Times::List(times)) => times.as_slice(),
        None => &[],
        Some(Times::Other(_)) => {
            out.records += 1;
            out.reject(
                ctx,
                location,
                format!("query {id:?}: Timestamps is not a list of times"),
            );
            return 0;
        }
    };
    if times.len() != values.len() {
        out.records += 1;
        let reason = format!(
            "query {id:?}: {} timestamps but {} values",
            times.len(),
            values.len()
        );
        out.reject(ctx, location, reason);
        return 0;
    }
    let label = result.label.as_deref().unwrap_or(id);
    let metric = query
        .and_then(|q| q.metric.metric_name.as_deref())
        .unwrap_or(label);
    let dimensions: Vec<(&str, &str)> = query
        .map(|q| {
            q.metric
                .dimensions
                .iter()
                .map(|d| (d.name.as_ref(), d.value.as_ref()))
                .collect()
        })
        .unwrap_or_default();
    let mut row = MetricPointRow {
        namespace: query.and_then(|q| q.metric.namespace.as_deref()),
        metric,
        dimensions,
        statistic: query.and_then(|q| q.stat.as_deref()),
        timestamp: 0,
        value: 0.0,
        unit: query.and_then(|q| q.unit.as_deref()),
        label: Some(label),
    };
    let mut written = 0;
    for (k, (time, value)) in times.iter().zip(values).enumerate() {
        out.records += 1;
        let Some(timestamp) = time.micros() else {
            out.reject(
                ctx,
                format_args!("{location}.Timestamps[{k}]"),
                "not an ISO-8601 time or epoch seconds",
            );
            continue;
        };
        row.timestamp = timestamp;
        row.value = *value;
        out.metrics.append(&row);
        written += 1;
    }
    written
}

/// One GetMetricStatistics datapoint: a row per statistic it holds.
fn import_datapoint(
    point: &Datapoint<'_>,
    label: Option<&str>,
    location: &str,
    ctx: &FileCtx<'_>,
    out: &mut Output<'_>,
) {
    out.records += 1;
    let Some(timestamp) = point.timestamp.as_ref().and_then(Time::micros) else {
        out.reject(ctx, location, "no Timestamp (ISO-8601 or epoch seconds)");
        return;
    };
    let standard = [
        ("Average", point.average),
        ("Sum", point.sum),
        ("Minimum", point.minimum),
        ("Maximum", point.maximum),
        ("SampleCount", point.sample_count),
    ];
    let stats = standard
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .chain(
            point
                .extended_statistics
                .iter()
                .map(|(name, value)| (name.0.as_ref(), *value)),
        );
    let mut any = false;
    for (statistic, value) in stats {
        any = true;
        out.metrics.append(&MetricPointRow {
            namespace: None,
            metric: label.unwrap_or("unknown"),
            dimensions: Vec::new(),
            statistic: Some(statistic),
            timestamp,
            value,
            unit: point.unit.as_deref(),
            label,
        });
    }
    if !any {
        out.reject(
            ctx,
            location,
            "no statistic (Average, Sum, Minimum, Maximum, SampleCount, ExtendedStatistics)",
        );
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::RecordBatch;
    use rstest::rstest;

    use super::*;
    use crate::lambda_logs::tests::{floats, read_corpus, strings, table, times};

    struct Imported {
        points: Option<RecordBatch>,
        records: usize,
        rejections: Vec<String>,
    }

    fn import_str(text: &str) -> Imported {
        let mut sink: Vec<(&'static str, RecordBatch)> = Vec::new();
        let mut out = Output::new(&mut sink, 1024);
        let ctx = FileCtx {
            path: "m.json",
            log_group: None,
            now: crate::output::TEST_NOW,
        };
        import(text, &ctx, &mut out).unwrap();
        out.flush_all().unwrap();
        let records = out.records;
        let rejections = out
            .rejections()
            .iter()
            .map(|r| format!("{}: {}", r.record, r.reason))
            .collect();
        drop(out);
        Imported {
            points: table(&sink, "metric_points"),
            records,
            rejections,
        }
    }

    #[rstest]
    #[case::iso_offset(r#""2024-09-29T22:10:00+00:00""#, Some(1_727_647_800_000_000))]
    #[case::iso_z(r#""2021-01-15T19:44:00Z""#, Some(1_610_739_840_000_000))]
    #[case::epoch_seconds("1610739840", Some(1_610_739_840_000_000))]
    #[case::placeholder(r#""timestamp""#, None)]
    fn reads_times(#[case] json: &str, #[case] expected: Option<i64>) {
        assert_eq!(
            serde_json::from_str::<Time>(json).unwrap().micros(),
            expected
        );
    }

    #[test]
    fn combined_request_and_answer_names_the_metric() {
        let text = r#"{"MetricDataQueries":[{"Id":"d","MetricStat":{"Metric":{"Namespace":"AWS/Lambda","MetricName":"Duration","Dimensions":[{"Name":"FunctionName","Value":"orders"}]},"Period":60,"Stat":"p99","Unit":"Milliseconds"}}],
            "MetricDataResults":[{"Id":"d","Label":"Duration","Timestamps":[1727647800,1727647860],"Values":[12.5,30.0],"StatusCode":"Complete"}]}"#;
        let got = import_str(text);
        assert_eq!((got.records, got.rejections.len()), (2, 0));
        let p = got.points.unwrap();
        assert_eq!(
            strings(&p, "namespace"),
            [
                Some("AWS/Lambda".to_string()),
                Some("AWS/Lambda".to_string())
            ]
        );
        assert_eq!(strings(&p, "metric")[0].as_deref(), Some("Duration"));
        assert_eq!(strings(&p, "statistic")[0].as_deref(), Some("p99"));
        assert_eq!(strings(&p, "unit")[0].as_deref(), Some("Milliseconds"));
        assert_eq!(floats(&p, "value"), [Some(12.5), Some(30.0)]);
        assert_eq!(times(&p, "timestamp")[1], Some(1_727_647_860_000_000));
        let dims = p.column_by_name("dimensions").unwrap();
        assert_eq!(
            arrow::util::display::array_value_to_string(dims, 0).unwrap(),
            "{FunctionName: orders}"
        );
    }

    #[test]
    fn mismatched_lengths_are_rejected() {
        let got = import_str(
            r#"{"MetricDataResults":[{"Id":"m","Timestamps":["2021-01-15T19:44:00Z"],"Values":[],"StatusCode":"Complete"}]}"#,
        );
        assert_eq!(
            got.rejections,
            [r#"MetricDataResults[0]: query "m": 1 timestamps but 0 values"#]
        );
    }

    #[test]
    fn imports_corpus_answers() {
        let got = import_str(&read_corpus(
            "cw-metrics/awscli_GetMetricData_expression.json",
        ));
        let p = got.points.unwrap();
        assert_eq!(
            (
                strings(&p, "metric")[0].as_deref(),
                strings(&p, "namespace")[0].as_deref(),
                floats(&p, "value")[0]
            ),
            (Some("Avg Total IOPS"), None, Some(96.85))
        );

        // Pages; PartialData and the non-API "Partial" are imported.
        let got = import_str(&read_corpus(
            "cw-metrics/grafana_GetMetricData_multiple-outputs2.json",
        ));
        assert!(got.rejections.is_empty(), "{:?}", got.rejections);
        assert_eq!((got.records, got.points.unwrap().num_rows()), (13, 13));

        let got = import_str(&read_corpus(
            "cw-metrics/grafana_GetMetricData_permissions-error-output.json",
        ));
        assert!(got.points.is_none());
        assert_eq!(
            got.rejections,
            [
                r#"MetricDataResults[0]: query "a" returned Forbidden, no data (Forbidden: Access denied when getting data - please check that you have the pi:GetResourceMetrics permission)"#
            ]
        );

        let got = import_str(&read_corpus("cw-metrics/awscli_GetMetricStatistics.json"));
        let p = got.points.unwrap();
        assert_eq!(p.num_rows(), 23);
        assert_eq!(strings(&p, "statistic")[0].as_deref(), Some("Maximum"));
        assert_eq!(strings(&p, "metric")[0].as_deref(), Some("CPUUtilization"));
        assert_eq!(strings(&p, "unit")[0].as_deref(), Some("Percent"));
        assert_eq!(
            (times(&p, "timestamp")[0], floats(&p, "value")[0]),
            (Some(1_397_042_280_000_000), Some(44.79))
        );
    }

    #[test]
    fn an_escaped_extended_statistic_name_is_read() {
        let got = import_str(
            r#"{"Label":"Duration","Datapoints":[{"Timestamp":"2024-01-01T00:00:00Z","ExtendedStatistics":{"p99\u002e9":12.5}}]}"#,
        );
        assert_eq!(got.rejections, Vec::<String>::new());
        let p = got.points.unwrap();
        assert_eq!(strings(&p, "statistic"), [Some("p99.9".to_string())]);
        assert_eq!(floats(&p, "value"), [Some(12.5)]);
    }

    #[test]
    fn extended_statistics_give_one_row_each() {
        let got = import_str(
            r#"{"Label":"Duration","Datapoints":[{"Timestamp":"2024-01-01T00:00:00Z","Average":2.0,"ExtendedStatistics":{"p99":9.5},"Unit":"Milliseconds"},{"Unit":"Count"}]}"#,
        );
        let p = got.points.unwrap();
        assert_eq!(
            strings(&p, "statistic"),
            [Some("Average".to_string()), Some("p99".to_string())]
        );
        assert_eq!(
            got.rejections,
            ["Datapoints[1]: no Timestamp (ISO-8601 or epoch seconds)"]
        );
    }
}

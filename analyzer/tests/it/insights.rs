//! Logs Insights queries taken from AWS documentation, AWS samples and public runbooks, run
//! unchanged (placeholders aside, each said where) over the sample scenarios and over JSON logs
//! made in [`json`]. Each query's expected rows come from elsewhere: plain SQL over the stored
//! tables written for the case, or counting over the JSON records in the test.
//!
//! The Lambda queries read REPORT data from `lambda_invocations`; the sample scenarios hold
//! exactly one REPORT line per invocation (checked below), so SQL over `lambda_invocations`
//! alone is the independent answer.

mod json;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use hopscope_analyzer::insights::{self, Scope, output};
use hopscope_analyzer::window::Window;
use hopscope_analyzer::{Error, Session};
use rstest::rstest;

use crate::{csv, session};

/// Column names and rows, every cell as text (absent: empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str], rows: Vec<Vec<String>>) -> Table {
        Table {
            header: header.iter().map(ToString::to_string).collect(),
            rows,
        }
    }

    fn from_batches(
        schema: &datafusion::arrow::datatypes::Schema,
        batches: &[RecordBatch],
    ) -> Table {
        let options = FormatOptions::default();
        let mut rows = Vec::new();
        for b in batches {
            let formatters: Vec<_> = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
                .collect();
            for i in 0..b.num_rows() {
                rows.push(
                    formatters
                        .iter()
                        .zip(b.columns())
                        .map(|(f, c)| {
                            if c.is_null(i) {
                                String::new()
                            } else {
                                f.value(i).to_string()
                            }
                        })
                        .collect(),
                );
            }
        }
        Table {
            header: schema.fields().iter().map(|f| f.name().clone()).collect(),
            rows,
        }
    }

    pub fn column(&self, name: &str) -> Vec<&str> {
        let i = self
            .header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header));
        self.rows.iter().map(|r| r[i].as_str()).collect()
    }
}

/// Whether rows must come in the expected order, or only the same rows (ties in the sort).
#[derive(Debug, Clone, Copy)]
pub enum Order {
    Exact,
    Any,
}

pub async fn logs(s: &Session, query: &str, scope: &Scope) -> Table {
    let out = insights::run(s, query, scope)
        .await
        .unwrap_or_else(|e| panic!("{query}\n{e}"));
    Table::from_batches(&out.schema, &out.batches)
}

pub async fn sql(s: &Session, query: &str) -> Table {
    let df = s
        .query(query)
        .await
        .unwrap_or_else(|e| panic!("{query}\n{e}"));
    let schema = df.schema().as_arrow().clone();
    let batches = df.collect().await.unwrap();
    Table::from_batches(&schema, &batches)
}

/// Cells are equal as text, or as numbers within 1e-9 relative (sums in another order).
fn same_cell(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

pub fn assert_table(got: &Table, want: &Table, order: Order, context: &str) {
    assert_eq!(got.header, want.header, "columns of {context}");
    assert_eq!(
        got.rows.len(),
        want.rows.len(),
        "rows of {context}\ngot {:?}\nwant {:?}",
        got.rows.iter().take(5).collect::<Vec<_>>(),
        want.rows.iter().take(5).collect::<Vec<_>>()
    );
    let (mut g, mut w) = (got.rows.clone(), want.rows.clone());
    if let Order::Any = order {
        g.sort();
        w.sort();
    }
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let same = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_cell(x, y));
        assert!(same, "row {i} of {context}\ngot  {a:?}\nwant {b:?}");
    }
}

const SNIPPETS: &str = "https://github.com/aws-samples/serverless-snippets/blob/main";
const ALL: &str = "";
const USERS: &str = "/aws/lambda/users-api-create-user";

/// `date_bin` of the stored REPORT time, as `bin(...)` groups it.
fn bin(interval: &str, column: &str) -> String {
    format!("date_bin(INTERVAL '{interval}', {column}, TIMESTAMP '1970-01-01T00:00:00Z')")
}

#[rstest]
// Sample queries of the CloudWatch Logs User Guide:
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-examples.html
#[case::docs_25_most_recent(
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-examples.html",
    "fields @timestamp, @message | sort @timestamp desc | limit 25",
    USERS,
    format!("SELECT timestamp AS \"@timestamp\", message AS \"@message\" FROM log_events WHERE log_group = '{USERS}' ORDER BY timestamp DESC LIMIT 25"),
    Order::Any,
)]
#[case::docs_exceptions_per_hour(
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-examples.html",
    "filter @message like /Exception/ \n| stats count(*) as exceptionCount by bin(1h)\n| sort exceptionCount desc",
    ALL,
    format!("SELECT {} AS \"bin(1h)\", count(*) AS \"exceptionCount\" FROM log_events WHERE message LIKE '%Exception%' GROUP BY 1 ORDER BY 2 DESC", bin("1 hour", "timestamp")),
    Order::Any,
)]
#[case::docs_not_exceptions(
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-examples.html",
    "fields @message | filter @message not like /Exception/",
    ALL,
    "SELECT message AS \"@message\" FROM log_events WHERE message NOT LIKE '%Exception%'".to_string(),
    Order::Any,
)]
#[case::docs_lambda_overprovisioned_memory(
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-examples.html",
    "filter @type = \"REPORT\"\n    | stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB,\n        min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB,\n        avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB,\n        max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB,\n        provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB",
    ALL,
    "SELECT max(memory_mb) AS \"provisonedMemoryMB\", min(max_memory_mb) AS \"smallestMemoryRequestMB\", avg(max_memory_mb) AS \"avgMemoryUsedMB\", max(max_memory_mb) AS \"maxMemoryUsedMB\", max(memory_mb) - max(max_memory_mb) AS \"overProvisionedMB\" FROM lambda_invocations".to_string(),
    Order::Exact,
)]
#[case::docs_lambda_latency_report(
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-examples.html",
    "filter @type = \"REPORT\" |\n    stats avg(@duration), max(@duration), min(@duration) by bin(5m)",
    ALL,
    format!("SELECT {} AS \"bin(5m)\", avg(duration_ms) AS \"avg(@duration)\", max(duration_ms) AS \"max(@duration)\", min(duration_ms) AS \"min(@duration)\" FROM lambda_invocations GROUP BY 1 ORDER BY 1", bin("5 minutes", "timestamp")),
    Order::Exact,
)]
// AWS's Lambda snippets on Serverless Land (aws-samples/serverless-snippets):
#[case::snippets_highest_billed(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-100-highest-billed-invocations/snippet.txt",
    "filter @type = \"REPORT\"\n| fields @requestId, @billedDuration\n| sort by @billedDuration desc\n| limit 100",
    ALL,
    "SELECT request_id AS \"@requestId\", billed_ms AS \"@billedDuration\" FROM lambda_invocations ORDER BY billed_ms DESC LIMIT 100".to_string(),
    Order::Any,
)]
#[case::snippets_cold_start_percentage(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-cold-start-invocations/snippet.txt",
    "filter @type = \"REPORT\"\n| stats sum(ispresent(@initDuration))/count() * 100 as\n  coldStartPct, avg(@duration)\n  by bin(5m)",
    ALL,
    format!("SELECT {} AS \"bin(5m)\", 100.0 * count(init_ms) / count(*) AS \"coldStartPct\", avg(duration_ms) AS \"avg(@duration)\" FROM lambda_invocations GROUP BY 1 ORDER BY 1", bin("5 minutes", "timestamp")),
    Order::Exact,
)]
#[case::snippets_cold_starts_count_and_duration(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-cold-starts-count-and-duration/snippet.txt",
    "filter @type=\"REPORT\" and ispresent(@initDuration)\n| stats count() as coldStarts, avg(@initDuration), min(@initDuration), max(@initDuration) by bin(5m)",
    ALL,
    format!("SELECT {} AS \"bin(5m)\", count(*) AS \"coldStarts\", avg(init_ms) AS \"avg(@initDuration)\", min(init_ms) AS \"min(@initDuration)\", max(init_ms) AS \"max(@initDuration)\" FROM lambda_invocations WHERE init_ms IS NOT NULL GROUP BY 1 ORDER BY 1", bin("5 minutes", "timestamp")),
    Order::Exact,
)]
#[case::snippets_process_exited(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-invocation-where-lambda-exited/snippet.txt",
    "filter @message like /Process exited/\n| stats count() by bin(30m)",
    ALL,
    format!("SELECT {} AS \"bin(30m)\", count(*) AS \"count()\" FROM log_events WHERE message LIKE '%Process exited%' GROUP BY 1 ORDER BY 1", bin("30 minutes", "timestamp")),
    Order::Exact,
)]
#[case::snippets_timed_out(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-invocations-timed-out/snippet.txt",
    "filter @message like /Task timed out/\n| stats count() by bin(30m)",
    ALL,
    format!("SELECT {} AS \"bin(30m)\", count(*) AS \"count()\" FROM log_events WHERE message LIKE '%Task timed out%' GROUP BY 1 ORDER BY 1", bin("30 minutes", "timestamp")),
    Order::Exact,
)]
#[case::snippets_all_memory_used(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-max-assigned-memory/snippet.txt",
    "filter @type = \"REPORT\" and @maxMemoryUsed=@memorySize\n| stats\n    count_distinct(@requestId)\n    by bin(30m)",
    ALL,
    format!("SELECT {} AS \"bin(30m)\", count(DISTINCT request_id) AS \"count_distinct(@requestId)\" FROM lambda_invocations WHERE max_memory_mb = memory_mb GROUP BY 1 ORDER BY 1", bin("30 minutes", "timestamp")),
    Order::Exact,
)]
#[case::snippets_memory_debugger(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-memory-debugger/snippet.txt",
    "filter @type = \"REPORT\"\n| stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB,\n  min(@maxMemoryUsed / 1000 / 1024) as smallestMemoryRequestMB,\n  avg(@maxMemoryUsed / 1024 / 1024) as avgMemoryUsedMB,\n  max(@maxMemoryUsed / 1024 / 1024) as maxMemoryUsedMB,\n  provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB",
    ALL,
    "SELECT max(memory_mb) AS \"provisonedMemoryMB\", min(max_memory_mb * 1000000.0 / 1000 / 1024) AS \"smallestMemoryRequestMB\", avg(max_memory_mb * 1000000.0 / 1024 / 1024) AS \"avgMemoryUsedMB\", max(max_memory_mb * 1000000.0 / 1024 / 1024) AS \"maxMemoryUsedMB\", max(memory_mb) - max(max_memory_mb * 1000000.0 / 1024 / 1024) AS \"overProvisionedMB\" FROM lambda_invocations".to_string(),
    Order::Exact,
)]
#[case::snippets_percentile_duration(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-percentile-duration-report/snippet.txt",
    "filter @type = \"REPORT\"\n| stats\n    avg(@billedDuration) as Average,\n    percentile(@billedDuration, 99) as NinetyNinth,\n    percentile(@billedDuration, 95) as NinetyFifth,\n    percentile(@billedDuration, 90) as Ninetieth\n    by bin(30m)",
    ALL,
    format!("SELECT {} AS \"bin(30m)\", avg(billed_ms) AS \"Average\", percentile_cont(0.99) WITHIN GROUP (ORDER BY billed_ms) AS \"NinetyNinth\", percentile_cont(0.95) WITHIN GROUP (ORDER BY billed_ms) AS \"NinetyFifth\", percentile_cont(0.9) WITHIN GROUP (ORDER BY billed_ms) AS \"Ninetieth\" FROM lambda_invocations GROUP BY 1 ORDER BY 1", bin("30 minutes", "timestamp")),
    Order::Exact,
)]
#[case::snippets_percentile_memory(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-percentile-memory-report/snippet.txt",
    "filter @type=\"REPORT\"\n| stats avg(@maxMemoryUsed/1024/1024) as mean_MemoryUsed,\n    min(@maxMemoryUsed/1024/1024) as min_MemoryUsed,\n    max(@maxMemoryUsed/1024/1024) as max_MemoryUsed,\n    percentile(@maxMemoryUsed/1024/1024, 95) as Percentile95",
    ALL,
    "SELECT avg(max_memory_mb * 1000000.0 / 1024 / 1024) AS \"mean_MemoryUsed\", min(max_memory_mb * 1000000.0 / 1024 / 1024) AS \"min_MemoryUsed\", max(max_memory_mb * 1000000.0 / 1024 / 1024) AS \"max_MemoryUsed\", percentile_cont(0.95) WITHIN GROUP (ORDER BY max_memory_mb * 1000000.0 / 1024 / 1024) AS \"Percentile95\" FROM lambda_invocations".to_string(),
    Order::Exact,
)]
#[case::snippets_invocations_vs_cold_starts(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-total-innvocations-vs-coldstarts/snippet.txt",
    "filter @type = \"REPORT\" |\nstats count() as TotalInvocations, count(@initDuration) as TotalColdStarts",
    ALL,
    "SELECT count(*) AS \"TotalInvocations\", count(init_ms) AS \"TotalColdStarts\" FROM lambda_invocations".to_string(),
    Order::Exact,
)]
#[case::snippets_memory_statistics(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-visualization-of-memory-statisitcs/snippet.txt",
    "filter @type = \"REPORT\"\n| stats\n    max(@maxMemoryUsed / 1024 / 1024) as maxMemMB,\n    avg(@maxMemoryUsed / 1024 / 1024) as avgMemMB,\n    min(@maxMemoryUsed / 1024 / 1024) as minMemMB,\n    (avg(@maxMemoryUsed / 1024 / 1024) / max(@memorySize / 1024 / 1024)) * 100 as avgMemUsedPct,\n    avg(@billedDuration) as avgDurationMS\n    by bin(30m)",
    ALL,
    format!("SELECT {} AS \"bin(30m)\", max(max_memory_mb * 1000000.0 / 1048576) AS \"maxMemMB\", avg(max_memory_mb * 1000000.0 / 1048576) AS \"avgMemMB\", min(max_memory_mb * 1000000.0 / 1048576) AS \"minMemMB\", avg(max_memory_mb * 1000000.0 / 1048576) / max(memory_mb * 1000000.0 / 1048576) * 100 AS \"avgMemUsedPct\", avg(billed_ms) AS \"avgDurationMS\" FROM lambda_invocations GROUP BY 1 ORDER BY 1", bin("30 minutes", "timestamp")),
    Order::Exact,
)]
#[case::snippets_warm_starts(
    "https://github.com/aws-samples/serverless-snippets/blob/main/cloudwatch-insight-lambda-warm-starts/snippet.txt",
    "filter @type = \"REPORT\" and @message not like /(?i)(Init Duration)/\n| stats\n  avg(@duration) as Average,\n  pct(@duration, 99) as NinetyNinth,\n  pct(@duration, 95) as NinetyFifth,\n  pct(@duration, 90) as Ninetieth\nby bin(1m)\n",
    ALL,
    format!("SELECT {} AS \"bin(1m)\", avg(duration_ms) AS \"Average\", percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS \"NinetyNinth\", percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS \"NinetyFifth\", percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms) AS \"Ninetieth\" FROM lambda_invocations WHERE init_ms IS NULL GROUP BY 1 ORDER BY 1", bin("1 minute", "timestamp")),
    Order::Exact,
)]
#[case::snippets_duration_over_threshold(
    "https://github.com/aws-samples/serverless-snippets/blob/main/lambda-loginsights-duration/snippet.txt",
    "fields @timestamp, @message\n|filter @type = \"REPORT\" \n| parse @message /Duration: (?<duration>.*?) ms/\n| filter duration > 1000\n| sort by duration desc",
    ALL,
    "SELECT e.timestamp AS \"@timestamp\", e.message AS \"@message\" FROM log_events e JOIN lambda_invocations i ON e.request_id = i.request_id WHERE e.record_type = 'REPORT' AND i.duration_ms > 1000".to_string(),
    Order::Any,
)]
// The AWS Lambda Operator Guide, "Useful Insights queries":
#[case::operator_guide_cold_start_percentage(
    "https://serverlessland.com/content/service/lambda/guides/aws-lambda-operator-guide/useful-queries",
    "filter @type = \"REPORT\"\n| stats sum(strcontains(@message, \"Init Duration\"))/count(*) * 100 as\n  coldStartPct, avg(@duration)\n  by bin(5m)",
    ALL,
    format!("SELECT {} AS \"bin(5m)\", 100.0 * count(init_ms) / count(*) AS \"coldStartPct\", avg(duration_ms) AS \"avg(@duration)\" FROM lambda_invocations GROUP BY 1 ORDER BY 1", bin("5 minutes", "timestamp")),
    Order::Exact,
)]
// Public runbooks (gists):
#[case::runbook_recent_errors(
    "https://gist.github.com/farhad-taran/1dfdd603caed11eb6e154e91279fe6dd",
    "filter @message like /(?i)(Exception|error|fail)/\n| fields @timestamp, @message\n| sort @timestamp desc\n| limit 50",
    ALL,
    "SELECT timestamp AS \"@timestamp\", message AS \"@message\" FROM log_events WHERE regexp_like(message, '(?i)(Exception|error|fail)') ORDER BY timestamp DESC LIMIT 50".to_string(),
    Order::Any,
)]
// The gist's REQUEST_ID_GOES_HERE placeholder filled with a request id of the etl scenario.
#[case::runbook_logs_of_a_request(
    "https://gist.github.com/farhad-taran/1dfdd603caed11eb6e154e91279fe6dd",
    "fields @timestamp, @message\n| filter @message like /633c6ac1-f584-42ce-b512-7b9af9224b37/",
    ALL,
    "SELECT timestamp AS \"@timestamp\", message AS \"@message\" FROM log_events WHERE message LIKE '%633c6ac1-f584-42ce-b512-7b9af9224b37%'".to_string(),
    Order::Any,
)]
#[case::runbook_api_gateway_failures(
    "https://gist.github.com/farhad-taran/1dfdd603caed11eb6e154e91279fe6dd",
    "fields @timestamp, @message, @requestId, @duration, @xrayTraceId, @logStream, @logStream\n| filter\n@message like /fail/ or\n@message like /timed/ or\n@message like /X-Amz-Function-Error/ or\n@message like /tatus: 4/ or\n@message like /tatus: 5/\n| sort @timestamp desc",
    ALL,
    "SELECT e.timestamp AS \"@timestamp\", e.message AS \"@message\", e.request_id AS \"@requestId\", i.duration_ms AS \"@duration\", e.trace_id AS \"@xrayTraceId\", CAST(e.log_stream AS VARCHAR) AS \"@logStream\" FROM log_events e LEFT JOIN lambda_invocations i ON e.record_type = 'REPORT' AND e.request_id = i.request_id WHERE regexp_like(e.message, 'fail|timed|X-Amz-Function-Error|tatus: 4|tatus: 5')".to_string(),
    Order::Any,
)]
#[case::runbook_init_over_5ms(
    "https://gist.github.com/sats17/6150cfc17c3d4108b056e190aa6ff09c",
    "fields @timestamp, @message, @initDuration\n| filter @initDuration > 5\n| sort @timestamp desc\n| limit 20",
    ALL,
    "SELECT e.timestamp AS \"@timestamp\", e.message AS \"@message\", i.init_ms AS \"@initDuration\" FROM log_events e JOIN lambda_invocations i ON e.request_id = i.request_id WHERE e.record_type = 'REPORT' AND i.init_ms > 5 ORDER BY e.timestamp DESC LIMIT 20".to_string(),
    Order::Exact,
)]
#[case::runbook_p90_by_70m(
    "https://gist.github.com/sats17/6150cfc17c3d4108b056e190aa6ff09c",
    "filter @type = \"REPORT\" and @logStream like '[4]'\n| stats count(*) as count, avg(@duration), percentile(@duration, 90) as res_pct_90\nby bin(70m)",
    ALL,
    format!("SELECT {} AS \"bin(70m)\", count(*) AS \"count\", avg(duration_ms) AS \"avg(@duration)\", percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms) AS \"res_pct_90\" FROM lambda_invocations WHERE log_stream LIKE '%[4]%' GROUP BY 1 ORDER BY 1", bin("70 minutes", "timestamp")),
    Order::Exact,
)]
#[case::runbook_memory_by_day(
    "https://gist.github.com/sasasin/f56cb6ea7f95a84aa518a77383f785ea",
    "fields @timestamp, @message, @logStream, @log\n| filter @type = \"REPORT\"\n| stats min(@maxMemoryUsed), avg(@maxMemoryUsed), max(@maxMemoryUsed) by bin(24h)",
    ALL,
    format!("SELECT {} AS \"bin(24h)\", min(max_memory_mb) * 1000000 AS \"min(@maxMemoryUsed)\", avg(max_memory_mb) * 1000000 AS \"avg(@maxMemoryUsed)\", max(max_memory_mb) * 1000000 AS \"max(@maxMemoryUsed)\" FROM lambda_invocations GROUP BY 1 ORDER BY 1", bin("24 hours", "timestamp")),
    Order::Exact,
)]
#[case::runbook_memory_profile(
    "https://gist.github.com/tkburns/0e17a5446695ef0250a9d4ffe77b2598",
    "filter @type = \"REPORT\"\n| fields\n    @requestId,\n    @timestamp,\n    @billedDuration,\n    @memorySize / 1024 / 1024 as provisonedMemoryMB,\n    @maxMemoryUsed / 1024 / 1024 as memoryUsedMB,\n    memoryUsedMB / provisonedMemoryMB * 100 as memoryUtilizationPercent,\n    provisonedMemoryMB - memoryUsedMB as overProvisionedMB\n| sort by memoryUtilizationPercent desc",
    USERS,
    format!("SELECT request_id AS \"@requestId\", timestamp AS \"@timestamp\", billed_ms AS \"@billedDuration\", memory_mb * 1000000.0 / 1048576 AS \"provisonedMemoryMB\", max_memory_mb * 1000000.0 / 1048576 AS \"memoryUsedMB\", CAST(max_memory_mb AS DOUBLE) / memory_mb * 100 AS \"memoryUtilizationPercent\", (memory_mb - max_memory_mb) * 1000000.0 / 1048576 AS \"overProvisionedMB\" FROM lambda_invocations WHERE log_group = '{USERS}'"),
    Order::Any,
)]
#[tokio::test]
async fn sample_scenario_queries(
    #[case] source: &str,
    #[case] query: &str,
    #[case] log_group: &str,
    #[case] expected_sql: String,
    #[case] order: Order,
) {
    assert!(source.starts_with("https://"), "{source}");
    let s = session().await;
    let scope = Scope {
        window: None,
        log_groups: if log_group.is_empty() {
            vec![]
        } else {
            vec![log_group.to_string()]
        },
    };
    let got = logs(&s, query, &scope).await;
    let want = sql(&s, &expected_sql).await;
    assert_table(&got, &want, order, query);
}

#[tokio::test]
async fn the_samples_hold_one_report_line_per_invocation() {
    let s = session().await;
    let out = csv(
        &s,
        "SELECT (SELECT count(*) FROM log_events WHERE record_type = 'REPORT') AS reports,
                (SELECT count(*) FROM lambda_invocations) AS invocations,
                (SELECT count(DISTINCT request_id) FROM log_events WHERE record_type = 'REPORT') AS ids",
    )
    .await;
    let counts: Vec<&str> = out.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(counts[0], counts[1], "{out}");
    assert_eq!(counts[0], counts[2], "{out}");
}

#[tokio::test]
async fn sorted_queries_come_in_their_order() {
    let s = session().await;
    let t = logs(
        &s,
        "filter @type = \"REPORT\" | fields @requestId, @billedDuration | sort by @billedDuration desc | limit 100",
        &Scope::default(),
    )
    .await;
    let billed: Vec<f64> = t
        .column("@billedDuration")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(billed.windows(2).all(|w| w[0] >= w[1]), "{billed:?}");
    let t = logs(&s, "fields @timestamp | limit 20", &Scope::default()).await;
    let times = t.column("@timestamp");
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first by default: {times:?}"
    );
}

/// `pattern`: each template's count is the number of lines it stands for, checked by matching
/// the template (variables as any token) against the lines SQL returns.
#[rstest]
#[case::docs_pattern(
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Pattern.html",
    "pattern @message",
    "SELECT message FROM log_events"
)]
#[case::docs_pattern_of_errors(
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Pattern.html",
    "filter @message like /ERROR/ | pattern @message",
    "SELECT message FROM log_events WHERE message LIKE '%ERROR%'"
)]
#[case::docs_pattern_of_parsed_causes(
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Pattern.html",
    "filter @message like /ERROR/ | parse @message 'Failed to do: *' as cause | pattern cause | sort @sampleCount asc",
    "SELECT substr(message, strpos(message, 'Failed to do: ') + 14) FROM log_events WHERE message LIKE '%ERROR%' AND message LIKE '%Failed to do: %'"
)]
#[tokio::test]
async fn pattern_queries(#[case] source: &str, #[case] query: &str, #[case] lines_sql: &str) {
    assert!(source.starts_with("https://"), "{source}");
    let s = session().await;
    let t = logs(&s, query, &Scope::default()).await;
    assert_eq!(
        t.header,
        [
            output::PATTERN,
            output::RATIO,
            output::SAMPLE_COUNT,
            output::SEVERITY
        ]
    );
    let lines = sql(&s, lines_sql).await;
    let lines: Vec<String> = lines.rows.into_iter().map(|mut r| r.remove(0)).collect();
    let counts: Vec<u64> = t
        .column(output::SAMPLE_COUNT)
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), lines.len() as u64, "{query}");
    let patterns = t.column(output::PATTERN);
    for (pattern, count) in patterns.iter().zip(&counts) {
        let fits = lines.iter().filter(|l| fits(pattern, l)).count() as u64;
        assert!(
            fits >= *count,
            "{pattern}: {fits} lines fit, {count} counted"
        );
    }
    let ratios: f64 = t
        .column(output::RATIO)
        .iter()
        .map(|r| r.parse::<f64>().unwrap())
        .sum();
    assert!(lines.is_empty() || (ratios - 1.0).abs() < 1e-9, "{ratios}");
}

/// Whether `line` has the template's tokens, a variable (`<NUMBER-2>`) standing for any token.
fn fits(template: &str, line: &str) -> bool {
    let t: Vec<&str> = template.split(' ').collect();
    let l: Vec<&str> = line.split_ascii_whitespace().collect();
    t.len() == l.len()
        && t.iter().zip(&l).all(|(a, b)| {
            a == b
                || (a.starts_with('<')
                    && a.ends_with('>')
                    && a[1..a.len() - 1]
                        .rsplit_once('-')
                        .is_some_and(|(_, n)| n.parse::<u32>().is_ok()))
        })
}

/// `diff`: the users scenario's throttling (from 10:30) brings the Invoke Error lines, absent
/// in the half hour before; their count is what SQL counts.
#[tokio::test]
async fn diff_ranks_the_incidents_new_patterns_first() {
    let s = session().await;
    let at = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_micros()
    };
    let scope = Scope {
        window: Some(Window {
            start_us: at("2026-11-20T10:30:00Z"),
            end_us: at("2026-11-20T11:00:00Z"),
        }),
        log_groups: vec![USERS.into()],
    };
    let t = logs(&s, "pattern @message | diff", &scope).await;
    assert_eq!(
        t.header,
        [
            output::PATTERN,
            output::CHANGE_TYPE,
            output::SAMPLE_COUNT,
            output::PREVIOUS_SAMPLE_COUNT,
            output::CHANGE,
            output::CHANGE_PERCENT,
            output::SEVERITY
        ]
    );
    let first = &t.rows[0];
    assert!(
        first[0].contains("ProvisionedThroughputExceededException"),
        "{first:?}"
    );
    assert_eq!(first[1], output::NEW);
    let errors = csv(
        &s,
        &format!("SELECT count(*) AS n FROM log_events WHERE log_group = '{USERS}' AND message LIKE '%Invoke Error%' AND timestamp >= TIMESTAMP '2026-11-20T10:30:00Z' AND timestamp < TIMESTAMP '2026-11-20T11:00:00Z'"),
    )
    .await;
    assert_eq!(first[2], errors.lines().nth(1).unwrap());
    assert_eq!(first[3], "0");
    // Windows of the same length: the totals are each window's line count.
    let total = |col: &str| {
        t.column(col)
            .iter()
            .map(|c| c.parse::<u64>().unwrap())
            .sum::<u64>()
    };
    let counted = csv(
        &s,
        &format!("SELECT sum(CASE WHEN timestamp >= TIMESTAMP '2026-11-20T10:30:00Z' THEN 1 ELSE 0 END) AS now, sum(CASE WHEN timestamp < TIMESTAMP '2026-11-20T10:30:00Z' THEN 1 ELSE 0 END) AS before FROM log_events WHERE log_group = '{USERS}' AND timestamp >= TIMESTAMP '2026-11-20T10:00:00Z' AND timestamp < TIMESTAMP '2026-11-20T11:00:00Z'"),
    )
    .await;
    let want: Vec<u64> = counted
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(
        (
            total(output::SAMPLE_COUNT),
            total(output::PREVIOUS_SAMPLE_COUNT)
        ),
        (want[0], want[1])
    );
    // New patterns first, then grown ones by how much they grew.
    let kinds = t.column(output::CHANGE_TYPE);
    let rank = |k: &str| {
        [
            output::NEW,
            output::GROWN,
            output::UNCHANGED,
            output::SHRUNK,
            output::GONE,
        ]
        .iter()
        .position(|x| *x == k)
        .unwrap()
    };
    assert!(
        kinds.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn the_same_lines_give_the_same_patterns() {
    let s = session().await;
    let a = logs(&s, "pattern @message", &Scope::default()).await;
    let b = logs(&s, "pattern @message", &Scope::default()).await;
    assert_eq!(a, b);
}

#[rstest]
#[case(
    "stats count(*) by",
    "line 1, column 18: expected a field name after 'by', found the end of the query"
)]
#[case(
    "fields @timestamp\n| filter @durationn > 5",
    "line 2, column 10: unknown field @durationn; the discovered fields are @timestamp, @message, @logStream, @log, @ingestionTime, @requestId, @xrayTraceId, @type, @duration, @billedDuration, @initDuration, @memorySize, @maxMemoryUsed"
)]
#[case(
    "stats @duration by @log",
    "line 1, column 7: '@duration' must be inside an aggregate function (count, sum, avg, ...) or named after 'by'"
)]
#[case(
    "stats avg(@duration) by @log | stats sum(@duration)",
    "line 1, column 42: @duration is not there any more: an earlier stats or pattern keeps only the fields it makes"
)]
#[case(
    "fields avg(@duration)",
    "line 1, column 8: avg() is an aggregate: use it in stats"
)]
#[case(
    "filter @message like /(unclosed/",
    "line 1, column 22: bad regular expression /(unclosed/: unclosed group"
)]
#[case(
    "parse @message \"a=* b=*\" as a",
    "line 1, column 16: this glob has 2 '*' and 1 names follow 'as': give one name per '*'"
)]
#[case(
    "stats sortsFirst(@message)",
    "line 1, column 7: 'sortsFirst' is not a Logs Insights aggregate; stats takes count, count_distinct, sum, avg, min, max, pct, stddev, earliest and latest"
)]
#[case(
    "fields @message | anomaly",
    "line 1, column 19: 'anomaly' is a Logs Insights command hopscope does not run; it runs fields, display, filter, stats, sort, limit, dedup, parse, unnest, pattern and diff"
)]
#[case(
    "fields frobnicate(@message)",
    "line 1, column 8: unknown function frobnicate(); see the README for the functions hopscope runs"
)]
#[case(
    "diff",
    "line 1, column 1: diff compares the query's time window with an earlier one: give the window (--since/--until)"
)]
#[tokio::test]
async fn errors_point_at_the_query(#[case] query: &str, #[case] want: &str) {
    let s = session().await;
    let err = insights::run(&s, query, &Scope::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Query(_)), "{err:?}");
    assert_eq!(err.to_string(), want);
}

//! Queries over JSON log lines (API Gateway access logs, EventBridge events, SNS delivery
//! logs, .NET-style Lambda logs) and plain lines to parse, made here as records; each query's
//! expected rows are counted from the same records in Rust.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use hopscope_analyzer::Session;
use hopscope_analyzer::insights::Scope;
use serde_json::{Value, json};

use super::{Order, Table, assert_table, logs};

const SNIPPETS: &str = super::SNIPPETS;
const API: &str = "/aws/apigateway/shop-api";
const EVENTS: &str = "/aws/events/shop";
const SMS: &str = "sns/us-east-1/123456789012/DirectPublishToPhoneNumber";
const DOTNET: &str = "/aws/lambda/billing-dotnet";
const TELEMETRY: &str = "/app/telemetry";
const LEGACY: &str = "/app/legacy";
const FLEET: &str = "/app/fleet";

fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .unwrap()
        .to_utc()
}

/// A time as the query output shows it.
fn shown(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An API Gateway access log record.
struct Request {
    at: DateTime<Utc>,
    ip: String,
    method: &'static str,
    path: &'static str,
    status: u16,
    latency: u32,
    api_key: &'static str,
}

fn requests() -> Vec<Request> {
    (0..30u32)
        .map(|i| Request {
            at: base() + TimeDelta::seconds(i64::from(i) * 20),
            ip: format!("10.0.0.{}", (i * i) % 5 + 1),
            method: if i % 3 == 0 { "POST" } else { "GET" },
            path: [
                "/orders",
                "/orders",
                "/orders",
                "/orders",
                "/orders/{id}",
                "/orders/{id}",
                "/orders/{id}",
                "/users",
                "/users",
                "/health",
            ][(i % 10) as usize],
            status: [200, 200, 200, 201, 404, 200, 500, 403, 200, 502, 401, 200][(i % 12) as usize],
            latency: 5 + (i * 37) % 200,
            api_key: [
                "k-alpha", "k-beta", "k-beta", "k-gamma", "k-alpha", "k-alpha",
            ][(i % 6) as usize],
        })
        .collect()
}

/// An EventBridge event.
struct Event {
    at: DateTime<Utc>,
    detail_type: &'static str,
    source: &'static str,
    amount: u32,
    status: &'static str,
    tier: &'static str,
    first_sku: &'static str,
    coupon: Option<&'static str>,
}

fn events() -> Vec<Event> {
    (0..24u32)
        .map(|j| Event {
            at: base() + TimeDelta::minutes(i64::from(j) * 3),
            detail_type: [
                "OrderPlaced",
                "OrderPlaced",
                "OrderShipped",
                "PaymentFailed",
            ][(j % 4) as usize],
            source: if j % 4 == 3 {
                "com.shop.payments"
            } else {
                "com.shop.orders"
            },
            amount: 20 + j * 10,
            status: ["PLACED", "SHIPPED", "CANCELLED"][(j % 3) as usize],
            tier: ["gold", "silver"][(j % 2) as usize],
            first_sku: ["A", "B", "C"][(j % 3) as usize],
            coupon: match j % 5 {
                0 => Some("SAVE10"),
                1 => Some(""),
                _ => None,
            },
        })
        .collect()
}

/// An SNS SMS delivery status record.
struct Sms {
    destination: Option<String>,
    sms_type: &'static str,
    price: Option<f64>,
    status: &'static str,
}

fn sms() -> Vec<Sms> {
    (0..12u32)
        .map(|k| Sms {
            destination: (k != 11).then(|| format!("+1555000{k:04}")),
            sms_type: ["Transactional", "Promotional"][(k % 2) as usize],
            price: (k % 4 != 3).then_some([0.00645, 0.00581][(k % 2) as usize]),
            status: if k % 3 == 2 { "FAILURE" } else { "SUCCESS" },
        })
        .collect()
}

struct Line {
    group: &'static str,
    at: DateTime<Utc>,
    message: String,
}

fn lines() -> Vec<Line> {
    let mut out = Vec::new();
    for r in requests() {
        out.push(Line {
            group: API,
            at: r.at,
            message: json!({
                "requestId": format!("req-{}", r.at.timestamp()),
                "ip": r.ip, "httpMethod": r.method, "path": r.path, "status": r.status,
                "responseLatency": r.latency, "integrationLatency": r.latency - 3, "apiKey": r.api_key,
            })
            .to_string(),
        });
    }
    for (j, e) in events().iter().enumerate() {
        let mut detail = json!({
            "orderId": format!("o-{j}"), "amount": e.amount, "status": e.status,
            "customer": {"tier": e.tier}, "items": [{"sku": e.first_sku}, {"sku": "Z"}],
        });
        if let Some(c) = e.coupon {
            detail["coupon"] = Value::from(c);
        }
        out.push(Line {
            group: EVENTS,
            at: e.at,
            message: json!({
                "version": "0", "id": format!("ev-{j}"), "detail-type": e.detail_type,
                "source": e.source, "account": "123456789012", "region": "us-east-1",
                "resources": [], "detail": detail,
            })
            .to_string(),
        });
    }
    for (k, m) in sms().iter().enumerate() {
        let mut delivery = json!({"smsType": m.sms_type, "mnc": 0, "mcc": 310});
        if let Some(d) = &m.destination {
            delivery["destination"] = Value::from(d.as_str());
        }
        if let Some(p) = m.price {
            delivery["priceInUSD"] = Value::from(p);
        }
        out.push(Line {
            group: SMS,
            at: base() + TimeDelta::seconds(k as i64 * 7),
            message: json!({"notification": {"messageId": format!("m-{k}")}, "delivery": delivery, "status": m.status}).to_string(),
        });
    }
    for n in 0..10i64 {
        let level = if n % 3 == 0 { "ERR" } else { "INF" };
        out.push(Line {
            group: DOTNET,
            at: base() + TimeDelta::seconds(n * 11),
            message: json!({"Timestamp": shown(base() + TimeDelta::seconds(n * 11)), "LogLevel": level, "Message": format!("invoice {n} {level}")}).to_string(),
        });
    }
    let telemetry = [
        json!({"events": [{"name": "exception"}, {"name": "user action"}]}),
        json!({"events": [{"name": "page view"}]}),
        json!({"accounts": [{"accountId": "a1", "type": "internal", "droppedSpans": 3}, {"accountId": "a2", "type": "external", "droppedSpans": 5}, {"accountId": "a3", "type": "internal", "droppedSpans": 1}]}),
    ];
    for (n, t) in telemetry.iter().enumerate() {
        out.push(Line {
            group: TELEMETRY,
            at: base() + TimeDelta::seconds(n as i64),
            message: t.to_string(),
        });
    }
    for (n, (user, method, latency)) in [
        ("alice", "GET", 120),
        ("bob", "GET", 80),
        ("alice", "GET", 100),
        ("alice", "PUT", 300),
        ("bob", "GET", 40),
    ]
    .iter()
    .enumerate()
    {
        out.push(Line {
            group: LEGACY,
            at: base() + TimeDelta::seconds(n as i64),
            message: format!(
                "INFO request done user={user}, method:{method}, latency := {latency}"
            ),
        });
    }
    for (n, (server, severity)) in [
        ("web-1", "INFO"),
        ("web-2", "WARN"),
        ("web-1", "ERROR"),
        ("web-3", "INFO"),
        ("web-2", "INFO"),
    ]
    .iter()
    .enumerate()
    {
        out.push(Line {
            group: FLEET,
            at: base() + TimeDelta::seconds(n as i64 * 10),
            message:
                json!({"server": server, "severity": severity, "message": format!("check {n}")})
                    .to_string(),
        });
    }
    out
}

/// A store holding [`lines`], one subscription payload per log group.
fn store() -> &'static std::path::Path {
    static STORE: OnceLock<(tempfile::TempDir, tempfile::TempDir)> = OnceLock::new();
    let (_, store) = STORE.get_or_init(|| {
        let files = tempfile::tempdir().unwrap();
        let mut groups: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for (n, l) in lines().into_iter().enumerate() {
            groups.entry(l.group).or_default().push(json!({
                "id": format!("{n:056}"),
                "timestamp": l.at.timestamp_millis(),
                "message": l.message,
            }));
        }
        for (i, (group, events)) in groups.into_iter().enumerate() {
            let doc = json!({
                "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": group,
                "logStream": "2026/11/20/stream-1", "subscriptionFilters": ["hopscope"],
                "logEvents": events,
            });
            std::fs::write(
                files.path().join(format!("group-{i}.json")),
                doc.to_string(),
            )
            .unwrap();
        }
        let store = hopscope_test_support::import_store(&[files.path().to_path_buf()]);
        (files, store)
    });
    store.path()
}

async fn session() -> Session {
    Session::open(store()).await.unwrap()
}

fn scope(group: &str) -> Scope {
    Scope {
        window: None,
        log_groups: vec![group.to_string()],
    }
}

fn text(v: impl ToString) -> String {
    v.to_string()
}

/// Counts of `key` over `items`, most first (ties by key), as rows `[key, count]`.
fn counted<T, K: Ord + ToString>(items: &[T], key: impl Fn(&T) -> K) -> Vec<Vec<String>> {
    let mut counts: BTreeMap<K, usize> = BTreeMap::new();
    for i in items {
        *counts.entry(key(i)).or_default() += 1;
    }
    let mut rows: Vec<(K, usize)> = counts.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    rows.into_iter()
        .map(|(k, n)| vec![k.to_string(), n.to_string()])
        .collect()
}

fn request_rows(rs: &[&Request]) -> Vec<Vec<String>> {
    rs.iter()
        .map(|r| {
            vec![
                shown(r.at),
                text(r.status),
                r.ip.clone(),
                text(r.path),
                text(r.method),
            ]
        })
        .collect()
}

/// The last 10 requests whose status is in `statuses`, newest first.
fn last_requests(statuses: std::ops::RangeInclusive<u16>) -> Vec<Vec<String>> {
    let all = requests();
    let mut rs: Vec<&Request> = all
        .iter()
        .filter(|r| statuses.contains(&r.status))
        .collect();
    rs.sort_by_key(|r| std::cmp::Reverse(r.at));
    rs.truncate(10);
    request_rows(&rs)
}

/// `stats count(*) as name by status, path, httpMethod` over requests whose status passes.
fn errors_by_route(name: &str, pass: impl Fn(u16) -> bool) -> Table {
    let mut counts: BTreeMap<(u16, &str, &str), usize> = BTreeMap::new();
    for r in requests().iter().filter(|r| pass(r.status)) {
        *counts.entry((r.status, r.path, r.method)).or_default() += 1;
    }
    let rows = counts
        .into_iter()
        .map(|((s, p, m), n)| vec![text(s), text(p), text(m), text(n)])
        .collect();
    Table::new(&["status", "path", "httpMethod", name], rows)
}

/// Which events a query keeps, as the test counts them.
type EventFilter = Box<dyn Fn(&Event) -> bool>;

fn events_where(pass: impl Fn(&Event) -> bool) -> Table {
    let mut rows: Vec<Vec<String>> = events()
        .iter()
        .filter(|e| pass(e))
        .map(|e| vec![shown(e.at)])
        .collect();
    rows.reverse();
    Table::new(&["@timestamp"], rows)
}

async fn check(source: &str, query: &str, group: &str, want: Table, order: Order) {
    assert!(source.starts_with("https://"), "{source}");
    let s = session().await;
    let got = logs(&s, query, &scope(group)).await;
    assert_table(&got, &want, order, query);
}

#[tokio::test]
async fn api_gateway_access_log_queries() {
    let all = requests();
    let ok: Vec<&Request> = all.iter().filter(|r| r.status == 200).collect();
    let mut by_minute: BTreeMap<DateTime<Utc>, Vec<u32>> = BTreeMap::new();
    for r in &ok {
        let minute = r.at - TimeDelta::seconds(r.at.timestamp() % 60);
        by_minute.entry(minute).or_default().push(r.latency - 3);
    }
    let rows = by_minute
        .iter()
        .map(|(m, v)| {
            let avg = f64::from(v.iter().sum::<u32>()) / v.len() as f64;
            vec![
                shown(*m),
                text(avg),
                text(v.iter().max().unwrap()),
                text(v.iter().min().unwrap()),
            ]
        })
        .collect();
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-integration-latency/snippet.txt"),
        "filter status=200\n| stats avg(integrationLatency), max(integrationLatency), \nmin(integrationLatency) by bin(1m)",
        API,
        Table::new(&["bin(1m)", "avg(integrationLatency)", "max(integrationLatency)", "min(integrationLatency)"], rows),
        Order::Exact,
    )
    .await;

    let header = ["@timestamp", "status", "ip", "path", "httpMethod"];
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-last-10-requests/snippet.txt"),
        "fields @timestamp, status, ip, path, httpMethod\n| sort @timestamp desc\n| limit 10",
        API,
        Table::new(&header, last_requests(0..=999)),
        Order::Exact,
    )
    .await;
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-last-4xx-errors/snippet.txt"),
        "fields @timestamp, status, ip, path, httpMethod\n| filter status>=400 and status<=499\n| sort @timestamp desc\n| limit 10",
        API,
        Table::new(&header, last_requests(400..=499)),
        Order::Exact,
    )
    .await;
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-last-5xx-errors/snippet.txt"),
        "fields @timestamp, status, ip, path, httpMethod\n| filter status>=500 and status<=599\n| sort @timestamp desc\n| limit 10",
        API,
        Table::new(&header, last_requests(500..=599)),
        Order::Exact,
    )
    .await;

    // Latencies are numbers in text: "9" sorts below "170", as Logs Insights sorts numbers.
    let mut slowest: Vec<&Request> = all.iter().collect();
    slowest.sort_by_key(|r| std::cmp::Reverse(r.latency));
    slowest.truncate(10);
    let rows = slowest
        .iter()
        .map(|r| {
            vec![
                shown(r.at),
                text(r.status),
                r.ip.clone(),
                text(r.path),
                text(r.method),
                text(r.latency),
            ]
        })
        .collect();
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-longest-running-requests/snippet.txt"),
        "fields @timestamp, status, ip, path, httpMethod, responseLatency\n| sort responseLatency desc\n| limit 10",
        API,
        Table::new(&["@timestamp", "status", "ip", "path", "httpMethod", "responseLatency"], rows),
        Order::Exact,
    )
    .await;

    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-most-popular-paths/snippet.txt"),
        "stats count(*) as requestCount by path\n| sort requestCount desc\n| limit 10",
        API,
        Table::new(&["path", "requestCount"], counted(&all, |r| r.path)),
        Order::Exact,
    )
    .await;
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-paths-most-4xx/snippet.txt"),
        "stats count(*) as errorCount by status, path, httpMethod\n| filter status>=400 and status<=499\n| limit 10",
        API,
        errors_by_route("errorCount", |s| (400..=499).contains(&s)),
        Order::Any,
    )
    .await;
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-paths-most-5xx/snippet.txt"),
        "stats count(*) as errorCount by status, path, httpMethod\n| filter status>=500 and status<=599\n| limit 10",
        API,
        errors_by_route("errorCount", |s| (500..=599).contains(&s)),
        Order::Any,
    )
    .await;
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-paths-with-most-401-403/snippet.txt"),
        "stats count(*) as accessDeniedCount by status, path, httpMethod\n| filter status=403 or status=401\n| limit 10",
        API,
        errors_by_route("accessDeniedCount", |s| s == 401 || s == 403),
        Order::Any,
    )
    .await;
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-top-10-api-keys/snippet.txt"),
        "stats count(*) as requestCount by apiKey\n| sort requestCount desc\n| limit 10",
        API,
        Table::new(&["apiKey", "requestCount"], counted(&all, |r| r.api_key)),
        Order::Any,
    )
    .await;
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-apigw-top-10-ips/snippet.txt"),
        "stats count(*) as requestCount by ip\n| sort requestCount desc\n| limit 10",
        API,
        Table::new(&["ip", "requestCount"], counted(&all, |r| r.ip.clone())),
        Order::Any,
    )
    .await;
}

#[tokio::test]
async fn eventbridge_event_queries() {
    let all = events();
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-eventbridge-event-count/snippet.txt"),
        "fields @timestamp, @message\n| stats count(*) as numberOfEvents by `detail-type`\n| sort numberOfEvents desc",
        EVENTS,
        Table::new(&["detail-type", "numberOfEvents"], counted(&all, |e| e.detail_type)),
        Order::Any,
    )
    .await;
    // Sorting stats rows by a field they no longer have leaves them in their order.
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-eventbridge-event-count-by-source/snippet.txt"),
        "fields @timestamp\n| stats count(*) as EventsCountBySource by source\n| sort @timestamp desc",
        EVENTS,
        Table::new(&["source", "EventsCountBySource"], counted(&all, |e| e.source)),
        Order::Any,
    )
    .await;
    // The snippets' placeholders (sample-value, field-name, N1, N2, ...) filled with the
    // events' own fields and values.
    let cases: [(&str, &str, EventFilter); 10] = [
        (
            "cloudwatch-insight-eventbridge-event-by-detail-type-like",
            "fields @timestamp\n| filter `detail-type` like /Order/ # replace sample-value with actual value to be searched\n| sort @timestamp desc",
            Box::new(|e| e.detail_type.contains("Order")),
        ),
        (
            "cloudwatch-insight-eventbridge-event-filter-by-detail-type-equal-to",
            "fields @timestamp\n| filter `detail-type` = \"PaymentFailed\"    # replace detail-type-value with the actual value\n| sort @timestamp desc",
            Box::new(|e| e.detail_type == "PaymentFailed"),
        ),
        (
            "cloudwatch-insight-eventbridge-event-detail-field-within-a-numeric-range",
            "fields @timestamp\n| filter detail.amount >= 50 and detail.amount <= 150 # replace field-value, N1, N2 with actual values. N1 and N2 are the numeric range.\n| sort @timestamp desc",
            Box::new(|e| (50..=150).contains(&e.amount)),
        ),
        (
            "cloudwatch-insight-eventbridge-event-filter-by-detail-field-equal-to",
            "fields @timestamp\n| filter detail.status = \"SHIPPED\"   # replace field-name and field-value with actual values\n| sort @timestamp desc",
            Box::new(|e| e.status == "SHIPPED"),
        ),
        (
            "cloudwatch-insight-eventbridge-event-filter-by-detail-field-not-equal-to",
            "fields @timestamp\n| filter detail.status != \"SHIPPED\"   # replace field-name and field-value with actual values\n| sort @timestamp desc",
            Box::new(|e| e.status != "SHIPPED"),
        ),
        (
            "cloudwatch-insight-eventbridge-event-filter-detail-field-with-values-in-array",
            "fields @timestamp\n| filter detail.items.0.sku = \"B\"  # replace array-field with the field name having values as array, n1 with array position and sample-value with value to filter. \n| sort @timestamp desc",
            Box::new(|e| e.first_sku == "B"),
        ),
        (
            "cloudwatch-insight-eventbridge-event-find-if-detail-field-exists",
            "fields @timestamp\n| filter ispresent(detail.coupon)    # replace field-name with the actual value\n| sort @timestamp desc",
            Box::new(|e| e.coupon.is_some()),
        ),
        (
            "cloudwatch-insight-eventbridge-event-where-detail-field-value-in",
            "fields @timestamp\n| filter detail.status IN [\"PLACED\", \"CANCELLED\", \"RETURNED\"]  # replace field-value and value1, value2, value3 with actual values.\n| sort @timestamp desc",
            Box::new(|e| e.status != "SHIPPED"),
        ),
        (
            "cloudwatch-insight-eventbridge-event-where-detail-field-value-not-in",
            "fields @timestamp\n| filter detail.status NOT IN [\"PLACED\", \"CANCELLED\", \"RETURNED\"]  # replace field-value and value1, value2, value3 with actual values.\n| sort @timestamp desc",
            Box::new(|e| e.status == "SHIPPED"),
        ),
        (
            "cloudwatch-insight-eventbridge-event-where-value-equals-nested-detail-field-value",
            "fields @timestamp\n| filter detail.customer.tier = \"gold\"  # replace field1, field2, sample-value with appropriate values.\n| sort @timestamp desc",
            Box::new(|e| e.tier == "gold"),
        ),
    ];
    for (dir, query, pass) in cases {
        check(
            &format!("{SNIPPETS}/{dir}/snippet.txt"),
            query,
            EVENTS,
            events_where(pass),
            Order::Exact,
        )
        .await;
    }
    // An absent field is empty, and so is "".
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-eventbridge-event-with-detail-field-empty/snippet.txt"),
        "fields @timestamp\n| filter isempty(detail.coupon)   # replace field-value with the actual value\n| sort @timestamp desc",
        EVENTS,
        events_where(|e| e.coupon.is_none_or(str::is_empty)),
        Order::Exact,
    )
    .await;
    let mut hours: BTreeMap<String, usize> = BTreeMap::new();
    for e in &all {
        *hours
            .entry(shown(e.at - TimeDelta::seconds(e.at.timestamp() % 3600)))
            .or_default() += 1;
    }
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-eventbridge-event-per-hour/snippet.txt"),
        "fields @timestamp\n| filter ispresent(`detail-type`)\n| stats count(*) as CountOfEventsPerHour by bin(1h)\n| sort @timestamp desc",
        EVENTS,
        Table::new(&["bin(1h)", "CountOfEventsPerHour"], hours.into_iter().map(|(h, n)| vec![h, text(n)]).collect()),
        Order::Exact,
    )
    .await;
}

#[tokio::test]
async fn sns_sms_delivery_costs() {
    let all = sms();
    let mut groups: BTreeMap<(&str, &str), (usize, f64)> = BTreeMap::new();
    for m in all.iter().filter(|m| m.destination.is_some()) {
        let g = groups.entry((m.sms_type, m.status)).or_default();
        g.0 += 1;
        g.1 += m.price.unwrap_or(0.0);
    }
    let rows = groups
        .into_iter()
        .map(|((t, s), (n, cost))| vec![text(t), text(s), text(n), text(cost)])
        .collect();
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-sns-sms-delivery-analysis/snippet.txt"),
        "fields @timestamp, delivery.destination, delivery.smsType, status, delivery.priceInUSD\n| filter ispresent(delivery.destination)\n| stats count() as messageCount, \n        sum(coalesce(delivery.priceInUSD, 0)) as totalCostUSD\n        by delivery.smsType, status\n| sort delivery.smsType, status",
        SMS,
        Table::new(&["delivery.smsType", "status", "messageCount", "totalCostUSD"], rows),
        Order::Exact,
    )
    .await;
}

#[tokio::test]
async fn lambda_last_errors_of_a_dotnet_function() {
    let mut rows: Vec<Vec<String>> = (0..10i64)
        .filter(|n| n % 3 == 0)
        .map(|n| {
            vec![
                shown(base() + TimeDelta::seconds(n * 11)),
                text("ERR"),
                format!("invoice {n} ERR"),
            ]
        })
        .collect();
    rows.reverse();
    check(
        &format!("{SNIPPETS}/cloudwatch-insight-lambda-last-100-errors/snippet.txt"),
        " fields Timestamp, LogLevel, Message\n | filter LogLevel == \"ERR\"\n | sort @timestamp desc\n | limit 100",
        DOTNET,
        Table::new(&["Timestamp", "LogLevel", "Message"], rows),
        Order::Exact,
    )
    .await;
}

#[tokio::test]
async fn unnest_parse_and_dedup_from_the_command_pages() {
    // Lines without the list unnest to one row with the field absent.
    check(
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Unnest.html",
        "fields jsonParse(@message) as json_message \n| unnest json_message.events into event\n| display event.name",
        TELEMETRY,
        Table::new(&["event.name"], vec![vec![text("exception")], vec![text("user action")], vec![text("page view")], vec![String::new()]]),
        Order::Any,
    )
    .await;
    // `fields` chose `js` for display: each internal account's row shows its line.
    let accounts = lines()
        .into_iter()
        .find(|l| l.message.contains("accounts"))
        .unwrap();
    check(
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Unnest.html",
        "fields jsonParse(@message) as js \n| unnest js.accounts into account \n| filter account.type = \"internal\"",
        TELEMETRY,
        Table::new(&["js"], vec![vec![accounts.message.clone()]; 2]),
        Order::Any,
    )
    .await;
    let mut latency: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for (user, method, l) in [
        ("alice", "GET", 120.0),
        ("bob", "GET", 80.0),
        ("alice", "GET", 100.0),
        ("alice", "PUT", 300.0),
        ("bob", "GET", 40.0),
    ] {
        latency.entry((method, user)).or_default().push(l);
    }
    check(
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Parse.html",
        "parse @message \"user=*, method:*, latency := *\" as @user, @method, @latency | stats avg(@latency) by @method, @user",
        LEGACY,
        Table::new(
            &["@method", "@user", "avg(@latency)"],
            latency.into_iter().map(|((m, u), v)| vec![text(m), text(u), text(v.iter().sum::<f64>() / v.len() as f64)]).collect(),
        ),
        Order::Exact,
    )
    .await;
    // The newest line of each server, newest first.
    let rows = [
        (4, "web-2", "INFO"),
        (3, "web-3", "INFO"),
        (2, "web-1", "ERROR"),
    ]
    .iter()
    .map(|(n, server, severity)| {
        vec![
            shown(base() + TimeDelta::seconds(n * 10)),
            text(server),
            text(severity),
            format!("check {n}"),
        ]
    })
    .collect();
    check(
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Dedup.html",
        "fields @timestamp, server, severity, message \n| sort @timestamp desc \n| dedup server",
        FLEET,
        Table::new(&["@timestamp", "server", "severity", "message"], rows),
        Order::Exact,
    )
    .await;
}

#[tokio::test]
async fn log_group_globs_choose_the_groups() {
    let s = session().await;
    let scope = Scope {
        window: None,
        log_groups: vec!["/app/*".into(), "/aws/lambda/billing-?otnet".into()],
    };
    let got = logs(&s, "stats count(*) by @log", &scope).await;
    let mut want: BTreeMap<&str, usize> = BTreeMap::new();
    for l in lines()
        .iter()
        .filter(|l| l.group.starts_with("/app/") || l.group == DOTNET)
    {
        *want.entry(l.group).or_default() += 1;
    }
    let want = Table::new(
        &["@log", "count(*)"],
        want.into_iter()
            .map(|(g, n)| vec![text(g), text(n)])
            .collect(),
    );
    assert_table(&got, &want, Order::Exact, "globs");
}

//! Traces built here as X-Ray segment documents, for shapes the sample scenarios do not have
//! (Lambda retries, N+1 queries, SQS redeliveries), imported into a store of their own.

use hopscope_analyzer::Session;
use hopscope_analyzer::window::Window;
use hopscope_store::Summarizers;
use serde_json::{Value, json};

/// 2026-11-20T09:00:00Z, in X-Ray's epoch seconds.
pub const START: f64 = 1_795_165_200.0;

/// From an hour before [`START`] to two hours after.
pub fn window() -> Window {
    let us = (START * 1e6) as i64;
    Window {
        start_us: us - 3_600_000_000,
        end_us: us + 7_200_000_000,
    }
}

/// The X-Ray id (16 hex digits) a test's readable span name stands for (FNV-1a of it).
pub fn id(name: &str) -> String {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// A segment or subsegment document; span names as [`id`] turns them into ids.
pub struct Doc(Value);

impl Doc {
    pub fn segment(
        trace_id: &str,
        span: &str,
        parent_id: Option<&str>,
        name: &str,
        origin: &str,
        start: f64,
        end: f64,
    ) -> Doc {
        let mut v = json!({
            "trace_id": trace_id, "id": id(span), "name": name, "origin": origin,
            "start_time": start, "end_time": end,
        });
        if let Some(p) = parent_id {
            v["parent_id"] = json!(id(p));
        }
        Doc(v)
    }

    /// Lambda's service segment of one invocation (request) of `function`.
    pub fn lambda_service(
        trace_id: &str,
        span: &str,
        parent_id: Option<&str>,
        function: &str,
        request_id: &str,
        start: f64,
        end: f64,
    ) -> Doc {
        let mut d = Doc::segment(
            trace_id,
            span,
            parent_id,
            function,
            "AWS::Lambda",
            start,
            end,
        );
        d.0["aws"] = json!({"request_id": request_id});
        d
    }

    /// The function's segment under its service segment `parent_id`.
    pub fn function(
        trace_id: &str,
        span: &str,
        parent_id: &str,
        function: &str,
        start: f64,
        end: f64,
    ) -> Doc {
        Doc::segment(
            trace_id,
            span,
            Some(parent_id),
            function,
            "AWS::Lambda::Function",
            start,
            end,
        )
    }

    /// Stopped by Lambda at its `seconds` timeout.
    pub fn timed_out(mut self, seconds: u32) -> Doc {
        self.0["fault"] = json!(true);
        self.0["cause"] = json!({"exceptions": [{
            "type": "Sandbox.Timedout",
            "message": format!("RequestId: r Error: Task timed out after {seconds}.00 seconds"),
        }]});
        self
    }

    /// With X-Ray's `error` (4xx) and `throttle` (429) flags as given.
    pub fn flagged(mut self, error: bool, throttle: bool) -> Doc {
        self.0["error"] = json!(error);
        self.0["throttle"] = json!(throttle);
        self
    }

    pub fn with(mut self, subsegments: Vec<Doc>) -> Doc {
        self.0["subsegments"] = Value::Array(subsegments.into_iter().map(|d| d.0).collect());
        self
    }

    /// An HTTP call to `host`; `end: None` never answered.
    pub fn http(
        span: &str,
        host: &str,
        method: &str,
        url: &str,
        start: f64,
        end: Option<f64>,
    ) -> Doc {
        let mut v = json!({
            "id": id(span), "name": host, "namespace": "remote", "start_time": start,
            "http": {"request": {"method": method, "url": url}},
        });
        match end {
            Some(end) => v["end_time"] = json!(end),
            None => v["in_progress"] = json!(true),
        }
        Doc(v)
    }

    /// An AWS SDK call; `aws` holds its operation's fields (`table_name`, `queue_url`, ...).
    pub fn aws_call(
        span: &str,
        service: &str,
        operation: &str,
        aws: Value,
        start: f64,
        end: f64,
    ) -> Doc {
        let mut aws = aws;
        aws["operation"] = json!(operation);
        Doc(json!({
            "id": id(span), "name": service, "namespace": "aws",
            "start_time": start, "end_time": end, "aws": aws,
        }))
    }

    /// A query to the database `name`.
    pub fn sql(span: &str, name: &str, query: &str, start: f64, end: f64) -> Doc {
        Doc(json!({
            "id": id(span), "name": name, "namespace": "remote", "start_time": start, "end_time": end,
            "sql": {"url": format!("{name}:5432/app"), "database_type": "PostgreSQL", "sanitized_query": query},
        }))
    }
}

/// A store holding `docs` (one segment document a line); it lives as long as the directory.
pub async fn store(docs: &[Doc]) -> (tempfile::TempDir, Session) {
    store_with(docs, Summarizers::default()).await
}

/// [`store`] whose writer also writes the rollups of `summarizers`.
pub async fn store_with(docs: &[Doc], summarizers: Summarizers) -> (tempfile::TempDir, Session) {
    let input = tempfile::tempdir().unwrap();
    let file = input.path().join("segments.ndjson");
    let lines: Vec<String> = docs.iter().map(|d| d.0.to_string()).collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let store = hopscope_test_support::import_store_with(&[file], summarizers);
    let session = Session::open(store.path()).await.unwrap();
    (store, session)
}

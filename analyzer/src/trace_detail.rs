//! One trace in full: its spans as a waterfall with the critical path marked, and the Lambda
//! invocations (REPORT data) and log lines of its requests, joined on trace id and request id.

use std::collections::HashMap;

use datafusion::arrow::array::{AsArray, RecordBatch};
use hopscope_schema::lambda_invocations::{TABLE as INVOCATIONS, col as inv};
use hopscope_schema::log_events::{TABLE as LOGS, col as log};
use hopscope_schema::spans::{TABLE as SPANS, col as s, kind};
use serde::Serialize;

use crate::columns;
use crate::error::Result;
use crate::session::Session;
use crate::text::sanitize;

/// Log lines shown with a trace at most; a chatty function must not flood the view.
pub const MAX_LOG_LINES: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceDetail {
    pub trace_id: String,
    pub start_us: i64,
    pub end_us: i64,
    /// Depth-first, children by start time: the order of a waterfall.
    pub spans: Vec<WaterfallSpan>,
    pub invocations: Vec<Invocation>,
    /// By time; at most [`MAX_LOG_LINES`].
    pub logs: Vec<LogLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaterfallSpan {
    pub id: String,
    pub parent_id: Option<String>,
    /// Indent in the waterfall (a span whose parent is missing starts again at 0).
    pub depth: u16,
    pub name: String,
    pub kind: String,
    pub service: String,
    pub service_type: Option<String>,
    pub start_us: i64,
    pub end_us: Option<i64>,
    pub duration_ms: Option<f64>,
    /// This span's own time on the critical path.
    pub critical_ms: Option<f64>,
    /// The root waited on this span: it or something below it holds critical time.
    pub on_critical_path: bool,
    pub part: SpanPart,
    pub error: bool,
    pub fault: bool,
    pub throttle: bool,
    pub in_progress: bool,
    pub http_status: Option<u16>,
    pub aws_operation: Option<String>,
    /// `aws.request_id`: on a Lambda service segment, its invocation's request id (the key of
    /// [`Invocation`] and [`LogLine`]); on an AWS SDK call, the called service's.
    pub request_id: Option<String>,
    /// `Type: message` of the error cause.
    pub cause: Option<String>,
    pub annotations: Vec<(String, String)>,
}

/// What a span's time is, for colouring a waterfall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanPart {
    /// Lambda initialization (a cold start) or SnapStart restore.
    Init,
    /// A Lambda function's own code.
    Handler,
    /// The Lambda service (invoke, queueing) and the runtime's overhead.
    Overhead,
    /// A call to another service: AWS SDK calls, HTTP, SQL.
    Downstream,
    Other,
}

impl SpanPart {
    /// The glyph of a part's bar, so a waterfall reads without colour.
    pub fn glyph(self) -> char {
        match self {
            SpanPart::Init => '░',
            SpanPart::Handler => '█',
            SpanPart::Overhead => '▒',
            SpanPart::Downstream => '▓',
            SpanPart::Other => '■',
        }
    }
}

/// The parts a waterfall's legend names, in its order (`Other` goes without saying).
pub const LEGEND: [(SpanPart, &str); 4] = [
    (SpanPart::Init, "init"),
    (SpanPart::Handler, "handler"),
    (SpanPart::Overhead, "overhead"),
    (SpanPart::Downstream, "downstream"),
];

/// A Lambda REPORT of one of the trace's requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invocation {
    pub function: String,
    pub request_id: String,
    pub timestamp_us: i64,
    pub duration_ms: f64,
    pub billed_ms: Option<f64>,
    pub memory_mb: Option<i64>,
    pub max_memory_mb: Option<i64>,
    pub init_ms: Option<f64>,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    pub timestamp_us: i64,
    pub log_group: String,
    pub log_stream: String,
    pub level: Option<String>,
    pub request_id: Option<String>,
    pub message: String,
}

impl TraceDetail {
    /// The trace with this id, or `None` when the store has no span of it.
    pub async fn load(session: &Session, trace_id: &str) -> Result<Option<TraceDetail>> {
        let id = crate::sql_literal::string(trace_id);
        let spans = load_spans(session, &id).await?;
        if spans.is_empty() {
            return Ok(None);
        }
        let start_us = spans.iter().map(|s| s.start_us).min().unwrap_or(0);
        let end_us = spans
            .iter()
            .map(|s| s.end_us.unwrap_or(s.start_us))
            .max()
            .unwrap_or(start_us);
        // A Lambda service segment carries its invocation's request id.
        let request_ids = format!(
            "SELECT {rid} FROM {SPANS} WHERE {tid} = {id} AND {rid} IS NOT NULL",
            rid = s::AWS_REQUEST_ID,
            tid = s::TRACE_ID,
        );
        let invocations = load_invocations(session, &id, &request_ids).await?;
        let logs = load_logs(session, &id, &request_ids).await?;
        Ok(Some(TraceDetail {
            trace_id: trace_id.to_owned(),
            start_us,
            end_us,
            spans,
            invocations,
            logs,
        }))
    }
}

impl TraceDetail {
    /// For each span (by index), the invocation (by index) it belongs to: the nearest of itself
    /// and its ancestors whose request id is an invocation's. An SDK call carries the called
    /// service's request id, so its invocation is its ancestor's. Parents come before their
    /// children in waterfall order, so one pass inherits the parent's answer.
    pub fn span_invocations(&self) -> Vec<Option<usize>> {
        let by_request: HashMap<&str, usize> = self
            .invocations
            .iter()
            .enumerate()
            .map(|(i, inv)| (inv.request_id.as_str(), i))
            .collect();
        let mut by_span: HashMap<&str, Option<usize>> = HashMap::with_capacity(self.spans.len());
        self.spans
            .iter()
            .map(|s| {
                let own = s
                    .request_id
                    .as_deref()
                    .and_then(|r| by_request.get(r).copied());
                let inherited = s
                    .parent_id
                    .as_deref()
                    .and_then(|p| by_span.get(p).copied().flatten());
                let found = own.or(inherited);
                by_span.insert(s.id.as_str(), found);
                found
            })
            .collect()
    }

    /// The trace as a screen shows it: control characters escaped in everything that came from
    /// outside, log lines without trailing whitespace and with tabs as two spaces.
    pub fn sanitized(mut self) -> TraceDetail {
        self.trace_id = sanitize(&self.trace_id);
        for s in &mut self.spans {
            // OTel span ids are not checked at import; escaped alike, parents still match.
            s.id = sanitize(&s.id);
            s.parent_id = s.parent_id.as_deref().map(sanitize);
            s.name = sanitize(&s.name);
            s.service = sanitize(&s.service);
            s.service_type = s.service_type.as_deref().map(sanitize);
            s.aws_operation = s.aws_operation.as_deref().map(sanitize);
            s.request_id = s.request_id.as_deref().map(sanitize);
            s.cause = s.cause.as_deref().map(sanitize);
            for (k, v) in &mut s.annotations {
                *k = sanitize(k);
                *v = sanitize(v);
            }
        }
        for i in &mut self.invocations {
            i.function = sanitize(&i.function);
            i.request_id = sanitize(&i.request_id);
            i.status = sanitize(&i.status);
        }
        for l in &mut self.logs {
            l.log_group = sanitize(&l.log_group);
            l.log_stream = sanitize(&l.log_stream);
            l.level = l.level.as_deref().map(sanitize);
            l.request_id = l.request_id.as_deref().map(sanitize);
            l.message = sanitize(&l.message.trim_end().replace('\t', "  "));
        }
        self
    }

    /// The log lines of one invocation, or all of the trace's for `None`. A line without a
    /// request id counts for the request its text names (`START RequestId: …`).
    pub fn logs_of(&self, invocation: Option<&Invocation>) -> Vec<&LogLine> {
        match invocation {
            Some(inv) => {
                let id = inv.request_id.as_str();
                self.logs
                    .iter()
                    .filter(|l| match &l.request_id {
                        Some(r) => r == id,
                        None => l.message.contains(id),
                    })
                    .collect()
            }
            None => self.logs.iter().collect(),
        }
    }
}

async fn load_spans(session: &Session, id: &str) -> Result<Vec<WaterfallSpan>> {
    let sql = format!(
        "SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}
         FROM {SPANS} WHERE {} = {id} ORDER BY {}, {}",
        s::ID,
        s::PARENT_ID,
        s::NAME,
        s::KIND,
        s::SERVICE,
        s::SERVICE_TYPE,
        s::NAMESPACE,
        s::START_TIME,
        s::END_TIME,
        s::DURATION_MS,
        s::CRITICAL_MS,
        s::ERROR,
        s::FAULT,
        s::THROTTLE,
        s::IN_PROGRESS,
        s::HTTP_STATUS,
        s::AWS_OPERATION,
        s::CAUSE_TYPE,
        s::CAUSE_MESSAGE,
        s::ANNOTATIONS,
        s::AWS_REQUEST_ID,
        s::TRACE_ID,
        s::START_TIME,
        s::ID,
    );
    let mut flat = Vec::new();
    let mut namespaces = Vec::new();
    for b in session.collect(&sql).await? {
        read_spans(&b, &mut flat, &mut namespaces);
    }
    Ok(waterfall(flat, &namespaces))
}

fn read_spans(b: &RecordBatch, out: &mut Vec<WaterfallSpan>, namespaces: &mut Vec<Option<String>>) {
    let text = |c: usize| columns::strings(b, c);
    let (id, parent, name, kind_, service, service_type, namespace) = (
        text(0),
        text(1),
        text(2),
        text(3),
        text(4),
        text(5),
        text(6),
    );
    let (start, end) = (columns::micros(b, 7), columns::micros(b, 8));
    let (duration, critical) = (columns::opt_floats(b, 9), columns::opt_floats(b, 10));
    let flag = |c: usize| b.column(c).as_boolean().clone();
    let (error, fault, throttle, in_progress) = (flag(11), flag(12), flag(13), flag(14));
    let status = columns::opt_ints(b, 15);
    let (operation, cause_type, cause_message) = (text(16), text(17), text(18));
    let mut annotations = columns::string_maps(b, 19);
    let request_id = text(20);
    for i in 0..b.num_rows() {
        let cause = match (&cause_type[i], &cause_message[i]) {
            (Some(t), Some(m)) => Some(format!("{t}: {m}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        };
        namespaces.push(namespace[i].clone());
        out.push(WaterfallSpan {
            id: id[i].clone().unwrap_or_default(),
            parent_id: parent[i].clone(),
            depth: 0,
            name: name[i].clone().unwrap_or_default(),
            kind: kind_[i].clone().unwrap_or_default(),
            service: service[i].clone().unwrap_or_default(),
            service_type: service_type[i].clone(),
            start_us: start[i].unwrap_or(0),
            end_us: end[i],
            duration_ms: duration[i],
            critical_ms: critical[i],
            on_critical_path: false,
            part: SpanPart::Other,
            error: error.value(i),
            fault: fault.value(i),
            throttle: throttle.value(i),
            in_progress: in_progress.value(i),
            http_status: status[i].and_then(|v| u16::try_from(v).ok()),
            aws_operation: operation[i].clone(),
            request_id: request_id[i].clone(),
            cause,
            annotations: std::mem::take(&mut annotations[i]),
        });
    }
}

/// What a span's time is, from the names Lambda and the X-Ray SDKs give their spans.
fn part_of(span: &WaterfallSpan, namespace: Option<&str>) -> SpanPart {
    let function = span.service_type.as_deref() == Some("AWS::Lambda::Function");
    let own_subsegment = function && span.kind == kind::SUBSEGMENT;
    if own_subsegment && matches!(span.name.as_str(), "Initialization" | "Restore") {
        SpanPart::Init
    } else if span.service_type.as_deref() == Some("AWS::Lambda")
        || (own_subsegment && span.name == "Overhead")
    {
        SpanPart::Overhead
    } else if matches!(namespace, Some("aws" | "remote")) || span.kind == kind::INFERRED {
        SpanPart::Downstream
    } else if function {
        SpanPart::Handler
    } else {
        SpanPart::Other
    }
}

/// Orders spans depth-first (children by start time), sets depths, parts and the critical-path
/// flag (a span is on it when it or a descendant holds critical time).
fn waterfall(spans: Vec<WaterfallSpan>, namespaces: &[Option<String>]) -> Vec<WaterfallSpan> {
    let index: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match s.parent_id.as_deref().and_then(|p| index.get(p)) {
            Some(&p) if p != i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    // `spans` come sorted by start time, so every child list already is.
    let mut order = Vec::with_capacity(spans.len());
    let mut depth = vec![0u16; spans.len()];
    let mut stack: Vec<usize> = roots.into_iter().rev().collect();
    let mut seen = vec![false; spans.len()];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        order.push(i);
        for &c in children[i].iter().rev() {
            depth[c] = depth[i].saturating_add(1);
            stack.push(c);
        }
    }
    // Spans in a parent cycle are unreachable from a root: list them at the end, flat.
    order.extend((0..spans.len()).filter(|&i| !seen[i]));
    let mut on_path: Vec<bool> = spans
        .iter()
        .map(|s| s.critical_ms.is_some_and(|c| c > 0.0))
        .collect();
    for &i in order.iter().rev() {
        if on_path[i]
            && let Some(p) = spans[i].parent_id.as_deref().and_then(|p| index.get(p))
        {
            on_path[*p] = true;
        }
    }
    let mut slots: Vec<Option<WaterfallSpan>> = spans.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| {
            let mut s = slots[i].take().expect("each span placed once");
            s.depth = depth[i];
            s.on_critical_path = on_path[i];
            s.part = part_of(&s, namespaces[i].as_deref());
            s
        })
        .collect()
}

async fn load_invocations(
    session: &Session,
    id: &str,
    request_ids: &str,
) -> Result<Vec<Invocation>> {
    let sql = format!(
        "SELECT {f}, {rid}, {ts}, {d}, {b}, {m}, {mm}, {init}, {st} FROM {INVOCATIONS}
         WHERE {tid} = {id} OR {rid} IN ({request_ids}) ORDER BY {ts}, {rid}",
        f = inv::FUNCTION,
        rid = inv::REQUEST_ID,
        ts = inv::TIMESTAMP,
        d = inv::DURATION_MS,
        b = inv::BILLED_MS,
        m = inv::MEMORY_MB,
        mm = inv::MAX_MEMORY_MB,
        init = inv::INIT_MS,
        st = inv::STATUS,
        tid = inv::TRACE_ID,
    );
    let mut out = Vec::new();
    for b in session.collect(&sql).await? {
        let (function, request, status) = (
            columns::strings(&b, 0),
            columns::strings(&b, 1),
            columns::strings(&b, 8),
        );
        let ts = columns::micros(&b, 2);
        let duration = columns::floats(&b, 3);
        let (billed, init) = (columns::opt_floats(&b, 4), columns::opt_floats(&b, 7));
        let (memory, max_memory) = (columns::opt_ints(&b, 5), columns::opt_ints(&b, 6));
        for i in 0..b.num_rows() {
            out.push(Invocation {
                function: function[i].clone().unwrap_or_default(),
                request_id: request[i].clone().unwrap_or_default(),
                timestamp_us: ts[i].unwrap_or(0),
                duration_ms: duration[i],
                billed_ms: billed[i],
                memory_mb: memory[i],
                max_memory_mb: max_memory[i],
                init_ms: init[i],
                status: status[i].clone().unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

async fn load_logs(session: &Session, id: &str, request_ids: &str) -> Result<Vec<LogLine>> {
    let sql = format!(
        "SELECT {ts}, {g}, {st}, {lvl}, {rid}, {msg} FROM {LOGS}
         WHERE {tid} = {id} OR {rid} IN ({request_ids})
         ORDER BY {ts}, {g}, {st}, {eid} LIMIT {MAX_LOG_LINES}",
        ts = log::TIMESTAMP,
        g = log::LOG_GROUP,
        st = log::LOG_STREAM,
        lvl = log::LEVEL,
        rid = log::REQUEST_ID,
        msg = log::MESSAGE,
        tid = log::TRACE_ID,
        eid = log::EVENT_ID,
    );
    let mut out = Vec::new();
    for b in session.collect(&sql).await? {
        let ts = columns::micros(&b, 0);
        let [group, stream, level, request, message] =
            [1, 2, 3, 4, 5].map(|c| columns::strings(&b, c));
        for i in 0..b.num_rows() {
            out.push(LogLine {
                timestamp_us: ts[i].unwrap_or(0),
                log_group: group[i].clone().unwrap_or_default(),
                log_stream: stream[i].clone().unwrap_or_default(),
                level: level[i].clone(),
                request_id: request[i].clone(),
                message: message[i].clone().unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, request_id: Option<&str>) -> WaterfallSpan {
        WaterfallSpan {
            id: id.into(),
            parent_id: parent.map(Into::into),
            depth: 0,
            name: id.into(),
            kind: kind::SEGMENT.into(),
            service: id.into(),
            service_type: None,
            start_us: 0,
            end_us: Some(1),
            duration_ms: Some(1.0),
            critical_ms: None,
            on_critical_path: false,
            part: SpanPart::Other,
            error: false,
            fault: false,
            throttle: false,
            in_progress: false,
            http_status: None,
            aws_operation: None,
            request_id: request_id.map(Into::into),
            cause: None,
            annotations: Vec::new(),
        }
    }

    fn invocation(request_id: &str) -> Invocation {
        Invocation {
            function: "f".into(),
            request_id: request_id.into(),
            timestamp_us: 0,
            duration_ms: 1.0,
            billed_ms: None,
            memory_mb: None,
            max_memory_mb: None,
            init_ms: None,
            status: "success".into(),
        }
    }

    fn log(request_id: Option<&str>, message: &str) -> LogLine {
        LogLine {
            timestamp_us: 0,
            log_group: "/aws/lambda/f".into(),
            log_stream: "s".into(),
            level: None,
            request_id: request_id.map(Into::into),
            message: message.into(),
        }
    }

    #[test]
    fn spans_inherit_their_invocation_and_logs_match_by_request_id_or_text() {
        let trace = TraceDetail {
            trace_id: "t".into(),
            start_us: 0,
            end_us: 1,
            spans: vec![
                span("api", None, None),
                span("lambda-1", Some("api"), Some("r1")),
                span("fn-1", Some("lambda-1"), None),
                span("ddb", Some("fn-1"), Some("ddb-request")),
                span("lambda-2", Some("api"), Some("r2")),
            ],
            invocations: vec![invocation("r1"), invocation("r2")],
            logs: vec![
                log(None, "START RequestId: r1 Version: $LATEST"),
                log(Some("r1"), "reading"),
                log(Some("r2"), "other"),
                log(None, "no request"),
            ],
        };
        assert_eq!(
            trace.span_invocations(),
            [None, Some(0), Some(0), Some(0), Some(1)]
        );
        let messages = |inv: Option<&Invocation>| -> Vec<&str> {
            trace
                .logs_of(inv)
                .iter()
                .map(|l| l.message.as_str())
                .collect()
        };
        assert_eq!(
            messages(Some(&trace.invocations[0])),
            ["START RequestId: r1 Version: $LATEST", "reading"]
        );
        assert_eq!(messages(Some(&trace.invocations[1])), ["other"]);
        assert_eq!(messages(None).len(), 4);
    }
}

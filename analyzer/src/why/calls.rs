//! The calls of a hop in a window, and the spans beneath each of them.

use std::collections::HashMap;
use std::sync::Arc;

use hopscope_schema::lambda_invocations::{
    TABLE as INVOCATIONS, col as inv, status as invocation_status,
};
use hopscope_schema::origin;
use hopscope_schema::spans::{TABLE as SPANS, col as s, kind};

use crate::error::Result;
use crate::hops::{TIMEOUT_MESSAGE, hop_predicate};
use crate::session::Session;
use crate::window::Window;
use crate::{columns, sql_literal};

/// Trace ids (or request ids) per `IN (...)` list: keeps each statement small.
const IDS_PER_QUERY: usize = 1_000;
/// How far a span beneath a call may start before it (clock skew between hosts), in µs.
const SKEW_US: i64 = 60_000_000;

#[derive(Debug, Clone, Copy)]
pub(super) struct Hop<'a> {
    pub caller: Option<&'a str>,
    pub callee: &'a str,
}

/// One call of the hop: the span where the trace entered the callee from the caller.
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub trace_id: String,
    pub id: String,
    pub start_us: i64,
    /// What the caller waited, for a call that never answered (a lower bound).
    pub duration_ms: f64,
    /// Failed, throttled, never answered, or (a Lambda function) raised or timed out.
    pub failed: bool,
}

/// The hop's calls that started in `window`.
pub(super) async fn calls(session: &Session, hop: Hop<'_>, window: Window) -> Result<Vec<Call>> {
    let hop_spans = format!(
        "{} AND {} AND {}",
        hop_predicate(hop.caller, hop.callee),
        crate::entry::enters_service(),
        window.predicate(s::START_TIME)
    );
    let sql = format!(
        "SELECT {tid}, {id}, {st}, {d}, {e} OR {f} OR {t} OR {ip} FROM {SPANS} WHERE {hop_spans}",
        tid = s::TRACE_ID,
        id = s::ID,
        st = s::START_TIME,
        d = s::DURATION_MS,
        e = s::ERROR,
        f = s::FAULT,
        t = s::THROTTLE,
        ip = s::IN_PROGRESS,
    );
    let mut out = Vec::new();
    for b in session.collect(&sql).await? {
        let (trace, id) = (columns::strings(&b, 0), columns::strings(&b, 1));
        let (start, duration) = (columns::micros(&b, 2), columns::opt_floats(&b, 3));
        let failed = columns::bools(&b, 4);
        for i in 0..b.num_rows() {
            out.push(Call {
                trace_id: trace[i].clone().unwrap_or_default(),
                id: id[i].clone().unwrap_or_default(),
                start_us: start[i].unwrap_or(0),
                duration_ms: duration[i].unwrap_or(0.0),
                failed: failed[i],
            });
        }
    }
    // The callee's own segments (a Lambda function's, under an API Gateway integration's
    // subsegment) say when it raised or timed out: a failed one during a call fails the call.
    let failed_segments = format!(
        "SELECT {tid}, {st} FROM {SPANS}
         WHERE {sv} = {callee} AND {k} = '{segment}'
           AND ({e} OR {f} OR {t} OR {ip} OR {cm} LIKE '%{TIMEOUT_MESSAGE}%')
           AND {window}",
        tid = s::TRACE_ID,
        st = s::START_TIME,
        sv = s::SERVICE,
        k = s::KIND,
        segment = kind::SEGMENT,
        callee = sql_literal::string(hop.callee),
        e = s::ERROR,
        f = s::FAULT,
        t = s::THROTTLE,
        ip = s::IN_PROGRESS,
        cm = s::CAUSE_MESSAGE,
        window = Window {
            start_us: window.start_us - SKEW_US,
            end_us: window.end_us + SKEW_US,
        }
        .predicate(s::START_TIME),
    );
    let mut failed: HashMap<String, Vec<i64>> = HashMap::new();
    for b in session.collect(&failed_segments).await? {
        let (trace, start) = (columns::strings(&b, 0), columns::micros(&b, 1));
        for i in 0..b.num_rows() {
            if let (Some(t), Some(st)) = (&trace[i], start[i]) {
                failed.entry(t.clone()).or_default().push(st);
            }
        }
    }
    for c in &mut out {
        let end_us = c.start_us + (c.duration_ms * 1000.0) as i64;
        c.failed |= failed
            .get(&c.trace_id)
            .is_some_and(|starts| starts.iter().any(|&st| (c.start_us..=end_us).contains(&st)));
    }
    // One order whatever the scan's: ties and samples come out the same on every run.
    out.sort_by(|a, b| (&a.trace_id, &a.id).cmp(&(&b.trace_id, &b.id)));
    Ok(out)
}

/// At most `max` calls: the failed, then the slowest.
pub(super) fn slowest(mut calls: Vec<Call>, max: usize) -> Vec<Call> {
    calls.sort_by(|a, b| {
        b.failed
            .cmp(&a.failed)
            .then(b.duration_ms.total_cmp(&a.duration_ms))
    });
    calls.truncate(max);
    calls
}

/// At most `max` calls, a sample fixed by their span ids (the same store gives the same one).
pub(super) fn sample(mut calls: Vec<Call>, max: usize) -> Vec<Call> {
    if calls.len() > max {
        calls.sort_by_key(|c| fnv1a(&c.trace_id) ^ fnv1a(&c.id));
        calls.truncate(max);
    }
    calls
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A span, with what the facts about a call are made of.
#[derive(Debug, Clone, Default)]
pub(super) struct Span {
    pub id: String,
    pub parent_id: Option<String>,
    pub service: Arc<str>,
    pub service_type: Option<String>,
    pub kind: String,
    pub name: String,
    pub critical_ms: f64,
    pub in_progress: bool,
    pub error: bool,
    pub fault: bool,
    pub throttle: bool,
    pub http_method: Option<String>,
    pub http_url: Option<String>,
    pub http_status: Option<i64>,
    pub aws_operation: Option<String>,
    pub aws_resource: Option<String>,
    pub resource_arn: Option<String>,
    pub sql: Option<String>,
    pub cause_type: Option<String>,
    pub cause_message: Option<String>,
    pub annotations: Vec<(String, String)>,
    pub user: Option<String>,
    pub request_id: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
}

/// What a Lambda invocation's log lines add to its spans.
#[derive(Debug, Clone, Default)]
pub(super) struct Invocation {
    pub version: Option<String>,
    pub memory_mb: Option<i64>,
    pub log_stream: Option<String>,
    pub timed_out: bool,
}

/// The spans of the calls' traces, as trees, with the calls' spans found in them.
#[derive(Debug, Default)]
pub(super) struct Trees {
    pub spans: Vec<Span>,
    pub children: Vec<Vec<usize>>,
    pub parent: Vec<Option<usize>>,
    /// Per call, in the order given: its span, when the store holds it.
    pub calls: Vec<Option<usize>>,
    pub invocations: HashMap<String, Invocation>,
}

impl Trees {
    /// The span and every span beneath it, parents before children.
    pub fn beneath(&self, root: usize) -> Vec<usize> {
        let mut out = vec![root];
        let mut next = 0;
        while next < out.len() {
            out.extend(&self.children[out[next]]);
            next += 1;
        }
        out
    }
}

/// Loads the spans of the calls' traces that start around the calls, and their invocations.
pub(super) async fn subtrees<'c>(
    session: &Session,
    calls: impl Iterator<Item = &'c Call>,
) -> Result<Trees> {
    let calls: Vec<&Call> = calls.collect();
    let mut trees = Trees::default();
    if calls.is_empty() {
        return Ok(trees);
    }
    let mut traces: Vec<&str> = calls.iter().map(|c| c.trace_id.as_str()).collect();
    traces.sort_unstable();
    traces.dedup();
    let from = calls.iter().map(|c| c.start_us).min().unwrap_or(0) - SKEW_US;
    let until = calls
        .iter()
        .map(|c| c.start_us + (c.duration_ms * 1000.0) as i64)
        .max()
        .unwrap_or(0)
        + SKEW_US;
    let span_window = Window {
        start_us: from,
        end_us: until,
    };
    let mut by_trace: HashMap<String, HashMap<String, usize>> = HashMap::new();
    let mut trace_of: Vec<String> = Vec::new();
    for chunk in traces.chunks(IDS_PER_QUERY) {
        let sql = format!(
            "SELECT {cols} FROM {SPANS} WHERE {tid} IN ({ids}) AND {window}",
            cols = SPAN_COLUMNS.join(", "),
            tid = s::TRACE_ID,
            ids = sql_literal::list(chunk.iter().copied()),
            window = span_window.predicate(s::START_TIME),
        );
        for b in session.collect(&sql).await? {
            let trace = columns::strings(&b, 0);
            for (i, span) in read_spans(&b).into_iter().enumerate() {
                let t = trace[i].clone().unwrap_or_default();
                by_trace
                    .entry(t.clone())
                    .or_default()
                    .insert(span.id.clone(), trees.spans.len());
                trace_of.push(t);
                trees.spans.push(span);
            }
        }
    }
    trees.children = vec![Vec::new(); trees.spans.len()];
    trees.parent = vec![None; trees.spans.len()];
    for (i, span) in trees.spans.iter().enumerate() {
        let parent = span
            .parent_id
            .as_ref()
            .and_then(|p| by_trace.get(&trace_of[i])?.get(p));
        if let Some(&p) = parent {
            trees.children[p].push(i);
            trees.parent[i] = Some(p);
        }
    }
    trees.calls = calls
        .iter()
        .map(|c| by_trace.get(&c.trace_id)?.get(&c.id).copied())
        .collect();
    let request_ids: Vec<&str> = trees
        .spans
        .iter()
        .filter_map(|s| s.request_id.as_deref())
        .collect();
    trees.invocations = invocations(session, &request_ids).await?;
    Ok(trees)
}

/// What [`read_spans`] reads, in this order (the trace id first).
const SPAN_COLUMNS: [&str; 26] = [
    s::TRACE_ID,
    s::ID,
    s::PARENT_ID,
    s::SERVICE,
    s::SERVICE_TYPE,
    s::KIND,
    s::NAME,
    s::CRITICAL_MS,
    s::IN_PROGRESS,
    s::ERROR,
    s::FAULT,
    s::THROTTLE,
    s::HTTP_METHOD,
    s::HTTP_URL,
    s::HTTP_STATUS,
    s::AWS_OPERATION,
    s::AWS_RESOURCE,
    s::RESOURCE_ARN,
    s::SQL_SANITIZED_QUERY,
    s::CAUSE_TYPE,
    s::CAUSE_MESSAGE,
    s::ANNOTATIONS,
    s::USER,
    s::AWS_REQUEST_ID,
    origin::ACCOUNT_ID,
    origin::REGION,
];

fn read_spans(b: &datafusion::arrow::array::RecordBatch) -> Vec<Span> {
    let text = |c: usize| columns::strings(b, c);
    let flag = |c: usize| columns::bools(b, c);
    let (id, parent, service, service_type, kind, name) =
        (text(1), text(2), text(3), text(4), text(5), text(6));
    let critical = columns::opt_floats(b, 7);
    let (in_progress, error, fault, throttle) = (flag(8), flag(9), flag(10), flag(11));
    let (method, url, status) = (text(12), text(13), columns::opt_ints(b, 14));
    let (operation, resource, arn, sql) = (text(15), text(16), text(17), text(18));
    let (cause_type, cause_message) = (text(19), text(20));
    let mut annotations = columns::string_maps(b, 21);
    let (user, request_id, account, region) = (text(22), text(23), text(24), text(25));
    let mut services: HashMap<String, Arc<str>> = HashMap::new();
    (0..b.num_rows())
        .map(|i| {
            let svc = service[i].clone().unwrap_or_default();
            let service = services
                .entry(svc)
                .or_insert_with_key(|k| Arc::from(k.as_str()))
                .clone();
            Span {
                id: id[i].clone().unwrap_or_default(),
                parent_id: parent[i].clone(),
                service,
                service_type: service_type[i].clone(),
                kind: kind[i].clone().unwrap_or_default(),
                name: name[i].clone().unwrap_or_default(),
                critical_ms: critical[i].unwrap_or(0.0),
                in_progress: in_progress[i],
                error: error[i],
                fault: fault[i],
                throttle: throttle[i],
                http_method: method[i].clone(),
                http_url: url[i].clone(),
                http_status: status[i],
                aws_operation: operation[i].clone(),
                aws_resource: resource[i].clone(),
                resource_arn: arn[i].clone(),
                sql: sql[i].clone(),
                cause_type: cause_type[i].clone(),
                cause_message: cause_message[i].clone(),
                annotations: std::mem::take(&mut annotations[i]),
                user: user[i].clone(),
                request_id: request_id[i].clone(),
                account_id: account[i].clone(),
                region: region[i].clone(),
            }
        })
        .collect()
}

/// The invocations (REPORT lines) with these request ids.
async fn invocations(
    session: &Session,
    request_ids: &[&str],
) -> Result<HashMap<String, Invocation>> {
    let mut out = HashMap::new();
    for chunk in request_ids.chunks(IDS_PER_QUERY) {
        let sql = format!(
            "SELECT {rid}, {v}, {m}, {ls}, {st} FROM {INVOCATIONS} WHERE {rid} IN ({ids})",
            rid = inv::REQUEST_ID,
            v = inv::VERSION,
            m = inv::MEMORY_MB,
            ls = inv::LOG_STREAM,
            st = inv::STATUS,
            ids = sql_literal::list(chunk.iter().copied()),
        );
        for b in session.collect(&sql).await? {
            let (rid, version, stream, status) = (
                columns::strings(&b, 0),
                columns::strings(&b, 1),
                columns::strings(&b, 3),
                columns::strings(&b, 4),
            );
            let memory = columns::opt_ints(&b, 2);
            for i in 0..b.num_rows() {
                let Some(id) = rid[i].clone() else { continue };
                out.insert(
                    id,
                    Invocation {
                        version: version[i].clone(),
                        memory_mb: memory[i],
                        log_stream: stream[i].clone(),
                        timed_out: status[i].as_deref() == Some(invocation_status::TIMEOUT),
                    },
                );
            }
        }
    }
    Ok(out)
}

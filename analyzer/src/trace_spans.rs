//! The spans of chosen traces, trace by trace, with what the forensic reports read of them
//! ([`crate::timeouts`], [`crate::amplification`]): their tree, their hop, their timing and
//! outcome, and the operation of each call.

use std::collections::HashMap;

use hopscope_schema::spans::{TABLE as SPANS, col as s, enters_service};

use crate::columns;
use crate::error::Result;
use crate::hops::TIMEOUT_MESSAGE;
use crate::operation::{CallFields, operation};
use crate::session::Session;
use crate::window::Window;

/// Time around a window that spans of its traces are looked for in: a Lambda function runs up
/// to 15 minutes, and Lambda retries an asynchronous invocation 1 and 3 minutes after it fails.
pub(crate) const SLACK_US: i64 = 15 * 60 * 1_000_000;

#[derive(Debug)]
pub(crate) struct Span {
    pub id: String,
    pub parent_id: Option<String>,
    pub hop_caller: Option<String>,
    pub service: String,
    pub service_type: Option<String>,
    pub kind: String,
    pub start_us: i64,
    pub end_us: Option<i64>,
    /// For a span that never ended, the time its caller waited (a lower bound).
    pub duration_ms: Option<f64>,
    pub in_progress: bool,
    /// Its cause says a Lambda function timed out.
    pub timed_out: bool,
    /// A call of its hop: the trace entered `service` here.
    pub entry: bool,
    pub request_id: Option<String>,
    pub aws_operation: Option<String>,
    pub sdk_retries: u32,
    /// See [`operation`].
    pub operation: String,
}

impl Span {
    /// A Lambda segment of the given type ([`crate::hops::LAMBDA_SERVICE`] or
    /// [`crate::hops::LAMBDA_FUNCTION`]).
    pub fn is_lambda_segment(&self, service_type: &str) -> bool {
        self.kind == hopscope_schema::spans::kind::SEGMENT
            && self.service_type.as_deref() == Some(service_type)
    }

    /// When whoever waited on this span stopped waiting: its end, or for a span that never
    /// ended the end of the nearest enclosing span that did.
    pub fn gave_up_us(&self) -> Option<i64> {
        self.end_us.or_else(|| {
            self.duration_ms
                .map(|ms| self.start_us + (ms * 1_000.0).round() as i64)
        })
    }
}

/// One trace's spans by start time, with each one's parent (by index) where it is loaded.
#[derive(Debug)]
pub(crate) struct Trace {
    pub trace_id: String,
    pub spans: Vec<Span>,
    pub parents: Vec<Option<usize>>,
}

impl Trace {
    fn new(trace_id: String, spans: Vec<Span>) -> Trace {
        let index: HashMap<&str, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let parents = spans
            .iter()
            .map(|s| s.parent_id.as_deref().and_then(|p| index.get(p).copied()))
            .collect();
        Trace {
            trace_id,
            spans,
            parents,
        }
    }

    /// The ancestors of span `i`, nearest first.
    pub fn ancestors(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        // A malformed trace may loop: never walk further than it has spans.
        std::iter::successors(self.parents[i], |&p| self.parents[p]).take(self.spans.len())
    }

    pub fn is_descendant(&self, i: usize, ancestor: usize) -> bool {
        self.ancestors(i).any(|a| a == ancestor)
    }
}

/// The spans of the traces `traces_sql` selects (a query of one `trace_id` column), those of
/// them that `filter` keeps (SQL over `spans`, `TRUE` for all) and that start within
/// [`SLACK_US`] of `window`; trace by trace, in trace id order.
pub(crate) async fn load(
    session: &Session,
    window: Window,
    traces_sql: &str,
    filter: &str,
) -> Result<Vec<Trace>> {
    let near = Window {
        start_us: window.start_us - SLACK_US,
        end_us: window.end_us + SLACK_US,
    };
    let sql = format!(
        "SELECT {tid}, {id}, {pid}, {hc}, {sv}, {st}, {ps}, {k}, {n}, {start}, {end}, {d},
                {ip}, {cm}, {rid}, {op}, {res}, {retries}, {method}, {url}, {sql}
         FROM {SPANS}
         WHERE {tid} IN ({traces_sql}) AND {near} AND ({filter})
         ORDER BY {tid}, {start}, {id}",
        tid = s::TRACE_ID,
        id = s::ID,
        pid = s::PARENT_ID,
        hc = s::HOP_CALLER,
        sv = s::SERVICE,
        st = s::SERVICE_TYPE,
        ps = s::PARENT_SERVICE,
        k = s::KIND,
        n = s::NAME,
        start = s::START_TIME,
        end = s::END_TIME,
        d = s::DURATION_MS,
        ip = s::IN_PROGRESS,
        cm = s::CAUSE_MESSAGE,
        rid = s::AWS_REQUEST_ID,
        op = s::AWS_OPERATION,
        res = s::AWS_RESOURCE,
        retries = s::AWS_RETRIES,
        method = s::HTTP_METHOD,
        url = s::HTTP_URL,
        sql = s::SQL_SANITIZED_QUERY,
        near = near.predicate(s::START_TIME),
    );
    let mut traces = Vec::new();
    let mut current: Option<(String, Vec<Span>)> = None;
    for b in session.collect(&sql).await? {
        let text = |c| columns::strings(&b, c);
        let (tid, id, pid, hc, sv, st, ps, k, n) = (
            text(0),
            text(1),
            text(2),
            text(3),
            text(4),
            text(5),
            text(6),
            text(7),
            text(8),
        );
        let (start, end, dur) = (
            columns::micros(&b, 9),
            columns::micros(&b, 10),
            columns::opt_floats(&b, 11),
        );
        let (ip, cause, rid, op, res) = (
            columns::bools(&b, 12),
            text(13),
            text(14),
            text(15),
            text(16),
        );
        let (retries, method, url, query) =
            (columns::opt_ints(&b, 17), text(18), text(19), text(20));
        for row in 0..b.num_rows() {
            let service = sv[row].clone().unwrap_or_default();
            let name = n[row].clone().unwrap_or_default();
            let op_text = operation(&CallFields {
                service: &service,
                name: &name,
                http_method: method[row].as_deref(),
                http_url: url[row].as_deref(),
                aws_operation: op[row].as_deref(),
                aws_resource: res[row].as_deref(),
                sql_query: query[row].as_deref(),
            });
            let span = Span {
                id: id[row].clone().unwrap_or_default(),
                parent_id: pid[row].clone(),
                hop_caller: hc[row].clone(),
                entry: enters_service(ps[row].as_deref(), service.as_str()),
                service,
                service_type: st[row].clone(),
                kind: k[row].clone().unwrap_or_default(),
                start_us: start[row].unwrap_or_default(),
                end_us: end[row],
                duration_ms: dur[row],
                in_progress: ip[row],
                timed_out: cause[row]
                    .as_deref()
                    .is_some_and(|m| m.contains(TIMEOUT_MESSAGE)),
                request_id: rid[row].clone(),
                aws_operation: op[row].clone(),
                sdk_retries: retries[row]
                    .and_then(|r| u32::try_from(r).ok())
                    .unwrap_or(0),
                operation: op_text,
            };
            let trace_id = tid[row].clone().unwrap_or_default();
            match &mut current {
                Some((t, spans)) if *t == trace_id => spans.push(span),
                _ => {
                    if let Some((t, spans)) = current.replace((trace_id, vec![span])) {
                        traces.push(Trace::new(t, spans));
                    }
                }
            }
        }
    }
    if let Some((t, spans)) = current {
        traces.push(Trace::new(t, spans));
    }
    Ok(traces)
}

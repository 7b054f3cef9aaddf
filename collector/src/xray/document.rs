//! The segment document as X-Ray defines it, read leniently where real emitters disagree
//! (content_length as a string, cause as an id reference) and strictly where a span would be
//! meaningless without the field (ids, name, start_time); `read` fills it.

use std::borrow::Cow;

use foldhash::{HashMap, HashMapExt};

use hopscope_schema::micros_from_secs;
use hopscope_schema::spans::{SpanRow, kind};
use serde::Deserialize;

use super::node::{aws_resource, node_of};
use super::read::{self, Entry};
use crate::borrowed::{self, Text};

pub(super) type Str<'a> = Option<Cow<'a, str>>;

#[derive(Debug, Default)]
pub struct SegmentDoc<'a> {
    pub id: Str<'a>,
    pub trace_id: Str<'a>,
    pub parent_id: Str<'a>,
    pub name: Str<'a>,
    pub doc_type: Str<'a>,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
    pub in_progress: Option<bool>,
    pub inferred: Option<bool>,
    pub namespace: Str<'a>,
    pub origin: Str<'a>,
    pub error: bool,
    pub fault: bool,
    pub throttle: bool,
    pub http: Option<Http<'a>>,
    pub aws: Option<Aws<'a>>,
    pub sql: Option<Sql<'a>>,
    pub resource_arn: Str<'a>,
    pub user: Str<'a>,
    /// JSON text: an exception-id reference, an object of exceptions, or junk.
    pub cause: Option<&'a str>,
    /// Keys and their values as JSON text, by key.
    pub annotations: Vec<(Cow<'a, str>, &'a str)>,
    /// JSON text.
    pub metadata: Option<&'a str>,
}

#[derive(Debug, Default)]
pub struct Http<'a> {
    pub request: Option<HttpRequest<'a>>,
    pub response: Option<HttpResponse>,
}

#[derive(Debug, Default)]
pub struct HttpRequest<'a> {
    pub method: Str<'a>,
    pub url: Str<'a>,
}

#[derive(Debug, Default)]
pub struct HttpResponse {
    pub status: Option<i64>,
    /// An integer, `-1`, or (real Node SDK 3.3.4) a string such as `"861"`.
    pub content_length: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Aws<'a> {
    pub operation: Str<'a>,
    pub region: Str<'a>,
    pub request_id: Str<'a>,
    pub account_id: Str<'a>,
    pub table_name: Str<'a>,
    pub bucket_name: Str<'a>,
    pub queue_url: Str<'a>,
    pub function_name: Str<'a>,
    pub topic_arn: Str<'a>,
    pub function_arn: Str<'a>,
    pub resource_names: Vec<Cow<'a, str>>,
    pub retries: Option<u32>,
}

#[derive(Debug, Default)]
pub struct Sql<'a> {
    pub url: Str<'a>,
    pub database_type: Str<'a>,
    pub sanitized_query: Str<'a>,
}

#[derive(Debug, Deserialize)]
struct CauseObject<'a> {
    #[serde(default, borrow)]
    exceptions: Vec<Exception<'a>>,
}

#[derive(Debug, Deserialize)]
struct Exception<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    id: Str<'a>,
    #[serde(borrow, default, deserialize_with = "borrowed::option")]
    message: Str<'a>,
    #[serde(
        rename = "type",
        borrow,
        default,
        deserialize_with = "borrowed::option"
    )]
    exception_type: Str<'a>,
}

/// The `cause` field in its three real forms.
#[derive(Debug, Default)]
enum Cause<'a> {
    #[default]
    None,
    /// The first exception recorded here: (type, message).
    Exception(Str<'a>, Str<'a>),
    /// A 16-hex reference to an exception recorded on another (sub)segment of the trace.
    Reference(Cow<'a, str>),
}

/// A parsed (sub)segment with what it inherits from its place in the tree.
#[derive(Debug)]
pub struct Node<'a> {
    doc: SegmentDoc<'a>,
    /// Its own text: before its subsegments, and after them.
    raw: (&'a str, &'a str),
    trace_id: Cow<'a, str>,
    id: Cow<'a, str>,
    name: Cow<'a, str>,
    parent_id: Option<Cow<'a, str>>,
    segment_id: Cow<'a, str>,
    kind: &'static str,
    depth: u16,
    service: Cow<'a, str>,
    service_type: Option<Cow<'a, str>>,
    parent_service: Option<Cow<'a, str>>,
    parent_service_type: Option<Cow<'a, str>>,
    start_time: i64,
    end_time: Option<i64>,
    cause: Cause<'a>,
    exceptions: Vec<Exception<'a>>,
}

/// Plausible epoch seconds: 2000-01-01 to 2100-01-01. Anything else is a unit mistake.
const EPOCH_RANGE: std::ops::Range<f64> = 946_684_800.0..4_102_444_800.0;

/// Parses `text` and every subsegment below it into `nodes`; failures go to `rejected` as
/// (location suffix, reason) and skip that subtree only. `entries` is a buffer of the reader's.
pub fn flatten<'a>(
    text: &'a str,
    nodes: &mut Vec<Node<'a>>,
    rejected: &mut Vec<(String, String)>,
    entries: &mut Vec<Entry<'a>>,
) {
    entries.clear();
    if let Err(e) = read::read(text, entries) {
        rejected.push((String::new(), format!("not a valid segment document: {e}")));
        return;
    }
    // Entries come parents first: each becomes a node, unless it or an ancestor is rejected.
    for i in 0..entries.len() {
        let parent = match entries[i].parent {
            None => None,
            Some((p, _)) => match entries[p].node {
                Some(n) => Some(n),
                None => continue,
            },
        };
        let entry = &mut entries[i];
        let what = if entry.parent.is_some() {
            "not a valid subsegment"
        } else {
            "not a valid segment document"
        };
        let node = match entry.problem.take() {
            Some(problem) => Err(format!("{what}: {problem}")),
            None => node_from(
                std::mem::take(&mut entry.doc),
                entry.raw,
                parent.map(|n| &nodes[n]),
            ),
        };
        match node {
            Ok(node) => {
                entries[i].node = Some(nodes.len());
                nodes.push(node);
            }
            Err(reason) => {
                let below = entries[i].descendants;
                let reason = if below > 0 {
                    format!("{reason} (its {below} subsegments are skipped with it)")
                } else {
                    reason
                };
                rejected.push((path_text(entries, i), reason));
            }
        }
    }
}

/// `.subsegments[1].subsegments[0]`: where a rejected subsegment sits in its document.
fn path_text(entries: &[Entry<'_>], mut i: usize) -> String {
    let mut steps = Vec::new();
    while let Some((parent, index)) = entries[i].parent {
        steps.push(index);
        i = parent;
    }
    steps
        .iter()
        .rev()
        .map(|i| format!(".subsegments[{i}]"))
        .collect()
}

/// The node of `doc`, which it keeps (for `row`) without being moved again. A subsegment
/// inherits its trace, segment, depth and service from its `parent`'s node.
fn node_from<'a>(
    mut doc: SegmentDoc<'a>,
    raw: (&'a str, &'a str),
    parent: Option<&Node<'a>>,
) -> Result<Node<'a>, String> {
    let id = nonempty(doc.id.take()).ok_or("no `id`: every segment and subsegment needs one")?;
    if !is_segment_id(&id) {
        return Err(format!("`id` \"{id}\" {NOT_A_SEGMENT_ID}"));
    }
    let name = nonempty(doc.name.take()).ok_or_else(|| format!("{id}: no `name`"))?;
    let start = doc
        .start_time
        .ok_or_else(|| format!("{id}: no `start_time`"))?;
    if !EPOCH_RANGE.contains(&start) {
        return Err(format!(
            "{id}: start_time {start} is not epoch seconds between 2000 and 2100"
        ));
    }
    let start_time = micros_from_secs(start);
    let end_time = match doc.end_time {
        Some(end) if EPOCH_RANGE.contains(&end) && end >= start => Some(micros_from_secs(end)),
        Some(end) => {
            return Err(format!(
                "{id}: end_time {end} is not epoch seconds after start_time {start}"
            ));
        }
        None => None,
    };
    let (trace_id, parent_id, segment_id, depth, kind) = match parent {
        Some(p) => (
            p.trace_id.clone(),
            Some(p.id.clone()),
            p.segment_id.clone(),
            p.depth + 1,
            kind::SUBSEGMENT,
        ),
        None => {
            let trace_id =
                nonempty(doc.trace_id.take()).ok_or_else(|| format!("{id}: no `trace_id`"))?;
            if !is_trace_id(&trace_id) {
                return Err(format!(
                    "{id}: `trace_id` \"{trace_id}\" is not an X-Ray trace id: `1-`, 8 hex digits (epoch seconds), `-`, 24 hex digits, as in 1-5f187253-6a106696d56b1f4ef9eba2ed"
                ));
            }
            let parent_id = nonempty(doc.parent_id.take());
            if let Some(parent_id) = parent_id.as_deref().filter(|p| !is_segment_id(p)) {
                return Err(format!(
                    "{id}: `parent_id` \"{parent_id}\" {NOT_A_SEGMENT_ID}"
                ));
            }
            if doc.doc_type.as_deref() == Some("subsegment") {
                // An independent subsegment: its enclosing segment is not in this document.
                let enclosing = parent_id
                    .clone()
                    .ok_or_else(|| format!("{id}: independent subsegment without `parent_id`"))?;
                (trace_id, parent_id, enclosing, 1, kind::SUBSEGMENT)
            } else {
                let kind = if doc.inferred == Some(true) {
                    kind::INFERRED
                } else {
                    kind::SEGMENT
                };
                (trace_id, parent_id, id.clone(), 0, kind)
            }
        }
    };
    let (service, service_type) = node_of(&doc, &name, kind).unwrap_or_else(|| match parent {
        Some(p) => (p.service.clone(), p.service_type.clone()),
        None => (name.clone(), doc.origin.clone()),
    });
    let (cause, exceptions) = parse_cause(doc.cause);
    let (parent_service, parent_service_type) = match parent {
        Some(p) => (Some(p.service.clone()), p.service_type.clone()),
        None => (None, None),
    };
    Ok(Node {
        doc,
        raw,
        trace_id,
        id,
        name,
        parent_id,
        segment_id,
        kind,
        depth,
        service,
        service_type,
        parent_service,
        parent_service_type,
        start_time,
        end_time,
        cause,
        exceptions,
    })
}

/// Ids are how spans find their parents and logs find their traces: one X-Ray never emits would
/// join nothing (or the wrong thing), so the span is rejected rather than stored.
const NOT_A_SEGMENT_ID: &str = "is not an X-Ray segment id: 16 hex digits, as in 70de5b6f19ff9a0a";

/// `1-<8 hex>-<24 hex>`.
fn is_trace_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 35
        && b.starts_with(b"1-")
        && b[10] == b'-'
        && b[2..10].iter().chain(&b[11..]).all(u8::is_ascii_hexdigit)
}

fn is_segment_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

fn nonempty(s: Str<'_>) -> Str<'_> {
    s.filter(|s| !s.trim().is_empty())
}

fn parse_cause(raw: Option<&str>) -> (Cause<'_>, Vec<Exception<'_>>) {
    let Some(raw) = raw else {
        return (Cause::None, Vec::new());
    };
    match raw.as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<Text<'_>>(raw) {
            Ok(id) => (Cause::Reference(id.0), Vec::new()),
            Err(_) => (Cause::None, Vec::new()),
        },
        Some(b'{') => match serde_json::from_str::<CauseObject<'_>>(raw) {
            Ok(obj) => {
                let first = obj
                    .exceptions
                    .iter()
                    .find(|e| e.exception_type.is_some() || e.message.is_some());
                let cause = first.map_or(Cause::None, |e| {
                    Cause::Exception(e.exception_type.clone(), e.message.clone())
                });
                (cause, obj.exceptions)
            }
            Err(_) => (Cause::None, Vec::new()),
        },
        // Seen in the wild as a number: not a cause we can use; the span itself is fine.
        _ => (Cause::None, Vec::new()),
    }
}

/// Fills the parent node of segments whose parent (a subsegment of their caller) is in another
/// document of the same trace.
pub fn resolve_parent_services(nodes: &mut [Node<'_>]) {
    let wanted: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].parent_service.is_none() && nodes[i].parent_id.is_some())
        .collect();
    if wanted.is_empty() {
        return;
    }
    for i in wanted {
        let (trace, parent) = (&nodes[i].trace_id, nodes[i].parent_id.as_deref());
        let found = nodes
            .iter()
            .find(|n| Some(n.id.as_ref()) == parent && n.trace_id == *trace)
            .map(|n| (n.service.clone(), n.service_type.clone()));
        if let Some((service, service_type)) = found {
            nodes[i].parent_service = Some(service);
            nodes[i].parent_service_type = service_type;
        }
    }
}

/// Exception id -> (type, message) over one document, to resolve `cause` references.
pub type ExceptionIndex<'n> = HashMap<&'n str, (Option<&'n str>, Option<&'n str>)>;

pub fn exception_index<'n>(nodes: &'n [Node<'_>]) -> ExceptionIndex<'n> {
    let mut index = HashMap::new();
    for e in nodes.iter().flat_map(|n| &n.exceptions) {
        if let Some(id) = e.id.as_deref() {
            index.insert(id, (e.exception_type.as_deref(), e.message.as_deref()));
        }
    }
    index
}

impl Node<'_> {
    pub fn row<'n>(&'n self, exceptions: &ExceptionIndex<'n>) -> SpanRow<'n> {
        let d = &self.doc;
        let req = d.http.as_ref().and_then(|h| h.request.as_ref());
        let resp = d.http.as_ref().and_then(|h| h.response.as_ref());
        let aws = d.aws.as_ref();
        let sql = d.sql.as_ref();
        let (cause_type, cause_message) = match &self.cause {
            Cause::None => (None, None),
            Cause::Exception(t, m) => (t.as_deref(), m.as_deref()),
            Cause::Reference(id) => exceptions.get(id.as_ref()).copied().unwrap_or((None, None)),
        };
        SpanRow {
            trace_id: &self.trace_id,
            id: &self.id,
            parent_id: self.parent_id.as_deref(),
            segment_id: &self.segment_id,
            kind: self.kind,
            name: &self.name,
            namespace: d.namespace.as_deref(),
            origin: d.origin.as_deref(),
            service: &self.service,
            service_type: self.service_type.as_deref(),
            parent_service: self.parent_service.as_deref(),
            parent_service_type: self.parent_service_type.as_deref(),
            hop_caller: None,
            depth: self.depth,
            start_time: self.start_time,
            end_time: self.end_time,
            censored_end: None,
            critical_ms: None,
            hop_trace_critical_ms: None,
            dwell_ms: None,
            in_progress: self.end_time.is_none() || d.in_progress == Some(true),
            error: d.error,
            fault: d.fault,
            throttle: d.throttle,
            http_method: req.and_then(|r| r.method.as_deref()),
            http_url: req.and_then(|r| r.url.as_deref()),
            http_status: resp
                .and_then(|r| r.status)
                .and_then(|s| u16::try_from(s).ok()),
            http_content_length: resp.and_then(|r| r.content_length),
            aws_operation: aws.and_then(|a| a.operation.as_deref()),
            aws_region: aws.and_then(|a| a.region.as_deref()),
            aws_request_id: aws.and_then(|a| a.request_id.as_deref()),
            aws_account_id: aws.and_then(|a| a.account_id.as_deref()),
            aws_resource: aws.and_then(aws_resource),
            aws_retries: aws.and_then(|a| a.retries),
            resource_arn: d
                .resource_arn
                .as_deref()
                .or(aws.and_then(|a| a.function_arn.as_deref())),
            sql_url: sql.and_then(|s| s.url.as_deref()),
            sql_database_type: sql.and_then(|s| s.database_type.as_deref()),
            sql_sanitized_query: sql.and_then(|s| s.sanitized_query.as_deref()),
            cause_type,
            cause_message,
            annotations: d
                .annotations
                .iter()
                .filter_map(|(k, v)| annotation_text(v).map(|v| (k.as_ref(), v)))
                .collect(),
            metadata: d.metadata,
            user: d.user.as_deref(),
            raw: Some(self.raw.0),
            raw_rest: self.raw.1,
        }
    }
}

/// Annotation values are strings, numbers or booleans; stored as text. Strings are shown
/// unquoted (escaped strings keep their JSON form, which is rare in annotations).
fn annotation_text(s: &str) -> Option<&str> {
    match s.as_bytes().first() {
        Some(b'"') if !s.contains('\\') => Some(&s[1..s.len() - 1]),
        Some(b'n') => None,
        _ => Some(s),
    }
}

//! The segment document as X-Ray defines it, parsed leniently where real emitters disagree
//! (content_length as a string, cause as an id reference) and strictly where a span would be
//! meaningless without the field (ids, name, start_time).

use std::borrow::Cow;
use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};

use hopscope_schema::micros_from_secs;
use hopscope_schema::spans::{SpanRow, kind};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde_json::value::RawValue;

use super::node::{aws_resource, node_of};

type Str<'a> = Option<Cow<'a, str>>;

#[derive(Debug, Default, Deserialize)]
pub struct SegmentDoc<'a> {
    #[serde(borrow)]
    pub id: Str<'a>,
    #[serde(borrow)]
    pub trace_id: Str<'a>,
    #[serde(borrow)]
    pub parent_id: Str<'a>,
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(rename = "type", borrow)]
    pub doc_type: Str<'a>,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
    pub in_progress: Option<bool>,
    pub inferred: Option<bool>,
    #[serde(borrow)]
    pub namespace: Str<'a>,
    #[serde(borrow)]
    pub origin: Str<'a>,
    #[serde(default)]
    pub error: bool,
    #[serde(default)]
    pub fault: bool,
    #[serde(default)]
    pub throttle: bool,
    #[serde(borrow)]
    pub http: Option<Http<'a>>,
    #[serde(borrow)]
    pub aws: Option<Aws<'a>>,
    #[serde(borrow)]
    pub sql: Option<Sql<'a>>,
    #[serde(borrow)]
    pub resource_arn: Str<'a>,
    #[serde(borrow)]
    pub user: Str<'a>,
    pub cause: Option<&'a RawValue>,
    #[serde(borrow)]
    pub annotations: Option<BTreeMap<Cow<'a, str>, &'a RawValue>>,
    pub metadata: Option<&'a RawValue>,
    pub subsegments: Option<Vec<&'a RawValue>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Http<'a> {
    #[serde(borrow)]
    pub request: Option<HttpRequest<'a>>,
    pub response: Option<HttpResponse>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HttpRequest<'a> {
    #[serde(borrow)]
    pub method: Str<'a>,
    #[serde(borrow)]
    pub url: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HttpResponse {
    #[serde(default, deserialize_with = "lenient_i64")]
    pub status: Option<i64>,
    /// An integer, `-1`, or (real Node SDK 3.3.4) a string such as `"861"`.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub content_length: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Aws<'a> {
    #[serde(borrow)]
    pub operation: Str<'a>,
    #[serde(borrow)]
    pub region: Str<'a>,
    #[serde(borrow)]
    pub request_id: Str<'a>,
    #[serde(borrow)]
    pub account_id: Str<'a>,
    #[serde(borrow)]
    pub table_name: Str<'a>,
    #[serde(borrow)]
    pub bucket_name: Str<'a>,
    #[serde(borrow)]
    pub queue_url: Str<'a>,
    #[serde(borrow)]
    pub function_name: Str<'a>,
    #[serde(borrow)]
    pub topic_arn: Str<'a>,
    #[serde(borrow)]
    pub function_arn: Str<'a>,
    #[serde(default, borrow)]
    pub resource_names: Vec<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Sql<'a> {
    #[serde(borrow)]
    pub url: Str<'a>,
    #[serde(borrow)]
    pub database_type: Str<'a>,
    #[serde(borrow)]
    pub sanitized_query: Str<'a>,
}

#[derive(Debug, Deserialize)]
struct CauseObject<'a> {
    #[serde(default, borrow)]
    exceptions: Vec<Exception<'a>>,
}

#[derive(Debug, Deserialize)]
struct Exception<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    message: Str<'a>,
    #[serde(rename = "type", borrow)]
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
    /// Boxed: the document is most of a node's size, and nodes move (into the list, as it grows).
    doc: Box<SegmentDoc<'a>>,
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

/// What a subsegment inherits from its parent.
struct Parent<'a> {
    trace_id: Cow<'a, str>,
    id: Cow<'a, str>,
    segment_id: Cow<'a, str>,
    depth: u16,
    service: Cow<'a, str>,
    service_type: Option<Cow<'a, str>>,
}

/// Parses `text` and every subsegment below it into `nodes`; failures go to `rejected` as
/// (location suffix, reason) and skip that subtree only.
pub fn flatten<'a>(text: &'a str, nodes: &mut Vec<Node<'a>>, rejected: &mut Vec<(String, String)>) {
    let doc: Box<SegmentDoc<'a>> = match serde_json::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            rejected.push((String::new(), format!("not a valid segment document: {e}")));
            return;
        }
    };
    visit(doc, text, None, &mut Vec::new(), nodes, rejected);
}

/// `path` holds the subsegment indices leading to `doc`; it becomes text only on a rejection.
fn visit<'a>(
    mut doc: Box<SegmentDoc<'a>>,
    raw: &'a str,
    parent: Option<&Parent<'a>>,
    path: &mut Vec<usize>,
    nodes: &mut Vec<Node<'a>>,
    rejected: &mut Vec<(String, String)>,
) {
    let subsegments = doc.subsegments.take().unwrap_or_default();
    let node = match node_from(doc, own_text(raw, &subsegments), parent) {
        Ok(node) => node,
        Err(reason) => {
            let below = count_descendants(&subsegments);
            let reason = if below > 0 {
                format!("{reason} (its {below} subsegments are skipped with it)")
            } else {
                reason
            };
            rejected.push((path_text(path), reason));
            return;
        }
    };
    let me = Parent {
        trace_id: node.trace_id.clone(),
        id: node.id.clone(),
        segment_id: node.segment_id.clone(),
        depth: node.depth,
        service: node.service.clone(),
        service_type: node.service_type.clone(),
    };
    nodes.push(node);
    for (i, sub) in subsegments.into_iter().enumerate() {
        path.push(i);
        match serde_json::from_str::<Box<SegmentDoc<'a>>>(sub.get()) {
            Ok(sub_doc) => visit(sub_doc, sub.get(), Some(&me), path, nodes, rejected),
            Err(e) => rejected.push((path_text(path), format!("not a valid subsegment: {e}"))),
        }
        path.pop();
    }
}

/// `raw` without its subsegments, as the text before the first and after the last: each
/// subsegment is a row with its own `raw`, so a span stores its own fields once, not again in
/// every ancestor. Whole when there are none (or, defensively, when they are not slices of it).
fn own_text<'a>(raw: &'a str, subsegments: &[&'a RawValue]) -> (&'a str, &'a str) {
    let (Some(first), Some(last)) = (subsegments.first(), subsegments.last()) else {
        return (raw, "");
    };
    let base = raw.as_ptr() as usize;
    let start = (first.get().as_ptr() as usize).wrapping_sub(base);
    let end = (last.get().as_ptr() as usize + last.get().len()).wrapping_sub(base);
    match (raw.get(..start), raw.get(end..)) {
        (Some(head), Some(tail)) if start <= end => (head, tail),
        _ => (raw, ""),
    }
}

/// `.subsegments[1].subsegments[0]`: where a rejected subsegment sits in its document.
fn path_text(path: &[usize]) -> String {
    path.iter().map(|i| format!(".subsegments[{i}]")).collect()
}

fn count_descendants(subsegments: &[&RawValue]) -> usize {
    subsegments
        .iter()
        .map(|s| {
            1 + serde_json::from_str::<SegmentDoc<'_>>(s.get()).map_or(0, |d| {
                count_descendants(d.subsegments.as_deref().unwrap_or_default())
            })
        })
        .sum()
}

/// The node of `doc`, which it keeps (for `row`) without being moved again.
fn node_from<'a>(
    mut doc: Box<SegmentDoc<'a>>,
    raw: (&'a str, &'a str),
    parent: Option<&Parent<'a>>,
) -> Result<Node<'a>, String> {
    let id = nonempty(doc.id.take()).ok_or("no `id`: every segment and subsegment needs one")?;
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
            let parent_id = nonempty(doc.parent_id.take());
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

fn nonempty(s: Str<'_>) -> Str<'_> {
    s.filter(|s| !s.trim().is_empty())
}

fn parse_cause(raw: Option<&RawValue>) -> (Cause<'_>, Vec<Exception<'_>>) {
    let Some(raw) = raw else {
        return (Cause::None, Vec::new());
    };
    match raw.get().as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<Cow<'_, str>>(raw.get()) {
            Ok(id) => (Cause::Reference(id), Vec::new()),
            Err(_) => (Cause::None, Vec::new()),
        },
        Some(b'{') => match serde_json::from_str::<CauseObject<'_>>(raw.get()) {
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
                .flatten()
                .filter_map(|(k, v)| annotation_text(v).map(|v| (k.as_ref(), v)))
                .collect(),
            metadata: d.metadata.map(RawValue::get),
            user: d.user.as_deref(),
            raw: Some(self.raw.0),
            raw_rest: self.raw.1,
        }
    }
}

/// Annotation values are strings, numbers or booleans; stored as text. Strings are shown
/// unquoted (escaped strings keep their JSON form, which is rare in annotations).
fn annotation_text(v: &RawValue) -> Option<&str> {
    let s = v.get();
    match s.as_bytes().first() {
        Some(b'"') if !s.contains('\\') => Some(&s[1..s.len() - 1]),
        Some(b'n') => None,
        _ => Some(s),
    }
}

/// An integer given as a number, a float, or a numeric string; anything else is `None`.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct Lenient;
    impl<'de> Visitor<'de> for Lenient {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(i64::try_from(v).ok())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v as i64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.trim().parse().ok())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(Lenient)
}

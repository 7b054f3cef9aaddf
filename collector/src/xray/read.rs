//! Reads a segment document and every subsegment in it in one pass (jiter, a pull parser that
//! knows where it is), so each span's own text comes from the parser's positions.
//!
//! Every byte is read once, however deep the nesting: parsing each level's subsegments from
//! their raw text instead would scan a span at depth d d+1 times (benches/README.md has the
//! cost). Strings without escapes are borrowed from the document.
//!
//! A field of the wrong type makes its span (and the subsegments below it) invalid, with the
//! reason; its siblings and the rest of the document still go through. Invalid JSON anywhere
//! rejects the whole document, as there is no telling where its subsegments begin or end.

use std::borrow::Cow;

use jiter::{Jiter, JiterError, JiterResult, Peek};

use super::document::{Aws, Http, HttpRequest, HttpResponse, SegmentDoc, Sql, Str};

/// Subsegments nested deeper than this reject the document (the parser recurses per level).
const MAX_DEPTH: usize = 64;

/// One (sub)segment as read, in document order: a parent comes before its subsegments.
#[derive(Debug)]
pub struct Entry<'a> {
    pub doc: SegmentDoc<'a>,
    /// Its own text: before its subsegments, and after them (whole when it has none).
    pub raw: (&'a str, &'a str),
    /// Index of its parent in the entries, and its own index in the parent's `subsegments`.
    pub parent: Option<(usize, usize)>,
    /// Entries below it (they follow it directly).
    pub descendants: usize,
    /// Why it cannot be a span although the document is valid JSON: a field of the wrong
    /// type, or a subsegment that is not an object.
    pub problem: Option<String>,
    /// The node it became, once flattened.
    pub node: Option<usize>,
}

impl Entry<'_> {
    /// An entry to be filled in as its object is read (or, with a problem, one that is not).
    fn new(parent: Option<(usize, usize)>, problem: Option<String>) -> Self {
        Entry {
            doc: SegmentDoc::default(),
            raw: ("", ""),
            parent,
            descendants: 0,
            problem,
            node: None,
        }
    }
}

/// Appends the document in `text` and its subsegments to `entries`, in document order. On
/// invalid JSON, returns the parser's complaint with its line and column (and `entries` may
/// hold part of the document: the caller drops them).
pub fn read<'a>(text: &'a str, entries: &mut Vec<Entry<'a>>) -> Result<(), String> {
    let mut r = Reader {
        j: Jiter::new(text.as_bytes()),
        text,
    };
    let outcome = (|| {
        match r.j.peek()? {
            Peek::Object => r.object(None, 0, entries)?,
            other => {
                r.j.known_skip(other)?;
                return Ok(Err(format!("expected an object, found {}", kind(other))));
            }
        }
        r.j.finish()?;
        Ok(Ok(()))
    })();
    match outcome {
        Ok(result) => result,
        Err(e) => Err(r.describe(e)),
    }
}

struct Reader<'a> {
    j: Jiter<'a>,
    text: &'a str,
}

/// The keys of an object this importer reads; any other is `Other`.
macro_rules! keys {
    ($name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        enum $name {
            $($variant,)*
            Other,
        }
        impl $name {
            fn of(key: &str) -> Self {
                match key {
                    $($text => $name::$variant,)*
                    _ => $name::Other,
                }
            }
        }
    };
}

// The fields of a segment document.
keys!(Field {
    Id = "id",
    TraceId = "trace_id",
    ParentId = "parent_id",
    Name = "name",
    Type = "type",
    StartTime = "start_time",
    EndTime = "end_time",
    InProgress = "in_progress",
    Inferred = "inferred",
    Namespace = "namespace",
    Origin = "origin",
    Error = "error",
    Fault = "fault",
    Throttle = "throttle",
    Http = "http",
    Aws = "aws",
    Sql = "sql",
    ResourceArn = "resource_arn",
    User = "user",
    Cause = "cause",
    Annotations = "annotations",
    Metadata = "metadata",
    Subsegments = "subsegments",
});

impl<'a> Reader<'a> {
    /// Reads the object the parser is at (its `{` peeked) as a (sub)segment, then its
    /// subsegments after it.
    fn object(
        &mut self,
        parent: Option<(usize, usize)>,
        depth: usize,
        entries: &mut Vec<Entry<'a>>,
    ) -> JiterResult<()> {
        let me = entries.len();
        let start = self.j.current_index();
        entries.push(Entry::new(parent, None));
        let mut doc = SegmentDoc::default();
        let mut problem = None;
        let mut subsegments: Option<(usize, usize)> = None;
        let mut key = self.j.known_object()?.map(Field::of);
        while let Some(field) = key {
            let p = &mut problem;
            match field {
                Field::Id => doc.id = self.string("id", p)?,
                Field::TraceId => doc.trace_id = self.string("trace_id", p)?,
                Field::ParentId => doc.parent_id = self.string("parent_id", p)?,
                Field::Name => doc.name = self.string("name", p)?,
                Field::Type => doc.doc_type = self.string("type", p)?,
                Field::StartTime => doc.start_time = self.number("start_time", p)?,
                Field::EndTime => doc.end_time = self.number("end_time", p)?,
                Field::InProgress => doc.in_progress = self.flag("in_progress", p)?,
                Field::Inferred => doc.inferred = self.flag("inferred", p)?,
                Field::Namespace => doc.namespace = self.string("namespace", p)?,
                Field::Origin => doc.origin = self.string("origin", p)?,
                Field::Error => doc.error = self.flag("error", p)?.unwrap_or_default(),
                Field::Fault => doc.fault = self.flag("fault", p)?.unwrap_or_default(),
                Field::Throttle => doc.throttle = self.flag("throttle", p)?.unwrap_or_default(),
                Field::Http => doc.http = self.http(p)?,
                Field::Aws => doc.aws = self.aws(p)?,
                Field::Sql => doc.sql = self.sql(p)?,
                Field::ResourceArn => doc.resource_arn = self.string("resource_arn", p)?,
                Field::User => doc.user = self.string("user", p)?,
                Field::Cause => doc.cause = self.raw()?,
                Field::Metadata => doc.metadata = self.raw()?,
                Field::Annotations => doc.annotations = self.annotations(p)?,
                Field::Subsegments if subsegments.is_none() => {
                    subsegments = self.subsegments(me, depth, entries, p)?;
                }
                // A second `subsegments` (a broken emitter): its spans are left out, not merged.
                Field::Subsegments | Field::Other => self.j.next_skip()?,
            }
            key = self.j.next_key()?.map(Field::of);
        }
        let end = self.j.current_index();
        let descendants = entries.len() - me - 1;
        let entry = &mut entries[me];
        entry.raw = match subsegments {
            // Each subsegment is a row with its own `raw`: a span stores its own fields once,
            // not again in every ancestor.
            Some((first, last)) => (&self.text[start..first], &self.text[last..end]),
            None => (&self.text[start..end], ""),
        };
        entry.doc = doc;
        entry.problem = problem;
        entry.descendants = descendants;
        Ok(())
    }

    /// The subsegments array: its elements become entries; returns where the first begins and
    /// the last ends (`None` when empty or absent).
    fn subsegments(
        &mut self,
        me: usize,
        depth: usize,
        entries: &mut Vec<Entry<'a>>,
        problem: &mut Option<String>,
    ) -> JiterResult<Option<(usize, usize)>> {
        match self.j.peek()? {
            Peek::Array => {}
            Peek::Null => return self.j.known_null().map(|()| None),
            other => {
                return self
                    .wrong("subsegments", "an array", other, problem)
                    .map(|()| None);
            }
        }
        if depth >= MAX_DEPTH {
            return Err(JiterError {
                error_type: jiter::JiterErrorType::JsonError(
                    jiter::JsonErrorType::RecursionLimitExceeded,
                ),
                index: self.j.current_index(),
            });
        }
        let mut next = self.j.known_array()?;
        let first = self.j.current_index();
        let mut last = first;
        let mut index = 0;
        while let Some(peek) = next {
            if peek == Peek::Object {
                self.object(Some((me, index)), depth + 1, entries)?;
            } else {
                self.j.known_skip(peek)?;
                let problem = format!("expected an object, found {}", kind(peek));
                entries.push(Entry::new(Some((me, index)), Some(problem)));
            }
            last = self.j.current_index();
            index += 1;
            next = self.j.array_step()?;
        }
        Ok((index > 0).then_some((first, last)))
    }

    /// A string, borrowed from the document unless it holds escapes; `null` is absent.
    fn string(&mut self, field: &str, problem: &mut Option<String>) -> JiterResult<Str<'a>> {
        match self.j.peek()? {
            Peek::String => self.known_string().map(Some),
            Peek::Null => self.j.known_null().map(|()| None),
            other => self.wrong(field, "a string", other, problem).map(|()| None),
        }
    }

    fn known_string(&mut self) -> JiterResult<Cow<'a, str>> {
        let text = self.text;
        self.j.known_str().map(|s| lend(text, s))
    }

    /// A number (epoch seconds with or without a fraction or exponent); `null` is absent.
    fn number(&mut self, field: &str, problem: &mut Option<String>) -> JiterResult<Option<f64>> {
        match self.j.peek()? {
            peek if peek.is_num() => self.j.known_float(peek).map(Some),
            Peek::Null => self.j.known_null().map(|()| None),
            other => self.wrong(field, "a number", other, problem).map(|()| None),
        }
    }

    fn flag(&mut self, field: &str, problem: &mut Option<String>) -> JiterResult<Option<bool>> {
        match self.j.peek()? {
            peek @ (Peek::True | Peek::False) => self.j.known_bool(peek).map(Some),
            Peek::Null => self.j.known_null().map(|()| None),
            other => self
                .wrong(field, "true or false", other, problem)
                .map(|()| None),
        }
    }

    /// An integer given as a number, a float, or a numeric string (real Node SDK 3.3.4 writes
    /// `"content_length": "861"`); anything else is absent, never a problem.
    fn lenient_int(&mut self) -> JiterResult<Option<i64>> {
        match self.j.peek()? {
            peek if peek.is_num() => {
                let bytes = self.j.known_number_bytes(peek)?;
                let text = std::str::from_utf8(bytes).unwrap_or_default();
                Ok(text
                    .parse::<i64>()
                    .ok()
                    .or_else(|| text.parse::<f64>().ok().map(|f| f as i64)))
            }
            Peek::String => Ok(self.j.known_str()?.trim().parse().ok()),
            other => self.j.known_skip(other).map(|()| None),
        }
    }

    /// The value's JSON text; `null` is absent.
    fn raw(&mut self) -> JiterResult<Option<&'a str>> {
        let peek = self.j.peek()?;
        if peek == Peek::Null {
            return self.j.known_null().map(|()| None);
        }
        let start = self.j.current_index();
        self.j.known_skip(peek)?;
        Ok(Some(&self.text[start..self.j.current_index()]))
    }

    /// Skips a value of the wrong type, noting the first such field as the span's problem.
    fn wrong(
        &mut self,
        field: &str,
        expected: &str,
        found: Peek,
        problem: &mut Option<String>,
    ) -> JiterResult<()> {
        if problem.is_none() {
            *problem = Some(format!("`{field}` is {}, expected {expected}", kind(found)));
        }
        self.j.known_skip(found)
    }

    fn http(&mut self, problem: &mut Option<String>) -> JiterResult<Option<Http<'a>>> {
        self.fields(
            "http",
            HttpKey::of,
            problem,
            |r, key, http: &mut Http<'a>, p| {
                match key {
                    HttpKey::Request => http.request = r.http_request(p)?,
                    HttpKey::Response => http.response = r.http_response(p)?,
                    HttpKey::Other => r.j.next_skip()?,
                }
                Ok(())
            },
        )
    }

    /// An object field read key by key into a `T` by `set`: `None` when it is `null` or of the
    /// wrong type (skipped, and noted as the problem).
    fn fields<K, T: Default>(
        &mut self,
        field: &str,
        classify: impl Fn(&str) -> K + Copy,
        problem: &mut Option<String>,
        mut set: impl FnMut(&mut Self, K, &mut T, &mut Option<String>) -> JiterResult<()>,
    ) -> JiterResult<Option<T>> {
        let mut key = match self.j.peek()? {
            Peek::Object => self.j.known_object()?.map(classify),
            Peek::Null => return self.j.known_null().map(|()| None),
            other => {
                return self
                    .wrong(field, "an object", other, problem)
                    .map(|()| None);
            }
        };
        let mut value = T::default();
        while let Some(k) = key {
            set(self, k, &mut value, problem)?;
            key = self.j.next_key()?.map(classify);
        }
        Ok(Some(value))
    }

    fn http_request(
        &mut self,
        problem: &mut Option<String>,
    ) -> JiterResult<Option<HttpRequest<'a>>> {
        self.fields(
            "http.request",
            RequestKey::of,
            problem,
            |r, key, request: &mut HttpRequest<'a>, p| {
                match key {
                    RequestKey::Method => request.method = r.string("http.request.method", p)?,
                    RequestKey::Url => request.url = r.string("http.request.url", p)?,
                    RequestKey::Other => r.j.next_skip()?,
                }
                Ok(())
            },
        )
    }

    fn http_response(&mut self, problem: &mut Option<String>) -> JiterResult<Option<HttpResponse>> {
        self.fields(
            "http.response",
            ResponseKey::of,
            problem,
            |r, key, response: &mut HttpResponse, _| {
                match key {
                    ResponseKey::Status => response.status = r.lenient_int()?,
                    ResponseKey::ContentLength => response.content_length = r.lenient_int()?,
                    ResponseKey::Other => r.j.next_skip()?,
                }
                Ok(())
            },
        )
    }

    fn aws(&mut self, problem: &mut Option<String>) -> JiterResult<Option<Aws<'a>>> {
        self.fields(
            "aws",
            AwsKey::of,
            problem,
            |r, key, aws: &mut Aws<'a>, p| {
                match key {
                    AwsKey::Operation => aws.operation = r.string("aws.operation", p)?,
                    AwsKey::Region => aws.region = r.string("aws.region", p)?,
                    AwsKey::RequestId => aws.request_id = r.string("aws.request_id", p)?,
                    AwsKey::AccountId => aws.account_id = r.string("aws.account_id", p)?,
                    AwsKey::TableName => aws.table_name = r.string("aws.table_name", p)?,
                    AwsKey::BucketName => aws.bucket_name = r.string("aws.bucket_name", p)?,
                    AwsKey::QueueUrl => aws.queue_url = r.string("aws.queue_url", p)?,
                    AwsKey::FunctionName => aws.function_name = r.string("aws.function_name", p)?,
                    AwsKey::TopicArn => aws.topic_arn = r.string("aws.topic_arn", p)?,
                    AwsKey::FunctionArn => aws.function_arn = r.string("aws.function_arn", p)?,
                    AwsKey::ResourceNames => {
                        aws.resource_names = r.strings("aws.resource_names", p)?;
                    }
                    AwsKey::Retries => {
                        aws.retries = r.lenient_int()?.and_then(|n| u32::try_from(n).ok());
                    }
                    AwsKey::Other => r.j.next_skip()?,
                }
                Ok(())
            },
        )
    }

    fn strings(
        &mut self,
        field: &str,
        problem: &mut Option<String>,
    ) -> JiterResult<Vec<Cow<'a, str>>> {
        let mut out = Vec::new();
        match self.j.peek()? {
            Peek::Array => {
                let mut next = self.j.known_array()?;
                while let Some(peek) = next {
                    match peek {
                        Peek::String => out.push(self.known_string()?),
                        other => self.wrong(field, "a string", other, problem)?,
                    }
                    next = self.j.array_step()?;
                }
            }
            Peek::Null => self.j.known_null()?,
            other => self.wrong(field, "an array", other, problem)?,
        }
        Ok(out)
    }

    fn sql(&mut self, problem: &mut Option<String>) -> JiterResult<Option<Sql<'a>>> {
        self.fields(
            "sql",
            SqlKey::of,
            problem,
            |r, key, sql: &mut Sql<'a>, p| {
                match key {
                    SqlKey::Url => sql.url = r.string("sql.url", p)?,
                    SqlKey::DatabaseType => sql.database_type = r.string("sql.database_type", p)?,
                    SqlKey::SanitizedQuery => {
                        sql.sanitized_query = r.string("sql.sanitized_query", p)?;
                    }
                    SqlKey::Other => r.j.next_skip()?,
                }
                Ok(())
            },
        )
    }

    /// Annotation keys and their values as JSON text, by key (the last of a repeated key).
    fn annotations(
        &mut self,
        problem: &mut Option<String>,
    ) -> JiterResult<Vec<(Cow<'a, str>, &'a str)>> {
        let text = self.text;
        let read = self.fields(
            "annotations",
            |k| lend(text, k),
            problem,
            |r, key, out: &mut Vec<_>, _| {
                out.push((key, r.raw()?.unwrap_or("null")));
                Ok(())
            },
        )?;
        let mut out = read.unwrap_or_default();
        // As a JSON object reads: by key, a repeated key's last value winning.
        out.reverse();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.dedup_by(|later, kept| later.0 == kept.0);
        Ok(out)
    }

    /// The parser's complaint, positioned as line and column in the document.
    fn describe(&self, e: JiterError) -> String {
        let at = self.j.error_position(e.index);
        format!("{} at line {} column {}", e.error_type, at.line, at.column)
    }
}

keys!(HttpKey { Request = "request", Response = "response" });
keys!(RequestKey { Method = "method", Url = "url" });
keys!(ResponseKey { Status = "status", ContentLength = "content_length" });
keys!(SqlKey { Url = "url", DatabaseType = "database_type", SanitizedQuery = "sanitized_query" });
keys!(AwsKey {
    Operation = "operation",
    Region = "region",
    RequestId = "request_id",
    AccountId = "account_id",
    TableName = "table_name",
    BucketName = "bucket_name",
    QueueUrl = "queue_url",
    FunctionName = "function_name",
    TopicArn = "topic_arn",
    FunctionArn = "function_arn",
    ResourceNames = "resource_names",
    Retries = "retries",
});

/// `s` as a slice of `text` when it is one (jiter lends a slice of the document for a string
/// without escapes, else one of its own buffer, which the next call overwrites), else a copy.
fn lend<'a>(text: &'a str, s: &str) -> Cow<'a, str> {
    let offset = (s.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    match text.get(offset..offset.wrapping_add(s.len())) {
        Some(borrowed) if borrowed.as_ptr() == s.as_ptr() => Cow::Borrowed(borrowed),
        _ => Cow::Owned(s.to_owned()),
    }
}

/// "a string", "an object", ...: what the parser found where something else belonged.
fn kind(peek: Peek) -> &'static str {
    match peek {
        Peek::Null => "null",
        Peek::True | Peek::False => "a boolean",
        Peek::String => "a string",
        Peek::Array => "an array",
        Peek::Object => "an object",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<Entry<'_>> {
        let mut entries = Vec::new();
        read(text, &mut entries).unwrap();
        entries
    }

    #[test]
    fn each_span_keeps_its_own_text_and_subsegments_follow_their_parent() {
        let text = r#" {"id":"a","subsegments":[ {"id":"b","subsegments":[{"id":"c"}]} , {"id":"d"} ],"name":"n"}"#;
        let e = entries(text);
        let ids: Vec<_> = e.iter().map(|e| e.doc.id.as_deref().unwrap()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        let parents: Vec<_> = e.iter().map(|e| e.parent).collect();
        assert_eq!(parents, [None, Some((0, 0)), Some((1, 0)), Some((0, 1))]);
        assert_eq!(
            e[0].raw,
            (r#"{"id":"a","subsegments":[ "#, r#" ],"name":"n"}"#)
        );
        assert_eq!(e[1].raw, (r#"{"id":"b","subsegments":["#, "]}"));
        assert_eq!(e[2].raw, (r#"{"id":"c"}"#, ""));
        assert_eq!(e[0].descendants, 3);
        assert_eq!(e[0].doc.name.as_deref(), Some("n"));
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let e = entries(r#"{"id":"a","name":"x\"y","annotations":{"k\u0031":"v","k":1}}"#);
        assert!(matches!(e[0].doc.id, Some(Cow::Borrowed("a"))));
        assert!(matches!(&e[0].doc.name, Some(Cow::Owned(s)) if s == "x\"y"));
        let keys: Vec<_> = e[0]
            .doc
            .annotations
            .iter()
            .map(|(k, v)| (k.as_ref(), *v))
            .collect();
        assert_eq!(keys, [("k", "1"), ("k1", r#""v""#)]);
    }

    #[test]
    fn a_repeated_annotation_keeps_its_last_value() {
        let e = entries(r#"{"annotations":{"k":1,"j":2,"k":3}}"#);
        let keys: Vec<_> = e[0]
            .doc
            .annotations
            .iter()
            .map(|(k, v)| (k.as_ref(), *v))
            .collect();
        assert_eq!(keys, [("j", "2"), ("k", "3")]);
    }

    #[test]
    fn sdk_retries_are_read_as_a_count() {
        let e = entries(
            r#"{"id":"a","subsegments":[{"id":"b","aws":{"operation":"PutItem","retries":2}},{"id":"c","aws":{"retries":"1"}},{"id":"d","aws":{"retries":-1}}]}"#,
        );
        let retries: Vec<_> = e[1..]
            .iter()
            .map(|e| e.doc.aws.as_ref().and_then(|a| a.retries))
            .collect();
        assert_eq!(retries, [Some(2), Some(1), None]);
    }

    #[test]
    fn a_field_of_the_wrong_type_marks_only_its_span() {
        let e = entries(
            r#"{"id":"a","subsegments":[{"id":"b","start_time":"soon","aws":{"operation":7}},"x",{"id":"c"}]}"#,
        );
        assert_eq!(e[0].problem, None);
        assert_eq!(
            e[1].problem.as_deref(),
            Some("`start_time` is a string, expected a number")
        );
        assert_eq!(
            e[2].problem.as_deref(),
            Some("expected an object, found a string")
        );
        assert_eq!((e[3].problem.as_deref(), e[3].parent), (None, Some((0, 2))));
        let e = entries(r#"{"id":"a","subsegments":null}"#);
        assert_eq!((e.len(), e[0].problem.as_deref()), (1, None));
        let e = entries(r#"{"id":"a","subsegments":{}}"#);
        assert_eq!(
            e[0].problem.as_deref(),
            Some("`subsegments` is an object, expected an array")
        );
    }

    #[test]
    fn lenient_integers_take_numbers_floats_and_numeric_strings() {
        let e = entries(
            r#"{"http":{"response":{"status":"200 ","content_length":1.5e3}},"subsegments":[{"http":{"response":{"status":true,"content_length":-1}}}]}"#,
        );
        let response = |i: usize| {
            let r = e[i].doc.http.as_ref().unwrap().response.as_ref().unwrap();
            (r.status, r.content_length)
        };
        assert_eq!(response(0), (Some(200), Some(1500)));
        assert_eq!(response(1), (None, Some(-1)));
    }

    #[test]
    fn invalid_json_names_its_line_and_column() {
        let mut e = Vec::new();
        let err = read("{\"id\":\"a\",\n\"subsegments\":[{\"id\":}]}", &mut e).unwrap_err();
        assert!(err.ends_with("at line 2 column 22"), "{err}");
        let err = read(r#"{"id":"a"} trailing"#, &mut e).unwrap_err();
        assert!(err.contains("trailing"), "{err}");
        let err = read("[1]", &mut e).unwrap_err();
        assert_eq!(err, "expected an object, found an array");
    }

    #[test]
    fn nesting_past_the_limit_is_an_error_not_a_stack_overflow() {
        let deep = format!(
            "{}{}",
            r#"{"id":"a","subsegments":["#.repeat(100_000),
            "]}".repeat(100_000)
        );
        let err = read(&deep, &mut Vec::new()).unwrap_err();
        assert!(err.contains("recursion"), "{err}");
    }
}

//! X-Ray segment documents as the services and SDKs emit them, and the streaming writer of
//! BatchGetTraces responses.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

use crate::Error;
use crate::random::{MS, Micros};

/// A segment or subsegment. Fields are in the order the SDKs write them; absent ones are
/// skipped so documents stay as small as real ones.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Doc {
    pub id: String,
    pub name: String,
    pub start_time: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    #[serde(skip_serializing_if = "is_false")]
    pub in_progress: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'static str>,
    #[serde(skip_serializing_if = "is_false")]
    pub error: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub throttle: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub fault: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Http>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws: Option<Aws>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<Sql>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ApiGatewayAnnotations>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subsegments: Vec<Doc>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Doc {
    pub(crate) fn new(id: String, name: impl Into<String>, start: Micros, end: Micros) -> Self {
        Self {
            id,
            name: name.into(),
            start_time: Time(start),
            end_time: Some(Time(end)),
            ..Self::default()
        }
    }

    /// Marks an error (4xx), fault (5xx) or throttle (429) the way the SDKs do.
    pub(crate) fn flag_status(&mut self, status: u16) {
        match status {
            429 => {
                self.error = true;
                self.throttle = true;
            }
            400..=499 => self.error = true,
            500.. => self.fault = true,
            _ => {}
        }
    }

    /// Segments plus subsegments at every depth.
    pub(crate) fn span_count(&self) -> u64 {
        1 + self.subsegments.iter().map(Doc::span_count).sum::<u64>()
    }

    /// What the X-Ray SDK has sent when the Lambda sandbox is frozen at `cutoff` (a timeout):
    /// work started later is lost, work still running is left in progress.
    pub(crate) fn cut_at(&mut self, cutoff: Micros) {
        self.subsegments.retain(|s| s.start_time.0 < cutoff);
        if self.end_time.is_some_and(|end| end.0 > cutoff) {
            self.end_time = None;
            self.in_progress = true;
        }
        for sub in &mut self.subsegments {
            sub.cut_at(cutoff);
        }
    }
}

/// Epoch seconds with microsecond precision, as a JSON number.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Time(pub Micros);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0 as f64 / 1e6)
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Cause {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<&'static str>,
    pub exceptions: Vec<Exception>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Exception {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(skip_serializing_if = "is_false")]
    pub remote: bool,
}

#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Http {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_forwarded_for: Option<bool>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct HttpResponse {
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
}

impl Http {
    pub(crate) fn response(status: u16, content_length: Option<u64>) -> Self {
        Self {
            request: None,
            response: Some(HttpResponse {
                status,
                content_length,
            }),
        }
    }
}

/// The `aws` block: the union of the keys the services and SDKs write.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Aws {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_machine_arn: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_gateway: Option<ApiGateway>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecs: Option<Ecs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xray: Option<XraySdk>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ApiGateway {
    pub account_id: &'static str,
    pub rest_api_id: &'static str,
    pub stage: &'static str,
    pub request_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Ecs {
    pub container: String,
    pub container_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct XraySdk {
    pub sdk: &'static str,
    pub sdk_version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Sql {
    pub url: String,
    pub database_type: &'static str,
    pub database_version: &'static str,
    pub driver_version: &'static str,
    pub user: &'static str,
    pub sanitized_query: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ApiGatewayAnnotations {
    #[serde(rename = "aws:api_id")]
    pub api_id: &'static str,
    #[serde(rename = "aws:api_stage")]
    pub api_stage: &'static str,
}

/// One trace of a BatchGetTraces answer; `Document` is the segment JSON encoded as a string.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TraceOut<'a> {
    id: &'a str,
    duration: f64,
    limit_exceeded: bool,
    segments: Vec<SegmentOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SegmentOut<'a> {
    id: &'a str,
    document: String,
}

/// Writes traces to `traces/batch-NNNN.json`, `per_file` traces to a file, one trace a line,
/// never holding more than the current trace in memory.
pub(crate) struct TraceWriter {
    dir: PathBuf,
    per_file: usize,
    in_file: usize,
    files: usize,
    out: Option<(PathBuf, BufWriter<File>)>,
}

impl TraceWriter {
    pub(crate) fn new(dir: PathBuf, per_file: usize) -> Self {
        Self {
            dir,
            per_file,
            in_file: 0,
            files: 0,
            out: None,
        }
    }

    /// Writes one trace; returns its number of spans.
    pub(crate) fn write(&mut self, trace_id: &str, segments: &[Doc]) -> Result<u64, Error> {
        let start = segments.iter().map(|s| s.start_time.0).min().unwrap_or(0);
        let end = segments
            .iter()
            .map(|s| s.end_time.map_or(s.start_time.0, |t| t.0))
            .max()
            .unwrap_or(0);
        let trace = TraceOut {
            id: trace_id,
            // X-Ray reports trace durations in seconds, millisecond precision.
            duration: ((end - start) / MS) as f64 / 1e3,
            limit_exceeded: false,
            segments: segments
                .iter()
                .map(|s| SegmentOut {
                    id: &s.id,
                    document: serde_json::to_string(s).expect("documents serialize"),
                })
                .collect(),
        };
        if self.out.is_none() {
            self.files += 1;
            let path = self.dir.join(format!("batch-{:04}.json", self.files));
            let file = File::create(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let mut w = BufWriter::new(file);
            write_or(&path, &mut w, b"{\"Traces\":[\n")?;
            self.out = Some((path, w));
        }
        let (path, w) = self.out.as_mut().expect("opened above");
        if self.in_file > 0 {
            write_or(path, w, b",\n")?;
        }
        serde_json::to_writer(&mut *w, &trace).map_err(|e| Error::Write {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        self.in_file += 1;
        if self.in_file == self.per_file {
            self.close()?;
        }
        Ok(segments.iter().map(Doc::span_count).sum())
    }

    pub(crate) fn close(&mut self) -> Result<(), Error> {
        if let Some((path, mut w)) = self.out.take() {
            write_or(&path, &mut w, b"\n],\"UnprocessedTraceIds\":[]}\n")?;
            w.flush().map_err(|source| Error::Io { path, source })?;
        }
        self.in_file = 0;
        Ok(())
    }
}

/// `value` as pretty JSON with a final newline: how the generator writes an API answer.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<(), Error> {
    let file = File::create(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut w = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, value).map_err(|e| Error::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    write_or(path, &mut w, b"\n")?;
    w.flush().map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn write_or(path: &Path, w: &mut impl Write, bytes: &[u8]) -> Result<(), Error> {
    w.write_all(bytes).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

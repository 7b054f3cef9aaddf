//! Lambda functions: sandboxes (cold and warm starts), the two X-Ray segments of an invocation,
//! the matching CloudWatch Logs stream per sandbox, and per-minute CloudWatch metrics.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

mod versions;

use crate::random::{Latency, MS, Micros, Random, SEC, iso_ms, log_event_id};
use crate::sim::{ACCOUNT, REGION, Sim};
use crate::xray::{Aws, Cause, Doc, Exception, Http, XraySdk, write_json, write_or};
use crate::{Error, GenSummary};

/// Where [`Lambdas::finish`] writes the GetMetricData answer, under the output directory.
const METRICS_FILE: &str = "metrics/lambda.json";
/// Where [`Lambdas::finish`] writes each function's ListVersionsByFunction answer.
pub(crate) const FUNCTIONS_DIR: &str = "functions";

/// How long an idle sandbox is kept warm; Lambda does not publish it, 5 to 15 minutes is what
/// users observe.
const IDLE_KEEP: (Micros, Micros) = (5 * 60 * SEC, 15 * 60 * SEC);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    Python312,
    Nodejs20,
}

impl Runtime {
    fn version(self) -> &'static str {
        match self {
            Self::Python312 => "python:3.12.v38",
            Self::Nodejs20 => "nodejs:20.v45",
        }
    }

    fn sdk(self) -> XraySdk {
        match self {
            Self::Python312 => XraySdk {
                sdk: "X-Ray for Python",
                sdk_version: "2.14.0",
            },
            Self::Nodejs20 => XraySdk {
                sdk: "X-Ray for Node.js",
                sdk_version: "3.10.1",
            },
        }
    }
}

/// A function of an architecture and how it behaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FunctionSpec {
    pub name: &'static str,
    pub runtime: Runtime,
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub init: Latency,
    /// Max Memory Used range, MB.
    pub memory_used_mb: (u64, u64),
    /// The published version the caller invokes; `None` invokes `$LATEST`.
    pub version: Option<u32>,
    /// Repeated publishing from the incident start on (the `cold_start` incident).
    pub deploy_storm: Option<DeployStorm>,
}

/// New versions published every `every_s` seconds (a range), each with a heavier `init`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeployStorm {
    pub every_s: (u64, u64),
    pub init: Latency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

/// How an invocation ended, as the handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The handler returned (possibly an HTTP error response it built itself).
    Returned,
    /// The handler raised; Lambda reports a function error.
    Raised { kind: String, message: String },
}

/// The handler's view of one invocation: when it starts, and what it records.
pub(crate) struct Invocation {
    pub start: Micros,
    pub subsegments: Vec<Doc>,
    pub outcome: Outcome,
    logs: Vec<(Micros, Level, String)>,
}

impl Invocation {
    pub(crate) fn log(&mut self, t: Micros, level: Level, message: impl Into<String>) {
        self.logs.push((t, level, message.into()));
    }
}

/// What the caller sees of an invocation.
pub(crate) struct Invoked {
    /// When the `AWS::Lambda` segment ends: the caller has its answer.
    pub end: Micros,
    /// A function error or a timeout.
    pub failed: bool,
}

struct Sandbox {
    version: Option<u32>,
    /// False after a timeout: Lambda resets the sandbox, the next request starts cold.
    reusable: bool,
    busy_until: Micros,
    idle_keep: Micros,
    memory_used_mb: u64,
    log: LogStream,
}

/// One CloudWatch Logs stream, written as one subscription DATA_MESSAGE file as it grows.
struct LogStream {
    path: PathBuf,
    w: BufWriter<File>,
    events: u64,
    id_base: u128,
}

#[derive(Serialize)]
struct LogEvent<'a> {
    id: String,
    timestamp: i64,
    message: &'a str,
}

impl LogStream {
    fn create(path: PathBuf, group: &str, stream: &str, id_base: u128) -> Result<Self, Error> {
        let file = File::create(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let mut w = BufWriter::new(file);
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Header<'a> {
            message_type: &'a str,
            owner: &'a str,
            log_group: &'a str,
            log_stream: &'a str,
            subscription_filters: [&'a str; 1],
        }
        let header = serde_json::to_string(&Header {
            message_type: "DATA_MESSAGE",
            owner: ACCOUNT,
            log_group: group,
            log_stream: stream,
            subscription_filters: ["hopscope"],
        })
        .expect("header serializes");
        // Reopen the object to append the events array, written as they happen.
        write_or(&path, &mut w, &header.as_bytes()[..header.len() - 1])?;
        write_or(&path, &mut w, b",\"logEvents\":[\n")?;
        Ok(Self {
            path,
            w,
            events: 0,
            id_base,
        })
    }

    fn event(&mut self, t: Micros, message: &str) -> Result<(), Error> {
        let timestamp = t.div_euclid(MS);
        let event = LogEvent {
            id: log_event_id(timestamp, self.id_base + u128::from(self.events)),
            timestamp,
            message,
        };
        if self.events > 0 {
            write_or(&self.path, &mut self.w, b",\n")?;
        }
        serde_json::to_writer(&mut self.w, &event).map_err(|e| Error::Write {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        self.events += 1;
        Ok(())
    }

    fn close(mut self) -> Result<u64, Error> {
        write_or(&self.path, &mut self.w, b"\n]}\n")?;
        self.w.flush().map_err(|source| Error::Io {
            path: self.path,
            source,
        })?;
        Ok(self.events)
    }
}

#[derive(Default)]
struct Minute {
    invocations: u64,
    errors: u64,
    durations_ms: Vec<f64>,
    max_concurrency: u64,
}

struct Function {
    spec: FunctionSpec,
    arn: String,
    runtime_arn: String,
    deploys: Vec<Micros>,
    sandboxes: Vec<Sandbox>,
    streams: u64,
    minutes: Vec<Minute>,
}

impl Function {
    fn version_at(&self, t: Micros) -> Option<u32> {
        let published = self.deploys.partition_point(|&d| d <= t) as u32;
        match self.spec.version {
            Some(v) => Some(v + published),
            None if published > 0 => Some(published),
            None => None,
        }
    }

    fn init_at(&self, t: Micros) -> Latency {
        match self.spec.deploy_storm {
            Some(storm) if self.deploys.first().is_some_and(|&d| d <= t) => storm.init,
            _ => self.spec.init,
        }
    }
}

/// All functions of a scenario, their sandboxes and open log streams.
pub(crate) struct Lambdas {
    dir: PathBuf,
    window_start: Micros,
    functions: Vec<Function>,
    log_events: u64,
    invocations: u64,
}

impl Lambdas {
    pub(crate) fn new(
        rnd: &mut crate::random::Random,
        dir: PathBuf,
        specs: &[FunctionSpec],
        window_start: Micros,
        incident: (Micros, Micros),
    ) -> Self {
        let functions = specs
            .iter()
            .map(|&spec| {
                let mut deploys = Vec::new();
                if let Some(storm) = spec.deploy_storm {
                    let mut t = incident.0;
                    while t < incident.1 {
                        deploys.push(t);
                        t += rnd.range(storm.every_s.0, storm.every_s.1) as Micros * SEC;
                    }
                }
                Function {
                    arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", spec.name),
                    runtime_arn: format!("arn:aws:lambda:{REGION}::runtime:{}", rnd.hex(64)),
                    spec,
                    deploys,
                    sandboxes: Vec::new(),
                    streams: 0,
                    minutes: Vec::new(),
                }
            })
            .collect();
        Self {
            dir,
            window_start,
            functions,
            log_events: 0,
            invocations: 0,
        }
    }

    pub(crate) fn index(&self, name: &str) -> usize {
        self.functions
            .iter()
            .position(|f| f.spec.name == name)
            .unwrap_or_else(|| panic!("function {name} is declared by its architecture"))
    }

    /// Closes every log stream, writes `metrics/lambda.json` and `functions/<function>.json`
    /// (drawing from `rnd` after every trace, so no other file depends on them), and counts
    /// what was written into `summary`.
    pub(crate) fn finish(
        self,
        rnd: &mut Random,
        out_dir: &Path,
        summary: &mut GenSummary,
    ) -> Result<(), Error> {
        summary.metric_points = write_metrics(
            &out_dir.join(METRICS_FILE),
            self.window_start,
            &self.functions,
        )?;
        summary.function_configurations = versions::write(
            &out_dir.join(FUNCTIONS_DIR),
            rnd,
            self.window_start,
            &self.functions,
        )?;
        for function in self.functions {
            for sandbox in function.sandboxes {
                sandbox.log.close()?;
            }
        }
        summary.log_events = self.log_events;
        summary.invocations = self.invocations;
        Ok(())
    }
}

impl Sim {
    /// Invokes function `f` at `start` (when the Lambda service receives the request):
    /// picks or starts a sandbox, runs `handler` from the handler start time, and records the
    /// `AWS::Lambda` and `AWS::Lambda::Function` segments, the log events and the metrics.
    /// `parent_id` is the caller's subsegment, `None` for event sources that do not trace.
    pub(crate) fn invoke(
        &mut self,
        f: usize,
        start: Micros,
        parent_id: Option<String>,
        invocation_type: &'static str,
        handler: impl FnOnce(&mut Sim, &mut Invocation) -> Result<Micros, Error>,
    ) -> Result<Invoked, Error> {
        let (slot, cold_init, concurrency) = self.pick_sandbox(f, start)?;
        let function = &self.lambdas.functions[f];
        let spec = function.spec;
        let arn = function.arn.clone();
        let runtime_arn = function.runtime_arn.clone();
        let version = function.sandboxes[slot].version;

        let lambda_id = self.rnd.id16();
        let function_id = self.rnd.id16();
        let request_id = self.rnd.uuid();
        let function_start = start + self.rnd.between(150, 900);
        let mut function_doc = Doc::new(function_id.clone(), spec.name, function_start, 0);
        let mut handler_start = function_start;
        if let Some(init) = cold_init {
            let mut doc = Doc::new(
                self.rnd.id16(),
                "Initialization",
                function_start,
                function_start + init,
            );
            doc.aws = Some(function_arn_block(&arn));
            function_doc.subsegments.push(doc);
            handler_start = function_start + init + self.rnd.between(50, 400);
        }

        let mut invocation = Invocation {
            start: handler_start,
            subsegments: Vec::new(),
            outcome: Outcome::Returned,
            logs: Vec::new(),
        };
        let handler_end = handler(self, &mut invocation)?;

        let timeout = Micros::from(spec.timeout_s) * SEC;
        let timed_out = handler_end - handler_start > timeout;
        let mut invocation_doc = Doc::new(self.rnd.id16(), "Invocation", handler_start, 0);
        invocation_doc.aws = Some(function_arn_block(&arn));
        invocation_doc.subsegments = std::mem::take(&mut invocation.subsegments);
        let function_end = if timed_out {
            // Lambda stops the sandbox at the timeout: calls still open then never end, and
            // nothing the handler would have done afterwards happens.
            let cutoff = handler_start + timeout;
            invocation_doc.cut_at(cutoff);
            invocation_doc.end_time = Some(crate::xray::Time(cutoff));
            function_doc.subsegments.push(invocation_doc);
            cutoff
        } else {
            invocation_doc.end_time = Some(crate::xray::Time(handler_end));
            function_doc.subsegments.push(invocation_doc);
            let overhead_end = handler_end + self.rnd.between(100, 600);
            let mut overhead = Doc::new(self.rnd.id16(), "Overhead", handler_end, overhead_end);
            overhead.aws = Some(function_arn_block(&arn));
            function_doc.subsegments.push(overhead);
            overhead_end
        };
        let lambda_end = function_end + self.rnd.between(200, 1_500);

        let timeout_message = format!("Task timed out after {}.00 seconds", spec.timeout_s);
        let failure = match (&invocation.outcome, timed_out) {
            (_, true) => Some((
                "Sandbox.Timedout".to_owned(),
                format!("RequestId: {request_id} Error: {timeout_message}"),
            )),
            (Outcome::Raised { kind, message }, false) => Some((kind.clone(), message.clone())),
            (Outcome::Returned, false) => None,
        };

        function_doc.end_time = Some(crate::xray::Time(function_end));
        function_doc.trace_id = Some(self.trace_id.clone());
        function_doc.parent_id = Some(lambda_id.clone());
        function_doc.origin = Some("AWS::Lambda::Function");
        function_doc.aws = Some(Aws {
            account_id: Some(ACCOUNT),
            function_arn: Some(arn.clone()),
            resource_names: vec![spec.name.to_owned()],
            xray: Some(spec.runtime.sdk()),
            ..Aws::default()
        });
        if let Some((kind, message)) = &failure {
            function_doc.fault = true;
            function_doc.cause = Some(Cause {
                working_directory: Some("/var/task"),
                exceptions: vec![Exception {
                    id: self.rnd.id16(),
                    kind: kind.clone(),
                    message: message.clone(),
                    remote: false,
                }],
            });
        }

        let mut lambda_doc = Doc::new(lambda_id, spec.name, start, lambda_end);
        lambda_doc.trace_id = Some(self.trace_id.clone());
        lambda_doc.parent_id = parent_id;
        lambda_doc.origin = Some("AWS::Lambda");
        lambda_doc.resource_arn = Some(arn);
        lambda_doc.error = failure.is_some();
        lambda_doc.http = Some(Http::response(
            if invocation_type == "Event" { 202 } else { 200 },
            None,
        ));
        lambda_doc.aws = Some(Aws {
            request_id: Some(request_id.clone()),
            ..Aws::default()
        });
        self.segments.push(lambda_doc);
        self.segments.push(function_doc);

        // The log events of this invocation, in the order Lambda writes them.
        let duration_ms = if timed_out {
            timeout as f64 / 1e3
        } else {
            (function_end - handler_start) as f64 / 1e3
        };
        let init_ms = cold_init.map(|init| init as f64 / 1e3);
        let sandbox_memory = self.lambdas.functions[f].sandboxes[slot].memory_used_mb;
        let memory_used = sandbox_memory + self.rnd.range(0, 6);
        let version_label = version.map_or_else(|| "$LATEST".to_owned(), |v| v.to_string());
        let mut events: Vec<(Micros, String)> = Vec::new();
        if cold_init.is_some() {
            events.push((
                function_start,
                format!(
                    "INIT_START Runtime Version: {}\tRuntime Version ARN: {runtime_arn}\n",
                    spec.runtime.version()
                ),
            ));
        }
        events.push((
            handler_start,
            format!("START RequestId: {request_id} Version: {version_label}\n"),
        ));
        for (t, level, message) in std::mem::take(&mut invocation.logs) {
            if t < function_end {
                events.push((t, app_line(spec.runtime, t, &request_id, level, &message)));
            }
        }
        if let (Outcome::Raised { kind, message }, false) = (&invocation.outcome, timed_out) {
            events.push((
                handler_end,
                raised_line(spec.runtime, handler_end, &request_id, kind, message),
            ));
        }
        events.push((function_end, format!("END RequestId: {request_id}\n")));
        let billed = (duration_ms + init_ms.unwrap_or(0.0)).ceil() as u64;
        let mut report = format!(
            "REPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {memory_used} MB\t",
            spec.memory_mb
        );
        if let Some(init_ms) = init_ms {
            report.push_str(&format!("Init Duration: {init_ms:.2} ms\t"));
        }
        if timed_out {
            report.push_str("Status: timeout\t");
        }
        report.push_str(&format!(
            "\nXRAY TraceId: {}\tSegmentId: {function_id}\tSampled: true\t\n",
            self.trace_id
        ));
        events.push((function_end, report));
        if timed_out {
            events.push((
                function_end,
                format!(
                    "{} {request_id} {timeout_message}\n\n",
                    iso_ms(function_end)
                ),
            ));
        }

        let function = &mut self.lambdas.functions[f];
        let sandbox = &mut function.sandboxes[slot];
        sandbox.busy_until = lambda_end;
        sandbox.reusable = !timed_out;
        for (t, message) in &events {
            sandbox.log.event(*t, message)?;
        }
        self.lambdas.log_events += events.len() as u64;
        self.lambdas.invocations += 1;

        let minute =
            usize::try_from((handler_start - self.lambdas.window_start) / (60 * SEC)).unwrap_or(0);
        if function.minutes.len() <= minute {
            function.minutes.resize_with(minute + 1, Minute::default);
        }
        let m = &mut function.minutes[minute];
        m.invocations += 1;
        m.errors += u64::from(failure.is_some());
        m.durations_ms.push(duration_ms);
        m.max_concurrency = m.max_concurrency.max(concurrency);

        Ok(Invoked {
            end: lambda_end,
            failed: failure.is_some(),
        })
    }

    /// Returns the sandbox slot for an invocation at `t`, the init duration when it is a new
    /// (cold) sandbox, and how many sandboxes are busy including this one.
    fn pick_sandbox(&mut self, f: usize, t: Micros) -> Result<(usize, Option<Micros>, u64), Error> {
        let function = &mut self.lambdas.functions[f];
        let version = function.version_at(t);
        // Sandboxes of an older version or idle too long are never used again: close their
        // streams now so open files stay bounded by concurrency.
        let mut i = 0;
        while i < function.sandboxes.len() {
            let s = &function.sandboxes[i];
            let stale = s.busy_until <= t
                && (!s.reusable || s.version != version || s.busy_until + s.idle_keep < t);
            if stale {
                function.sandboxes.swap_remove(i).log.close()?;
            } else {
                i += 1;
            }
        }
        let busy = function
            .sandboxes
            .iter()
            .filter(|s| s.busy_until > t)
            .count() as u64;
        // Lambda prefers the most recently used warm sandbox.
        let warm = function
            .sandboxes
            .iter()
            .enumerate()
            .filter(|(_, s)| s.busy_until <= t)
            .max_by_key(|(i, s)| (s.busy_until, std::cmp::Reverse(*i)))
            .map(|(i, _)| i);
        if let Some(slot) = warm {
            function.sandboxes[slot].busy_until = Micros::MAX;
            return Ok((slot, None, busy + 1));
        }
        let init = self.rnd.latency(function.init_at(t));
        function.streams += 1;
        let version_label = version.map_or_else(|| "$LATEST".to_owned(), |v| v.to_string());
        let date = chrono::DateTime::from_timestamp_micros(t)
            .expect("generated times are in range")
            .format("%Y/%m/%d");
        let stream = format!("{date}/[{version_label}]{}", self.rnd.hex(32));
        let path = self.lambdas.dir.join(format!(
            "{}-{:04}.json",
            function.spec.name, function.streams
        ));
        let id_base = u128::from(self.rnd.u64()) << 56;
        let log = LogStream::create(
            path,
            &format!("/aws/lambda/{}", function.spec.name),
            &stream,
            id_base,
        )?;
        let (low, high) = function.spec.memory_used_mb;
        function.sandboxes.push(Sandbox {
            version,
            reusable: true,
            busy_until: Micros::MAX,
            idle_keep: self.rnd.between(IDLE_KEEP.0, IDLE_KEEP.1),
            memory_used_mb: self.rnd.range(low, high),
            log,
        });
        Ok((function.sandboxes.len() - 1, Some(init), busy + 1))
    }
}

fn function_arn_block(arn: &str) -> Aws {
    Aws {
        function_arn: Some(arn.to_owned()),
        ..Aws::default()
    }
}

/// An application log line as the runtime's default logger formats it.
fn app_line(runtime: Runtime, t: Micros, request_id: &str, level: Level, message: &str) -> String {
    let ts = iso_ms(t);
    match runtime {
        Runtime::Python312 => {
            let level = match level {
                Level::Info => "INFO",
                Level::Warn => "WARNING",
                Level::Error => "ERROR",
            };
            format!("[{level}]\t{ts}\t{request_id}\t{message}\n")
        }
        Runtime::Nodejs20 => {
            let level = match level {
                Level::Info => "INFO",
                Level::Warn => "WARN",
                Level::Error => "ERROR",
            };
            format!("{ts}\t{request_id}\t{level}\t{message}\n")
        }
    }
}

/// The runtime's report of an uncaught exception.
fn raised_line(runtime: Runtime, t: Micros, request_id: &str, kind: &str, message: &str) -> String {
    match runtime {
        // The Python runtime indents the traceback with no-break spaces and ends without a newline.
        Runtime::Python312 => format!(
            "[ERROR] {kind}: {message}\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/app.py\", line 48, in handler\n\u{a0}\u{a0}\u{a0}\u{a0}return process(event)\n"
        ),
        Runtime::Nodejs20 => {
            let detail = serde_json::json!({
                "errorType": kind,
                "errorMessage": message,
                "stack": [format!("{kind}: {message}"), "    at handler (/var/task/index.js:14:27)"],
            });
            format!(
                "{}\t{request_id}\tERROR\tInvoke Error \t{detail}\n",
                iso_ms(t)
            )
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricFile<'a> {
    start_time: String,
    end_time: String,
    scan_by: &'a str,
    metric_data_queries: Vec<Query<'a>>,
    metric_data_results: Vec<MetricResult<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Query<'a> {
    id: String,
    metric_stat: MetricStat<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricStat<'a> {
    metric: Metric<'a>,
    period: u32,
    stat: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metric<'a> {
    namespace: &'a str,
    metric_name: &'a str,
    dimensions: [Dimension<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Dimension<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricResult<'a> {
    id: String,
    label: &'a str,
    timestamps: Vec<String>,
    values: Vec<f64>,
    status_code: &'a str,
    messages: [(); 0],
}

/// The statistics written per function, in query order.
const STATS: [(&str, &str); 6] = [
    ("Invocations", "Sum"),
    ("Errors", "Sum"),
    ("Throttles", "Sum"),
    ("Duration", "Average"),
    ("Duration", "p99"),
    ("ConcurrentExecutions", "Maximum"),
];

/// Writes the GetMetricData request and answer; returns the number of data points. Lambda only
/// publishes a minute in which the function ran, so idle minutes have no point.
fn write_metrics(path: &Path, window_start: Micros, functions: &[Function]) -> Result<u64, Error> {
    let minute_stamp = |i: usize| iso_seconds(window_start + i as Micros * 60 * SEC);
    let mut queries = Vec::new();
    let mut results = Vec::new();
    let mut points = 0;
    let mut last_minute = 0;
    for function in functions {
        last_minute = last_minute.max(function.minutes.len());
        for (metric, stat) in STATS {
            let id = format!("m{}", queries.len());
            let mut timestamps = Vec::new();
            let mut values = Vec::new();
            for (i, m) in function.minutes.iter().enumerate() {
                if m.invocations == 0 {
                    continue;
                }
                let value = match (metric, stat) {
                    ("Invocations", _) => m.invocations as f64,
                    ("Errors", _) => m.errors as f64,
                    ("Throttles", _) => 0.0,
                    ("Duration", "Average") => {
                        m.durations_ms.iter().sum::<f64>() / m.durations_ms.len() as f64
                    }
                    ("Duration", _) => percentile(&m.durations_ms, 0.99),
                    _ => m.max_concurrency as f64,
                };
                timestamps.push(minute_stamp(i));
                values.push((value * 100.0).round() / 100.0);
            }
            points += values.len() as u64;
            queries.push(Query {
                id: id.clone(),
                metric_stat: MetricStat {
                    metric: Metric {
                        namespace: "AWS/Lambda",
                        metric_name: metric,
                        dimensions: [Dimension {
                            name: "FunctionName",
                            value: function.spec.name,
                        }],
                    },
                    period: 60,
                    stat,
                },
            });
            results.push(MetricResult {
                id,
                label: metric,
                timestamps,
                values,
                status_code: "Complete",
                messages: [],
            });
        }
    }
    let file = MetricFile {
        start_time: minute_stamp(0),
        end_time: minute_stamp(last_minute),
        scan_by: "TimestampAscending",
        metric_data_queries: queries,
        metric_data_results: results,
    };
    write_json(path, &file)?;
    Ok(points)
}

fn iso_seconds(t: Micros) -> String {
    chrono::DateTime::from_timestamp_micros(t)
        .expect("generated times are in range")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Nearest-rank percentile, the definition CloudWatch uses for small samples.
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

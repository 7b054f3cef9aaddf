"""The AWS test peer: moto in-process, behind a small adapter that makes it answer like AWS for
what hopscope's collector calls, and injects faults on request.

Why an adapter (observed with moto 5.2 and the Rust SDK, see shared/notes/aws-test-peer.md):
- GetTraceSummaries: moto answers `"Users": {}` (the SDK wants a list), never pages, fails on any
  FilterExpression and keeps only traces strictly inside the range. The adapter answers it from
  moto's own X-Ray store with the API's semantics: traces whose first segment starts in
  [StartTime, EndTime], ServiceIds from segment names and origins, FilterExpression recorded and
  not applied, pages when a page size is set.
- CloudWatch: the Rust SDK speaks Smithy RPC v2 CBOR, moto only Query and JSON 1.0. The adapter
  translates each CBOR call to JSON 1.0 and the answer back to CBOR, gunzipping bodies the SDK
  compressed (large PutMetricData requests). moto's GetMetricData refuses
  percentile statistics, so the adapter answers GetMetricData itself from the PutMetricData calls it
  forwarded (per-period Sum/Minimum/Maximum/Average/SampleCount/pNN).

X-Ray with Transaction Search, per account and Region (the X-Ray API reference,
https://docs.aws.amazon.com/xray/latest/api/, and botocore's service model of X-Ray, which the SDKs
share, for the limits):
- GetTraceSegmentDestination / UpdateTraceSegmentDestination {"Destination": "XRay" |
  "CloudWatchLogs"} -> {"Destination", "Status": "ACTIVE"}. "XRay" until updated; anything else is
  InvalidRequestException (400).
- In the CloudWatchLogs world every PutTraceSegments document moto accepts also goes to the log
  group aws/spans (stream "default", created with the destination) as OpenTelemetry span records,
  one log event per span timestamped at the span's start (milliseconds), so FilterLogEvents and its
  paging serve them: the segment (kind SERVER) and each nested subsegment (CLIENT when its
  namespace is aws or remote, else INTERNAL; an independent subsegment document is one span under
  its parent_id). Each record: resource.attributes {cloud.provider aws, cloud.region, service.name
  (the segment's name), cloud.platform from the origin (aws_lambda, aws_ec2, aws_ecs, aws_eks,
  aws_elastic_beanstalk), cloud.resource_id from resource_arn or aws.function_arn}, scope {name
  aws.xray, version 1.0}, traceId (the X-Ray id's 8 + 24 hex digits), spanId, parentSpanId (absent
  on a segment without parent_id), flags (768 for a segment with a remote parent, else 256), name,
  kind, startTimeUnixNano / endTimeUnixNano / durationNano as JSON integers exact to the digits
  the document was written with (no endTimeUnixNano or durationNano while in progress), attributes
  {aws.local.service (segment name), aws.xray.origin (segments), aws.xray.namespace, for namespace
  aws: rpc.system aws-api, rpc.service, rpc.method and aws.remote.operation (aws.operation),
  aws.remote.service AWS::<name>; for remote: aws.remote.service <name>; aws.request_id,
  http.method / http.request.method, http.url / url.full, http.status_code /
  http.response.status_code, and the annotations under their own keys}, status {code ERROR if
  fault or error is true, else UNSET; message: the first cause exception's}. The format follows
  the aws/spans records in shared/corpus/otel-spans; how AWS itself converts X-Ray segments is not
  documented, so the attribute names beyond those are the peer's.
- GetIndexingRules -> {"IndexingRules": [{"Name": "Default", "ModifiedAt", "Rule": {"Probabilistic":
  {"DesiredSamplingPercentage", "ActualSamplingPercentage"}}}]}, 1% until UpdateIndexingRule
  {"Name": "Default", "Rule": {"Probabilistic": {"DesiredSamplingPercentage": 0..100}}} -> {"IndexingRule"}
  (another Name: ResourceNotFoundException 404; a percentage outside 0..100: InvalidRequestException).
  In the CloudWatchLogs world GetTraceSummaries summarises only the indexed share: trace ids whose
  sha256 hex digest's first 8 digits, as a number, mod 10000 is below the percentage * 100.
- StartTraceRetrieval {"TraceIds", "StartTime", "EndTime"} -> {"RetrievalToken"}. TraceIds: at
  most 100 ids of 1 to 35 characters (TraceIdListForRetrieval in the model, max 100;
  https://docs.aws.amazon.com/xray/latest/api/API_StartTraceRetrieval.html);
  StartTime and EndTime required, epoch seconds, inclusive; StartTime after EndTime, or any of
  those broken: InvalidRequestException (400). It works in either world: it reads what aws/spans
  got, which is nothing in the XRay world.
- ListRetrievedTraces {"RetrievalToken", "TraceFormat": "XRAY" (default) | "OTEL", "NextToken"?}:
  the first n calls of a retrieval answer {"RetrievalStatus": "SCHEDULED", then "RUNNING",
  "TraceFormat"} and no Traces ("When the RetrievalStatus is not COMPLETE, the API will return an
  empty response", API_ListRetrievedTraces); n is 1, or what POST /_peer/faults {"operation":
  "ListRetrievedTraces", "running": n} set for the Region when the retrieval started. Then
  {"RetrievalStatus": "COMPLETE", "TraceFormat", "Traces": [{"Id", "Duration", "Spans": [{"Id",
  "Document"}]}], "NextToken"?}: the asked-for traces in the order asked, those with spans that
  start within [StartTime, EndTime]; XRAY gives one entry per segment document, Id the segment id
  and Document the document as PutTraceSegments got it (what BatchGetTraces gives in the XRay
  world); OTEL one per span, Document the aws/spans record. 5 traces a page (TraceSpanList, max 5;
  https://docs.aws.amazon.com/xray/latest/api/API_ListRetrievedTraces.html), or the Region's
  page_size fault; Duration is last end - first start of the segments. A trace's
  Spans are not capped (the model says at most 100 a trace, without saying what happens past it).
  A token is valid for 60 minutes of the peer's clock from StartTraceRetrieval ("Retrievals will
  time out after 60 minutes", API_StartTraceRetrieval); after that, or for a token the account and
  Region never issued: ResourceNotFoundException (404). The docs do not say which error an expired
  token gets; ResourceNotFoundException is the one ListRetrievedTraces documents for a resource that
  is not there.
- CancelTraceRetrieval {"RetrievalToken"} -> 200, empty body; ListRetrievedTraces then answers
  {"RetrievalStatus": "CANCELLED"} (a retrieval already COMPLETE stays so). Unknown or expired
  token: ResourceNotFoundException (404).
- BatchGetTraces in the CloudWatchLogs world finds nothing (empty Traces and UnprocessedTraceIds):
  "You cannot find traces through this API if Transaction Search is enabled"
  (https://docs.aws.amazon.com/xray/latest/api/API_BatchGetTraces.html).

CloudWatch ListMetrics (over CBOR) is answered from the PutMetricData calls the peer forwarded,
per account and Region: {"Metrics": [{"Namespace", "MetricName", "Dimensions": [{"Name", "Value"}]}],
"NextToken"?, "OwningAccounts"? (one per metric, only when IncludeLinkedAccounts is true)}, sorted
by namespace, name and dimensions (dimensions sorted by name). Filters as documented
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_ListMetrics.html):
Namespace and MetricName exactly, each DimensionFilter {Name, Value?} by a dimension of that name
(and value) whatever other dimensions the metric has, RecentlyActive PT3H: data received in the
last 3 hours of the peer's clock; metrics with no data for two weeks are left out. "Up to 500
results are returned for any one call": pages of 500, or the Region's page_size fault.

Lambda: moto serves it (ListFunctions, GetFunction[Configuration], ListAliases,
ListVersionsByFunction, CreateFunction, PublishVersion, ...) with no docker needed until a
function is invoked; CreateFunction needs an IAM role that exists in moto's IAM of the account.
moto 5.2.5 keeps $LATEST's LastModified at its creation and gives no RevisionId, so the peer
gives every CreateFunction, UpdateFunctionConfiguration and PublishVersion a new LastModified (in
Lambda's form, 2024-03-01T12:30:45.123+0000, on the peer's clock) and RevisionId, as Lambda does.
moto 5.2.5 drops LoggingConfig, so the peer keeps it per function and version (CreateFunction,
UpdateFunctionConfiguration: the given fields over the current ones; PublishVersion: the version
keeps $LATEST's of the moment) and puts it in every function configuration moto answers
(CreateFunction, UpdateFunctionConfiguration, GetFunctionConfiguration, GetFunction's
Configuration, ListFunctions, ListVersionsByFunction, PublishVersion). A function created without
one has Lambda's default {"LogFormat": "Text", "LogGroup": "/aws/lambda/<name>"}
(https://docs.aws.amazon.com/lambda/latest/api/API_LoggingConfig.html). ListFunctions and
ListVersionsByFunction page with Marker / MaxItems / NextMarker, at most 50 a page ("returns a
maximum of 50 items in each response, even if you set the number higher", MaxItems in
API_ListFunctions), or the Region's page_size fault; moto would answer all in one.

Glue (JSON 1.1, X-Amz-Target AWSGlue.*): moto serves what `athena-ddl --apply` and its tests call
(GetDatabase, CreateDatabase, CreateTable, UpdateTable, GetTable, GetTables) with AWS's error codes
(EntityNotFoundException, AlreadyExistsException); the peer adds only its faults (a denied call is
glue:<Operation>).

Which operation a request calls: the CBOR path (CloudWatch), X-Amz-Target (CloudWatch Logs),
the form's Action (Query: STS, IAM), else method and path matched against botocore's model of the
service the request is signed for (REST-JSON: X-Ray, Lambda). Faults and counts use that name.

Accounts: a request acts in the account POST /_peer/accounts mapped its access key id to, else
moto's default 123456789012; the peer passes it to moto as moto's x-moto-account-id header, so every
service (STS GetCallerIdentity's Account included) keeps its state per account and Region.

Control endpoints (JSON bodies), scoped per Region so parallel tests in distinct Regions never
see each other's faults:
- POST /_peer/faults {"region", "operation", "throttle": n, "server_error": n, "partial": n,
  "page_size": n, "denied": n, "running": n}: the next n calls of the operation are throttled,
  answered 503, denied (n = -1: every call from then on), or (BatchGetTraces) answered with all
  but the first id unprocessed; page_size makes FilterLogEvents, GetTraceSummaries, BatchGetTraces,
  ListRetrievedTraces, ListMetrics, ListFunctions and ListVersionsByFunction page; running: see
  ListRetrievedTraces. Each error takes its service's form (FAULTS below): throttling is X-Ray's
  ThrottledException 429 and Lambda's TooManyRequestsException 429 (their API references), CloudWatch
  Logs' ThrottlingException 400, CloudWatch's Query code Throttling (400, in x-amzn-query-error),
  STS's Throttling 400 (Query XML). AccessDenied follows the Common Errors pages (e.g.
  https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html: AccessDeniedException, 403): X-Ray
  and Lambda (REST-JSON) 403 with x-amzn-ErrorType AccessDeniedException; CloudWatch Logs (JSON 1.1)
  400 AccessDeniedException, as Logs answers; CloudWatch (query-compatible RPC v2 CBOR) 403, body
  __type AccessDenied and x-amzn-query-error: AccessDenied;Sender (the code CloudWatch has always
  answered); STS (Query) 403 AccessDenied in XML. The message is IAM's: "User:
  arn:aws:iam::<account>:user/test is not authorized to perform: <prefix>:<Operation> because no
  identity-based policy allows the <prefix>:<Operation> action" (prefixes xray, logs, cloudwatch,
  lambda, sts). Denying sts:GetCallerIdentity is refused (400): AWS never denies it ("No
  permissions are required to perform this operation",
  https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
- POST /_peer/accounts {"access_key_id", "account_id"}: requests signed with that key act in that
  account.
- POST /_peer/lambda {"region", "account"?, "functions": [{"FunctionName", "Runtime"?,
  "MemorySize"?, "Timeout"?, "Architectures"?, "Handler"?, "Description"?, "Environment"?,
  "TracingConfig"?, "LoggingConfig"?, "Publish"?: true, "Aliases"?: [{"Name",
  "FunctionVersion"}]}]}: creates each function in moto (role hopscope-peer-lambda, created when
  missing; a dummy zip; python3.12 and index.handler unless given) or, when it exists, updates the
  given settings (LoggingConfig fields over the current ones); then publishes a version (1, 2, ...;
  moto publishes nothing new when nothing changed since the last one) and creates or moves the
  aliases. Answers {"functions": [{"FunctionName", "FunctionArn", "Versions": ["$LATEST", "1",
  ...]}]}. Tests seed functions this way, with no Lambda calls of their own, and call it again to
  change a function between two collections.
- POST /_peer/world {"region", "account"?, "destination"?, "indexing_percentage"?} and
  GET /_peer/world?region=R[&account=A]: set and read X-Ray's Transaction Search state; both answer
  {"destination", "indexing_percentage", "indexed_trace_ids": the ids of moto's traces there that
  the indexing rule keeps}.
- GET /_peer/calls?region=R: calls seen per operation, faulted ones included.
- GET /_peer/filters?region=R: FilterExpressions received by GetTraceSummaries.
- POST /_peer/clock {"now": epoch seconds}: the peer's clock from then on (it keeps running), for
  the rule of CloudWatch Logs that reads it (PutLogEvents, and so aws/spans, keeps only events
  from 14 days before now to 2 hours after, and says which it rejected) and the peer's own: the
  60 minutes of a retrieval token, ListMetrics' RecentlyActive and two weeks, the indexing rule's
  ModifiedAt. Fixed-date data such as the committed samples is seeded with the clock set to its
  own day; the clock is the whole peer's, not a Region's, as moto reads one.

Run: python tests/aws_peer/peer.py --url-file FILE (binds a free port on 127.0.0.1, writes its
URL to FILE once it listens). Tested by tests/aws_peer/test_peer.py.
"""

import argparse
import base64
import datetime
import gzip
import hashlib
import io
import json
import math
import re
import sys
import threading
import urllib.parse
import uuid
import zipfile
from collections import defaultdict
from decimal import Decimal
from xml.sax.saxutils import escape

import botocore.session
import cbor2
import moto.logs.models
from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow
from moto.iam.models import iam_backends
from moto.logs.models import logs_backends
from moto.server import DomainDispatcherApplication, create_backend_app
from moto.xray.models import xray_backends
from werkzeug.serving import make_server

CBOR_PATH = re.compile(r"^/service/GraniteServiceVersion20100801/operation/(\w+)$")
# SigV4 credential scope: access key id / date / region / signing name.
CREDENTIAL = re.compile(r"Credential=([^/]+)/\d+/([a-z0-9-]+)/([a-z0-9-]+)/")
# Signing name -> IAM action prefix, for AccessDenied messages.
IAM_PREFIX = {"xray": "xray", "logs": "logs", "monitoring": "cloudwatch", "lambda": "lambda", "sts": "sts"}
# Services whose operations are told apart by method and path (REST-JSON).
REST_SERVICES = ("xray", "lambda")
LAMBDA_FUNCTION = "AWS::Lambda::Function"
SPANS_GROUP, SPANS_STREAM = "aws/spans", "default"
DESTINATIONS = ("XRay", "CloudWatchLogs")
TRACE_FORMATS = ("XRAY", "OTEL")
RETRIEVAL_IDS = 100  # StartTraceRetrieval TraceIds: at most 100 (TraceIdListForRetrieval)
RETRIEVAL_PAGE = 5  # ListRetrievedTraces Traces: at most 5 a page (TraceSpanList)
RETRIEVAL_TTL = 3600.0  # "Retrievals will time out after 60 minutes" (API_StartTraceRetrieval)
# The scope of the spans the peer writes for X-Ray segments (AWS does not document its own).
SCOPE = {"name": "aws.xray", "version": "1.0"}
# X-Ray origin -> OpenTelemetry cloud.platform.
PLATFORMS = {"AWS::Lambda::Function": "aws_lambda", "AWS::EC2::Instance": "aws_ec2",
             "AWS::ECS::Container": "aws_ecs", "AWS::EKS::Container": "aws_eks",
             "AWS::ElasticBeanstalk::Environment": "aws_elastic_beanstalk"}
METRICS_PAGE = 500  # "Up to 500 results are returned for any one call" (API_ListMetrics)
LAMBDA_PAGE = 50  # "ListFunctions returns a maximum of 50 items in each response" (MaxItems)
LAMBDA_ROLE = "hopscope-peer-lambda"  # the role POST /_peer/lambda creates functions with
# Fields of CloudWatch shapes that are timestamps (CBOR tag 1 on the wire, epoch seconds in JSON).
TIME_FIELDS = {"Timestamp", "StartTime", "EndTime", "Timestamps"}


class Clock:
    """The peer's clock, moto's CloudWatch Logs' too: real time, shifted by POST /_peer/clock."""

    def __init__(self):
        self.offset = datetime.timedelta(0)

    def set_now(self, epoch_seconds):
        now = datetime.datetime.fromtimestamp(epoch_seconds, datetime.timezone.utc)
        self.offset = now.replace(tzinfo=None) - utcnow()

    def __call__(self):
        return utcnow() + self.offset

    def epoch(self):
        return self().replace(tzinfo=datetime.timezone.utc).timestamp()


CLOCK = Clock()
moto.logs.models.utcnow = CLOCK


def protocol_of(environ):
    if CBOR_PATH.match(environ.get("PATH_INFO", "")):
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return "query"
    return "rest"


# Injected faults as each protocol (or service) answers them: (status, code, query-compatible code).
# AccessDenied: the Common Errors pages (AccessDeniedException, 403), CloudWatch Logs answering 400
# as JSON 1.1 services do, CloudWatch and STS their Query code AccessDenied. Throttling: X-Ray's
# ThrottledException 429 and Lambda's TooManyRequestsException 429 (their API references),
# CloudWatch Logs' ThrottlingException 400, CloudWatch's Query code Throttling.
FAULTS = {
    "denied": {
        "rest": ("403 Forbidden", "AccessDeniedException", None),
        "json": ("400 Bad Request", "AccessDeniedException", None),
        "cbor": ("403 Forbidden", "AccessDenied", "AccessDenied"),
        "query": ("403 Forbidden", "AccessDenied", None),
    },
    "throttle": {
        "rest": ("429 Too Many Requests", "ThrottledException", None),
        ("rest", "lambda"): ("429 Too Many Requests", "TooManyRequestsException", None),
        "json": ("400 Bad Request", "ThrottlingException", None),
        "cbor": ("400 Bad Request", "ThrottlingException", "Throttling"),
        "query": ("400 Bad Request", "Throttling", None),
    },
    "server_error": {
        "rest": ("503 Service Unavailable", "ServiceUnavailableException", None),
        "json": ("503 Service Unavailable", "ServiceUnavailableException", None),
        "cbor": ("503 Service Unavailable", "ServiceUnavailable", "ServiceUnavailable"),
        "query": ("503 Service Unavailable", "ServiceUnavailable", None),
    },
}


class World:
    """X-Ray's Transaction Search state of one account in one Region."""

    def __init__(self):
        self.destination = "XRay"
        self.percentage = 1.0  # the Default indexing rule's, as AWS starts it
        self.rule_modified = CLOCK.epoch()
        # trace id -> segment id -> {"document": raw JSON, "spans": [span], "start", "end"}
        self.segments = defaultdict(dict)
        self.retrievals = {}  # token -> retrieval

    def rule(self):
        return {"Name": "Default", "ModifiedAt": self.rule_modified, "Rule": {"Probabilistic": {
            "DesiredSamplingPercentage": self.percentage, "ActualSamplingPercentage": self.percentage}}}


def indexed(trace_id, percentage):
    """Whether the indexing rule keeps a trace: a stable hash of its id, so runs agree."""
    bucket = int(hashlib.sha256(trace_id.encode()).hexdigest()[:8], 16) % 10000
    return bucket < round(percentage * 100)


def w3c_trace_id(xray_id):
    """1-5759e988-bd862e3fe1be46a994272793 -> 5759e988bd862e3fe1be46a994272793."""
    parts = xray_id.split("-")
    if len(parts) == 3 and len(parts[1]) == 8 and len(parts[2]) == 24:
        return (parts[1] + parts[2]).lower()
    return xray_id


def nanos(seconds):
    """Epoch seconds (exact, as parsed to Decimal) -> integer nanoseconds."""
    return int(Decimal(str(seconds)) * 1_000_000_000)


def plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def exception_message(entity):
    cause = entity.get("cause")
    if isinstance(cause, dict):
        for exception in cause.get("exceptions") or []:
            if isinstance(exception, dict) and exception.get("message"):
                return str(exception["message"])
    return None


def to_span(entity, trace_id, parent, resource, segment, service):
    """One segment or subsegment as the OpenTelemetry span record aws/spans holds."""
    namespace = entity.get("namespace")
    kind = "SERVER" if segment else ("CLIENT" if namespace in ("aws", "remote") else "INTERNAL")
    name = entity.get("name", "")
    span = {"resource": {"attributes": dict(resource)}, "scope": dict(SCOPE),
            "traceId": trace_id, "spanId": entity["id"]}
    if parent:
        span["parentSpanId"] = parent
    span.update({"flags": 768 if segment and parent else 256, "name": name, "kind": kind})
    start = nanos(entity["start_time"])
    span["startTimeUnixNano"] = start
    if entity.get("end_time") is not None:
        end = nanos(entity["end_time"])
        span.update({"endTimeUnixNano": end, "durationNano": end - start})
    attributes = {}
    if service:
        attributes["aws.local.service"] = service
    if segment and entity.get("origin"):
        attributes["aws.xray.origin"] = entity["origin"]
    if namespace:
        attributes["aws.xray.namespace"] = namespace
    aws = entity.get("aws") if isinstance(entity.get("aws"), dict) else {}
    if namespace == "aws":
        attributes.update({"rpc.system": "aws-api", "rpc.service": name, "aws.remote.service": f"AWS::{name}"})
        if aws.get("operation"):
            attributes["rpc.method"] = attributes["aws.remote.operation"] = aws["operation"]
    elif namespace == "remote":
        attributes["aws.remote.service"] = name
    if aws.get("request_id"):
        attributes["aws.request_id"] = aws["request_id"]
    http = entity.get("http") if isinstance(entity.get("http"), dict) else {}
    request, response = (http.get(k) if isinstance(http.get(k), dict) else {} for k in ("request", "response"))
    if request.get("method"):
        attributes["http.method"] = attributes["http.request.method"] = request["method"]
    if request.get("url"):
        attributes["http.url"] = attributes["url.full"] = request["url"]
    if response.get("status") is not None:
        attributes["http.status_code"] = attributes["http.response.status_code"] = plain(response["status"])
    annotations = entity.get("annotations") if isinstance(entity.get("annotations"), dict) else {}
    for key, value in annotations.items():
        attributes[key] = plain(value)
    span["attributes"] = attributes
    failed = entity.get("fault") is True or entity.get("error") is True
    span["status"] = {"code": "ERROR" if failed else "UNSET"}
    if failed and exception_message(entity):
        span["status"]["message"] = exception_message(entity)
    return span


def segment_spans(document, region):
    """The spans of one X-Ray document (parsed with Decimal floats): the segment, SERVER, and each
    nested subsegment, CLIENT when its namespace is aws or remote, else INTERNAL. An independent
    subsegment (type subsegment) is a span of its own under its parent_id."""
    trace_id = w3c_trace_id(document["trace_id"])
    segment = document.get("type") != "subsegment"
    resource = {"cloud.provider": "aws", "cloud.region": region}
    service = document.get("name") if segment else None
    if segment:
        resource["service.name"] = service
        if document.get("origin") in PLATFORMS:
            resource["cloud.platform"] = PLATFORMS[document["origin"]]
        aws = document.get("aws") if isinstance(document.get("aws"), dict) else {}
        if document.get("resource_arn") or aws.get("function_arn"):
            resource["cloud.resource_id"] = document.get("resource_arn") or aws["function_arn"]
    spans = []

    def walk(entity, parent, top):
        spans.append(to_span(entity, trace_id, parent, resource, top and segment, service))
        for sub in entity.get("subsegments") or []:
            if isinstance(sub, dict) and "id" in sub and "start_time" in sub:
                walk(sub, entity["id"], False)

    walk(document, document.get("parent_id"), True)
    return spans


def dummy_zip():
    """A deployment package (base64, as CreateFunction's JSON carries it); never run."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return base64.b64encode(buffer.getvalue()).decode()


def default_logging(name):
    """LoggingConfig of a function created without one, as Lambda answers it."""
    return {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}


def function_name(name_or_arn):
    """my-function, arn:aws:lambda:R:A:function:my-function[:q] or A:function:my-function -> my-function."""
    if ":function:" in name_or_arn:
        name_or_arn = name_or_arn.split(":function:", 1)[1]
    return name_or_arn.split(":")[0]


class State:
    """Faults, call counts, recorded filters and metric data, per Region; accounts per access key."""

    def __init__(self):
        self.lock = threading.Lock()
        self.faults = defaultdict(dict)  # (region, op) -> {kind: remaining}
        self.calls = defaultdict(lambda: defaultdict(int))
        self.filters = defaultdict(list)
        # (account, region, namespace, name, dims tuple) -> [(epoch seconds, value)]
        self.metrics = defaultdict(list)
        self.metric_seen = {}  # same key -> when PutMetricData last sent it (peer's clock)
        self.accounts = {}  # access key id -> account id
        self.worlds = {}  # (account, region) -> World
        self.logging = {}  # (account, region, function) -> {version: LoggingConfig}
        self.revisions = {}  # (account, region, function, version) -> (LastModified, RevisionId)

    def world(self, account, region):
        """The Transaction Search state of an account and Region (call with the lock held)."""
        return self.worlds.setdefault((account, region), World())

    def take_fault(self, region, op):
        with self.lock:
            self.calls[region][op] += 1
            faults = self.faults.get((region, op), {})
            if faults.get("denied", 0) < 0:
                return "denied"  # -1: denied for good
            for kind in ("denied", "throttle", "server_error", "partial"):
                if faults.get(kind, 0) > 0:
                    faults[kind] -= 1
                    return kind
            return None

    def setting(self, region, op, kind):
        with self.lock:
            return self.faults.get((region, op), {}).get(kind)

    def page_size(self, region, op):
        return self.setting(region, op, "page_size")

    def account_of(self, environ):
        """The account a request acts in: the one POST /_peer/accounts gave its access key, else
        moto's default. Passed on to moto as its x-moto-account-id header."""
        with self.lock:
            account = self.accounts.get(credential(environ)[0], DEFAULT_ACCOUNT_ID)
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
        return account


def credential(environ):
    """(access key id, region, signing name) of a SigV4-signed request, defaults when unsigned."""
    match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.groups() if match else ("", "us-east-1", "")


def rest_routes(service):
    """(method, path regex, operation) for each operation of a REST service, from botocore's model
    (the same model the SDKs are generated from), most specific path first."""
    model = botocore.session.get_session().get_service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?")[0].rstrip("/") or "/"
        parts = re.split(r"(\{[^}]+\})", uri)
        pattern = "".join(
            (".+" if p.endswith("+}") else "[^/]+") if p.startswith("{") else re.escape(p) for p in parts)
        literal = sum(len(p) for p in parts if not p.startswith("{"))
        routes.append((literal, http["method"], re.compile(f"^{pattern}$"), name))
    routes.sort(key=lambda r: -r[0])
    return [r[1:] for r in routes]


ROUTES = {service: rest_routes(service) for service in REST_SERVICES}


def operation_of(environ, body=b""):
    """The operation a request calls, in each protocol's way of naming it."""
    path = environ.get("PATH_INFO", "")
    match = CBOR_PATH.match(path)
    if match:
        return match.group(1)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.split(".")[-1]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    service = credential(environ)[2]
    method, path = environ.get("REQUEST_METHOD", "GET"), path.rstrip("/") or "/"
    for candidate in ([service] if service in ROUTES else REST_SERVICES):
        for route_method, pattern, name in ROUTES[candidate]:
            if route_method == method and pattern.match(path):
                return name
    return path


def read_body(environ):
    """The request body (gunzipped), read once and kept for moto, which reads it again."""
    if "peer.body" not in environ:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        # The SDKs gzip large PutMetricData requests (request compression), as AWS accepts.
        if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
            body = gzip.decompress(body)
            environ.pop("HTTP_CONTENT_ENCODING")
        environ["peer.body"] = body
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ["peer.body"]


def denied_message(account, action):
    return (f"User: arn:aws:iam::{account}:user/test is not authorized to perform: {action} "
            f"because no identity-based policy allows the {action} action")


def to_epoch(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float(value)


def times_to_cbor(value, key=None):
    """JSON answer -> CBOR answer: timestamp fields become tag 1 epoch seconds."""
    if isinstance(value, dict):
        return {k: times_to_cbor(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [times_to_cbor(v, key) for v in value]
    if key in TIME_FIELDS and value is not None and not isinstance(value, bool):
        return cbor2.CBORTag(1, to_epoch(value))
    return value


def times_to_json(value):
    """CBOR request (tags decoded to datetimes) -> JSON 1.0 request (epoch seconds)."""
    if isinstance(value, dict):
        return {k: times_to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [times_to_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        return to_epoch(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def percentile(values, p):
    """Nearest-rank percentile, as CloudWatch computes it from raw values."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def statistic(values, stat):
    if stat == "Sum":
        return sum(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    if stat == "Average":
        return sum(values) / len(values)
    if stat == "SampleCount":
        return float(len(values))
    if re.fullmatch(r"p\d+(\.\d+)?", stat):
        return percentile(values, float(stat[1:]))
    raise ValueError(f"statistic {stat} is not supported by the test peer")


# Operations the peer answers itself (all X-Ray's), -> Peer method.
TRANSACTION_SEARCH = {
    "GetTraceSegmentDestination": "get_trace_segment_destination",
    "UpdateTraceSegmentDestination": "update_trace_segment_destination",
    "GetIndexingRules": "get_indexing_rules",
    "UpdateIndexingRule": "update_indexing_rule",
    "StartTraceRetrieval": "start_trace_retrieval",
    "ListRetrievedTraces": "list_retrieved_traces",
    "CancelTraceRetrieval": "cancel_trace_retrieval",
}


class Peer:
    def __init__(self):
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.state = State()

    # --- WSGI plumbing -------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_peer/"):
            return self.control(environ, start_response)
        _, region, service = credential(environ)
        body = read_body(environ)
        op = operation_of(environ, body)
        account = self.state.account_of(environ)
        cbor = CBOR_PATH.match(path) is not None
        fault = self.state.take_fault(region, op)
        if fault in FAULTS:
            protocol = protocol_of(environ)
            status, code, query_code = FAULTS[fault].get((protocol, service)) or FAULTS[fault][protocol]
            message = "Rate exceeded" if fault == "throttle" else "Injected by the test peer"
            if fault == "denied":
                message = denied_message(account, f"{IAM_PREFIX.get(service, service)}:{op}")
            return self.fail(environ, start_response, status, code, message, query_code)
        if op in TRANSACTION_SEARCH:
            return getattr(self, TRANSACTION_SEARCH[op])(environ, start_response, account, region)
        if op == "PutTraceSegments" and self.destination(account, region) == "CloudWatchLogs":
            return self.put_trace_segments(environ, start_response, account, region)
        if op == "GetTraceSummaries":
            return self.trace_summaries(environ, start_response, account, region)
        if op == "BatchGetTraces":
            return self.batch_get_traces(environ, start_response, account, region, fault == "partial")
        if cbor:
            return self.cloudwatch(environ, start_response, account, region, op)
        if service == "lambda":
            return self.lambda_call(environ, start_response, account, region, op)
        if op == "FilterLogEvents" and self.state.page_size(region, op):
            return self.filter_log_events_paged(environ, start_response, body, region)
        return self.moto(environ, start_response)

    def filter_log_events_paged(self, environ, start_response, body, region):
        """FilterLogEvents in pages of the Region's page_size: moto pages by the request's limit."""
        request = json.loads(body or b"{}")
        request["limit"] = self.state.page_size(region, "FilterLogEvents")
        status, headers, answer = self.call_moto(environ, json.dumps(request).encode())
        start_response(status, [h for h in headers if h[0].lower() != "content-length"]
                       + [("Content-Length", str(len(answer)))])
        return [answer]

    def respond(self, start_response, status, payload, cbor=False, headers=()):
        extra = list(headers)
        if cbor:
            body = cbor2.dumps(times_to_cbor(payload))
            headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        else:
            body = json.dumps(payload).encode()
            headers = [("Content-Type", "application/json")]
        start_response(status, headers + extra + [("Content-Length", str(len(body)))])
        return [body]

    def error(self, start_response, status, code, message, cbor, headers=()):
        payload = {"__type": code, "message": message}
        if not cbor:
            body = json.dumps(payload).encode()
            start_response(status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
                                    ("Content-Length", str(len(body)))] + list(headers))
            return [body]
        return self.respond(start_response, status, payload, cbor=True, headers=headers)

    def fail(self, environ, start_response, status, code, message, query_code=None):
        """An error in the calling protocol: CBOR (with x-amzn-query-error for CloudWatch, which
        is query-compatible), Query XML, or JSON with x-amzn-ErrorType."""
        protocol = protocol_of(environ)
        if protocol == "query":
            body = (f"<ErrorResponse><Error><Type>{'Receiver' if status[0] == '5' else 'Sender'}</Type>"
                    f"<Code>{escape(query_code or code)}</Code><Message>{escape(message)}</Message></Error>"
                    f"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>").encode()
            start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
            return [body]
        headers = []
        if protocol == "cbor" and query_code:
            headers = [("x-amzn-query-error", f"{query_code};{'Receiver' if status[0] == '5' else 'Sender'}")]
        return self.error(start_response, status, code, message, protocol == "cbor", headers)

    def call_moto(self, environ, body, **overrides):
        """Calls moto with `body` (and header overrides); returns (status, headers, body)."""
        inner = dict(environ)
        inner.update(overrides)
        inner["wsgi.input"] = io.BytesIO(body)
        inner["CONTENT_LENGTH"] = str(len(body))
        inner.pop("HTTP_CONTENT_ENCODING", None)  # read_body has decoded it
        captured = {}

        def start(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        chunks = b"".join(self.moto(inner, start))
        return captured["status"], captured["headers"], chunks

    # --- control ------------------------------------------------------------------------------
    def control(self, environ, start_response):
        path = environ["PATH_INFO"]
        query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
        if path == "/_peer/faults":
            spec = json.loads(read_body(environ) or b"{}")
            if spec.get("denied") and spec["operation"] == "GetCallerIdentity":
                # AWS: "No permissions are required to perform this operation" (API_GetCallerIdentity).
                return self.respond(start_response, "400 Bad Request",
                                    {"message": "AWS never denies sts:GetCallerIdentity"})
            with self.state.lock:
                key = (spec["region"], spec["operation"])
                for kind in ("throttle", "server_error", "partial", "page_size", "denied", "running"):
                    if kind in spec:
                        self.state.faults[key][kind] = spec[kind]
            return self.respond(start_response, "200 OK", {})
        if path == "/_peer/accounts":
            spec = json.loads(read_body(environ) or b"{}")
            with self.state.lock:
                self.state.accounts[spec["access_key_id"]] = spec["account_id"]
            return self.respond(start_response, "200 OK", {})
        if path == "/_peer/clock":
            CLOCK.set_now(float(json.loads(read_body(environ) or b"{}")["now"]))
            return self.respond(start_response, "200 OK", {})
        if path == "/_peer/lambda":
            return self.control_lambda(start_response, json.loads(read_body(environ) or b"{}"))
        if path == "/_peer/world":
            return self.control_world(environ, start_response, query)
        if path == "/_peer/calls":
            with self.state.lock:
                calls = dict(self.state.calls.get(query.get("region", "us-east-1"), {}))
            return self.respond(start_response, "200 OK", calls)
        if path == "/_peer/filters":
            with self.state.lock:
                filters = list(self.state.filters.get(query.get("region", "us-east-1"), []))
            return self.respond(start_response, "200 OK", filters)
        return self.respond(start_response, "404 Not Found", {"message": f"no {path}"})

    # --- X-Ray --------------------------------------------------------------------------------
    def traces(self, account, region):
        backend = xray_backends[account][region]
        return backend._segment_collection._traces

    def trace_summaries(self, environ, start_response, account, region):
        request = json.loads(read_body(environ) or b"{}")
        start, end = float(request["StartTime"]), float(request["EndTime"])
        if request.get("FilterExpression"):
            with self.state.lock:
                self.state.filters[region].append(request["FilterExpression"])
        with self.state.lock:
            world = self.state.world(account, region)
            index = world.percentage if world.destination == "CloudWatchLogs" else None
        summaries = []
        for tid, trace in sorted(self.traces(account, region).items()):
            if index is not None and not indexed(tid, index):
                continue  # Transaction Search: only the indexing rule's share is summarised
            segments = trace["segments"]
            if not trace["finished"] or not segments:
                continue
            first = min(s.start_time for s in segments)
            if not start <= first <= end:
                continue
            last = max(s.end_time or s.start_time for s in segments)
            services = {(s.name, s.origin) for s in segments}
            summaries.append({
                "Id": tid,
                "StartTime": first,
                "Duration": last - first,
                "ResponseTime": last - first,
                "HasError": any("error" in s.misc for s in segments),
                "HasFault": any("fault" in s.misc for s in segments),
                "HasThrottle": any("throttle" in s.misc for s in segments),
                "IsPartial": False,
                "ServiceIds": [{"Name": n, "Type": o} if o else {"Name": n} for n, o in sorted(services, key=str)],
                "Users": [],
            })
        offset = int(request.get("NextToken") or 0)
        size = self.state.page_size(region, "GetTraceSummaries") or len(summaries) or 1
        page = summaries[offset:offset + size]
        answer = {"TraceSummaries": page, "TracesProcessedCount": len(page),
                  "ApproximateTime": end}
        if offset + size < len(summaries):
            answer["NextToken"] = str(offset + size)
        return self.respond(start_response, "200 OK", answer)

    def batch_get_traces(self, environ, start_response, account, region, partial):
        request = json.loads(read_body(environ) or b"{}")
        ids = request.get("TraceIds", [])
        if len(ids) > 5:
            return self.error(start_response, "400 Bad Request", "InvalidRequestException",
                              "TraceIds: at most 5", False)
        if self.destination(account, region) == "CloudWatchLogs":
            # "You cannot find traces through this API if Transaction Search is enabled."
            return self.respond(start_response, "200 OK", {"Traces": [], "UnprocessedTraceIds": []})
        unprocessed = ids[1:] if partial else []
        wanted = [i for i in ids if i not in unprocessed]
        traces = self.traces(account, region)
        entries = []
        for tid in wanted:
            trace = traces.get(tid)
            if not trace or not trace["segments"]:
                continue
            segments = [{"Id": s.id, "Document": s.raw} for s in trace["segments"]]
            entries.append({"Id": tid, "Segments": segments})
        # Paging is per trace: a page holds `page_size` traces.
        offset = int(request.get("NextToken") or 0)
        size = self.state.page_size(region, "BatchGetTraces") or len(entries) or 1
        answer = {"Traces": entries[offset:offset + size], "UnprocessedTraceIds": unprocessed}
        if offset + size < len(entries):
            answer["NextToken"] = str(offset + size)
        return self.respond(start_response, "200 OK", answer)

    # --- X-Ray with Transaction Search ---------------------------------------------------------
    def destination(self, account, region):
        with self.state.lock:
            return self.state.world(account, region).destination

    def invalid(self, start_response, message):
        return self.error(start_response, "400 Bad Request", "InvalidRequestException", message, False)

    def ensure_spans_group(self, account, region):
        """aws/spans and its one stream, as X-Ray creates them for Transaction Search."""
        backend = logs_backends[account][region]
        if SPANS_GROUP not in backend.groups:
            backend.create_log_group(SPANS_GROUP, tags={})
        if SPANS_STREAM not in backend.groups[SPANS_GROUP].streams:
            backend.create_log_stream(SPANS_GROUP, SPANS_STREAM)

    def set_destination(self, account, region, destination):
        with self.state.lock:
            self.state.world(account, region).destination = destination
            if destination == "CloudWatchLogs":
                self.ensure_spans_group(account, region)

    def get_trace_segment_destination(self, environ, start_response, account, region):
        return self.respond(start_response, "200 OK",
                            {"Destination": self.destination(account, region), "Status": "ACTIVE"})

    def update_trace_segment_destination(self, environ, start_response, account, region):
        request = json.loads(read_body(environ) or b"{}")
        destination = request.get("Destination")
        if destination not in DESTINATIONS:
            return self.invalid(start_response, f"Destination must be one of {', '.join(DESTINATIONS)}")
        self.set_destination(account, region, destination)
        return self.respond(start_response, "200 OK", {"Destination": destination, "Status": "ACTIVE"})

    def get_indexing_rules(self, environ, start_response, account, region):
        with self.state.lock:
            rule = self.state.world(account, region).rule()
        return self.respond(start_response, "200 OK", {"IndexingRules": [rule]})

    def update_indexing_rule(self, environ, start_response, account, region):
        request = json.loads(read_body(environ) or b"{}")
        if request.get("Name") != "Default":
            return self.error(start_response, "404 Not Found", "ResourceNotFoundException",
                              f"Indexing rule {request.get('Name')} not found", False)
        percentage = ((request.get("Rule") or {}).get("Probabilistic") or {}).get("DesiredSamplingPercentage")
        if not isinstance(percentage, (int, float)) or not 0 <= percentage <= 100:
            return self.invalid(start_response, "Rule.Probabilistic.DesiredSamplingPercentage: 0 to 100")
        with self.state.lock:
            world = self.state.world(account, region)
            world.percentage, world.rule_modified = float(percentage), CLOCK.epoch()
            rule = world.rule()
        return self.respond(start_response, "200 OK", {"IndexingRule": rule})

    def start_trace_retrieval(self, environ, start_response, account, region):
        request = json.loads(read_body(environ) or b"{}")
        ids = request.get("TraceIds")
        if not isinstance(ids, list):
            return self.invalid(start_response, "TraceIds is required")
        if len(ids) > RETRIEVAL_IDS:
            return self.invalid(start_response, f"TraceIds: at most {RETRIEVAL_IDS} trace ids")
        if not all(isinstance(i, str) and 1 <= len(i) <= 35 for i in ids):
            return self.invalid(start_response, "TraceIds: each 1 to 35 characters")
        if not all(isinstance(request.get(k), (int, float)) for k in ("StartTime", "EndTime")):
            return self.invalid(start_response, "StartTime and EndTime are required")
        if request["StartTime"] > request["EndTime"]:
            return self.invalid(start_response, "StartTime must not be after EndTime")
        token = uuid.uuid4().hex
        running = self.state.setting(region, "ListRetrievedTraces", "running")
        with self.state.lock:
            self.state.world(account, region).retrievals[token] = {
                "ids": list(dict.fromkeys(ids)), "start": float(request["StartTime"]),
                "end": float(request["EndTime"]), "created": CLOCK.epoch(), "polls": 0,
                "running": 1 if running is None else int(running), "cancelled": False}
        return self.respond(start_response, "200 OK", {"RetrievalToken": token})

    def retrieval(self, world, token):
        """A live retrieval (call with the lock held); None once 60 minutes old, or unknown."""
        retrieval = world.retrievals.get(token)
        if retrieval and CLOCK.epoch() - retrieval["created"] > RETRIEVAL_TTL:
            del world.retrievals[token]
            return None
        return retrieval

    def not_found(self, start_response, token):
        return self.error(start_response, "404 Not Found", "ResourceNotFoundException",
                          f"Retrieval token {token} not found or expired", False)

    def list_retrieved_traces(self, environ, start_response, account, region):
        request = json.loads(read_body(environ) or b"{}")
        form = request.get("TraceFormat") or "XRAY"
        if form not in TRACE_FORMATS:
            return self.invalid(start_response, "TraceFormat must be XRAY or OTEL")
        with self.state.lock:
            world = self.state.world(account, region)
            retrieval = self.retrieval(world, request.get("RetrievalToken"))
            if retrieval is None:
                return self.not_found(start_response, request.get("RetrievalToken"))
            if retrieval["cancelled"]:
                return self.respond(start_response, "200 OK", {"RetrievalStatus": "CANCELLED", "TraceFormat": form})
            if retrieval["polls"] < retrieval["running"]:
                # "When the RetrievalStatus is not COMPLETE, the API will return an empty response."
                status = "RUNNING" if retrieval["polls"] else "SCHEDULED"
                retrieval["polls"] += 1
                return self.respond(start_response, "200 OK", {"RetrievalStatus": status, "TraceFormat": form})
            traces = self.retrieved(world, retrieval, form)
        offset = int(request.get("NextToken") or 0)
        size = self.state.page_size(region, "ListRetrievedTraces") or RETRIEVAL_PAGE
        answer = {"RetrievalStatus": "COMPLETE", "TraceFormat": form, "Traces": traces[offset:offset + size]}
        if offset + size < len(traces):
            answer["NextToken"] = str(offset + size)
        return self.respond(start_response, "200 OK", answer)

    @staticmethod
    def retrieved(world, retrieval, form):
        """The asked-for traces as aws/spans holds them, with their spans that start within
        [StartTime, EndTime]: XRAY, one entry per segment document as PutTraceSegments got it
        (as BatchGetTraces gives it); OTEL, one per span, the span record as its Document."""
        traces = []
        for tid in retrieval["ids"]:
            segments = sorted(world.segments.get(tid, {}).items(), key=lambda item: item[1]["start"])
            if form == "XRAY":
                kept = [(sid, seg) for sid, seg in segments if retrieval["start"] <= seg["start"] <= retrieval["end"]]
                spans = [{"Id": sid, "Document": seg["document"]} for sid, seg in kept]
            else:
                kept = [(sid, seg) for sid, seg in segments]
                spans = [{"Id": span["spanId"], "Document": json.dumps(span, separators=(",", ":"), default=float)}
                         for _, seg in segments for span in seg["spans"]
                         if retrieval["start"] <= span["startTimeUnixNano"] / 1e9 <= retrieval["end"]]
            if not spans:
                continue
            first = min(seg["start"] for _, seg in kept)
            last = max(seg["end"] or seg["start"] for _, seg in kept)
            traces.append({"Id": tid, "Duration": last - first, "Spans": spans})
        return traces

    def cancel_trace_retrieval(self, environ, start_response, account, region):
        token = json.loads(read_body(environ) or b"{}").get("RetrievalToken")
        with self.state.lock:
            retrieval = self.retrieval(self.state.world(account, region), token)
            if retrieval is None:
                return self.not_found(start_response, token)
            # Only an ongoing retrieval is cancelled; a COMPLETE one stays so.
            retrieval["cancelled"] = retrieval["polls"] < retrieval["running"]
        start_response("200 OK", [("Content-Length", "0")])  # "an HTTP 200 response with an empty HTTP body"
        return [b""]

    def put_trace_segments(self, environ, start_response, account, region):
        """moto keeps the segments (for the indexed summaries); each accepted document also
        becomes spans in aws/spans, each timestamped at its start."""
        status, headers, answer = self.call_moto(environ, read_body(environ))
        if status.startswith("2"):
            rejected = {u.get("Id") for u in json.loads(answer or b"{}").get("UnprocessedTraceSegments") or []}
            documents = []
            for raw in json.loads(read_body(environ) or b"{}").get("TraceSegmentDocuments", []):
                try:
                    document = json.loads(raw, parse_float=Decimal)
                except ValueError:
                    continue
                if isinstance(document, dict) and document.get("id") not in rejected:
                    documents.append((raw, document))
            self.write_spans(account, region, documents)
        start_response(status, headers)
        return [answer]

    def write_spans(self, account, region, documents):
        events = []
        with self.state.lock:
            world = self.state.world(account, region)
            for raw, document in documents:
                try:
                    spans = segment_spans(document, region)
                except (KeyError, TypeError, ValueError, ArithmeticError):
                    continue  # a document moto took but no span can be made of
                world.segments[document["trace_id"]][document["id"]] = {
                    "document": raw, "spans": spans, "start": float(document["start_time"]),
                    "end": float(document["end_time"]) if document.get("end_time") is not None else None}
                events += [{"timestamp": span["startTimeUnixNano"] // 1_000_000,
                            "message": json.dumps(span, separators=(",", ":"), default=float)} for span in spans]
            if events:
                self.ensure_spans_group(account, region)
                events.sort(key=lambda e: e["timestamp"])
                logs_backends[account][region].put_log_events(SPANS_GROUP, SPANS_STREAM, events)

    def control_world(self, environ, start_response, query):
        if environ.get("REQUEST_METHOD") == "POST":
            spec = json.loads(read_body(environ) or b"{}")
            account, region = spec.get("account", DEFAULT_ACCOUNT_ID), spec["region"]
            if "destination" in spec:
                if spec["destination"] not in DESTINATIONS:
                    return self.respond(start_response, "400 Bad Request", {"message": "destination"})
                self.set_destination(account, region, spec["destination"])
            if "indexing_percentage" in spec:
                with self.state.lock:
                    world = self.state.world(account, region)
                    world.percentage, world.rule_modified = float(spec["indexing_percentage"]), CLOCK.epoch()
        else:
            account, region = query.get("account", DEFAULT_ACCOUNT_ID), query.get("region", "us-east-1")
        ids = sorted(self.traces(account, region))
        with self.state.lock:
            world = self.state.world(account, region)
            answer = {"destination": world.destination, "indexing_percentage": world.percentage,
                      "indexed_trace_ids": [t for t in ids if indexed(t, world.percentage)]}
        return self.respond(start_response, "200 OK", answer)

    # --- Lambda -------------------------------------------------------------------------------
    def lambda_call(self, environ, start_response, account, region, op):
        """moto's Lambda, which keeps no LoggingConfig: the peer keeps it per function and version
        and puts it in each function configuration moto answers; and pages the lists moto does not."""
        body = read_body(environ)
        status, headers, answer = self.call_moto(environ, body)
        if not status.startswith("2") or op not in (
                "CreateFunction", "UpdateFunctionConfiguration", "GetFunctionConfiguration", "GetFunction",
                "ListFunctions", "ListVersionsByFunction", "PublishVersion", "DeleteFunction"):
            start_response(status, headers)
            return [answer]
        request = json.loads(body) if body.strip() and op != "PublishVersion" else {}
        payload = json.loads(answer) if answer.strip() else {}
        with self.state.lock:
            if op in ("CreateFunction", "UpdateFunctionConfiguration", "PublishVersion"):
                self.new_revision(account, region, payload["FunctionName"], payload["Version"])
            if op == "CreateFunction":
                self.set_logging(account, region, payload["FunctionName"], request.get("LoggingConfig"), new=True)
            elif op == "UpdateFunctionConfiguration" and "LoggingConfig" in request:
                self.set_logging(account, region, payload["FunctionName"], request["LoggingConfig"])
            elif op == "PublishVersion":
                self.keep_version(account, region, payload["FunctionName"], payload["Version"])
            elif op == "DeleteFunction" and "Qualifier" not in environ.get("QUERY_STRING", ""):
                name = function_name(urllib.parse.unquote(environ["PATH_INFO"].split("/functions/", 1)[1]))
                self.state.logging.pop((account, region, name), None)
            for entry in [payload, payload.get("Configuration")] + payload.get("Functions", []) + payload.get(
                    "Versions", []):
                if isinstance(entry, dict) and "FunctionName" in entry and "Version" in entry:
                    entry["LoggingConfig"] = self.logging_of(account, region, entry["FunctionName"], entry["Version"])
                    revision = self.state.revisions.get((account, region, entry["FunctionName"], entry["Version"]))
                    if revision:
                        entry["LastModified"], entry["RevisionId"] = revision
        for key in ("Functions", "Versions"):
            if key in payload:
                query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
                offset = int((query.get("Marker") or ["0"])[0] or 0)
                size = min(int((query.get("MaxItems") or [LAMBDA_PAGE])[0]), LAMBDA_PAGE)
                size = self.state.page_size(region, op) or size
                items = payload[key]
                payload[key] = items[offset:offset + size]
                payload.pop("NextMarker", None)
                if offset + size < len(items):
                    payload["NextMarker"] = str(offset + size)
        body = json.dumps(payload).encode() if payload or answer.strip() else b""
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]

    def new_revision(self, account, region, name, version):
        """A new LastModified and RevisionId for a version (lock held): moto keeps $LATEST's creation
        time and gives no RevisionId, while Lambda renews both on every update."""
        last_modified = CLOCK().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        self.state.revisions[(account, region, name, version)] = (last_modified, str(uuid.uuid4()))

    def logging_of(self, account, region, name, version):
        versions = self.state.logging.get((account, region, name), {})
        return dict(versions.get(version) or versions.get("$LATEST") or default_logging(name))

    def set_logging(self, account, region, name, logging, new=False):
        """LoggingConfig of $LATEST (call with the lock held): the given fields over the current."""
        current = default_logging(name) if new else self.logging_of(account, region, name, "$LATEST")
        current.update(logging or {})
        self.state.logging.setdefault((account, region, name), {})["$LATEST"] = current

    def keep_version(self, account, region, name, version):
        """A published version keeps $LATEST's LoggingConfig of the moment (lock held)."""
        versions = self.state.logging.setdefault((account, region, name), {})
        versions.setdefault(version, self.logging_of(account, region, name, "$LATEST"))

    def control_lambda(self, start_response, spec):
        """POST /_peer/lambda: creates or updates functions in moto, publishes, points aliases."""
        account, region = spec.get("account", DEFAULT_ACCOUNT_ID), spec["region"]
        iam = iam_backends[account]["aws"]
        try:
            role = iam.get_role(LAMBDA_ROLE).arn
        except Exception:  # moto's IAMNotFoundException
            role = iam.create_role(LAMBDA_ROLE, json.dumps({"Version": "2012-10-17", "Statement": []}), "/",
                                   None, "", [], None).arn
        backend = lambda_backends[account][region]
        answers = []
        for function in spec.get("functions", []):
            name = function["FunctionName"]
            config = {k: function[k] for k in ("Runtime", "MemorySize", "Timeout", "Handler", "Description",
                                               "Environment", "TracingConfig", "Architectures") if k in function}
            exists = any(f.function_name == name for f in backend.list_functions())
            with self.state.lock:
                if not exists:
                    backend.create_function({"FunctionName": name, "Role": role, "Handler": "index.handler",
                                             "Runtime": "python3.12", "Code": {"ZipFile": dummy_zip()}, **config})
                    self.set_logging(account, region, name, function.get("LoggingConfig"), new=True)
                    self.new_revision(account, region, name, "$LATEST")
                else:
                    fn = backend.get_function(name)
                    architectures = config.pop("Architectures", None)
                    fn.update_configuration(config)  # marks the function changed, for PublishVersion
                    if architectures:
                        fn.architectures = architectures
                    if "LoggingConfig" in function:
                        self.set_logging(account, region, name, function["LoggingConfig"])
                    self.new_revision(account, region, name, "$LATEST")
                if function.get("Publish"):
                    version = str(backend.publish_version(name).version)
                    self.keep_version(account, region, name, version)
                    self.new_revision(account, region, name, version)
                for alias in function.get("Aliases", []):
                    existing = {a.name for a in backend.list_aliases(name)}
                    (backend.update_alias if alias["Name"] in existing else backend.create_alias)(
                        alias["Name"], name, str(alias["FunctionVersion"]), "", None)
                versions = [str(f.version) for f in backend.list_versions_by_function(name)]
                answers.append({"FunctionName": name, "FunctionArn": backend.get_function(name).function_arn,
                                "Versions": versions})
        return self.respond(start_response, "200 OK", {"functions": answers})

    # --- CloudWatch ---------------------------------------------------------------------------
    def cloudwatch(self, environ, start_response, account, region, op):
        body = read_body(environ)
        request = times_to_json(cbor2.loads(body)) if body else {}
        if op == "PutMetricData":
            self.record_metrics(account, region, request)
        if op == "GetMetricData":
            return self.respond(start_response, "200 OK", self.get_metric_data(account, region, request), cbor=True)
        if op == "ListMetrics":
            return self.list_metrics(start_response, account, region, request)
        status, headers, answer = self.call_moto(
            environ,
            json.dumps(request).encode(),
            PATH_INFO="/",
            HTTP_X_AMZ_TARGET=f"GraniteServiceVersion20100801.{op}",
            CONTENT_TYPE="application/x-amz-json-1.0",
        )
        payload = json.loads(answer) if answer.strip() else {}
        if not status.startswith("2"):
            code = payload.get("__type") or dict(headers).get("x-amzn-ErrorType", "InternalFailure")
            return self.error(start_response, status, code, payload.get("message", ""), True)
        return self.respond(start_response, status, payload, cbor=True)

    def record_metrics(self, account, region, request):
        namespace = request.get("Namespace")
        with self.state.lock:
            for datum in request.get("MetricData", []):
                dims = tuple(sorted((d["Name"], d["Value"]) for d in datum.get("Dimensions", [])))
                key = (account, region, namespace, datum["MetricName"], dims)
                self.state.metric_seen[key] = CLOCK.epoch()
                at = float(datum.get("Timestamp", 0))
                values = datum.get("Values") or [datum.get("Value")]
                counts = datum.get("Counts") or [1] * len(values)
                for value, count in zip(values, counts):
                    self.state.metrics[key].extend([(at, float(value))] * int(count))

    def get_metric_data(self, account, region, request):
        start, end = float(request["StartTime"]), float(request["EndTime"])
        results = []
        for query in request.get("MetricDataQueries", []):
            stat = query["MetricStat"]
            metric = stat["Metric"]
            dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
            period = int(stat["Period"])
            with self.state.lock:
                points = list(self.state.metrics.get(
                    (account, region, metric.get("Namespace"), metric["MetricName"], dims), []))
            buckets = defaultdict(list)
            for at, value in points:
                if start <= at < end:
                    buckets[int(at // period * period)].append(value)
            # Newest first, as CloudWatch's default ScanBy TimestampDescending.
            times = sorted(buckets, reverse=True)
            results.append({
                "Id": query["Id"],
                "Label": query.get("Label") or metric["MetricName"],
                "Timestamps": times,
                "Values": [statistic(buckets[t], stat["Stat"]) for t in times],
                "StatusCode": "Complete",
            })
        return {"MetricDataResults": results, "Messages": []}

    def list_metrics(self, start_response, account, region, request):
        """The metrics PutMetricData recorded here, filtered as ListMetrics filters: Namespace and
        MetricName exactly; each DimensionFilter {Name, Value?} by a dimension of that name (and
        value); RecentlyActive PT3H: data received in the last 3 hours of the peer's clock. Metrics
        with no data for two weeks are left out, as CloudWatch does. OwningAccounts (one per metric)
        when IncludeLinkedAccounts is true; OwningAccount other than the caller's: none."""
        now = CLOCK.epoch()
        since = now - (3 * 3600 if request.get("RecentlyActive") == "PT3H" else 14 * 86400)
        wanted = [(f["Name"], f.get("Value")) for f in request.get("Dimensions") or []]
        with self.state.lock:
            keys = sorted(k for k, seen in self.state.metric_seen.items() if k[:2] == (account, region) and seen >= since)
        metrics = []
        for _, _, namespace, name, dims in keys:
            if request.get("Namespace") not in (None, namespace) or request.get("MetricName") not in (None, name):
                continue
            if not all(any(n == d and v in (None, dv) for d, dv in dims) for n, v in wanted):
                continue
            if request.get("OwningAccount") not in (None, account):
                continue
            metrics.append({"Namespace": namespace, "MetricName": name,
                            "Dimensions": [{"Name": d, "Value": v} for d, v in dims]})
        offset = int(request.get("NextToken") or 0)
        size = self.state.page_size(region, "ListMetrics") or METRICS_PAGE
        answer = {"Metrics": metrics[offset:offset + size]}
        if offset + size < len(metrics):
            answer["NextToken"] = str(offset + size)
        if request.get("IncludeLinkedAccounts"):
            answer["OwningAccounts"] = [account] * len(answer["Metrics"])
        return self.respond(start_response, "200 OK", answer, cbor=True)


def serve(url_file=None, port=0):
    peer = Peer()
    server = make_server("127.0.0.1", port, peer, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    if url_file:
        with open(url_file + ".tmp", "w") as f:
            f.write(url)
        # Renamed when complete: a reader never sees half a URL.
        import os
        os.replace(url_file + ".tmp", url_file)
    print(f"AWS test peer listening on {url}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url-file", help="write the peer's URL here once it listens")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    args = parser.parse_args()
    serve(args.url_file, args.port)

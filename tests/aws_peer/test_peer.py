"""Tests of the AWS test peer's adapter (run by scripts/test)."""

import atexit
import datetime
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import botocore.session
import cbor2
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.test import Client

sys.path.insert(0, os.path.dirname(__file__))
import peer  # noqa: E402

AUTH = "AWS4-HMAC-SHA256 Credential=test/20260101/eu-north-1/monitoring/aws4_request, SignedHeaders=host, Signature=x"
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"
SESSION = botocore.session.get_session()


def cbor_session():
    """A botocore session that speaks Smithy RPC v2 CBOR to CloudWatch, as the Rust SDK does
    (botocore itself prefers CloudWatch's JSON 1.0): its own CBOR serializer and parser check the
    peer's answers independently of the peer's cbor2 code."""
    model = SESSION.get_service_data("cloudwatch")
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    data = tempfile.mkdtemp(prefix="peer-models-")
    atexit.register(shutil.rmtree, data, True)
    os.makedirs(os.path.join(data, "cloudwatch", model["metadata"]["apiVersion"]))
    with open(os.path.join(data, "cloudwatch", model["metadata"]["apiVersion"], "service-2.json"), "w") as f:
        json.dump(model, f)
    session = botocore.session.get_session()
    session.set_config_variable("data_path", data)
    return session


CBOR_SESSION = cbor_session()


def cbor_auth(region):
    return AUTH.replace("eu-north-1", region)


class Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class LivePeer:
    """The peer on a local port, called by botocore as the Rust SDK calls it. moto's state is
    global to the process: each test uses Regions of its own."""

    def __init__(self):
        self.app = peer.Peer()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()

    def client(self, service, region, key="AKIDPEERTEST"):
        session = CBOR_SESSION if service == "cloudwatch" else SESSION
        return session.create_client(
            service, region_name=region, endpoint_url=self.url, aws_access_key_id=key,
            aws_secret_access_key="secret", config=Config(retries={"total_max_attempts": 1}))

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="GET" if data is None else "POST")
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def cbor(self, region, op, request):
        headers = {"Authorization": cbor_auth(region), "Content-Type": "application/cbor",
                   "smithy-protocol": "rpc-v2-cbor"}
        r = urllib.request.Request(self.url + CBOR_PATH + op, data=cbor2.dumps(request, datetime_as_timestamp=True),
                                   headers=headers, method="POST")
        try:
            with urllib.request.urlopen(r) as answer:
                return answer.status, dict(answer.headers), cbor2.loads(answer.read())
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), cbor2.loads(e.read())


class LiveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.peer = LivePeer()

    @classmethod
    def tearDownClass(cls):
        cls.peer.close()


class PureFunctions(unittest.TestCase):
    def test_percentiles_use_the_nearest_rank(self):
        values = [float(v) for v in range(1, 101)]
        self.assertEqual(peer.statistic(values, "p50"), 50.0)
        self.assertEqual(peer.statistic(values, "p99"), 99.0)
        self.assertEqual(peer.statistic(values, "Maximum"), 100.0)
        self.assertEqual(peer.statistic(values, "Sum"), 5050.0)

    def test_answer_times_become_cbor_tag_1(self):
        out = peer.times_to_cbor({"Timestamps": [60.0], "Values": [1.0]})
        self.assertEqual(out["Timestamps"][0], cbor2.CBORTag(1, 60.0))
        self.assertEqual(out["Values"], [1.0])

    def test_request_times_become_epoch_seconds(self):
        at = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        self.assertEqual(peer.times_to_json({"StartTime": at}), {"StartTime": at.timestamp()})


class CloudWatchOverCbor(unittest.TestCase):
    def test_put_then_get_metric_data_round_trips_percentiles(self):
        client = Client(peer.Peer())
        path = "/service/GraniteServiceVersion20100801/operation/"
        headers = {"Authorization": AUTH, "Content-Type": "application/cbor",
                   "smithy-protocol": "rpc-v2-cbor"}
        at = datetime.datetime(2026, 1, 1, 0, 0, 30, tzinfo=datetime.timezone.utc)
        dims = [{"Name": "FunctionName", "Value": "f"}]
        put = {"Namespace": "AWS/Lambda", "MetricData": [
            {"MetricName": "Duration", "Dimensions": dims, "Timestamp": at, "Values": [10.0, 20.0, 30.0]}]}
        r = client.post(path + "PutMetricData", data=cbor2.dumps(put, datetime_as_timestamp=True), headers=headers)
        self.assertEqual(r.status_code, 200, r.data)
        get = {"StartTime": at - datetime.timedelta(minutes=1), "EndTime": at + datetime.timedelta(minutes=1),
               "MetricDataQueries": [{"Id": "m0", "MetricStat": {
                   "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Duration", "Dimensions": dims},
                   "Period": 60, "Stat": "p50"}}]}
        r = client.post(path + "GetMetricData", data=cbor2.dumps(get, datetime_as_timestamp=True), headers=headers)
        self.assertEqual(r.status_code, 200, r.data)
        self.assertEqual(r.headers["smithy-protocol"], "rpc-v2-cbor")
        answer = cbor2.loads(r.data)
        result = answer["MetricDataResults"][0]
        self.assertEqual(result["Values"], [20.0])
        self.assertEqual(result["Timestamps"][0].timestamp(), 1767225600.0)

    def test_injected_throttles_are_counted_and_then_stop(self):
        app = peer.Peer()
        client = Client(app)
        fault = {"region": "eu-north-1", "operation": "GetMetricData", "throttle": 1}
        client.post("/_peer/faults", data=json.dumps(fault))
        path = "/service/GraniteServiceVersion20100801/operation/GetMetricData"
        body = cbor2.dumps({"StartTime": 0, "EndTime": 60, "MetricDataQueries": []})
        first = client.post(path, data=body, headers={"Authorization": AUTH})
        second = client.post(path, data=body, headers={"Authorization": AUTH})
        self.assertEqual(first.status_code, 400)
        self.assertEqual(cbor2.loads(first.data)["__type"], "ThrottlingException")
        self.assertEqual(second.status_code, 200)
        calls = json.loads(client.get("/_peer/calls?region=eu-north-1").data)
        self.assertEqual(calls["GetMetricData"], 2)


class LogsClock(unittest.TestCase):
    def put_event(self, client, at_ms):
        headers = {"Authorization": AUTH.replace("/monitoring/", "/logs/"),
                   "Content-Type": "application/x-amz-json-1.1"}
        for target, body in [
            ("CreateLogGroup", {"logGroupName": "/clock"}),
            ("CreateLogStream", {"logGroupName": "/clock", "logStreamName": "s"}),
            ("PutLogEvents", {"logGroupName": "/clock", "logStreamName": "s",
                              "logEvents": [{"timestamp": at_ms, "message": "m"}]}),
        ]:
            r = client.post("/", data=json.dumps(body),
                            headers=dict(headers, **{"X-Amz-Target": f"Logs_20140328.{target}"}))
        return json.loads(r.data)

    def test_events_of_the_clocks_day_are_kept_and_older_ones_rejected(self):
        day = datetime.datetime(2026, 11, 20, 11, tzinfo=datetime.timezone.utc).timestamp()
        client = Client(peer.Peer())
        try:
            rejected = self.put_event(client, int(day * 1000))
            self.assertIn("tooOldLogEventEndIndex", rejected.get("rejectedLogEventsInfo", {}))
            client.post("/_peer/clock", data=json.dumps({"now": day + 3600}))
            kept = self.put_event(client, int(day * 1000))
            self.assertNotIn("rejectedLogEventsInfo", kept)
        finally:
            peer.CLOCK.offset = datetime.timedelta(0)


class Routing(LiveTest):
    def test_operations_of_every_protocol_are_counted_by_name(self):
        region = "ca-central-1"
        self.peer.client("lambda", region).list_functions()
        self.peer.client("sts", region).get_caller_identity()
        self.peer.client("xray", region).get_trace_summaries(StartTime=0, EndTime=60)
        self.peer.client("logs", region).describe_log_groups()
        self.peer.cbor(region, "ListMetrics", {})
        _, calls = self.peer.control(f"/_peer/calls?region={region}")
        for op in ("ListFunctions", "GetCallerIdentity", "GetTraceSummaries", "DescribeLogGroups", "ListMetrics"):
            self.assertEqual(calls.get(op), 1, (op, calls))

    def test_rest_routes_come_from_the_models(self):
        environ = {"PATH_INFO": "/2015-03-31/functions/f/configuration", "REQUEST_METHOD": "PUT",
                   "HTTP_AUTHORIZATION": AUTH.replace("/monitoring/", "/lambda/")}
        self.assertEqual(peer.operation_of(environ), "UpdateFunctionConfiguration")
        environ.update(REQUEST_METHOD="GET", PATH_INFO="/2015-03-31/functions/f")
        self.assertEqual(peer.operation_of(environ), "GetFunction")
        environ.update(REQUEST_METHOD="POST", PATH_INFO="/StartTraceRetrieval", HTTP_AUTHORIZATION="")
        self.assertEqual(peer.operation_of(environ), "StartTraceRetrieval")


class AccessDenied(LiveTest):
    region = "ap-south-1"

    def deny(self, op, n):
        status, _ = self.peer.control("/_peer/faults", {"region": self.region, "operation": op, "denied": n})
        self.assertEqual(status, 200)

    def expect_denied(self, call, code, status, action):
        with self.assertRaises(ClientError) as caught:
            call()
        error = caught.exception.response
        self.assertEqual(error["Error"]["Code"], code)
        self.assertEqual(error["ResponseMetadata"]["HTTPStatusCode"], status)
        self.assertEqual(error["Error"]["Message"], peer.denied_message("123456789012", action))

    def test_xray_is_denied_n_times_then_answers(self):
        xray = self.peer.client("xray", self.region)
        self.deny("GetTraceSummaries", 1)
        self.expect_denied(lambda: xray.get_trace_summaries(StartTime=0, EndTime=60),
                           "AccessDeniedException", 403, "xray:GetTraceSummaries")
        self.assertEqual(xray.get_trace_summaries(StartTime=0, EndTime=60)["TraceSummaries"], [])

    def test_logs_lambda_sts_errors_take_their_protocols_forms(self):
        self.deny("FilterLogEvents", -1)
        logs = self.peer.client("logs", self.region)
        for _ in range(2):  # -1: for good
            self.expect_denied(lambda: logs.filter_log_events(logGroupName="g"),
                               "AccessDeniedException", 400, "logs:FilterLogEvents")
        self.deny("ListFunctions", 1)
        self.expect_denied(self.peer.client("lambda", self.region).list_functions,
                           "AccessDeniedException", 403, "lambda:ListFunctions")
        status, answer = self.peer.control("/_peer/faults", {"region": self.region,
                                                             "operation": "GetCallerIdentity", "denied": 1})
        self.assertEqual(status, 400, answer)

    def test_cloudwatch_cbor_answers_access_denied_query_compatibly(self):
        self.deny("ListMetrics", 1)
        status, headers, answer = self.peer.cbor(self.region, "ListMetrics", {})
        self.assertEqual(status, 403)
        self.assertEqual(answer["__type"], "AccessDenied")
        self.assertEqual(headers["x-amzn-query-error"], "AccessDenied;Sender")
        self.assertEqual(answer["message"], peer.denied_message("123456789012", "cloudwatch:ListMetrics"))
        self.deny("GetMetricData", 1)
        self.expect_denied(lambda: self.peer.client("cloudwatch", self.region).get_metric_data(
            MetricDataQueries=[], StartTime=0, EndTime=60), "AccessDenied", 403, "cloudwatch:GetMetricData")


class Glue(LiveTest):
    """What `athena-ddl --apply` relies on: moto's Glue through the peer, AWS's error codes, and
    the peer's denied fault in Glue's form."""

    region = "ap-southeast-6"

    def test_tables_are_created_once_then_updated(self):
        glue = self.peer.client("glue", self.region)
        with self.assertRaises(ClientError) as caught:
            glue.get_database(Name="hopscope")
        self.assertEqual(caught.exception.response["Error"]["Code"], "EntityNotFoundException")
        glue.create_database(DatabaseInput={"Name": "hopscope"})
        table = {"Name": "spans", "TableType": "EXTERNAL_TABLE",
                 "PartitionKeys": [{"Name": "hour", "Type": "string"}],
                 "Parameters": {"projection.enabled": "true"},
                 "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "string"}],
                                       "Location": "s3://bucket/store/spans/"}}
        glue.create_table(DatabaseName="hopscope", TableInput=table)
        with self.assertRaises(ClientError) as caught:
            glue.create_table(DatabaseName="hopscope", TableInput=table)
        self.assertEqual(caught.exception.response["Error"]["Code"], "AlreadyExistsException")
        table["StorageDescriptor"]["Columns"].append({"Name": "depth", "Type": "int"})
        glue.update_table(DatabaseName="hopscope", TableInput=table)
        got = glue.get_table(DatabaseName="hopscope", Name="spans")["Table"]
        self.assertEqual(got["StorageDescriptor"]["Columns"],
                         [{"Name": "id", "Type": "string"}, {"Name": "depth", "Type": "int"}])
        self.assertEqual(got["PartitionKeys"], [{"Name": "hour", "Type": "string"}])
        self.assertEqual(got["Parameters"], {"projection.enabled": "true"})
        self.assertEqual([t["Name"] for t in glue.get_tables(DatabaseName="hopscope")["TableList"]], ["spans"])

    def test_a_denied_call_names_the_glue_action(self):
        glue = self.peer.client("glue", self.region)
        status, _ = self.peer.control("/_peer/faults", {"region": self.region, "operation": "CreateDatabase",
                                                        "denied": 1})
        self.assertEqual(status, 200)
        with self.assertRaises(ClientError) as caught:
            glue.create_database(DatabaseInput={"Name": "denied"})
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], "AccessDeniedException")
        self.assertEqual(error["Message"], peer.denied_message("123456789012", "glue:CreateDatabase"))


class Throttles(LiveTest):
    region = "ap-south-2"

    def test_each_service_throttles_with_its_documented_error(self):
        cases = [
            ("xray", "GetTraceSummaries", lambda c: c.get_trace_summaries(StartTime=0, EndTime=60),
             "ThrottledException", 429),
            ("xray", "StartTraceRetrieval", lambda c: c.start_trace_retrieval(TraceIds=[], StartTime=0, EndTime=60),
             "ThrottledException", 429),
            ("lambda", "ListFunctions", lambda c: c.list_functions(), "TooManyRequestsException", 429),
            ("logs", "DescribeLogGroups", lambda c: c.describe_log_groups(), "ThrottlingException", 400),
            ("cloudwatch", "ListMetrics", lambda c: c.list_metrics(), "Throttling", 400),
            ("sts", "GetCallerIdentity", lambda c: c.get_caller_identity(), "Throttling", 400),
        ]
        for service, op, call, code, status in cases:
            self.peer.control("/_peer/faults", {"region": self.region, "operation": op, "throttle": 1})
            client = self.peer.client(service, self.region)
            with self.assertRaises(ClientError, msg=op) as caught:
                call(client)
            error = caught.exception.response
            self.assertEqual((error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]), (code, status), op)
            call(client)  # once only


class Accounts(LiveTest):
    def test_access_keys_map_to_accounts_and_sts_says_which(self):
        region = "ap-northeast-2"
        self.peer.control("/_peer/accounts", {"access_key_id": "AKIDSECOND", "account_id": "222222222222"})
        first = self.peer.client("sts", region).get_caller_identity()
        second = self.peer.client("sts", region, key="AKIDSECOND").get_caller_identity()
        self.assertEqual(first["Account"], "123456789012")
        self.assertEqual(second["Account"], "222222222222")
        self.assertEqual(second["Arn"], "arn:aws:sts::222222222222:user/moto")
        # And each account has its own services: a log group of one is not the other's.
        self.peer.client("logs", region, key="AKIDSECOND").create_log_group(logGroupName="/only-second")
        names = [g["logGroupName"] for g in self.peer.client("logs", region).describe_log_groups()["logGroups"]]
        self.assertNotIn("/only-second", names)


def trace_id(n, at=None):
    return f"1-{int(at or time.time()):08x}-{n:024x}"


def segment_documents(tid, start):
    """A traced service calling DynamoDB (fault) and a remote API, with a local subsegment that is
    still in progress; times are written with microsecond digits, as SDKs write them."""
    def t(offset):
        return f"@{start + offset:.6f}@"  # a JSON number once the quotes go, below

    segment = {
        "name": "orders", "id": "a000000000000001", "trace_id": tid, "origin": "AWS::Lambda::Function",
        "start_time": t(0), "end_time": t(0.5), "fault": True,
        "http": {"request": {"method": "POST", "url": "https://x/orders"}, "response": {"status": 500}},
        "annotations": {"tenant": "t1"},
        "subsegments": [
            {"name": "DynamoDB", "id": "b000000000000001", "namespace": "aws", "start_time": t(0.1),
             "end_time": t(0.2), "fault": True, "aws": {"operation": "PutItem", "request_id": "R1"},
             "cause": {"exceptions": [{"id": "e1", "message": "boom"}]},
             "http": {"response": {"status": 500}}},
            {"name": "api.example.com", "id": "b000000000000002", "namespace": "remote",
             "start_time": t(0.2), "end_time": t(0.3),
             "subsegments": [{"name": "parse", "id": "c000000000000001", "start_time": t(0.25),
                              "in_progress": True}]},
        ],
    }
    return json.dumps(segment).replace('"@', "").replace('@"', "")


def put_segments(xray, *documents):
    return xray.put_trace_segments(TraceSegmentDocuments=list(documents))


def simple_segment(tid, start, sid="d000000000000001"):
    return json.dumps({"name": "svc", "id": sid, "trace_id": tid, "start_time": start, "end_time": start + 0.01})


class TransactionSearch(LiveTest):
    def cloudwatch_logs_world(self, region, percentage=None):
        xray = self.peer.client("xray", region)
        answer = xray.update_trace_segment_destination(Destination="CloudWatchLogs")
        self.assertEqual((answer["Destination"], answer["Status"]), ("CloudWatchLogs", "ACTIVE"))
        if percentage is not None:
            xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": percentage}})
        return xray

    def test_destination_is_xray_until_updated_and_per_region(self):
        xray = self.peer.client("xray", "eu-south-1")
        self.assertEqual(xray.get_trace_segment_destination()["Destination"], "XRay")
        with self.assertRaises(ClientError) as caught:
            xray.update_trace_segment_destination(Destination="S3")
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidRequestException")
        self.cloudwatch_logs_world("eu-south-1")
        answer = xray.get_trace_segment_destination()
        self.assertEqual((answer["Destination"], answer["Status"]), ("CloudWatchLogs", "ACTIVE"))
        self.assertEqual(self.peer.client("xray", "eu-south-2").get_trace_segment_destination()["Destination"], "XRay")
        status, world = self.peer.control("/_peer/world", {"region": "eu-south-2", "destination": "CloudWatchLogs"})
        self.assertEqual((status, world["destination"]), (200, "CloudWatchLogs"))
        self.assertEqual(self.peer.client("xray", "eu-south-2").get_trace_segment_destination()["Destination"],
                         "CloudWatchLogs")

    def test_segments_and_subsegments_become_spans_in_aws_spans(self):
        region = "eu-central-2"
        xray = self.cloudwatch_logs_world(region)
        start = int(time.time()) - 120 + 0.123456
        tid = trace_id(1)
        self.assertEqual(put_segments(xray, segment_documents(tid, start))["UnprocessedTraceSegments"], [])
        logs = self.peer.client("logs", region)
        events, token = [], None
        while True:  # FilterLogEvents pages through them
            page = logs.filter_log_events(logGroupName="aws/spans", limit=2, **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        spans = {json.loads(e["message"])["spanId"]: (e, json.loads(e["message"])) for e in events}
        self.assertEqual(len(events), 4)
        event, root = spans["a000000000000001"]
        w3c = tid[2:10] + tid[11:]
        self.assertEqual(root["traceId"], w3c)
        self.assertEqual((root["kind"], root["name"], root["flags"]), ("SERVER", "orders", 256))
        self.assertNotIn("parentSpanId", root)
        start_nanos = int(f"{start:.6f}".replace(".", "")) * 1000
        self.assertEqual(root["startTimeUnixNano"], start_nanos)
        self.assertEqual(root["endTimeUnixNano"], start_nanos + 500_000_000)
        self.assertEqual(root["durationNano"], 500_000_000)
        self.assertEqual(event["timestamp"], start_nanos // 1_000_000)
        self.assertIn('"startTimeUnixNano":%d' % start_nanos, event["message"])  # a JSON integer
        self.assertEqual(root["status"], {"code": "ERROR"})
        self.assertEqual(root["attributes"]["aws.xray.origin"], "AWS::Lambda::Function")
        self.assertEqual(root["attributes"]["http.response.status_code"], 500)
        self.assertEqual(root["attributes"]["tenant"], "t1")
        self.assertEqual(root["resource"]["attributes"]["service.name"], "orders")
        self.assertEqual(root["resource"]["attributes"]["cloud.platform"], "aws_lambda")
        _, ddb = spans["b000000000000001"]
        self.assertEqual((ddb["kind"], ddb["parentSpanId"]), ("CLIENT", "a000000000000001"))
        self.assertEqual(ddb["status"], {"code": "ERROR", "message": "boom"})
        self.assertEqual(ddb["attributes"]["rpc.method"], "PutItem")
        self.assertEqual(ddb["attributes"]["aws.remote.service"], "AWS::DynamoDB")
        _, remote = spans["b000000000000002"]
        self.assertEqual((remote["kind"], remote["status"]), ("CLIENT", {"code": "UNSET"}))
        _, parse = spans["c000000000000001"]
        self.assertEqual((parse["kind"], parse["parentSpanId"]), ("INTERNAL", "b000000000000002"))
        self.assertNotIn("endTimeUnixNano", parse)  # still in progress
        self.assertNotIn("durationNano", parse)

    def test_the_xray_world_writes_no_spans(self):
        region = "il-central-1"
        xray = self.peer.client("xray", region)
        put_segments(xray, simple_segment(trace_id(2), time.time() - 60))
        groups = self.peer.client("logs", region).describe_log_groups()["logGroups"]
        self.assertNotIn("aws/spans", [g["logGroupName"] for g in groups])

    def test_summaries_hold_only_the_indexed_share_and_batch_get_finds_nothing(self):
        region = "me-central-1"
        xray = self.peer.client("xray", region)
        now = time.time()
        ids = [trace_id(100 + n) for n in range(40)]
        put_segments(xray, *[simple_segment(t, now - 60) for t in ids[:20]])
        put_segments(xray, *[simple_segment(t, now - 60) for t in ids[20:]])

        def summarised():
            pages = xray.get_paginator("get_trace_summaries").paginate(StartTime=now - 120, EndTime=now)
            return sorted(s["Id"] for p in pages for s in p["TraceSummaries"])

        self.assertEqual(summarised(), sorted(ids))  # the X-Ray world: every trace
        self.assertEqual(len(xray.batch_get_traces(TraceIds=ids[:5])["Traces"]), 5)
        self.cloudwatch_logs_world(region, percentage=50)
        _, world = self.peer.control(f"/_peer/world?region={region}")
        share = [t for t in ids if peer.indexed(t, 50)]
        self.assertTrue(0 < len(share) < len(ids), share)
        self.assertEqual(summarised(), sorted(share))
        self.assertEqual(sorted(set(world["indexed_trace_ids"]) & set(ids)), sorted(share))
        self.assertEqual(world["indexing_percentage"], 50.0)
        self.cloudwatch_logs_world(region, percentage=0)
        self.assertEqual(summarised(), [])
        self.cloudwatch_logs_world(region, percentage=100)
        self.assertEqual(summarised(), sorted(ids))
        answer = xray.batch_get_traces(TraceIds=ids[:5])
        self.assertEqual((answer["Traces"], answer["UnprocessedTraceIds"]), ([], []))

    def test_the_default_indexing_rule_is_one_percent_and_can_be_updated(self):
        xray = self.peer.client("xray", "ap-southeast-3")
        rules = xray.get_indexing_rules()["IndexingRules"]
        self.assertEqual([(r["Name"], r["Rule"]["Probabilistic"]["DesiredSamplingPercentage"]) for r in rules],
                         [("Default", 1.0)])
        rule = xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": 30}})
        self.assertEqual(rule["IndexingRule"]["Rule"]["Probabilistic"]["DesiredSamplingPercentage"], 30.0)
        self.assertEqual(xray.get_indexing_rules()["IndexingRules"][0]["Rule"]["Probabilistic"]
                         ["DesiredSamplingPercentage"], 30.0)
        for name, pct, code in (("Other", 5, "ResourceNotFoundException"), ("Default", 150, "InvalidRequestException")):
            with self.assertRaises(ClientError) as caught:
                xray.update_indexing_rule(Name=name, Rule={"Probabilistic": {"DesiredSamplingPercentage": pct}})
            self.assertEqual(caught.exception.response["Error"]["Code"], code)


class TraceRetrieval(LiveTest):
    def world(self, region):
        xray = self.peer.client("xray", region)
        xray.update_trace_segment_destination(Destination="CloudWatchLogs")
        return xray

    def poll(self, xray, token, form="XRAY"):
        """ListRetrievedTraces until COMPLETE, then every page; returns (statuses seen, traces)."""
        statuses, traces, next_token = [], [], None
        for _ in range(20):
            page = xray.list_retrieved_traces(RetrievalToken=token, TraceFormat=form,
                                              **({"NextToken": next_token} if next_token else {}))
            statuses.append(page["RetrievalStatus"])
            if page["RetrievalStatus"] != "COMPLETE":
                self.assertNotIn("Traces", page)  # "the API will return an empty response"
                continue
            traces += page["Traces"]
            next_token = page.get("NextToken")
            if not next_token:
                return statuses, traces
        self.fail(statuses)

    def test_retrieval_is_scheduled_then_complete_with_the_documents_put(self):
        region = "af-south-1"
        xray = self.world(region)
        now = time.time()
        first, second, late = trace_id(201), trace_id(202), trace_id(203)
        documents = {first: [segment_documents(first, now - 100)],
                     second: [simple_segment(second, now - 90, "d000000000000001"),
                              simple_segment(second, now - 89, "d000000000000002")],
                     late: [simple_segment(late, now - 10)]}
        put_segments(xray, *[d for ds in documents.values() for d in ds])
        token = xray.start_trace_retrieval(TraceIds=[first, second, late, trace_id(299)],
                                           StartTime=now - 200, EndTime=now - 50)["RetrievalToken"]
        statuses, traces = self.poll(xray, token)
        self.assertEqual(statuses, ["SCHEDULED", "COMPLETE"])
        self.assertEqual([t["Id"] for t in traces], [first, second])  # late is outside the range
        for trace in traces:
            self.assertEqual([s["Document"] for s in trace["Spans"]], documents[trace["Id"]])
        self.assertEqual([s["Id"] for s in traces[1]["Spans"]], ["d000000000000001", "d000000000000002"])
        self.assertAlmostEqual(traces[1]["Duration"], 1.01, places=3)
        _, otel = self.poll(xray, token, "OTEL")
        spans = [json.loads(s["Document"]) for s in otel[0]["Spans"]]
        self.assertEqual([s["Id"] for s in otel[0]["Spans"]], [s["spanId"] for s in spans])
        self.assertEqual({s["spanId"] for s in spans},
                         {"a000000000000001", "b000000000000001", "b000000000000002", "c000000000000001"})
        self.assertEqual({s["traceId"] for s in spans}, {first[2:10] + first[11:]})

    def test_polls_before_complete_and_page_size_are_settable(self):
        region = "ap-east-1"
        xray = self.world(region)
        now = time.time()
        ids = [trace_id(300 + n) for n in range(7)]
        put_segments(xray, *[simple_segment(t, now - 60) for t in ids])
        token = xray.start_trace_retrieval(TraceIds=ids, StartTime=now - 120, EndTime=now)["RetrievalToken"]
        statuses, traces = self.poll(xray, token)
        self.assertEqual((statuses, len(traces)), (["SCHEDULED", "COMPLETE", "COMPLETE"], 7))  # 5 a page
        self.peer.control("/_peer/faults", {"region": region, "operation": "ListRetrievedTraces",
                                            "running": 3, "page_size": 3})
        token = xray.start_trace_retrieval(TraceIds=ids, StartTime=now - 120, EndTime=now)["RetrievalToken"]
        statuses, traces = self.poll(xray, token)
        self.assertEqual(statuses, ["SCHEDULED", "RUNNING", "RUNNING"] + ["COMPLETE"] * 3)
        self.assertEqual([t["Id"] for t in traces], ids)

    def test_documented_limits_are_enforced(self):
        xray = self.world("ap-southeast-4")
        now = time.time()
        for ids, start, end in (([trace_id(n) for n in range(101)], now - 60, now), ([trace_id(1)], now, now - 60)):
            with self.assertRaises(ClientError) as caught:
                xray.start_trace_retrieval(TraceIds=ids, StartTime=start, EndTime=end)
            self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidRequestException")
        token = xray.start_trace_retrieval(TraceIds=[trace_id(n) for n in range(100)], StartTime=now - 60,
                                           EndTime=now)["RetrievalToken"]
        with self.assertRaises(ClientError) as caught:
            xray.list_retrieved_traces(RetrievalToken=token, TraceFormat="JSON")
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidRequestException")

    def test_tokens_expire_after_sixty_minutes_and_are_per_region(self):
        region = "ap-southeast-5"
        xray = self.world(region)
        now = time.time()
        token = xray.start_trace_retrieval(TraceIds=[trace_id(1)], StartTime=now - 60, EndTime=now)["RetrievalToken"]
        for client, tok in ((xray, "no-such-token"), (self.world("ap-northeast-3"), token)):
            with self.assertRaises(ClientError) as caught:
                client.list_retrieved_traces(RetrievalToken=tok)
            self.assertEqual(caught.exception.response["Error"]["Code"], "ResourceNotFoundException")
            self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        try:
            self.peer.control("/_peer/clock", {"now": now + 59 * 60})
            self.assertEqual(xray.list_retrieved_traces(RetrievalToken=token)["RetrievalStatus"], "SCHEDULED")
            self.peer.control("/_peer/clock", {"now": now + 61 * 60})
            with self.assertRaises(ClientError) as caught:
                xray.list_retrieved_traces(RetrievalToken=token)
            self.assertEqual(caught.exception.response["Error"]["Code"], "ResourceNotFoundException")
        finally:
            peer.CLOCK.offset = datetime.timedelta(0)

    def test_the_xray_world_retrieves_nothing(self):
        region = "mx-central-1"
        xray = self.peer.client("xray", region)
        now = time.time()
        tid = trace_id(401)
        put_segments(xray, simple_segment(tid, now - 60))
        token = xray.start_trace_retrieval(TraceIds=[tid], StartTime=now - 120, EndTime=now)["RetrievalToken"]
        self.assertEqual(self.poll(xray, token), (["SCHEDULED", "COMPLETE"], []))
        self.assertEqual(len(xray.batch_get_traces(TraceIds=[tid])["Traces"]), 1)

    def test_a_cancelled_retrieval_says_so(self):
        xray = self.world("ap-southeast-2")
        now = time.time()
        token = xray.start_trace_retrieval(TraceIds=[trace_id(1)], StartTime=now - 60, EndTime=now)["RetrievalToken"]
        xray.cancel_trace_retrieval(RetrievalToken=token)
        self.assertEqual(xray.list_retrieved_traces(RetrievalToken=token)["RetrievalStatus"], "CANCELLED")
        with self.assertRaises(ClientError) as caught:
            xray.cancel_trace_retrieval(RetrievalToken="no-such-token")
        self.assertEqual(caught.exception.response["Error"]["Code"], "ResourceNotFoundException")


class Lambda(LiveTest):
    def test_create_function_over_http_keeps_logging_config_moto_drops(self):
        region = "eu-west-2"
        role = self.peer.client("iam", region).create_role(
            RoleName="lambda-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = self.peer.client("lambda", region)
        logging = {"LogFormat": "JSON", "LogGroup": "/custom/orders", "ApplicationLogLevel": "INFO",
                   "SystemLogLevel": "WARN"}
        created = lam.create_function(FunctionName="orders", Runtime="python3.12", Role=role,
                                      Handler="index.handler", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
                                      LoggingConfig=logging)
        self.assertEqual(created["LoggingConfig"], logging)
        lam.create_function(FunctionName="plain", Runtime="python3.12", Role=role, Handler="index.handler",
                            Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18})
        by_name = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
        self.assertEqual(by_name["orders"]["LoggingConfig"], logging)
        self.assertEqual(by_name["plain"]["LoggingConfig"], {"LogFormat": "Text", "LogGroup": "/aws/lambda/plain"})
        self.assertEqual(lam.get_function_configuration(FunctionName="orders")["LoggingConfig"], logging)
        self.assertEqual(lam.get_function(FunctionName="orders")["Configuration"]["LoggingConfig"], logging)
        updated = lam.update_function_configuration(FunctionName="orders", LoggingConfig={"LogFormat": "Text"})
        self.assertEqual(updated["LoggingConfig"], {**logging, "LogFormat": "Text"})

    def test_control_endpoint_seeds_publishes_aliases_and_updates(self):
        region = "eu-west-3"
        status, answer = self.peer.control("/_peer/lambda", {"region": region, "functions": [
            {"FunctionName": "api", "Runtime": "nodejs20.x", "MemorySize": 512, "Timeout": 30,
             "Architectures": ["arm64"], "LoggingConfig": {"LogFormat": "JSON", "LogGroup": "/shared/api"},
             "Publish": True, "Aliases": [{"Name": "live", "FunctionVersion": "1"}]},
            {"FunctionName": "worker", "Runtime": "python3.12"}]})
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["functions"][0]["Versions"], ["$LATEST", "1"])
        self.assertEqual(answer["functions"][0]["FunctionArn"], f"arn:aws:lambda:{region}:123456789012:function:api")
        lam = self.peer.client("lambda", region)
        api = lam.get_function_configuration(FunctionName="api")
        self.assertEqual((api["Runtime"], api["MemorySize"], api["Timeout"], api["Architectures"]),
                         ("nodejs20.x", 512, 30, ["arm64"]))
        self.assertEqual(api["LoggingConfig"], {"LogFormat": "JSON", "LogGroup": "/shared/api"})
        self.assertEqual([a["Name"] for a in lam.list_aliases(FunctionName="api")["Aliases"]], ["live"])
        # A change between two collections: $LATEST changes, version 1 keeps what it was published with.
        self.peer.control("/_peer/lambda", {"region": region, "functions": [
            {"FunctionName": "api", "MemorySize": 1024, "LoggingConfig": {"LogGroup": "/shared/api-v2"},
             "Publish": True, "Aliases": [{"Name": "live", "FunctionVersion": "2"}]}]})
        versions = {v["Version"]: v for v in lam.list_versions_by_function(FunctionName="api")["Versions"]}
        self.assertEqual(sorted(versions), ["$LATEST", "1", "2"])
        # Every update renews $LATEST's LastModified and RevisionId, as Lambda does (moto does not).
        self.assertNotEqual(versions["$LATEST"]["RevisionId"], api["RevisionId"])
        self.assertGreater(versions["$LATEST"]["LastModified"], api["LastModified"])
        self.assertRegex(api["LastModified"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
        self.assertEqual(versions["$LATEST"]["MemorySize"], 1024)
        self.assertEqual(versions["1"]["LoggingConfig"]["LogGroup"], "/shared/api")
        self.assertEqual(versions["2"]["LoggingConfig"]["LogGroup"], "/shared/api-v2")
        self.assertEqual(lam.get_alias(FunctionName="api", Name="live")["FunctionVersion"], "2")
        self.assertEqual(lam.get_function_configuration(FunctionName="worker")["LoggingConfig"]["LogGroup"],
                         "/aws/lambda/worker")

    def test_list_functions_pages(self):
        region = "eu-north-1"
        self.peer.control("/_peer/lambda", {"region": region, "functions": [
            {"FunctionName": f"fn-{n}", "Runtime": "python3.12"} for n in range(5)]})
        self.peer.control("/_peer/faults", {"region": region, "operation": "ListFunctions", "page_size": 2})
        pages = list(self.peer.client("lambda", region).get_paginator("list_functions").paginate())
        self.assertEqual([len(p["Functions"]) for p in pages], [2, 2, 1])
        self.assertEqual(sorted(f["FunctionName"] for p in pages for f in p["Functions"]),
                         [f"fn-{n}" for n in range(5)])


class FilterLogEventsPages(LiveTest):
    def test_page_size_splits_filter_log_events_into_pages(self):
        region = "sa-east-1"
        logs = self.peer.client("logs", region)
        logs.create_log_group(logGroupName="paged")
        logs.create_log_stream(logGroupName="paged", logStreamName="s")
        now = int(time.time() * 1000)
        events = [{"timestamp": now + i, "message": f"line {i}"} for i in range(7)]
        logs.put_log_events(logGroupName="paged", logStreamName="s", logEvents=events)
        self.peer.control("/_peer/faults", {"region": region, "operation": "FilterLogEvents", "page_size": 3})
        pages, token = [], None
        while True:
            args = {"logGroupName": "paged", **({"nextToken": token} if token else {})}
            answer = logs.filter_log_events(**args)
            pages.append([e["message"] for e in answer["events"]])
            token = answer.get("nextToken")
            if not token:
                break
        self.assertEqual([len(p) for p in pages[:3]], [3, 3, 1])
        self.assertEqual(sum(pages, []), [f"line {i}" for i in range(7)])


class ListMetrics(LiveTest):
    def test_metrics_put_are_listed_filtered_and_paged_over_cbor(self):
        region = "us-west-1"
        cloudwatch = self.peer.client("cloudwatch", region)
        now = datetime.datetime.now(datetime.timezone.utc)
        for namespace, name, function in (("AWS/Lambda", "Duration", "a"), ("AWS/Lambda", "Duration", "b"),
                                          ("AWS/Lambda", "Errors", "a"), ("Custom", "Depth", "a")):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{
                "MetricName": name, "Timestamp": now, "Value": 1.0,
                "Dimensions": [{"Name": "FunctionName", "Value": function}, {"Name": "Resource", "Value": function}]}])
        everything = cloudwatch.list_metrics()
        self.assertNotIn("NextToken", everything)
        self.assertNotIn("OwningAccounts", everything)
        self.assertEqual(len(everything["Metrics"]), 4)
        self.assertEqual(everything["Metrics"][0], {"Namespace": "AWS/Lambda", "MetricName": "Duration", "Dimensions": [
            {"Name": "FunctionName", "Value": "a"}, {"Name": "Resource", "Value": "a"}]})
        of_a = cloudwatch.list_metrics(Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": "a"}])
        self.assertEqual(sorted(m["MetricName"] for m in of_a["Metrics"]), ["Duration", "Errors"])
        named = cloudwatch.list_metrics(MetricName="Duration", Dimensions=[{"Name": "Resource"}])
        self.assertEqual(len(named["Metrics"]), 2)
        linked = cloudwatch.list_metrics(Namespace="Custom", IncludeLinkedAccounts=True)
        self.assertEqual(linked["OwningAccounts"], ["123456789012"])
        self.peer.control("/_peer/faults", {"region": region, "operation": "ListMetrics", "page_size": 3})
        pages = list(cloudwatch.get_paginator("list_metrics").paginate())
        self.assertEqual([len(p["Metrics"]) for p in pages], [3, 1])
        self.assertEqual([m for p in pages for m in p["Metrics"]], everything["Metrics"])

    def test_recently_active_reads_the_peers_clock(self):
        region = "us-west-2"
        cloudwatch = self.peer.client("cloudwatch", region)
        cloudwatch.put_metric_data(Namespace="N", MetricData=[{"MetricName": "M", "Value": 1.0}])
        self.assertEqual(len(cloudwatch.list_metrics(RecentlyActive="PT3H")["Metrics"]), 1)
        try:
            self.peer.control("/_peer/clock", {"now": time.time() + 4 * 3600})
            self.assertEqual(cloudwatch.list_metrics(RecentlyActive="PT3H")["Metrics"], [])
            self.assertEqual(len(cloudwatch.list_metrics()["Metrics"]), 1)
            self.peer.control("/_peer/clock", {"now": time.time() + 15 * 86400})
            self.assertEqual(cloudwatch.list_metrics()["Metrics"], [])  # no data for two weeks
        finally:
            peer.CLOCK.offset = datetime.timedelta(0)


if __name__ == "__main__":
    unittest.main()

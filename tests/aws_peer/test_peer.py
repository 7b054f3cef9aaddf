"""Tests of the AWS test peer's adapter (run by scripts/test)."""

import datetime
import json
import os
import sys
import unittest

import cbor2
from werkzeug.test import Client

sys.path.insert(0, os.path.dirname(__file__))
import peer  # noqa: E402

AUTH = "AWS4-HMAC-SHA256 Credential=test/20260101/eu-north-1/monitoring/aws4_request, SignedHeaders=host, Signature=x"


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


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env bash
# Collect N generated traces (default 10,000) from the AWS test peer and report wall time,
# API calls per trace, the quota floor (each API's calls over its default rate, summed: the
# stages run one after the other) and peak memory. Needs the .venv that scripts/test installs.
#   benches/collect_10k.sh [N]        (BIN=path/to/hopscope skips the release build)
#   WORLD=transaction-search benches/collect_10k.sh [N]   the account in the Transaction Search
#       world: segments become spans in aws/spans, 1% indexed, traces retrieved whole
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
work="$(mktemp -d)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hopscope/target}"
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
fi
bin="${BIN:-$CARGO_TARGET_DIR/release/hopscope}"

.venv/bin/python tests/aws_peer/peer.py --url-file "$work/url" 2>"$work/peer.log" &
peer_pid=$!
trap 'kill "$peer_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
until [ -s "$work/url" ]; do sleep 0.2; done
url="$(cat "$work/url")"

"$bin" gen --scenario users --traces "$n" --seed 7 --out "$work/gen" >/dev/null
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=ap-south-1 AWS_DEFAULT_REGION=ap-south-1
world="${WORLD:-xray}"
.venv/bin/python - "$url" "$work/gen/traces" "$world" <<'PY'
import glob, json, sys, urllib.request
import boto3
url, traces, world = sys.argv[1], sys.argv[2], sys.argv[3]
def control(path, body):
    urllib.request.urlopen(urllib.request.Request(url + path, json.dumps(body).encode(), method="POST"))
xray = boto3.client("xray", endpoint_url=url)
docs = []
for path in sorted(glob.glob(traces + "/*.json")):
    for trace in json.load(open(path))["Traces"]:
        docs += [s["Document"] for s in trace["Segments"]]
if world == "transaction-search":
    # aws/spans keeps 14 days back from the peer's clock: set it to the generated day.
    control("/_peer/clock", {"now": max(json.loads(d)["start_time"] for d in docs) + 3600})
    control("/_peer/world", {"region": "ap-south-1", "destination": "CloudWatchLogs"})
for i in range(0, len(docs), 50):
    xray.put_trace_segments(TraceSegmentDocuments=docs[i:i + 50])
starts = [json.loads(d)["start_time"] for d in docs]
print(f"seeded {len(docs)} segments, {min(starts):.0f} .. {max(starts):.0f}", file=sys.stderr)
open(traces + "/../window", "w").write(f"{int(min(starts)) - 60} {int(max(starts)) + 600}\n")
PY
read -r from until < "$work/gen/window"
since="$(date -u -d "@$from" +%Y-%m-%dT%H:%M:%SZ)"
till="$(date -u -d "@$until" +%Y-%m-%dT%H:%M:%SZ)"
if ! /usr/bin/time -v "$bin" --store "$work/store" collect --since "$since" --until "$till" \
    --endpoint-url "$url" 2>"$work/time.log" | tee "$work/summary.txt"; then
    cat "$work/time.log" >&2
    exit 1
fi
grep -E "Elapsed \(wall|Maximum resident" "$work/time.log"
calls="$(curl -s "$url/_peer/calls?region=ap-south-1")"
echo "$calls"
# The floor the default quotas set (requests per second, as the collector's rate limits).
.venv/bin/python - "$calls" "$n" <<'PY'
import json, sys
calls, n = json.loads(sys.argv[1]), int(sys.argv[2])
rates = {"GetTraceSummaries": 5, "BatchGetTraces": 5, "StartTraceRetrieval": 5, "ListRetrievedTraces": 5,
         "GetTraceSegmentDestination": 1, "DescribeLogGroups": 10, "FilterLogEvents": 5,
         "GetMetricData": 50, "ListMetrics": 25, "ListFunctions": 15, "ListAliases": 15, "GetCallerIdentity": 10}
floor = sum(c / rates[op] for op, c in calls.items() if op in rates)
traced = sum(c for op, c in calls.items() if op in ("GetTraceSummaries", "BatchGetTraces", "StartTraceRetrieval", "ListRetrievedTraces", "FilterLogEvents"))
print(f"trace calls per trace: {traced / n:.3f}; quota floor: {floor:.1f} s")
PY

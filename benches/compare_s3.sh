#!/usr/bin/env bash
# The store on S3 against the same store on local disk, side by side in one run: the same
# generated data (about ten million spans, an equal share from each sample scenario) imported
# into a local directory and into moto's S3 (moto_server on loopback, the same moto the tests
# use), then `map` and `hops` over each, timed as whole processes (best of RUNS).
#
# It reports, per store: import time, and for S3 the requests the imports sent per million spans
# (what `import` prints); then map and hops wall times and their ratio. moto is an in-process
# Python emulator, not S3: its latency and throughput are not AWS's, so the S3 numbers measure
# hopscope's request pattern and overhead over HTTP, not S3 itself.
#
# Usage: benches/compare_s3.sh          (SPANS=10000000 RUNS=3 by default)
#        BIN=path/to/hopscope benches/compare_s3.sh   skips the release build
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${BIN:-$target_dir/release/hopscope}"
spans_wanted="${SPANS:-10000000}"
runs="${RUNS:-3}"
scenarios=(dietician dragons chatbot etl users)

if [[ -z "${BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet)
fi

venv="$root/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import moto' 2>/dev/null; then
    "$venv/bin/pip" install --quiet -r "$root/tests/aws_peer/requirements.txt"
fi

tmp="$(mktemp -d)"
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
endpoint="http://127.0.0.1:$port"
for _ in $(seq 100); do
    curl -s -o /dev/null "$endpoint" && break
    sleep 0.1
done
curl -s -X PUT -o /dev/null "$endpoint/hopscope-bench"

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
local_store="$tmp/store"
s3_store="s3://hopscope-bench/store"
s3=(--store "$s3_store" --store-endpoint-url "$endpoint")

seconds() { echo "$2 - $1" | bc -l; }
import_local=0
import_s3=0
lists=0
gets=0
puts=0
spans_of() { sed -n 's/.*spans: \([0-9]*\).*/\1/p' <<<"$1"; }
for s in "${scenarios[@]}"; do
    probe="$("$bin" gen --scenario "$s" --traces 500 --seed 1 --out "$tmp/probe")"
    rm -rf "$tmp/probe"
    traces=$(( (spans_wanted / ${#scenarios[@]}) * 500 / $(spans_of "$probe") ))
    "$bin" gen --scenario "$s" --traces "$traces" --seed 1 --out "$tmp/gen" >/dev/null
    start=$(date +%s.%N)
    "$bin" --store "$local_store" import "$tmp/gen/traces" >/dev/null
    mid=$(date +%s.%N)
    "$bin" "${s3[@]}" import "$tmp/gen/traces" >"$tmp/import.log"
    end=$(date +%s.%N)
    import_local=$(echo "$import_local + $(seconds "$start" "$mid")" | bc -l)
    import_s3=$(echo "$import_s3 + $(seconds "$mid" "$end")" | bc -l)
    read -r l g p < <(sed -n 's/^S3 requests: \([0-9]*\) LIST, \([0-9]*\) GET, \([0-9]*\) PUT\./\1 \2 \3/p' "$tmp/import.log")
    lists=$((lists + l)); gets=$((gets + g)); puts=$((puts + p))
    rm -rf "$tmp/gen"
done

count="SELECT count(*) AS n FROM spans"
spans=$("$bin" --store "$local_store" sql --format csv "$count" | tail -1)
spans_s3=$("$bin" "${s3[@]}" sql --format csv "$count" | tail -1)
[[ "$spans" == "$spans_s3" ]] || { echo "span counts differ: local $spans, S3 $spans_s3" >&2; exit 1; }
echo "$spans spans, $(du -sh "$local_store/spans" | cut -f1) of span Parquet"
per_million() { echo "scale=1; $1 * 1000000 / $spans" | bc -l; }
printf 'import: local %.1f s | S3 %.1f s; S3 requests per million spans: %s LIST, %s GET, %s PUT\n' \
    "$import_local" "$import_s3" "$(per_million "$lists")" "$(per_million "$gets")" "$(per_million "$puts")"

read -r win_start win_end < <("$bin" --store "$local_store" sql --format csv \
    "SELECT date_bin(INTERVAL '1 minute', max(start_time)) + INTERVAL '1 minute' - INTERVAL '1 hour',
            date_bin(INTERVAL '1 minute', max(start_time)) + INTERVAL '1 minute' FROM spans" |
    tail -1 | tr ',' ' ')

best_wall() {
    local best=""
    for _ in $(seq "$runs"); do
        local start end t
        start=$(date +%s.%N)
        "$@" >/dev/null
        end=$(date +%s.%N)
        t=$(seconds "$start" "$end")
        if [[ -z "$best" ]] || (($(echo "$t < $best" | bc -l))); then best=$t; fi
    done
    printf '%.3f' "$best"
}

# Same answers first, as printed for people: the JSON's float sums can differ in the last digits,
# since files come back in another order from S3 than from a directory and are summed so.
for q in "map" "hops --since $win_start --until $win_end"; do
    # shellcheck disable=SC2086
    cmp <("$bin" --store "$local_store" $q) <("$bin" "${s3[@]}" $q) ||
        { echo "answers differ: $q" >&2; exit 1; }
done

echo "best of $runs, whole processes:"
# shellcheck disable=SC2086
for q in "map --format json" "hops --format json --since $win_start --until $win_end"; do
    l=$(best_wall "$bin" --store "$local_store" $q)
    r=$(best_wall "$bin" "${s3[@]}" $q)
    printf '%-5s local %s s | S3 (moto) %s s -> S3 takes %.2fx\n' "${q%% *}" "$l" "$r" "$(echo "$r / $l" | bc -l)"
done

#!/usr/bin/env bash
# The local session against a Ballista cluster (a scheduler and two executors, started here as
# processes with `hopscope cluster scheduler|executor`) on the same store: the same SQL, map and
# hops through `hopscope` and `hopscope --cluster df://localhost:PORT`, each timed as a whole
# process (start, open the store, plan, run, print). Best of RUNS. Outputs are compared too
# (SQL rows sorted; map and hops JSON as printed; decimals rounded to 10 significant digits,
# since sums over partitions added in another order differ in the last digits). Histogram
# columns are compared by what they hold: their bytes depend on the order of merges.
#
# With --cluster, the hand-written tallies of `map` and `hops` still run on the client (they say
# so on stderr); only their SQL goes to the cluster. `sql` runs wholly on the cluster.
#
# Usage: benches/compare_ballista.sh                  a store of the committed samples
#        SPANS=1000000 benches/compare_ballista.sh    a generated store of about that many spans
#        STORE=/path/to/store benches/compare_ballista.sh
#        BIN=/path/to/hopscope skips the build (default: a release build); RUNS=3; PORT=50450
#        (the scheduler; executors take the four ports after it); TASKS=1 per executor.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${BIN:-$target_dir/release/hopscope}"
runs="${RUNS:-3}"
port="${PORT:-50450}"
tasks="${TASKS:-1}"
scenarios=(dietician dragons chatbot etl users)

if [[ -z "${BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet)
fi

tmp="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

store="${STORE:-}"
if [[ -z "$store" ]]; then
    store="$tmp/store"
    if [[ -n "${SPANS:-}" ]]; then
        spans_of() { sed -n 's/.*spans: \([0-9]*\).*/\1/p' <<<"$1"; }
        for s in "${scenarios[@]}"; do
            probe="$("$bin" gen --scenario "$s" --traces 500 --seed 1 --out "$tmp/probe")"
            rm -rf "$tmp/probe"
            traces=$(( (SPANS / ${#scenarios[@]}) * 500 / $(spans_of "$probe") ))
            "$bin" gen --scenario "$s" --traces "$traces" --seed 1 --out "$tmp/gen" >/dev/null
            "$bin" --store "$store" import "$tmp/gen/traces" >/dev/null
            rm -rf "$tmp/gen"
        done
    else
        "$bin" --store "$store" import "$root/sample-traces" >/dev/null
    fi
fi
spans=$("$bin" --store "$store" sql --format csv "SELECT count(*) AS n FROM spans" | tail -1)
echo "store: $store, $spans spans, $(du -sh "$store" | cut -f1)"

# The cluster: every process sees the store at the same path (one machine).
"$bin" --log info cluster scheduler --port "$port" >"$tmp/scheduler.log" 2>&1 &
pids+=($!)
# An executor that finds no scheduler exits: start them once it serves.
for _ in $(seq 1 100); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
for i in 1 2; do
    "$bin" --log info cluster executor --scheduler "localhost:$port" \
        --port $((port + 2 * i - 1)) --grpc-port $((port + 2 * i)) \
        --concurrent-tasks "$tasks" --work-dir "$tmp" >"$tmp/executor$i.log" 2>&1 &
    pids+=($!)
done
url="df://localhost:$port"
# A job waits for executors rather than failing: bound each try (a port still held by an earlier
# run keeps an executor from starting).
for _ in $(seq 1 50); do
    if timeout 5 "$bin" --store "$store" --cluster "$url" sql --format csv "SELECT 1" >/dev/null 2>&1; then
        break
    fi
    sleep 0.2
done
timeout 5 "$bin" --store "$store" --cluster "$url" sql --format csv "SELECT 1" >/dev/null ||
    { tail -20 "$tmp"/*.log >&2; exit 1; }
echo "cluster: $url, 2 executors x $tasks task(s); $(nproc) CPUs on this machine"

# The hop window as `hopscope hops` picks it by default, spelled out (the last hour of data).
read -r win_start win_end < <("$bin" --store "$store" sql --format csv \
    "SELECT date_bin(INTERVAL '1 minute', max(start_time)) + INTERVAL '1 minute' - INTERVAL '1 hour',
            date_bin(INTERVAL '1 minute', max(start_time)) + INTERVAL '1 minute' FROM spans" |
    tail -1 | tr ',' ' ')

best_wall() {
    local best=""
    for _ in $(seq "$runs"); do
        local start end t
        start=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc -l)
        if [[ -z "$best" ]] || (($(echo "$t < $best" | bc -l))); then best=$t; fi
    done
    printf '%.3f' "$best"
}

# name | kind | arguments after the global options
cases=(
    "count spans|sql|SELECT count(*) FROM spans"
    "service_edges view|sql|SELECT * EXCLUDE (histogram, dwell_histogram), hdr_count(histogram), hdr_quantile(histogram, 0.999) FROM service_edges"
    "hops view (top_n)|sql|SELECT * EXCLUDE (histogram), hdr_count(histogram), hdr_quantile(histogram, 0.999) FROM hops"
    "hdr p50/p99 per service|sql|SELECT service, hdr_quantile(h, 0.5), hdr_quantile(h, 0.99) FROM (SELECT service, hdr_histogram(duration_ms) AS h FROM spans GROUP BY service)"
    "traces view, slowest 100|sql|SELECT trace_id, duration_ms FROM traces ORDER BY duration_ms DESC, trace_id LIMIT 100"
    "map|map|map --format json"
    "hops|hops|hops --format json --since $win_start --until $win_end"
)
printf '%-28s %10s %10s  %s\n' "what" "local s" "cluster s" "same output"
for c in "${cases[@]}"; do
    IFS='|' read -r name kind rest <<<"$c"
    if [[ "$kind" == sql ]]; then
        args=(sql --format csv "$rest")
    else
        read -r -a args <<<"$rest"
    fi
    "$bin" --store "$store" "${args[@]}" >"$tmp/local.out"
    "$bin" --store "$store" --cluster "$url" "${args[@]}" >"$tmp/cluster.out" 2>"$tmp/cluster.err"
    for f in "$tmp/local.out" "$tmp/cluster.out"; do
        perl -pi -e 's/(-?\d+\.\d+(?:e-?\d+)?)/sprintf("%.10g", $1)/ge' "$f"
        if [[ "$kind" == sql ]]; then sort -o "$f" "$f"; fi
    done
    same=yes
    cmp -s "$tmp/local.out" "$tmp/cluster.out" || same=NO
    local_s=$(best_wall "$bin" --store "$store" "${args[@]}")
    cluster_s=$(best_wall "$bin" --store "$store" --cluster "$url" "${args[@]}")
    printf '%-28s %10s %10s  %s\n' "$name" "$local_s" "$cluster_s" "$same"
done
echo "stderr of the last --cluster run (hops):"
cat "$tmp/cluster.err"

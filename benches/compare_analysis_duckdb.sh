#!/usr/bin/env bash
# Side by side with DuckDB on the analyzer's questions, over the same Parquet files of a store
# holding about ten million spans (an equal share from each sample scenario):
#
#   service map   hopscope map --format json                  (every edge: calls, outcomes,
#                                                               avg, p50, p99), over everything
#                                                               and over the last hour
#                 DuckDB, as one would ask it of raw spans: a self-join child -> parent on
#                 (trace_id, parent_id) = (trace_id, id), exact quantiles
#                 DuckDB, given hopscope's ingest-time `parent_service`: the same GROUP BY as
#                 hopscope, no join (both also over the last hour)
#   hop ranking   hopscope hops --since W --until E           (window + the hour before it:
#                                                               critical time per hop, split,
#                                                               p50/p90/p99, outcomes, cold
#                                                               starts, traces, 3 slowest
#                                                               traces, traces per window)
#                 (and the same hour cut 17 s inside minutes, as the dashboard asks it)
#                 DuckDB: the same aggregation over the columns hopscope's ingest computes
#                 (`critical_ms`, `hop_caller`, `hop_trace_critical_ms`) for both windows,
#                 exact quantiles, max_by(trace_id, hop_trace_critical_ms, 3) for evidence
#
# hopscope is timed as a whole process (start, open the store, plan, run, print); DuckDB in
# process with time.perf_counter around each query, reading the store's Parquet files with
# read_parquet(). Best of RUNS for both.
#
# Usage: benches/compare_analysis_duckdb.sh          (SPANS=10000000 RUNS=3 by default)
#        STORE=/path/to/kept/store benches/compare_analysis_duckdb.sh   reuses a store built
#        by an earlier run (KEEP=1 keeps the one it builds and prints where).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${BIN:-$target_dir/release/hopscope}"
spans_wanted="${SPANS:-10000000}"
runs="${RUNS:-3}"
scenarios=(dietician dragons chatbot etl users)

# BIN=path/to/hopscope skips the build.
if [[ -z "${BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet)
fi

venv="$root/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    "$venv/bin/pip" install --quiet duckdb
fi
py="$venv/bin/python"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

store="${STORE:-}"
if [[ -z "$store" ]]; then
    if [[ "${KEEP:-0}" == 1 ]]; then
        store="$(mktemp -d)/store"
    else
        store="$tmp/store"
    fi
    # Sized from a probe of each scenario; generated and imported one scenario at a time so
    # the JSON never holds more than a fifth of the data on disk.
    spans_of() { sed -n 's/.*spans: \([0-9]*\).*/\1/p' <<<"$1"; }
    for s in "${scenarios[@]}"; do
        probe="$("$bin" gen --scenario "$s" --traces 500 --seed 1 --out "$tmp/probe")"
        rm -rf "$tmp/probe"
        traces=$(( (spans_wanted / ${#scenarios[@]}) * 500 / $(spans_of "$probe") ))
        "$bin" gen --scenario "$s" --traces "$traces" --seed 1 --out "$tmp/gen" >/dev/null
        "$bin" --store "$store" import "$tmp/gen/traces" >"$tmp/import.log"
        head -1 "$tmp/import.log"
        rm -rf "$tmp/gen"
    done
    [[ "${KEEP:-0}" == 1 ]] && echo "store kept at $store"
fi
spans=$("$bin" --store "$store" sql --format csv "SELECT count(*) AS n FROM spans" | tail -1)
echo "store: $store, $spans spans, $(du -sh "$store/spans" | cut -f1) of span Parquet"

# The hop window: the last hour of data, and the hour before it as the baseline, as
# `hopscope hops` picks them by default; spelled out so both engines answer the same question.
# The same hour 17 s earlier is cut inside minutes, as `--since 1h` at the clock's now (the
# dashboard's window) is.
read -r win_start win_end cut_start cut_end < <("$bin" --store "$store" sql --format csv \
    "WITH e AS (SELECT date_bin(INTERVAL '1 minute', max(start_time)) + INTERVAL '1 minute' AS e FROM spans)
     SELECT e - INTERVAL '1 hour', e, e - INTERVAL '1 hour' - INTERVAL '17 seconds', e - INTERVAL '17 seconds' FROM e" |
    tail -1 | tr ',' ' ')
echo "hop window: $win_start .. $win_end (baseline: the hour before); cut: $cut_start .. $cut_end"

best_wall() {
    local best=""
    for _ in $(seq "$runs"); do
        local start end t
        start=$(date +%s.%N)
        "$@" >/dev/null
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc -l)
        if [[ -z "$best" ]] || (($(echo "$t < $best" | bc -l))); then best=$t; fi
    done
    printf '%.3f' "$best"
}

map_s=$(best_wall "$bin" --store "$store" map --format json)
map_hour_s=$(best_wall "$bin" --store "$store" map --format json --since "$win_start" --until "$win_end")
hops_s=$(best_wall "$bin" --store "$store" hops --format json --since "$win_start" --until "$win_end")
hops_cut_s=$(best_wall "$bin" --store "$store" hops --format json --since "$cut_start" --until "$cut_end")

"$py" - "$store" "$runs" "$win_start" "$win_end" "$map_s" "$hops_s" "$map_hour_s" "$cut_start" "$cut_end" "$hops_cut_s" <<'EOF'
import sys, time
import duckdb

store, runs, win_start, win_end = sys.argv[1], int(sys.argv[2]), *sys.argv[3:5]
map_s, hops_s, map_hour_s = (float(a) for a in sys.argv[5:8])
cut_start, cut_end, hops_cut_s = sys.argv[8], sys.argv[9], float(sys.argv[10])
con = duckdb.connect()
con.execute(f"CREATE VIEW spans AS SELECT * FROM read_parquet('{store}/spans/*/*.parquet', hive_partitioning = false)")

outcomes = """count(*) AS requests,
  sum(CASE WHEN NOT c.error AND NOT c.fault THEN 1 ELSE 0 END) AS ok,
  sum(CASE WHEN c.error AND NOT c.throttle THEN 1 ELSE 0 END) AS errors,
  sum(CASE WHEN c.throttle THEN 1 ELSE 0 END) AS throttles,
  sum(CASE WHEN c.fault THEN 1 ELSE 0 END) AS faults,
  avg(c.duration_ms) AS avg_ms,
  quantile_cont(c.duration_ms, [0.5, 0.99]) AS p50_p99"""
def map_join(window=""):
    return f"""SELECT p.service AS caller, c.service AS callee, {outcomes}
  FROM spans c JOIN spans p ON c.trace_id = p.trace_id AND c.parent_id = p.id
  WHERE (p.service <> c.service OR p.service_type IS DISTINCT FROM c.service_type) {window}
  GROUP BY 1, 2"""
def map_precomputed(window=""):
    return f"""SELECT c.parent_service AS caller, c.service AS callee, {outcomes}
  FROM spans c WHERE c.parent_service IS NOT NULL
    AND (c.parent_service <> c.service OR c.parent_service_type IS DISTINCT FROM c.service_type) {window}
  GROUP BY c.parent_service, c.parent_service_type, c.service, c.service_type"""

def hops(lo, hi):
    entry = "(c.parent_service IS DISTINCT FROM c.service)"
    return f"""SELECT c.hop_caller AS caller, c.service AS callee, max(c.service_type),
      sum(CASE WHEN {entry} THEN 1 ELSE 0 END) AS requests,
      count(c.hop_trace_critical_ms) AS traces,
      max_by(c.trace_id, c.hop_trace_critical_ms, 3) AS slowest_traces,
      sum(CASE WHEN c.root THEN 1 ELSE 0 END) AS roots,
      sum(c.critical_ms) AS critical_ms,
      sum(CASE WHEN c.kind = 'subsegment' AND c.service_type = 'AWS::Lambda::Function'
               AND c.name IN ('Initialization', 'Restore') THEN c.critical_ms END) AS init_ms,
      sum(CASE WHEN c.service_type = 'AWS::Lambda' OR (c.service_type = 'AWS::Lambda::Function'
               AND c.name = 'Overhead') THEN c.critical_ms END) AS overhead_ms,
      quantile_cont(CASE WHEN {entry} THEN c.duration_ms END, [0.5, 0.9, 0.99]) AS pcts,
      sum(CASE WHEN {entry} AND c.error AND NOT c.throttle THEN 1 ELSE 0 END) AS errors,
      sum(CASE WHEN {entry} AND c.throttle THEN 1 ELSE 0 END) AS throttles,
      sum(CASE WHEN {entry} AND c.fault THEN 1 ELSE 0 END) AS faults,
      sum(CASE WHEN ({entry} AND c.in_progress) OR c.cause_message LIKE '%Task timed out%' THEN 1 ELSE 0 END) AS timeouts,
      sum(CASE WHEN c.kind = 'subsegment' AND c.service_type = 'AWS::Lambda::Function'
               AND c.name IN ('Initialization', 'Restore') THEN 1 ELSE 0 END) AS cold_starts,
      sum(CASE WHEN c.kind = 'segment' AND c.service_type = 'AWS::Lambda::Function' THEN 1 ELSE 0 END) AS invocations
    FROM spans c WHERE c.start_time >= TIMESTAMPTZ '{lo}' AND c.start_time < TIMESTAMPTZ '{hi}'
    GROUP BY 1, 2"""

def best(sql_list):
    t_best = None
    rows = 0
    for _ in range(runs):
        t = time.perf_counter()
        for sql in sql_list:
            rows = len(con.execute(sql).fetchall())
        t = time.perf_counter() - t
        t_best = t if t_best is None else min(t_best, t)
    return t_best, rows

import datetime as dt
at = lambda t: dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
lo, hi = at(win_start), at(win_end)
base = (lo - (hi - lo), lo)
cut_lo, cut_hi = at(cut_start), at(cut_end)
threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
print(f"DuckDB {duckdb.__version__}, {threads} threads; best of {runs}")
j, jr = best([map_join()])
p, pr = best([map_precomputed()])
in_hour = f"AND c.start_time >= TIMESTAMPTZ '{lo.isoformat()}' AND c.start_time < TIMESTAMPTZ '{hi.isoformat()}'"
ph, phr = best([map_precomputed(in_hour)])
jh, jhr = best([map_join(in_hour)])
h, hr = best([hops(lo.isoformat(), hi.isoformat()), hops(base[0].isoformat(), base[1].isoformat())])
hc, hcr = best([hops(cut_lo.isoformat(), cut_hi.isoformat()),
                hops((cut_lo - (cut_hi - cut_lo)).isoformat(), cut_lo.isoformat())])
print(f"service map: hopscope {map_s:.3f} s | DuckDB self-join {j:.3f} s ({jr} edges) -> ratio {j / map_s:.2f}x"
      f" | DuckDB on parent_service {p:.3f} s ({pr} edges) -> ratio {p / map_s:.2f}x")
print(f"service map, last hour: hopscope {map_hour_s:.3f} s | DuckDB self-join {jh:.3f} s ({jhr} edges) -> ratio {jh / map_hour_s:.2f}x"
      f" | DuckDB on parent_service {ph:.3f} s ({phr} edges) -> ratio {ph / map_hour_s:.2f}x")
print(f"hop ranking: hopscope {hops_s:.3f} s | DuckDB same GROUP BY, window + baseline {h:.3f} s -> ratio {h / hops_s:.2f}x")
print(f"hop ranking, hour cut inside minutes: hopscope {hops_cut_s:.3f} s | DuckDB {hc:.3f} s -> ratio {hc / hops_cut_s:.2f}x")
print("(ratio > 1: hopscope faster)")
EOF

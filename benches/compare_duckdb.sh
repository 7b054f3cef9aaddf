#!/usr/bin/env bash
# Side by side with DuckDB: load the same NDJSON of X-Ray segment documents into a table.
#
#   DuckDB:   CREATE TABLE t AS SELECT * FROM read_json(file, format='newline_delimited',
#             sample_size=-1),
#             in process, timed with time.perf_counter: one row per document, nested
#             subsegments kept as nested structs, in memory and into a database file.
#   hopscope: hopscope --store DIR import file.ndjson, wall time of the process: one row per
#             span (subsegments flattened), Parquet with zstd, fsynced.
#
# Usage: benches/compare_duckdb.sh   (TRACES=2000 RUNS=1 benches/compare_duckdb.sh for a quick look)
# Defaults give about 110 MB of NDJSON and run in 2 to 4 minutes on two cores.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${BIN:-$target_dir/release/hopscope}"
traces="${TRACES:-6000}" # per scenario
runs="${RUNS:-2}"        # best of: the machine is shared, the minimum is the least disturbed
scenarios=(dietician dragons chatbot etl users)

# BIN=path/to/hopscope skips the build.
if [[ -z "${BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet)
fi

# .venv is git-ignored; DuckDB is only needed here.
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

for s in "${scenarios[@]}"; do
    "$bin" gen --scenario "$s" --traces "$traces" --seed 1 --out "$tmp/gen/$s" >/dev/null
done
# The Document strings of every BatchGetTraces response, one per line.
ndjson="$tmp/segments.ndjson"
"$py" - "$ndjson" "$tmp"/gen/*/traces/*.json <<'EOF'
import json, sys
with open(sys.argv[1], "w") as out:
    for path in sys.argv[2:]:
        with open(path) as f:
            for trace in json.load(f)["Traces"]:
                for segment in trace["Segments"]:
                    out.write(segment["Document"])
                    out.write("\n")
EOF
rm -rf "$tmp/gen"
bytes=$(stat -c %s "$ndjson")
echo "input: $(wc -l <"$ndjson") segment documents, $((bytes / 1000000)) MB of NDJSON; best of $runs runs"

duckdb_best() {
    "$py" - "$ndjson" "$runs" "$1" "$2" "$tmp/duck.db" <<'EOF'
import os, sys, time
import duckdb
path, runs, threads, where, db = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
best, rows = float("inf"), 0
for _ in range(runs):
    if os.path.exists(db):
        os.remove(db)
    con = duckdb.connect(db if where == "file" else ":memory:")
    con.execute(f"SET threads = {threads}")
    start = time.perf_counter()
    # sample_size=-1: schema detection reads the whole file. With the default sample (20,480
    # documents) the load fails on keys that first appear later, e.g. aws.bucket_name.
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_json('{path}', format='newline_delimited', sample_size=-1)")
    if where == "file":
        con.execute("CHECKPOINT")  # on disk, as the hopscope store is
    best = min(best, time.perf_counter() - start)
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
print(f"{best:.3f} {rows}")
EOF
}

hopscope_best() {
    local best="" start end t
    for _ in $(seq "$runs"); do
        rm -rf "$tmp/store"
        start=$(date +%s.%N)
        "$bin" --store "$tmp/store" import "$ndjson" >"$tmp/out.txt"
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc -l)
        if [[ -z "$best" ]] || (($(echo "$t < $best" | bc -l))); then best=$t; fi
    done
    printf '%.3f %s\n' "$best" "$(awk '$1 == "spans" { print $2 }' "$tmp/out.txt")"
}

report() {
    local label="$1" secs="$2" rows="$3"
    printf '%-34s %8.2f s %8.1f MB/s %10s rows\n' "$label" "$secs" "$(echo "$bytes / 1000000 / $secs" | bc -l)" "$rows"
}

read -r h_secs h_rows < <(hopscope_best)
report "hopscope import (2 threads)" "$h_secs" "$h_rows"
for threads in 1 2; do
    for where in memory file; do
        read -r d_secs d_rows < <(duckdb_best "$threads" "$where")
        report "duckdb read_json, $threads thread(s), $where" "$d_secs" "$d_rows"
        printf '%-34s %8.2fx\n' "  hopscope time / duckdb time" "$(echo "$h_secs / $d_secs" | bc -l)"
    done
done

#!/usr/bin/env bash
# Imports about a million generated spans with the release binary and reports wall time, spans/s
# and peak memory; then imports the same files again, which must add no rows (key dedupe).
#
# Usage: benches/import_1m.sh   (SPANS=2000000 benches/import_1m.sh for another size)
# Runs in about a minute on two cores once the release binary is built.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${BIN:-$target_dir/release/hopscope}"
spans_wanted="${SPANS:-1000000}"
scenarios=(dietician dragons chatbot etl users)

# BIN=path/to/hopscope skips the build.
if [[ -z "${BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet)
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The generator's summary line ends with `spans: N, ...`; spans per trace differ per scenario, so
# a small probe run of each sizes the real one to an equal share of the wanted total.
spans_of() { sed -n 's/.*spans: \([0-9]*\).*/\1/p' <<<"$1"; }
probe_traces=500
total_spans=0
declare -A scenario_spans
for s in "${scenarios[@]}"; do
    probe="$("$bin" gen --scenario "$s" --traces "$probe_traces" --seed 1 --out "$tmp/probe/$s")"
    per_scenario=$((spans_wanted / ${#scenarios[@]}))
    traces=$(( (per_scenario * probe_traces + $(spans_of "$probe") - 1) / $(spans_of "$probe") ))
    summary="$("$bin" gen --scenario "$s" --traces "$traces" --seed 1 --out "$tmp/data/$s")"
    spans=$(spans_of "$summary")
    scenario_spans[$s]=$spans
    total_spans=$((total_spans + spans))
    echo "generated $s: $traces traces, $spans spans"
done
rm -rf "$tmp/probe"

# Only the traces: spans/s should count span work alone (logs and metrics are other tables).
inputs=("$tmp"/data/*/traces)
input_bytes=$(du -cb "${inputs[@]}" | tail -1 | cut -f1)
echo "input: $total_spans spans in $(find "${inputs[@]}" -type f | wc -l) files, $((input_bytes / 1000000)) MB"

# Runs one import under GNU time; prints hopscope's summary, wall time, rates and max RSS.
# Sets new_rows to the span rows the import added.
run_import() {
    local label="$1" store="$2" spans="$3" bytes="$4"
    shift 4
    /usr/bin/time -v -o "$tmp/time.txt" "$bin" --store "$store" import "$@" >"$tmp/out.txt"
    cat "$tmp/out.txt"
    # GNU time prints wall time as [h:]mm:ss.ss.
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/time.txt" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.txt")
    cpu=$(sed -n 's/.*Percent of CPU this job got: //p' "$tmp/time.txt")
    new_rows=$(awk '$1 == "spans" { print $2 }' "$tmp/out.txt")
    printf '%s: wall %.2f s, %.0f spans/s, %.1f MB/s, max RSS %d MB, CPU %s, new span rows %s\n' \
        "$label" "$wall" "$(echo "$spans / $wall" | bc -l)" "$(echo "$bytes / 1000000 / $wall" | bc -l)" \
        $((rss_kb / 1024)) "$cpu" "$new_rows"
}

run_import "first import" "$tmp/store" "$total_spans" "$input_bytes" "${inputs[@]}"
first_rows="$new_rows"
du -sh "$tmp/store" | sed 's/^/store size: /'
run_import "second import (dedupe)" "$tmp/store" "$total_spans" "$input_bytes" "${inputs[@]}"
if [[ "$first_rows" != "$total_spans" || "$new_rows" != 0 ]]; then
    echo "FAILED: expected $total_spans then 0 new span rows, got $first_rows then $new_rows" >&2
    exit 1
fi

# Peak memory follows the batch size, not the input. It rises while the store's hour partitions
# grow (each batch's dedup check reads them, so the writer falls behind and every stage of the
# pipeline fills), then levels off: 10 M and 20 M spans peak alike (benches/README.md). A fifth of
# the input into a fresh store shows the lower, empty-store end of that range.
fifth="$tmp/data/dietician/traces"
run_import "one fifth (dietician), fresh store" "$tmp/store-fifth" "${scenario_spans[dietician]}" \
    "$(du -cb "$fifth" | tail -1 | cut -f1)" "$fifth"

#!/usr/bin/env bash
# A week of spans: about SPANS spans (100 M by default) over 7 days, generated as the five sample
# scenarios' two-hour windows laid side by side (`hopscope gen --start`, 84 windows each) and
# imported one day at a time, with rollups, into one store. Then `map` and `hops` as a user asks
# them, whole processes, best of RUNS with the peak RSS of the last run:
#   the last hour on whole minutes, the same hour cut inside minutes (as `--since 1h` at the
#   clock's now is), and the whole week.
# Import time and peak RSS are printed per day. The generated JSON of one day is on disk at a
# time (about 6 GB for 100 M spans); the store stays (KEEP=1) or is removed.
#
# Usage: BIN=path/to/hopscope benches/week.sh         (SPANS=100000000 RUNS=3 by default)
#        STORE=/path/to/kept/store benches/week.sh   times an existing week store only
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin="${BIN:?BIN: a release build of hopscope}"
spans_wanted="${SPANS:-100000000}"
runs="${RUNS:-3}"
scenarios=(dietician dragons chatbot etl users)
days=7
windows_per_day=12 # two hours each

tmp="$(mktemp -d "${TMPDIR:-/tmp}/hopscope-week.XXXXXX")"
store="${STORE:-$tmp/store}"
cleanup() {
    if [[ "${KEEP:-0}" == 1 && -z "${STORE:-}" ]]; then
        rm -rf "$tmp/gen"
        echo "store kept at $store"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

if [[ -z "${STORE:-}" ]]; then
    spans_of() { sed -n 's/.*spans: \([0-9]*\).*/\1/p' <<<"$1"; }
    per_run=$((spans_wanted / days / windows_per_day / ${#scenarios[@]}))
    declare -A traces
    for s in "${scenarios[@]}"; do
        probe="$("$bin" gen --scenario "$s" --traces 500 --seed 1 --out "$tmp/probe")"
        rm -rf "$tmp/probe"
        traces[$s]=$((per_run * 500 / $(spans_of "$probe")))
    done
    # The week ends on the sample scenarios' day, so its last window is theirs.
    first_day=$(date -u -d '2026-11-20 - 6 days' +%Y-%m-%d)
    for d in $(seq 0 $((days - 1))); do
        day=$(date -u -d "$first_day + $d days" +%Y-%m-%d)
        gen_start=$(date +%s.%N)
        for w in $(seq 0 $((windows_per_day - 1))); do
            start="${day}T$(printf '%02d' $((w * 2))):00:00Z"
            for s in "${scenarios[@]}"; do
                "$bin" gen --scenario "$s" --traces "${traces[$s]}" --seed $((d * 100 + w)) \
                    --start "$start" --out "$tmp/gen/$w-$s" >/dev/null
                rm -rf "$tmp/gen/$w-$s/logs" "$tmp/gen/$w-$s/metrics" "$tmp/gen/$w-$s/functions"
            done
        done
        gen_end=$(date +%s.%N)
        /usr/bin/time -f '%e %M' -o "$tmp/time" "$bin" --store "$store" import "$tmp/gen" \
            >"$tmp/import.log"
        read -r secs rss <"$tmp/time"
        printf '%s: generated in %.0f s; imported in %s s, peak RSS %d MiB: %s\n' "$day" \
            "$(echo "$gen_end - $gen_start" | bc -l)" "$secs" $((rss / 1024)) "$(head -1 "$tmp/import.log")"
        rm -rf "$tmp/gen"
    done
fi

spans=$("$bin" --store "$store" sql --format csv "SELECT count(*) FROM spans" | tail -1)
files=$(find "$store/spans" -name '*.parquet' | wc -l)
echo "store: $spans spans in $files data files; span Parquet $(du -sh "$store/spans" | cut -f1)," \
    "rollups $(cd "$store" && du -ch service_edges_1m hops_1m | tail -1 | cut -f1)" \
    "by minute, $(du -sh "$store/_hours" 2>/dev/null | cut -f1) by hour"

read -r first win_start win_end cut_start cut_end < <(report_windows "$bin" "$store")

echo "best of $runs, whole processes (wall, peak RSS of the last run):"
reports=(
    "map|last hour|--since $win_start --until $win_end"
    "map|hour, cut|--since $cut_start --until $cut_end"
    "map|the week|--since $first --until $win_end"
    "hops|last hour|--since $win_start --until $win_end"
    "hops|hour, cut|--since $cut_start --until $cut_end"
    "hops|the week|--since $first --until $win_end --baseline off"
)
for report in "${reports[@]}"; do
    IFS='|' read -r command label args <<<"$report"
    # shellcheck disable=SC2086
    printf '%-4s %-10s %s\n' "$command" "$label" "$(best_wall_rss "$bin" --store "$store" $command $args)"
done

#!/usr/bin/env bash
# The service map and the hop ranking from per-minute rollups against the same reports tallied
# from the spans, side by side in one run: generated data (about SPANS spans, an equal share from
# each sample scenario) imported into a new store (with rollups, one process per scenario: time
# and peak RSS), and the same store without its rollups (a hard-linked copy with the rollup
# tables removed, which `map` and `hops` read whole, as a store from before rollups). Then `map`
# and `hops` over everything and over the last hour of data on each, whole processes, best of
# RUNS, with the peak RSS of the last run, over whole minutes and over a window cut inside
# minutes. The printed reports must be equal.
# `store rebuild-rollups` on a copy without them bounds what the summaries cost the import.
# With BEFORE (a build from before rollups), its import of the same data is timed too.
#
# Usage: BIN=path/to/hopscope [BEFORE=path/to/older/hopscope] benches/compare_rollups.sh
#        SPANS=10000000 RUNS=3 by default
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

before="${BEFORE:-}"
bin="${BIN:?BIN: a hopscope build with rollups}"
spans_wanted="${SPANS:-10000000}"
runs="${RUNS:-3}"
scenarios=(dietician dragons chatbot etl users)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

spans_of() { sed -n 's/.*spans: \([0-9]*\).*/\1/p' <<<"$1"; }
for s in "${scenarios[@]}"; do
    probe="$("$bin" gen --scenario "$s" --traces 500 --seed 1 --out "$tmp/probe")"
    rm -rf "$tmp/probe"
    traces=$(( (spans_wanted / ${#scenarios[@]}) * 500 / $(spans_of "$probe") ))
    "$bin" gen --scenario "$s" --traces "$traces" --seed 1 --out "$tmp/gen/$s" >/dev/null
    rm -rf "$tmp/gen/$s/logs" "$tmp/gen/$s/metrics"
done

# One process per scenario, as a team's imports would come: seconds and the largest peak RSS.
import_all() {
    local b="$1" store="$2" total=0 peak=0
    for s in "${scenarios[@]}"; do
        local start end rss
        start=$(date +%s.%N)
        /usr/bin/time -f '%M' -o "$tmp/rss" "$b" --store "$store" import "$tmp/gen/$s" >/dev/null
        end=$(date +%s.%N)
        rss=$(tail -1 "$tmp/rss")
        total=$(echo "$total + $end - $start" | bc -l)
        ((rss > peak)) && peak=$rss
    done
    printf '%.1f s, peak RSS %d MiB' "$total" $((peak / 1024))
}
if [[ -n "$before" ]]; then
    echo "import, build without rollups: $(import_all "$before" "$tmp/before")"
fi
echo "import with rollups: $(import_all "$bin" "$tmp/after")"
rollups=(service_edges_1m hops_1m)
cp -al "$tmp/after" "$tmp/raw"
for r in "${rollups[@]}"; do rm -rf "${tmp:?}/raw/$r"; done
# What the summaries cost at import, bounded from above with the same binary: writing them for
# the whole store afterwards (which also decodes every data file, as an import does not).
cp -al "$tmp/raw" "$tmp/rebuilt"
start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$tmp/rss" "$bin" --store "$tmp/rebuilt" store rebuild-rollups >/dev/null
end=$(date +%s.%N)
printf 'rebuild-rollups on the store without them: %.1f s, peak RSS %d MiB\n' \
    "$(echo "$end - $start" | bc -l)" $(($(tail -1 "$tmp/rss") / 1024))
rm -rf "$tmp/rebuilt"
spans=$("$bin" --store "$tmp/after" sql --format csv "SELECT count(*) FROM spans" | tail -1)
echo "$spans spans; span Parquet $(du -sh "$tmp/after/spans" | cut -f1), rollups $(cd "$tmp/after" && du -ch "${rollups[@]}" | tail -1 | cut -f1)"

read -r first win_start win_end cut_start cut_end < <(report_windows "$bin" "$tmp/after")

echo "best of $runs, whole processes (wall, peak RSS):"
reports=(
    "map|everything|"
    "map|last hour|--since $win_start --until $win_end"
    "map|hour, cut|--since $cut_start --until $cut_end"
    "hops|everything|--since $first --until $win_end --baseline off"
    "hops|last hour|--since $win_start --until $win_end"
    "hops|hour, cut|--since $cut_start --until $cut_end"
)
for report in "${reports[@]}"; do
    IFS='|' read -r command label args <<<"$report"
    # shellcheck disable=SC2086
    cmp <("$bin" --store "$tmp/raw" $command $args 2>/dev/null) <("$bin" --store "$tmp/after" $command $args) ||
        { echo "reports differ: $command $args" >&2; exit 1; }
    # shellcheck disable=SC2086
    b=$(best_wall_rss "$bin" --store "$tmp/raw" $command $args)
    # shellcheck disable=SC2086
    a=$(best_wall_rss "$bin" --store "$tmp/after" $command $args)
    printf '%-4s %-10s from spans %s | from rollups %s -> %.1fx\n' "$command" "$label" \
        "$b" "$a" "$(echo "${b%% s*} / ${a%% s*}" | bc -l)"
done

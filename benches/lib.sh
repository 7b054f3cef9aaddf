# Shared by the bench scripts that time `map` and `hops` as whole processes (sourced).

# The windows a user asks of store $2 with build $1, on one line: the first minute of data, the
# last hour of data on whole minutes (as `map` and `hops` pick it by default), and the same hour
# 17 s earlier: a window cut inside minutes, as `--since 1h` at the clock's now is, whose
# partial minutes at the edges are read from the spans.
report_windows() {
    "$1" --store "$2" sql --format csv \
        "WITH e AS (SELECT date_bin(INTERVAL '1 minute', max(start_time)) + INTERVAL '1 minute' AS e FROM spans)
         SELECT (SELECT date_bin(INTERVAL '1 minute', min(start_time)) FROM spans),
                e - INTERVAL '1 hour', e,
                e - INTERVAL '1 hour' - INTERVAL '17 seconds', e - INTERVAL '17 seconds' FROM e" |
        tail -1 | tr ',' ' '
}

# Best wall time of $runs runs of a command, and the peak RSS (MiB) of the last ($tmp holds the
# measurement).
best_wall_rss() {
    local best=""
    for _ in $(seq "$runs"); do
        local start end t
        start=$(date +%s.%N)
        /usr/bin/time -f '%M' -o "$tmp/rss" "$@" >/dev/null 2>&1
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc -l)
        if [[ -z "$best" ]] || (($(echo "$t < $best" | bc -l))); then best=$t; fi
    done
    printf '%.3f s %5d MiB' "$best" $(($(tail -1 "$tmp/rss") / 1024))
}

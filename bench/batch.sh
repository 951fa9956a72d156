#!/usr/bin/env bash
# Batch benchmarks: 10,000 `map update` lines (a u32 -> u64 hash map), `rbt batch file`
# against `bpftool batch file` on the same file, plain and -j. Usage: batch.sh RBT OUT.md
set -euo pipefail

RBT=$1
OUT=$2
RUNS=${RBT_BENCH_RUNS:-5}
LINES=${RBT_BENCH_BATCH_LINES:-10000}
WORK=$(mktemp -d)
PIN=/sys/fs/bpf/rbt-bench-batch-$$
cleanup() { rm -rf "$PIN" "$WORK"; }
trap cleanup EXIT

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mkdir -p "$PIN"
MAP=$PIN/batch_map
"$RBT" map create "$MAP" type hash key 4 value 8 entries $((LINES * 2)) name bench_batch

# The same file for both tools: bpftool's byte syntax, one update a line.
awk -v n="$LINES" -v map="$MAP" 'BEGIN {
    for (i = 0; i < n; i++) {
        v = i * 3
        printf "map update pinned %s key %d %d %d %d value %d %d %d %d 0 0 0 0\n", map,
            i % 256, int(i / 256) % 256, int(i / 65536) % 256, int(i / 16777216),
            v % 256, int(v / 256) % 256, int(v / 65536) % 256, int(v / 16777216)
    }
}' > "$WORK/updates.batch"

# measure LABEL -- CMD...: CMD (stdout to /dev/null) RUNS times, each on an emptied map;
# checks that every element landed; sets T (median s), LO and HI (fastest, slowest run).
measure() {
    local label=$1
    shift 2
    local times=() i
    for ((i = 0; i < RUNS; i++)); do
        "$RBT" map delete "$MAP" --all > /dev/null
        # Wall clock in microseconds (/usr/bin/time's 10 ms steps are too coarse here).
        local t0=$EPOCHREALTIME
        "$@" > /dev/null
        local t1=$EPOCHREALTIME
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
        count=$("$RBT" -j map dump "$MAP" | wc -l)
        [ "$count" -eq "$LINES" ] || { echo "$label: $count elements, expected $LINES" >&2; exit 1; }
    done
    read -r T LO HI < <(printf '%s\n' "${times[@]}" | sort -g |
        awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[NR]}')
    printf '  %-36s median %6ss  (%s..%s, %s runs)\n' "$label" "$T" "$LO" "$HI" "$RUNS"
}

ROWS=()
row() { # name rbt_t rbt_lo rbt_hi bpftool_t bpftool_lo bpftool_hi
    local ratio
    ratio=$(awk -v a="$5" -v b="$2" 'BEGIN { printf "%.1f", a / b }')
    ROWS+=("| $1 | $2 ($3..$4) | $5 ($6..$7) | ${ratio}x |")
}

echo "batch benchmarks ($LINES map update lines):"
measure "rbt batch file" -- "$RBT" batch file "$WORK/updates.batch"
r=("$T" "$LO" "$HI")
measure "bpftool batch file" -- bpftool batch file "$WORK/updates.batch"
row "$LINES map updates" "${r[@]}" "$T" "$LO" "$HI"

measure "rbt -j batch file" -- "$RBT" -j batch file "$WORK/updates.batch"
r=("$T" "$LO" "$HI")
measure "bpftool -j batch file" -- bpftool -j batch file "$WORK/updates.batch"
row "$LINES map updates, -j" "${r[@]}" "$T" "$LO" "$HI"

{
    echo "## Batch files"
    echo
    echo "\`batch file\` of $LINES \`map update pinned MAP key .. value ..\` lines (bpftool's byte"
    echo "syntax) into an emptied u32 -> u64 hash map; output to /dev/null; every run checked to"
    echo "leave $LINES elements. Times: median (fastest..slowest) of $RUNS runs, seconds."
    echo "Target: >= 10x faster than bpftool."
    echo
    echo "| benchmark | rbt s | bpftool s | ratio |"
    echo "|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
} > "$OUT"
cat "$OUT"

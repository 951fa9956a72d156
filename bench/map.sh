#!/usr/bin/env bash
# Map benchmarks: a 1,000,000-entry hash map (u32 -> u64, with BTF); rbt against bpftool
# for JSON and plain dumps and for loading 100k / 1M entries (`map update --from` against
# `bpftool batch file`). Usage: map.sh RBT OUT.md
set -euo pipefail

RBT=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${RBT_BENCH_RUNS:-5}
SLOW_RUNS=${RBT_BENCH_SLOW_RUNS:-3}
WORK=$(mktemp -d)
PIN=/sys/fs/bpf/rbt-bench-$$
cleanup() { rm -rf "$PIN" "$WORK"; }
trap cleanup EXIT

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mkdir -p "$PIN"
clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -c "$HERE/map.bpf.c" -o "$WORK/map.bpf.o"
"$RBT" prog load "$WORK/map.bpf.o" "$PIN/prog" pinmaps "$PIN"
MAP=$PIN/bench_map

# Inputs: JSON lines for rbt, `map update` lines for bpftool's batch mode (same elements).
gen() {
    awk -v n="$1" -v map="$MAP" -v mode="$2" 'BEGIN {
        for (i = 0; i < n; i++) {
            v = i * 3
            if (mode == "json") {
                printf "{\"key\":%d,\"value\":%d}\n", i, v
            } else {
                printf "map update pinned %s key %d %d %d %d value %d %d %d %d 0 0 0 0\n", map,
                    i % 256, int(i / 256) % 256, int(i / 65536) % 256, int(i / 16777216),
                    v % 256, int(v / 256) % 256, int(v / 65536) % 256, int(v / 16777216)
            }
        }
    }' > "$WORK/$1.$2"
}
for n in 100000 1000000; do gen $n json; gen $n batch; done

# measure LABEL RUNS PREP -- CMD...: runs CMD (stdout to /dev/null) RUNS times after PREP;
# sets T (median seconds) and M (max peak RSS, KiB).
measure() {
    local label=$1 runs=$2 prep=$3
    shift 4
    local times=() rss=0
    for ((r = 0; r < runs; r++)); do
        eval "$prep"
        /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" > /dev/null
        read -r t m < "$WORK/time"
        times+=("$t")
        (( m > rss )) && rss=$m
    done
    T=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    M=$rss
    printf '  %-40s median %6ss  peak RSS %6.1f MiB  (%s runs)\n' "$label" "$T" "$(mib "$M")" "$runs"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

ROWS=()
row() { # name rbt_t rbt_m bpftool_t bpftool_m
    local ratio
    ratio=$(awk -v a="$4" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "?" }')
    ROWS+=("| $1 | $2 | $(mib "$3") | $4 | $(mib "$5") | ${ratio}x |")
}

empty="\"$RBT\" map delete \"$MAP\" --all > /dev/null"
echo "map benchmarks (1,000,000-entry hash map, u32 -> u64, BTF):"

for n in 100000 1000000; do
    measure "rbt map update --from ($n)" "$RUNS" "$empty" -- "$RBT" map update "$MAP" --from "$WORK/$n.json"
    rt=$T rm_=$M
    runs=$SLOW_RUNS
    measure "bpftool batch file ($n)" "$runs" "$empty" -- bpftool batch file "$WORK/$n.batch"
    row "load $n entries" "$rt" "$rm_" "$T" "$M"
done

# The map now holds 1,000,000 entries (the last load); check both tools see them all.
count=$("$RBT" -j map dump "$MAP" | wc -l)
[ "$count" -eq 1000000 ] || { echo "rbt dumped $count lines, expected 1000000" >&2; exit 1; }
first=$("$RBT" -j map lookup "$MAP" key 999999)
[ "$first" = '{"key":999999,"value":2999997}' ] || { echo "unexpected element: $first" >&2; exit 1; }

measure "rbt -j map dump" "$RUNS" ":" -- "$RBT" -j map dump "$MAP"
rt=$T rm_=$M
measure "bpftool -j map dump" "$SLOW_RUNS" ":" -- bpftool -j map dump pinned "$MAP"
bj_t=$T bj_m=$M
row "JSON dump, 1M entries" "$rt" "$rm_" "$T" "$M"

measure "rbt map dump (table)" "$RUNS" ":" -- "$RBT" map dump "$MAP"
rt=$T rm_=$M
measure "bpftool map dump (plain)" "$SLOW_RUNS" ":" -- bpftool map dump pinned "$MAP"
row "plain dump, 1M entries" "$rt" "$rm_" "$T" "$M"

measure "rbt -j map dump --raw" "$RUNS" ":" -- "$RBT" -j map dump "$MAP" --raw
row "JSON dump --raw (bpftool's shape), 1M" "$T" "$M" "$bj_t" "$bj_m"

{
    echo "## Maps"
    echo
    echo "A 1,000,000-entry hash map (u32 key -> u64 value, with BTF), pinned; every run writes"
    echo "to /dev/null. Loads start from an empty map. Targets: JSON dump >= 10x faster than"
    echo "bpftool, peak RSS <= 32 MiB, 1M-entry load >= 10x faster."
    echo
    echo "| benchmark | rbt s | rbt RSS MiB | bpftool s | bpftool RSS MiB | ratio |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
} > "$OUT"
cat "$OUT"

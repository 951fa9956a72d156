#!/usr/bin/env bash
# `metrics print` of every program and map plus one 1,000,000-entry counter map exported
# with --map (u32 -> u64, BTF): time and peak RSS against the target (1.5 s, 64 MiB), and
# `promtool check metrics` on the result. Usage: metrics.sh RBT OUT.md
set -euo pipefail

RBT=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${RBT_BENCH_RUNS:-5}
WORK=$(mktemp -d)
PIN=/sys/fs/bpf/rbt-bench-metrics-$$
cleanup() { rm -rf "$PIN" "$WORK"; }
trap cleanup EXIT

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mkdir -p "$PIN"
clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -c "$HERE/map.bpf.c" -o "$WORK/map.bpf.o"
"$RBT" prog load "$WORK/map.bpf.o" "$PIN/prog" pinmaps "$PIN"
MAP=$PIN/bench_map
awk 'BEGIN { for (i = 0; i < 1000000; i++) printf "{\"key\":%d,\"value\":%d}\n", i, i * 3 }' > "$WORK/1m.json"
"$RBT" map update "$MAP" --from "$WORK/1m.json" > /dev/null

times=() cpus=() rss=0
for ((r = 0; r < RUNS; r++)); do
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$RBT" metrics print --map "$MAP" > "$WORK/out.prom"
    read -r t u s m < "$WORK/time"
    times+=("$t")
    cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')")
    (( m > rss )) && rss=$m
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
T=$(median "${times[@]}")
C=$(median "${cpus[@]}")
M=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
series=$(grep -c '^rbt_map_value_bench_map{' "$WORK/out.prom")
[ "$series" -eq 1000000 ] || { echo "exported $series series, expected 1000000" >&2; exit 1; }
promtool check metrics < "$WORK/out.prom" > "$WORK/promtool" 2>&1 && lint=passes || lint="fails: $(head -3 "$WORK/promtool")"
load=$(cut -d' ' -f1 /proc/loadavg)

printf '  %-40s median %6ss (CPU %ss)  peak RSS %6.1f MiB  (%s runs, load %s)\n' \
    "rbt metrics print --map (1M entries)" "$T" "$C" "$M" "$RUNS" "$load"
{
    echo "## metrics print"
    echo
    echo "Every program and map plus \`--map\` of a 1,000,000-entry hash map (u32 -> u64, BTF):"
    echo "$series value series. Target: under 1.5 s and 64 MiB. \`promtool check metrics\` $lint."
    echo
    echo "| command | median time (s) | CPU user+sys (s) | peak RSS (MiB) | load average |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| rbt metrics print --map bench_map | $T | $C | $M | $load |"
    echo
} > "$OUT"

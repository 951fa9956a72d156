#!/usr/bin/env bash
# `btf dump file /sys/kernel/btf/vmlinux` benchmarks, rbt against bpftool, runs interleaved so
# both see the same machine load: `format c` (a vmlinux.h) and `format raw`, plain and -j.
# The C headers are checked identical before timing. Usage: btf.sh RBT OUT.md
set -euo pipefail

RBT=$1
OUT=$2
RUNS=${RBT_BENCH_RUNS:-11}
VMLINUX=/sys/kernel/btf/vmlinux
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$RBT" btf dump file "$VMLINUX" format c > "$WORK/rbt.h"
bpftool btf dump file "$VMLINUX" format c > "$WORK/bpftool.h"
cmp -s "$WORK/rbt.h" "$WORK/bpftool.h" || { echo "vmlinux.h differs from bpftool's" >&2; exit 1; }

# stats FILE: "median min max maxrss" of the `time` lines (seconds, KiB) in FILE.
stats() {
    sort -g "$1" | awk '{t[NR]=$1; if ($2 > m) m=$2} END {printf "%s %s %s %.1f", t[int((NR+1)/2)], t[1], t[NR], m/1024}'
}

ROWS=()
echo "btf dump benchmarks ($VMLINUX, $RUNS interleaved runs each):"
for args in "format c" "format raw" "-j format raw"; do
    json=""
    words=$args
    if [[ $args == -j* ]]; then json="-j"; words=${args#-j }; fi
    rm -f "$WORK/t.rbt" "$WORK/t.bpftool"
    for ((r = 0; r < RUNS; r++)); do
        # shellcheck disable=SC2086
        /usr/bin/time -f '%e %M' -a -o "$WORK/t.rbt" "$RBT" $json btf dump file "$VMLINUX" $words > /dev/null
        # shellcheck disable=SC2086
        /usr/bin/time -f '%e %M' -a -o "$WORK/t.bpftool" bpftool $json btf dump file "$VMLINUX" $words > /dev/null
    done
    read -r rt rmin rmax rrss <<< "$(stats "$WORK/t.rbt")"
    read -r bt bmin bmax brss <<< "$(stats "$WORK/t.bpftool")"
    ratio=$(awk -v a="$bt" -v b="$rt" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
    printf '  %-20s rbt %ss (%s-%s) %s MiB   bpftool %ss (%s-%s) %s MiB   ratio %sx\n' \
        "$args" "$rt" "$rmin" "$rmax" "$rrss" "$bt" "$bmin" "$bmax" "$brss" "$ratio"
    ROWS+=("| btf dump file vmlinux $args | $rt ($rmin-$rmax) | $rrss | $bt ($bmin-$bmax) | $brss | ${ratio}x |")
done

{
    echo "## btf dump"
    echo
    echo "\`btf dump file $VMLINUX\` ($(wc -l < "$WORK/rbt.h") lines of C), $RUNS runs of each tool"
    echo "interleaved; median (min-max) seconds, peak RSS. The two vmlinux.h are checked identical"
    echo "first. Target: not slower than bpftool."
    echo
    echo "| benchmark | rbt s | rbt RSS MiB | bpftool s | bpftool RSS MiB | ratio |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
} > "$OUT"

#!/usr/bin/env bash
# `prog dump xlated` benchmarks: one straight-line XDP program of about 500,000 instructions
# with BTF line info (bench/prog_dump.bpf.c, DEPTH=M: the largest the kernel can copy out), rbt against bpftool for the plain and
# JSON listings, with and without `opcodes`. Usage: prog_dump.sh RBT OUT.md
set -euo pipefail

RBT=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${RBT_BENCH_RUNS:-5}
DEPTH=${RBT_BENCH_DUMP_DEPTH:-M}
WORK=$(mktemp -d)
PIN=/sys/fs/bpf/rbt-bench-dump-$$
cleanup() { rm -rf "$PIN" "$WORK"; }
trap cleanup EXIT

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mkdir -p "$PIN"
# clang takes minutes on this program: the object is kept in target/bench until its source changes.
OBJ=$HERE/../target/bench/prog_dump-$DEPTH.bpf.o
if [ ! "$OBJ" -nt "$HERE/prog_dump.bpf.c" ]; then
    echo "compiling bench/prog_dump.bpf.c (DEPTH=$DEPTH; clang takes a few minutes)..."
    mkdir -p "$(dirname "$OBJ")"
    clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -DDEPTH="$DEPTH" \
        -c "$HERE/prog_dump.bpf.c" -o "$WORK/big.bpf.o"
    mv "$WORK/big.bpf.o" "$OBJ"
fi
"$RBT" prog load "$OBJ" "$PIN/prog"
PROG=$PIN/prog
insns=$(( $("$RBT" -j prog show pinned "$PROG" | jq .bytes_xlated) / 8 ))

# The two listings must agree before they are timed.
"$RBT" prog dump xlated pinned "$PROG" | sed 's|  // .*||' > "$WORK/rbt.txt"
bpftool prog dump xlated pinned "$PROG" > "$WORK/bpftool.txt"
cmp -s "$WORK/rbt.txt" "$WORK/bpftool.txt" || { echo "plain listings differ" >&2; exit 1; }

# measure LABEL -- CMD...: runs CMD (stdout to /dev/null) RUNS times; sets T (median
# seconds) and M (max peak RSS, KiB).
measure() {
    local label=$1
    shift 2
    local times=() rss=0
    for ((r = 0; r < RUNS; r++)); do
        /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" > /dev/null
        read -r t m < "$WORK/time"
        times+=("$t")
        (( m > rss )) && rss=$m
    done
    T=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    M=$rss
    printf '  %-48s median %6ss  peak RSS %6.1f MiB  (%s runs)\n' "$label" "$T" "$(mib "$M")" "$RUNS"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

ROWS=()
row() { # name rbt_t rbt_m bpftool_t bpftool_m
    local ratio
    ratio=$(awk -v a="$4" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "?" }')
    ROWS+=("| $1 | $2 | $(mib "$3") | $4 | $(mib "$5") | ${ratio}x |")
}

echo "prog dump benchmarks ($insns instructions, BTF line info):"
for opts in "" "opcodes"; do
    for json in "" "-j"; do
        label="${json:+$json }prog dump xlated${opts:+ $opts}"
        # shellcheck disable=SC2086
        measure "rbt $label" -- "$RBT" $json prog dump xlated pinned "$PROG" $opts
        rt=$T rm_=$M
        # shellcheck disable=SC2086
        measure "bpftool $label" -- bpftool $json prog dump xlated pinned "$PROG" $opts
        row "$label" "$rt" "$rm_" "$T" "$M"
    done
done

{
    echo "## prog dump"
    echo
    echo "One XDP program of $insns translated instructions with BTF line info"
    echo "(bench/prog_dump.bpf.c, DEPTH=$DEPTH; the kernel copies out at most 524,288 translated"
    echo "instructions, so a 1,000,000-instruction program loads but neither tool can dump it);"
    echo "every run writes to /dev/null. The plain"
    echo "listings are checked equal (less rbt's \`// map\` notes) before timing."
    echo "Target: not slower than bpftool."
    echo
    echo "| benchmark | rbt s | rbt RSS MiB | bpftool s | bpftool RSS MiB | ratio |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
} > "$OUT"
cat "$OUT"

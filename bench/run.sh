#!/usr/bin/env bash
# `make bench`: rbt against bpftool on the same kernel objects, one script per object
# (bench/map.sh, bench/events.sh, ...); prints the results and writes bench/RESULTS.md.
set -euo pipefail

RBT=$(realpath "${1:-target/release/rbt}")
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

{
    echo "# rbt benchmarks"
    echo
    echo "Written by \`make bench\` on $(date -u '+%Y-%m-%d %H:%M UTC'): kernel $(uname -r)," \
         "$(nproc) CPUs, $(bpftool version 2>/dev/null | head -1)."
    echo "Times are medians of several runs (wall clock); RSS is the largest peak RSS seen"
    echo "(\`/usr/bin/time\` %M, the maximum resident set size). A ratio is bpftool's time divided by rbt's."
    echo
} > "$TMP/00-head.md"

n=0
for script in "$HERE"/map.sh "$HERE"/batch.sh "$HERE"/events.sh "$HERE"/prog_dump.sh "$HERE"/btf.sh "$HERE"/metrics.sh; do
    [ -f "$script" ] || continue
    n=$((n + 1))
    bash "$script" "$RBT" "$TMP/$(printf '%02d' "$n")-$(basename "$script" .sh).md"
done

cat "$TMP"/*.md > "$HERE/RESULTS.md"
echo
echo "wrote $HERE/RESULTS.md"

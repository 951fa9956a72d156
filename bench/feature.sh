#!/usr/bin/env bash
# `rbt -j feature probe` against `bpftool -j feature probe`: median wall time and peak RSS
# of N runs each, interleaved so both see the same machine load.
# Usage: bash bench/feature.sh [target/release/rbt] [N]
set -euo pipefail
RBT=${1:-target/release/rbt}
N=${2:-21}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for _ in $(seq "$N"); do
	/usr/bin/time -f "%e %M" -a -o "$tmp/rbt" "$RBT" -j feature probe >/dev/null
	/usr/bin/time -f "%e %M" -a -o "$tmp/bpftool" bpftool -j feature probe >/dev/null
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for tool in rbt bpftool; do
	wall=$(cut -d' ' -f1 "$tmp/$tool" | median)
	rss=$(cut -d' ' -f2 "$tmp/$tool" | median)
	echo "$tool -j feature probe: median ${wall}s wall, ${rss} KB peak RSS ($N runs)"
done

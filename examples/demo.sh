#!/usr/bin/env bash
# make demo: load examples/xdp_drop.bpf.o, show it as a table and as JSON, remove it.
set -euo pipefail
RBT=${1:-target/release/rbt}
PIN=/sys/fs/bpf/xdp_drop
trap 'rm -f "$PIN"' EXIT
step() { printf '\n$ %s\n' "$*"; "$@"; }

step "$RBT" prog load examples/xdp_drop.bpf.o
step "$RBT" prog show pinned "$PIN"
step "$RBT" -p prog show pinned "$PIN"
printf '\n$ %s -j prog show pinned %s | jq .name\n' "$RBT" "$PIN"
"$RBT" -j prog show pinned "$PIN" | jq .name
step rm "$PIN"
echo
echo "demo done: the program was loaded, shown and removed."

#!/usr/bin/env bash
# Event-stream throughput: XDP programs run by BPF_PROG_TEST_RUN (bpftool prog run ...
# repeat N) write 32-byte events; consumers read them for the same time with the same
# producer. Perf event array: `rbt perf events` vs `bpftool map event_pipe`. Ring buffer:
# `rbt perf events` vs a minimal C consumer on libbpf's ring_buffer__poll/consume (the limit).
# rbt writes JSON lines to /dev/null and counts on stderr; bpftool writes to /dev/shm.
# Usage: bash bench/events.sh [path/to/rbt] [RESULTS.md section to write]   (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
RBT=$(realpath "${1:-target/release/rbt}")
MD=${2:-}
SECS=${SECS:-4}          # producer seconds per run
W=target/bench-events
OUT=/dev/shm/rbt-bench-events-$$
PIN=/sys/fs/bpf/rbt-bench-events-$$
mkdir -p "$W" "$OUT"
cleanup() { rm -rf "$PIN" "$OUT"; }
trap cleanup EXIT

clang -O2 -g -target bpf -mcpu=v3 -Wall -I/usr/include/x86_64-linux-gnu \
	-c tests/bpf/trace_bench.bpf.c -o "$W/trace_bench.bpf.o"
gcc -O2 -o "$W/rb_consumer" bench/rb_consumer.c -lbpf -lelf -lz
"$RBT" prog loadall "$W/trace_bench.bpf.o" "$PIN" pinmaps "$PIN/maps"
head -c 64 /dev/zero >"$W/pkt"

# counter SLOT: a u64 of rbt_bench_cnt
counter() {
	bpftool -j map lookup pinned "$PIN/maps/rbt_bench_cnt" key "$1" 0 0 0 |
		python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print(int.from_bytes(bytes(int(b,16) for b in v),"little"))'
}
reset() { for k in 0 1 2 3; do bpftool map update pinned "$PIN/maps/rbt_bench_cnt" key $k 0 0 0 value 0 0 0 0 0 0 0 0; done; }

# produce PROG REPEAT PAUSE: run PROG REPEAT times per test run, for SECS seconds.
produce() {
	local end=$((SECONDS + SECS))
	while [ $SECONDS -lt $end ]; do
		bpftool prog run pinned "$PIN/$1" data_in "$W/pkt" repeat "$2" >/dev/null
		[ "$3" = 0 ] || sleep "$3"
	done
}

# run NAME PROG REPEAT PAUSE SLOT CONSUMER...: start the consumer, produce, stop it;
# the consumer writes records to $OUT/NAME (or prints its count there for the C one).
declare -A GOT LOST MADE
run() {
	local name=$1 prog=$2 repeat=$3 pause=$4 slot=$5
	shift 5
	reset
	local sink="$OUT/$name"
	case $name in rbt_*) sink=/dev/null ;; esac # rbt counts what it wrote on stderr
	"$@" >"$sink" 2>"$OUT/$name.err" &
	local pid=$!
	sleep 1
	produce "$prog" "$repeat" "$pause"
	sleep 1
	case $name in
	c_*) ;; # stops by itself after SECS + 2 seconds and prints its count
	*) kill -INT $pid 2>/dev/null || true ;;
	esac
	wait $pid 2>/dev/null || true
	MADE[$name]=$(counter $slot)
	# Lost: what the BPF helper could not write because the buffer was full (the
	# producer's own count; a perf array also reports these to the reader as lost records).
	LOST[$name]=$(counter $((slot + 1)))
	case $name in
	c_*) GOT[$name]=$(cat "$OUT/$name") ;;
	rbt_*) GOT[$name]=$(sed -n 's/^rbt: \([0-9]*\) records.*/\1/p' "$OUT/$name.err") ;;
	*) GOT[$name]=$(grep -o '"data":' "$OUT/$name" | wc -l) ;;
	esac
	rm -f "$OUT/$name"
	printf '%-20s produced %9d  consumed %9d  lost %9d  -> %9.0f events/s consumed\n' \
		"$name" "${MADE[$name]}" "${GOT[$name]}" "${LOST[$name]}" "$(echo "${GOT[$name]} / $SECS" | bc -l)"
}

ratio() { echo "scale=2; ${GOT[$1]} / ${GOT[$2]}" | bc -l; }

echo "== perf event array, flood (repeat 100000 per run, no pause)"
run rbt_pa_flood rbt_bench_pa_x 100000 0 2 "$RBT" -j perf events pinned "$PIN/maps/rbt_bench_pa" --pages 256
run bpftool_pa_flood rbt_bench_pa_x 100000 0 2 bpftool -j map event_pipe pinned "$PIN/maps/rbt_bench_pa"
echo "== perf event array, paced (repeat 2000 every 10 ms)"
run rbt_pa_paced rbt_bench_pa_x 2000 0.01 2 "$RBT" -j perf events pinned "$PIN/maps/rbt_bench_pa" --pages 256
run bpftool_pa_paced rbt_bench_pa_x 2000 0.01 2 bpftool -j map event_pipe pinned "$PIN/maps/rbt_bench_pa"
echo "== ring buffer, flood (repeat 100000 per run, no pause)"
run rbt_rb_flood rbt_bench_rb_x 100000 0 0 "$RBT" -j perf events pinned "$PIN/maps/rbt_bench_rb"
run c_rb_flood rbt_bench_rb_x 100000 0 0 "$W/rb_consumer" "$PIN/maps/rbt_bench_rb" $((SECS + 2))
echo "== ring buffer, paced (repeat 2000 every 10 ms)"
run rbt_rb_paced rbt_bench_rb_x 2000 0.01 0 "$RBT" -j perf events pinned "$PIN/maps/rbt_bench_rb"
run c_rb_paced rbt_bench_rb_x 2000 0.01 0 "$W/rb_consumer" "$PIN/maps/rbt_bench_rb" $((SECS + 2))

delivered() { echo "scale=1; 100 * ${GOT[$1]} / ${MADE[$1]}" | bc -l; }
echo
echo "delivered = consumed / produced (same producer, same time; the producer's rate varies run to run)"
for pair in "perf array flood:rbt_pa_flood:bpftool_pa_flood" "perf array paced:rbt_pa_paced:bpftool_pa_paced" \
	"ringbuf flood:rbt_rb_flood:c_rb_flood" "ringbuf paced:rbt_rb_paced:c_rb_paced"; do
	IFS=: read -r what a b <<<"$pair"
	printf '%-17s rbt/%s consumed rate = %s   delivered: rbt %s%%, %s %s%%\n' "$what" "${b%%_*}" \
		"$(ratio "$a" "$b")" "$(delivered "$a")" "${b%%_*}" "$(delivered "$b")"
done

# The markdown section for bench/RESULTS.md (one run; the rates depend on the producer).
if [ -n "$MD" ]; then
	{
		echo "## Event streams"
		echo
		echo "XDP programs run by BPF_PROG_TEST_RUN (\`bpftool prog run ... repeat N\`) write 32-byte"
		echo "events for ${SECS} s per run; flood = repeat 100000 back to back, paced = repeat 2000 every"
		echo "10 ms. rbt writes JSON lines to /dev/null. A rate ratio is rbt's consumed events/s over the"
		echo "other consumer's in its own run with the same producer; delivered = consumed / produced."
		echo
		echo "| stream | rate ratio | rbt delivered | other delivered |"
		echo "|---|---|---|---|"
		for pair in "perf array flood, rbt / bpftool:rbt_pa_flood:bpftool_pa_flood" \
			"perf array paced, rbt / bpftool:rbt_pa_paced:bpftool_pa_paced" \
			"ringbuf flood, rbt / C libbpf consumer:rbt_rb_flood:c_rb_flood" \
			"ringbuf paced, rbt / C libbpf consumer:rbt_rb_paced:c_rb_paced"; do
			IFS=: read -r what a b <<<"$pair"
			echo "| $what | $(ratio "$a" "$b") | $(delivered "$a")% | $(delivered "$b")% |"
		done
		echo
	} >"$MD"
fi

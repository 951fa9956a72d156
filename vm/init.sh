#!/bin/busybox sh
# /init of the vmtest initramfs: tracing and `prog profile` with rbt on a kernel that has
# kprobes and BPF trampolines (fentry/fexit). Prints one line `vmtest: N passed, M failed`,
# then powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

R=/rbt
D=/sys/fs/bpf/vm
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "vmtest: ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "vmtest: FAIL $1"; sed 's/^/    /' /tmp/out; }
# check NAME CMD...: CMD must succeed.
check() { n=$1; shift; if "$@" >/tmp/out 2>&1; then ok "$n"; else bad "$n"; fi; }
# refuse NAME TEXT CMD...: CMD must fail with exit 1 and say TEXT.
refuse() {
	n=$1; t=$2; shift 2
	"$@" >/tmp/out 2>&1; rc=$?
	if [ $rc -eq 1 ] && grep -q "$t" /tmp/out; then ok "$n"; else echo "rc=$rc" >>/tmp/out; bad "$n"; fi
}
# has NAME FILE REGEX: FILE matches REGEX (grep -E).
has() { cp "$2" /tmp/out; if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1"; fi; }
# events FILE: run tracelog while do_unlinkat runs three times.
events() {
	$R -j perf tracelog --duration 4s >"$1" 2>/tmp/tracelog.err &
	sleep 1
	for i in 1 2 3; do touch /tmp/f$i; rm /tmp/f$i; done
	wait
}

echo "vmtest: kernel $(uname -r)"
check "prog loadall (kprobe, kretprobe, fentry, fexit)" $R prog loadall /fixtures/trace_vm.bpf.o $D
refuse "kprobe on a missing function is refused" "no kernel function" \
	$R prog attach pinned $D/vm_kprobe kprobe rbt_no_such_function
refuse "fexit on a program loaded as fentry is refused" "loaded as trace_fentry" \
	$R prog attach pinned $D/vm_fentry fexit
check "attach kprobe do_unlinkat" $R prog attach pinned $D/vm_kprobe kprobe do_unlinkat
check "attach kretprobe do_unlinkat" $R prog attach pinned $D/vm_kretprobe kretprobe do_unlinkat
check "attach fentry" $R prog attach pinned $D/vm_fentry fentry
check "attach fexit" $R prog attach pinned $D/vm_fexit fexit
for p in kprobe kretprobe fentry fexit; do
	[ -e $D/vm_${p}_link ] && ok "link of $p pinned at $D/vm_${p}_link" || { : >/tmp/out; bad "link of $p pinned"; }
done

events /tmp/ev1
for p in kprobe kretprobe fentry fexit; do
	has "$p fired (trace_pipe)" /tmp/ev1 "\"message\":\"rbt-vm $p\""
done

# Kernels before 6.6 (this 6.1) do not report a perf_event link's target: when the
# kernel does, check it.
kid=$($R -j prog show pinned $D/vm_kprobe | sed 's/^{"id":\([0-9]*\),.*/\1/')
$R -j link show pinned $D/vm_kprobe_link >/tmp/l 2>&1
has "link show kprobe: perf_event link of the kprobe program" /tmp/l "\"type\":\"perf_event\",\"prog_id\":$kid([,}])"
has "link show kprobe: target when reported" /tmp/l '"func":"do_unlinkat".*"retprobe":false|"prog_id":[0-9]+}$'
$R -j link show pinned $D/vm_kretprobe_link >/tmp/l 2>&1
has "link show kretprobe: target when reported" /tmp/l '"retprobe":true|"prog_id":[0-9]+}$'
$R -j link show pinned $D/vm_fentry_link >/tmp/l 2>&1
has "link show fentry: attach_type" /tmp/l '"attach_type":"trace_fentry"'
$R -j link show pinned $D/vm_fexit_link >/tmp/l 2>&1
has "link show fexit: attach_type" /tmp/l '"attach_type":"trace_fexit"'
$R -j perf show >/tmp/p 2>&1
has "perf show lists the kprobe link" /tmp/p "\"prog_id\":$kid,\"fd_type\":\"(kprobe\",\"func\":\"do_unlinkat|perf_event)\""

for p in kprobe kretprobe fentry fexit; do
	check "link detach $p" $R link detach pinned $D/vm_${p}_link
done
$R -j link show >/tmp/l 2>&1
has "no link left after detach" /tmp/l '^\[\]$'
$R perf tracelog --duration 1s >/dev/null 2>&1 # drain what fired before the detach
events /tmp/ev2
if grep -q "rbt-vm" /tmp/ev2; then cp /tmp/ev2 /tmp/out; bad "nothing fires after detach"; else ok "nothing fires after detach"; fi

# prog profile: rbt's fentry/fexit profiler on an XDP program that another rbt runs with
# BPF_PROG_TEST_RUN. QEMU's TCG has no PMU ("PMU not available due to virtualization"), so
# the hardware counters are checked only when the guest has one (/sys/.../devices/cpu);
# without, each metric must be reported as having no counter, and run_cnt still counted.
# tracing_links: how many tracing (fentry/fexit) links exist now.
tracing_links() { $R -j link show 2>/dev/null | grep -o '"type":"tracing"' | wc -l; }
# profiling FILE ARGS...: start `rbt ARGS` (a profile) writing to FILE, wait for its two links.
profiling() {
	f=$1; shift
	$R "$@" >"$f" 2>"$f.err" &
	PROF=$!
	n=0
	while [ "$(tracing_links)" -lt 2 ] && [ $n -lt 100 ] && kill -0 $PROF 2>/dev/null; do
		sleep 0.2; n=$((n + 1))
	done
}
P=$D/profiled
check "prog load the profile target (XDP)" $R prog load /fixtures/profile_target.bpf.o $P
pid=$($R -j prog show pinned $P | sed 's/^{"id":\([0-9]*\),.*/\1/')
head -c 64 /dev/zero >/tmp/pkt
if [ -d /sys/bus/event_source/devices/cpu ]; then HW=1; echo "vmtest: guest has a PMU"; else HW=0; echo "vmtest: guest has no PMU (no /sys/bus/event_source/devices/cpu)"; fi

profiling /tmp/prof prog profile id $pid cycles instructions
[ "$(tracing_links)" -ge 2 ] && ok "two tracing links while profiling" || { $R link show >/tmp/out 2>&1; bad "two tracing links while profiling"; }
for i in 1 2 3; do $R prog run pinned $P data_in /tmp/pkt repeat 1000 >/dev/null 2>&1; done
kill -INT $PROF
wait $PROF; rc=$?
echo "rc=$rc" >>/tmp/prof
has "prog profile stops on SIGINT and prints (exit 0)" /tmp/prof '^rc=0$'
has "plain: run_cnt of the 3x1000 test runs" /tmp/prof '^ +3000 run_cnt +$'
if [ $HW = 1 ]; then
	has "plain: nonzero cycles" /tmp/prof '^ +[1-9][0-9]* cycles '
	has "plain: instructions with insns per cycle" /tmp/prof 'instructions +# +[0-9.]+ insns per cycle'
else
	has "plain: cycles has no hardware counter" /tmp/prof '^ +- cycles +# no hardware counter on this machine'
	has "plain: instructions has no hardware counter" /tmp/prof '^ +- instructions +# no hardware counter on this machine'
	has "stderr warns: cycles has no hardware counter" /tmp/prof.err '^warning: cycles: no hardware counter on this machine'
fi

# Test runs go on in the background from before the profile starts until it has ended, so
# some land inside its 3 s however slow the guest is.
t0=$(date +%s)
rm -f /tmp/runs.stop /tmp/runs.count
( while [ ! -f /tmp/runs.stop ]; do
	$R prog run pinned $P data_in /tmp/pkt repeat 500 >/dev/null 2>&1 && echo x >>/tmp/runs.count
done ) &
RUNNER=$!
profiling /tmp/profj -j prog profile id $pid duration 3 cycles instructions
wait $PROF; rc=$?
touch /tmp/runs.stop
wait $RUNNER
runs=$(wc -l </tmp/runs.count 2>/dev/null || echo 0)
echo "rc=$rc; $runs test runs; profile ended $(($(date +%s) - t0))s after it started" >>/tmp/profj
has "prog profile duration 3 -j ends by itself (exit 0)" /tmp/profj '^rc=0;'
grep -a '^rc=' /tmp/profj | sed 's/^/vmtest: info: /'
if [ $HW = 1 ]; then
	has "JSON: cycles with a nonzero run_cnt and value" /tmp/profj '^\[\{"metric":"cycles","run_cnt":[1-9][0-9]*,"value":[1-9][0-9]*,"enabled":[0-9]+,"running":[0-9]+\},\{"metric":"instructions","run_cnt":[1-9][0-9]*,'
else
	has "JSON: bpftool's fields, nonzero run_cnt, unavailable counters said" /tmp/profj '^\[\{"metric":"cycles","run_cnt":[1-9][0-9]*,"value":0,"enabled":0,"running":0,"unavailable":"no hardware counter on this machine[^"]*"\},\{"metric":"instructions","run_cnt":[1-9][0-9]*,'
fi
[ "$(tracing_links)" -eq 0 ] && ok "no tracing link left after the profiles" || { $R link show >/tmp/out 2>&1; bad "no tracing link left after the profiles"; }
$R -j prog show >/tmp/out 2>&1
if grep -q 'rbt_prof_enter\|rbt_prof_exit' /tmp/out; then bad "no profiler program left loaded"; else ok "no profiler program left loaded"; fi
# The kernel does not let fentry/fexit attach to an fentry program: a clear error, exit 1.
refuse "profiling an fentry program is refused clearly" "^Error: prog profile: loading the profiler failed: " \
	$R prog profile pinned $D/vm_fentry duration 1 cycles
sed -n 's/^Error: /vmtest: info: /p' /tmp/out
$R prog profile id $pid duration 1 >/tmp/out 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "name at least one metric" /tmp/out; then ok "prog profile without a metric: usage error (exit 2)"; else echo "rc=$rc" >>/tmp/out; bad "prog profile without a metric: usage error (exit 2)"; fi

echo "vmtest: $PASS passed, $FAIL failed"
sync
poweroff -f

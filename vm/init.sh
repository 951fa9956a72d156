#!/bin/busybox sh
# /init of the vmtest initramfs: tracing with rbt on a kernel that has kprobes and BPF
# trampolines (fentry/fexit). Prints one line `vmtest: N passed, M failed`, then powers off.
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

echo "vmtest: $PASS passed, $FAIL failed"
sync
poweroff -f

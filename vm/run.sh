#!/usr/bin/env bash
# make vmtest: boot Debian's 6.1 kernel (linux-image-amd64) in qemu under TCG with an
# initramfs holding rbt, its shared libraries, busybox and the fixtures; vm/init.sh runs
# the kprobe/kretprobe/fentry/fexit and `prog profile` tests there. No network. Exit 0 iff
# all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
RBT=${RBT:-target/debug/rbt}
WORK=target/vmtest
TIMEOUT=${VMTEST_TIMEOUT:-540}
mkdir -p "$WORK"

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx cpio || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
	echo "vmtest: installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# The kernel: the package linux-image-amd64 depends on, unpacked (not installed) here.
kernel=$(ls "$WORK"/kernel/boot/vmlinuz-* 2>/dev/null | head -1 || true)
if [ -z "$kernel" ]; then
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	echo "vmtest: fetching $pkg"
	(cd "$WORK" && rm -f linux-image-*.deb && apt-get download -qq "$pkg")
	rm -rf "$WORK/kernel"
	dpkg-deb -x "$WORK"/linux-image-*.deb "$WORK/kernel"
	kernel=$(ls "$WORK"/kernel/boot/vmlinuz-* | head -1)
fi

[ -x "$RBT" ] || cargo build
for fixture in trace_vm profile_target; do
	clang -O2 -g -target bpf -mcpu=v3 -Wall -I/usr/include/x86_64-linux-gnu \
		-c tests/bpf/$fixture.bpf.c -o "$WORK/$fixture.bpf.o"
done

# The initramfs: busybox, rbt and the libraries ldd names, the fixture, /init.
root="$WORK/root"
rm -rf "$root"
mkdir -p "$root"/{bin,proc,sys,dev,tmp,fixtures,sys/fs/bpf}
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$RBT" "$root/rbt"
for lib in $(ldd "$RBT" | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
cp "$WORK/trace_vm.bpf.o" "$WORK/profile_target.bpf.o" "$root/fixtures/"
cp vm/init.sh "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$WORK/initramfs.gz"

echo "vmtest: booting $(basename "$kernel") under TCG (timeout ${TIMEOUT}s)"
log="$WORK/console.log"
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1024 \
	-kernel "$kernel" -initrd "$WORK/initramfs.gz" \
	-append "console=ttyS0 rdinit=/init panic=-1 quiet loglevel=3" \
	-nographic -no-reboot -nic none -monitor none -serial stdio </dev/null | tee "$log" | grep --line-buffered '^vmtest:'
set -e
summary=$(grep -a '^vmtest: [0-9]* passed, [0-9]* failed' "$log" | tail -1 | tr -d '\r')
if [ -z "$summary" ]; then
	echo "vmtest: no summary line: the VM did not finish (see $log)"
	exit 1
fi
case "$summary" in
*" 0 failed") exit 0 ;;
*) exit 1 ;;
esac

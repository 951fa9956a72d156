# rbt: build, demo, test and bench. Every target installs what it needs first (`deps`).

DEBIAN_PKGS := clang llvm libelf-dev zlib1g-dev pkg-config libbpf-dev bpftool iproute2 \
               iputils-ping jq make gcc time bc python3
BPF_CFLAGS  := -O2 -g -target bpf -mcpu=v3 -Wall -I/usr/include/x86_64-linux-gnu
EXAMPLES    := $(patsubst %.c,%.o,$(wildcard examples/*.bpf.c))
RBT         := target/release/rbt
PREFIX      ?= /usr/local
# Shells and man for the completion and man page tests (tests/docs.rs).
DEBIAN_PKGS += zsh fish bash-completion man-db
# <sys/sdt.h> for the USDT test target (tests/usdt.rs).
DEBIAN_PKGS += systemtap-sdt-dev
# Graphviz renders `prog dump xlated visual`; objdump cross-checks `prog dump jited` (tests/prog_dump.rs).
DEBIAN_PKGS += graphviz binutils
# promtool and a Prometheus server for the metrics tests (tests/metrics.rs).
DEBIAN_PKGS += prometheus
# A pseudo-terminal for the `prog top` full-screen test (tests/top.rs).
DEBIAN_PKGS += tmux
# nsenter for the flow_dissector test (tests/sockmap.rs); setpriv and unshare for tests/deploy.rs.
DEBIAN_PKGS += util-linux
# `make static` links libelf.a and libz.a (libelf-dev, zlib1g-dev above); tests/deploy.rs checks
# examples/deploy with systemd-analyze (systemd) and PyYAML (python3-yaml), the binary with readelf.
DEBIAN_PKGS += systemd python3-yaml

.PHONY: deps build examples demo test bench clean
.PHONY: docs install uninstall static

# Install the Debian packages the build, the fixtures and the tests need (only missing ones).
deps:
	@missing=$$(for p in $(DEBIAN_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	cargo build --release

examples/%.bpf.o: examples/%.bpf.c
	clang $(BPF_CFLAGS) -c $< -o $@

examples: deps $(EXAMPLES)

demo: build examples
	@bash examples/demo.sh $(RBT)

# Tests that skip for want of a kernel feature each add a line to $(TEST_SKIPS) (tests/common/kernel.rs).
TEST_SKIPS := $(or $(CARGO_TARGET_DIR),target)/rbt-test-skips

test: deps static
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	rm -f $(TEST_SKIPS)
	@status=0; cargo test --all-targets || status=$$?; \
	echo "kernel-feature skips: $$(cat $(TEST_SKIPS) 2>/dev/null | wc -l)"; \
	exit $$status

# One fully static x86-64 binary (target/static/rbt) for scratch images and hosts without
# libelf/zlib: libbpf vendored by libbpf-sys, libelf.a and libz.a from libelf-dev and
# zlib1g-dev, glibc linked statically (crt-static). tests/deploy.rs runs it in an empty chroot.
STATIC_TARGET := x86_64-unknown-linux-gnu
STATIC_OUT    := $(or $(CARGO_TARGET_DIR),target)/$(STATIC_TARGET)/release/rbt
static: deps
	LIBBPF_SYS_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu RUSTFLAGS="-C target-feature=+crt-static" \
		nice cargo build --release --features static --target $(STATIC_TARGET)
	install -D -m 755 $(STATIC_OUT) $(or $(CARGO_TARGET_DIR),target)/static/rbt

bench: build
	@bash bench/run.sh $(RBT)

clean:
	cargo clean
	rm -f examples/*.bpf.o

# Regenerate the committed completion scripts and man pages from the clap definitions
# (tests/docs.rs fails until this is run after a change to the command line).
docs:
	cargo build
	rm -rf man completions
	mkdir -p man completions
	target/debug/rbt man man
	target/debug/rbt completions bash > completions/rbt.bash
	target/debug/rbt completions zsh > completions/_rbt
	target/debug/rbt completions fish > completions/rbt.fish

# Install the release binary, its man pages and completions under $(DESTDIR)$(PREFIX).
install: build
	install -D -m 755 $(RBT) $(DESTDIR)$(PREFIX)/bin/rbt
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -D -m 644 completions/rbt.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/rbt
	install -D -m 644 completions/_rbt $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_rbt
	install -D -m 644 completions/rbt.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/rbt.fish

# Remove exactly what `make install` put there (directories stay).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/rbt
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man1/,$(notdir $(wildcard man/*.1)))
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/rbt
	rm -f $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_rbt
	rm -f $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/rbt.fish

# Tracing on a kernel with kprobes and BPF trampolines: Debian's 6.1 kernel in qemu (TCG),
# an initramfs with rbt and the fixtures; prints `vmtest: N passed, M failed`. No network.
.PHONY: vmtest
vmtest: deps
	cargo build
	bash vm/run.sh

# Fuzz rbt's parsers of untrusted input (fuzz/, cargo-fuzz on nightly), each target for
# FUZZ_SECONDS, niced and single-job. Not part of `make test`; `fuzz-ci` is CI's 60 s run.
FUZZ_TARGETS := btf btf_encode bytes usdt
FUZZ_SECONDS ?= 600
.PHONY: fuzz fuzz-ci
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do mkdir -p corpus/$$t && \
		nice -n 19 cargo +nightly fuzz run $$t corpus/$$t -- -jobs=1 \
		-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 || exit 1; done
fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=60

# rbt: build, demo, test and bench. Every target installs what it needs first (`deps`).

DEBIAN_PKGS := clang llvm libelf-dev zlib1g-dev pkg-config libbpf-dev bpftool iproute2 \
               iputils-ping jq make gcc time
BPF_CFLAGS  := -O2 -g -target bpf -mcpu=v3 -Wall -I/usr/include/x86_64-linux-gnu
EXAMPLES    := $(patsubst %.c,%.o,$(wildcard examples/*.bpf.c))
RBT         := target/release/rbt
PREFIX      ?= /usr/local

.PHONY: deps build examples demo test bench clean

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

test: deps
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo test --all-targets

bench: build
	@bash bench/run.sh $(RBT)

clean:
	cargo clean
	rm -f examples/*.bpf.o

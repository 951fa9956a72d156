// The limit for bench/events.sh: a minimal libbpf ring buffer consumer that counts records
// (ring_buffer__poll, which calls ring_buffer__consume) for N seconds and prints the count.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int on_sample(void *ctx, void *data, size_t len)
{
	(*(unsigned long long *)ctx)++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s PINNED_RINGBUF SECONDS\n", argv[0]);
		return 2;
	}
	int fd = bpf_obj_get(argv[1]);
	if (fd < 0) {
		perror("bpf_obj_get");
		return 1;
	}
	unsigned long long n = 0;
	struct ring_buffer *rb = ring_buffer__new(fd, on_sample, &n, NULL);
	if (!rb) {
		perror("ring_buffer__new");
		return 1;
	}
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	double limit = atof(argv[2]);
	do {
		ring_buffer__poll(rb, 100);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < limit);
	printf("%llu\n", n);
	ring_buffer__free(rb);
	return 0;
}

// The floors for bench/struct.sh: fill a struct map with N elements by update_batch (the
// update floor) and read it all back by lookup_batch (the dump floor). Each prints the count.
// Usage: struct_floor fill PINNED_MAP N flat|nested | dump PINNED_MAP
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 8192

struct flow_key {
	unsigned int id, ifindex;
	unsigned char addr[8];
};

static void make_key(struct flow_key *k, unsigned int i)
{
	k->id = i;
	k->ifindex = i % 64;
	for (int b = 0; b < 8; b++)
		k->addr[b] = (unsigned char)(i >> (b % 4 * 8)) + b;
}

/* The flat value: packets, bytes, state, delta, comm[16], ports[4] (48 bytes). */
static void make_flat(unsigned char *v, unsigned int i)
{
	unsigned long long packets = i * 3ULL, bytes = i * 1500ULL;
	int state = i % 5, delta = -(int)(i % 1000);
	unsigned short ports[4] = { i % 65536, 80, 443, (i * 7) % 65536 };

	memcpy(v, &packets, 8);
	memcpy(v + 8, &bytes, 8);
	memcpy(v + 16, &state, 4); /* 4 is not an enumerator: the number */
	memcpy(v + 20, &delta, 4);
	memset(v + 24, 0, 16);
	snprintf((char *)v + 24, 16, "task-%u", i % 100000);
	memcpy(v + 40, ports, 8);
}

/* The nested value: pair{lo,hi}, union{word,raw}, bitfields, state, total, tag[12], tail. */
static void make_nested(unsigned char *v, unsigned int i)
{
	unsigned int pair[2] = { i, ~i };
	unsigned long long word = i * 0x10001ULL, total = i * 11ULL;
	unsigned int bits = (i % 16) | ((i % 4096) << 4) | ((unsigned int)(-(int)(i % 300)) << 16);
	int state = i % 4;
	unsigned int tail = i ^ 0x5a5a;

	memcpy(v, pair, 8);
	memcpy(v + 8, &word, 8);
	memcpy(v + 16, &bits, 4);
	memcpy(v + 20, &state, 4);
	memcpy(v + 24, &total, 8);
	memset(v + 32, 0, 12);
	snprintf((char *)v + 32, 12, "n%u", i % 1000);
	memcpy(v + 44, &tail, 4);
}

static int fill(int fd, unsigned int n, int nested)
{
	struct flow_key *keys = calloc(BATCH, sizeof(*keys));
	unsigned char *vals = calloc(BATCH, 48);
	if (!keys || !vals)
		return 1;
	for (unsigned int done = 0; done < n;) {
		__u32 count = n - done < BATCH ? n - done : BATCH;
		for (unsigned int j = 0; j < count; j++) {
			make_key(&keys[j], done + j);
			(nested ? make_nested : make_flat)(vals + 48 * j, done + j);
		}
		if (bpf_map_update_batch(fd, keys, vals, &count, NULL)) {
			perror("bpf_map_update_batch");
			return 1;
		}
		done += count;
	}
	printf("%u\n", n);
	return 0;
}

static int dump(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return perror("bpf_obj_get_info_by_fd"), 1;
	void *keys = malloc((size_t)BATCH * info.key_size);
	void *vals = malloc((size_t)BATCH * info.value_size);
	unsigned long long total = 0, sum = 0;
	__u64 in = 0, out = 0;
	int first = 1;
	if (!keys || !vals)
		return 1;
	for (;;) {
		__u32 count = BATCH;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count, NULL);
		if (err && errno != ENOENT)
			return perror("bpf_map_lookup_batch"), 1;
		total += count;
		/* touch the bytes, as a consumer would */
		for (__u32 j = 0; j < count; j++)
			sum += ((unsigned char *)vals)[(size_t)j * info.value_size];
		if (err)
			break;
		in = out;
		first = 0;
	}
	printf("%llu %llu\n", total, sum & 1);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return fprintf(stderr, "usage: %s fill MAP N flat|nested | dump MAP\n", argv[0]), 2;
	int fd = bpf_obj_get(argv[2]);
	if (fd < 0)
		return perror("bpf_obj_get"), 1;
	if (!strcmp(argv[1], "fill") && argc == 5)
		return fill(fd, strtoul(argv[3], NULL, 0), !strcmp(argv[4], "nested"));
	if (!strcmp(argv[1], "dump"))
		return dump(fd);
	return 2;
}

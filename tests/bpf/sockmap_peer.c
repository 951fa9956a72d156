// Test peer for `prog attach ... sk_msg_verdict MAP` and the cgroup tests: makes a
// connected TCP pair on 127.0.0.1, puts both ends into the pinned sockmap given (keys 0 and
// 1; `-` for none), sends N messages from one end and reads them at the other; prints the
// bytes received.
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int put(int map, __u32 key, int sock)
{
	union bpf_attr a;
	__u64 value = sock;

	memset(&a, 0, sizeof(a));
	a.map_fd = map;
	a.key = (__u64)(unsigned long)&key;
	a.value = (__u64)(unsigned long)&value;
	a.flags = BPF_ANY;
	return bpf(BPF_MAP_UPDATE_ELEM, &a);
}

int main(int argc, char **argv)
{
	union bpf_attr a;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int n = argc > 2 ? atoi(argv[2]) : 1, map, lst, cli, srv, got = 0;
	char buf[64];

	if (argc < 2) {
		fprintf(stderr, "usage: %s PINNED_SOCKMAP [N]\n", argv[0]);
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.pathname = (__u64)(unsigned long)argv[1];
	map = strcmp(argv[1], "-") ? bpf(BPF_OBJ_GET, &a) : -2;
	if (map == -1) {
		perror("BPF_OBJ_GET");
		return 1;
	}
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lst = socket(AF_INET, SOCK_STREAM, 0);
	if (lst < 0 || bind(lst, (void *)&addr, sizeof(addr)) || listen(lst, 1) ||
	    getsockname(lst, (void *)&addr, &len)) {
		perror("listen");
		return 1;
	}
	cli = socket(AF_INET, SOCK_STREAM, 0);
	if (cli < 0 || connect(cli, (void *)&addr, sizeof(addr))) {
		perror("connect");
		return 1;
	}
	srv = accept(lst, NULL, NULL);
	if (srv < 0 || (map >= 0 && (put(map, 0, cli) || put(map, 1, srv)))) {
		perror("sockmap update");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		if (send(cli, "ping", 4, 0) != 4) {
			perror("send");
			return 1;
		}
	}
	while (got < 4 * n) {
		int r = recv(srv, buf, sizeof(buf), 0);

		if (r <= 0)
			break;
		got += r;
	}
	printf("%d\n", got);
	return 0;
}

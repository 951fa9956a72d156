// Test peer for `struct_ops register`: opens a TCP connection on 127.0.0.1 whose client
// socket selects the congestion control named in argv[1] (setsockopt TCP_CONGESTION),
// sends 64 KiB through it, and prints the congestion control the connected socket uses.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	char buf[4096], name[16] = "";
	socklen_t nlen = sizeof(name);
	int srv, cli, acc, sent = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CONGESTION_CONTROL\n", argv[0]);
		return 2;
	}
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv = socket(AF_INET, SOCK_STREAM, 0);
	cli = socket(AF_INET, SOCK_STREAM, 0);
	if (srv < 0 || cli < 0 || bind(srv, (void *)&addr, sizeof(addr)) ||
	    listen(srv, 1) || getsockname(srv, (void *)&addr, &alen)) {
		perror("listener");
		return 1;
	}
	if (setsockopt(cli, IPPROTO_TCP, TCP_CONGESTION, argv[1], strlen(argv[1]))) {
		perror("setsockopt TCP_CONGESTION");
		return 1;
	}
	if (connect(cli, (void *)&addr, sizeof(addr))) {
		perror("connect");
		return 1;
	}
	acc = accept(srv, NULL, NULL);
	if (acc < 0) {
		perror("accept");
		return 1;
	}
	memset(buf, 'x', sizeof(buf));
	while (sent < 65536) {
		ssize_t n = send(cli, buf, sizeof(buf), 0);
		if (n <= 0) {
			perror("send");
			return 1;
		}
		sent += n;
		while (recv(acc, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
	}
	if (getsockopt(cli, IPPROTO_TCP, TCP_CONGESTION, name, &nlen)) {
		perror("getsockopt TCP_CONGESTION");
		return 1;
	}
	printf("%.*s\n", (int)strnlen(name, sizeof(name)), name);
	close(acc);
	close(cli);
	close(srv);
	return 0;
}

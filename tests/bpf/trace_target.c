// Test target (user space, built with gcc): a function to uprobe, a getppid loop to fire
// the tracepoint, and a mode that holds a pinned BPF object open (for perf show).
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((noinline)) int rbt_uprobe_target(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 2 + 1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "call") == 0) {
		int n = atoi(argv[2]), sum = 0;
		for (int i = 0; i < n; i++) {
			sum += rbt_uprobe_target(i);
			syscall(SYS_getppid);
			usleep(1000);
		}
		printf("%d\n", sum);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "hold") == 0) {
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.pathname = (unsigned long)argv[2];
		int fd = syscall(SYS_bpf, BPF_OBJ_GET, &attr, sizeof(attr));
		if (fd < 0) {
			perror("BPF_OBJ_GET");
			return 1;
		}
		printf("%d\n", fd);
		fflush(stdout);
		pause();
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "tpattach") == 0) {
		/* The pre-link way (BCC, old tools): a perf event fd with a program set by ioctl. */
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.pathname = (unsigned long)argv[2];
		int prog = syscall(SYS_bpf, BPF_OBJ_GET, &attr, sizeof(attr));
		if (prog < 0) {
			perror("BPF_OBJ_GET");
			return 1;
		}
		struct perf_event_attr pa;
		memset(&pa, 0, sizeof(pa));
		pa.type = PERF_TYPE_TRACEPOINT;
		pa.size = sizeof(pa);
		pa.config = strtoull(argv[3], NULL, 10);
		pa.sample_period = 1;
		int pfd = syscall(SYS_perf_event_open, &pa, -1, 0, -1, 0);
		if (pfd < 0 || ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog) || ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0)) {
			perror("perf_event_open/SET_BPF");
			return 1;
		}
		printf("%d\n", pfd);
		fflush(stdout);
		pause();
		return 0;
	}
	fprintf(stderr, "usage: %s call N | hold PINNED | tpattach PROG_PIN TRACEPOINT_ID\n", argv[0]);
	return 2;
}

// Test target for USDT attach: fires DTRACE_PROBE2(rbt_test, hit, a, b) N times with
// a = 7 + i and b = -1000000007 * i, so the BPF side can check the argument values.
#include <stdlib.h>
#include <sys/sdt.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;

	for (volatile int i = 0; i < n; i++) {
		int a = 7 + i;
		long b = -1000000007L * i;

		DTRACE_PROBE2(rbt_test, hit, a, b);
	}
	return 0;
}

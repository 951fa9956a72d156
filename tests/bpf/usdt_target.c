// Test target for USDT attach: fires DTRACE_PROBE2(rbt_test, hit, a, b) N times with
// a = 7 + i and b = -1000000007 * i, so the BPF side can check the argument values; and
// rbt_test:sem (a = 100 + i), guarded by a semaphore that only an attached probe sets.
#define _SDT_HAS_SEMAPHORES 1
#include <stdlib.h>
#include <sys/sdt.h>

// With _SDT_HAS_SEMAPHORES every probe has one; rbt_test:hit ignores its own.
__extension__ unsigned short rbt_test_hit_semaphore
	__attribute__((unused)) __attribute__((section(".probes")));
__extension__ unsigned short rbt_test_sem_semaphore
	__attribute__((unused)) __attribute__((section(".probes")));

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;

	for (volatile int i = 0; i < n; i++) {
		int a = 7 + i;
		long b = -1000000007L * i;

		DTRACE_PROBE2(rbt_test, hit, a, b);
		if (rbt_test_sem_semaphore)
			DTRACE_PROBE1(rbt_test, sem, 100 + i);
	}
	return 0;
}

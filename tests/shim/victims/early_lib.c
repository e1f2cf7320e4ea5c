// Ground truth: a library linked into early_main whose constructor writes "early\n" before
// libvalley's constructor runs, and whose destructor writes "late\n" after libvalley's.
#include <unistd.h>

__attribute__((constructor)) static void early(void) { write(2, "early\n", 6); }
__attribute__((destructor)) static void late(void) { write(2, "late\n", 5); }
void early_lib_linked(void) {}

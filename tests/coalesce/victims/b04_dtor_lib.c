// B-04: a shared library's destructor runs after valley's (preloads are finalised first) and
// writes: the write must go straight through after valley's final flush.
#include <unistd.h>

__attribute__((destructor)) static void late_write(void) { write(1, "dtor\n", 5); }
void valley_coalesce_dtor_lib_linked(void) {}

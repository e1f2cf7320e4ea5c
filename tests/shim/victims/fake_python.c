// Ground truth: an executable that looks like a CPython 3.12 to valley (it exports _PyRuntime,
// Py_Version = 3.12.0 and the type objects, with -rdynamic) but has no layout row: valley
// must record py_state "unsupported", keep native call sites, name no Python frame, print
// nothing on stderr, and let the program's 200 writes of 1 byte through unchanged.
#include <unistd.h>

// What valley looks for; zero-filled, so a reader that ignored the version would find no
// thread state and no frames rather than crash.
unsigned char _PyRuntime[4096];
const unsigned long Py_Version = 0x030C00F0UL;
unsigned char PyCode_Type[512], PyUnicode_Type[512], PyBytes_Type[512];

int main(void) {
  for (int i = 0; i < 200; ++i)
    if (write(1, "x", 1) != 1) return 1; // one call site
  return _PyRuntime[0] + PyCode_Type[0] + PyUnicode_Type[0] + PyBytes_Type[0];
}

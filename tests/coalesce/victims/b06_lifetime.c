// B-06: fd lifetime: a close valley does not see (fclose), dup2 over a buffered fd,
// closefrom. The test reads the files afterwards.
#include "common.h"

static int open_w(const char* p) { return open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644); }

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "reuse")) {
    int a = open_w("A");
    write(a, "x", 1);
    fclose(fdopen(a, "w")); // closes through libc's internal close
    int b = open_w("B");
    if (b != a) fprintf(stderr, "note: B got fd %d, A had %d\n", b, a);
    write(b, "y", 1);
    return 0;
  }
  if (!strcmp(mode, "dup2")) {
    int a = open_w("A"), b = open_w("B"), n = 100; // n: above whatever the caller left open
    dup2(a, n);
    write(n, "1", 1);
    dup2(b, n); // closes the description of A on fd n silently
    write(n, "2", 1);
    return 0;
  }
  if (!strcmp(mode, "closefrom")) {
    int a = open_w("A");
    write(a, "da", 2);
    write(a, "ta", 2);
    closefrom(3);
    int b = open_w("B"); // valley keeps working: this one is still traced and written
    write(b, "more", 4);
    close(b);
    return 0;
  }
  fail("mode?");
}

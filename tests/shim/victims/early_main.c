// Ground truth: main writes "main\n" to stderr once; with early_lib: 3 writes to fd 2 in all.
#include <unistd.h>

void early_lib_linked(void);

int main(void) {
  early_lib_linked();
  write(2, "main\n", 5);
  return 0;
}

// Ground truth: plugin_emit writes 50 bytes one at a time; loaded with dlopen by dlopener.
#include <unistd.h>

void plugin_emit(int fd) {
  for (int i = 0; i < 50; i++) write(fd, "q", 1);
}

// Ground truth: dlopens argv[1] (the plugin) after tracing started and calls plugin_emit: 50
// writes whose call site is in plugin_emit, in a module that did not exist at start.
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* h = dlopen(argv[1], RTLD_NOW);
  if (!h) {
    fprintf(stderr, "%s\n", dlerror());
    return 2;
  }
  void (*emit)(int) = (void (*)(int))dlsym(h, "plugin_emit");
  int fd = open("/dev/null", O_WRONLY);
  emit(fd);
  return 0;
}

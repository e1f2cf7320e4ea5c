// Ground truth (HAZARDS I-08 vfork-child): 50 times, a vfork child write()s "c" to stdout and
// _exit()s, then the parent write()s "p": stdout is "cp" 50 times. The child shares the
// parent's memory, so valley must neither end the parent's trace at the child's _exit nor tear
// its ring: all 100 writes are in the parent's trace.
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  for (int i = 0; i < 50; i++) {
    pid_t pid = vfork();
    if (pid == 0) {
      write(1, "c", 1);
      _exit(0);
    }
    if (pid < 0) return 1;
    waitpid(pid, NULL, 0);
    write(1, "p", 1);
  }
  return 0;
}

// B-05: fork with bytes pending; parent and child write to the same stdout. Also the other
// ways a new program starts while bytes are pending: exec and system(), and a vfork child
// (which shares the parent's memory, buffer included) that writes and then execs or _exits.
#include "common.h"

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  write(1, "A", 1);
  if (!strcmp(mode, "exec")) {
    execl("/bin/sh", "sh", "-c", "printf B", (char*)NULL);
    fail("exec: %s", strerror(errno));
  }
  if (!strcmp(mode, "system")) {
    system("printf B");
    write(1, "C", 1);
    return 0;
  }
  if (!strcmp(mode, "vfork-exec")) {
    pid_t pid = vfork();
    if (pid == 0) {
      write(1, "b", 1);
      execl("/bin/sh", "sh", "-c", "printf B", (char*)NULL);
      _exit(127);
    }
    if (pid < 0) fail("vfork: %s", strerror(errno));
    nap_ms(200); // the parent's wait would flush: let the new program print first
    wait_status(pid);
    write(1, "C", 1);
    return 0;
  }
  if (!strcmp(mode, "vfork-_exit")) {
    // Once the child has ended, its byte must be in the file for anyone who looks; the raw
    // fstat looks from outside valley, as another process would.
    int fd = open("vfork.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = vfork();
    if (pid == 0) {
      write(fd, "b", 1);
      _exit(0);
    }
    if (pid < 0) fail("vfork: %s", strerror(errno));
    struct stat st;
    if (syscall(SYS_fstat, fd, &st) != 0 || st.st_size != 1)
      fail("the vfork child has ended but its byte is not in the file (size %ld)", (long)st.st_size);
    wait_status(pid);
    write(1, "C", 1);
    return 0;
  }
  if (!strcmp(mode, "_Fork-write")) {
    // A child of _Fork has no flusher thread and ends by _exit: its own "b" must not wait in a
    // buffer nobody writes.
    pid_t pid = _Fork();
    if (pid == 0) {
      write(1, "b", 1);
      _exit(0);
    }
    if (pid < 0) fail("_Fork: %s", strerror(errno));
    nap_ms(100);
    wait_status(pid);
    write(1, "C", 1);
    return 0;
  }
  if (!strcmp(mode, "rawfork") || !strcmp(mode, "_Fork-exec")) {
    // Neither runs an atfork handler: the child of a raw fork has a copy of the parent's
    // pending "A", which is the parent's to write, not the child's; and a child exec'ed after
    // _Fork prints after it.
    pid_t pid = !strcmp(mode, "rawfork") ? (pid_t)syscall(SYS_fork) : _Fork();
    if (pid == 0) {
      if (!strcmp(mode, "_Fork-exec")) execl("/bin/sh", "sh", "-c", "printf B", (char*)NULL);
      _exit(0);
    }
    if (pid < 0) fail("_Fork: %s", strerror(errno));
    nap_ms(100); // the parent's wait would flush: let the child end first
    wait_status(pid);
    write(1, "C", 1);
    return 0;
  }
  pid_t pid = fork();
  if (pid == 0) {
    write(1, "B", 1);
    if (!strcmp(mode, "_exit")) _exit(0);
    exit(0);
  }
  wait_status(pid);
  write(1, "C", 1);
  return 0;
}

// Ground truth: stage 1 writes 10 times to /dev/null, then execs itself as stage 2, which writes
// 20 times: two images of one pid. argv[1] picks the exec call ("execv", "execvp", "execl", or
// "scrub": execve with an environment stripped of LD_PRELOAD and VALLEY_*, which valley puts
// back so the new image is traced all the same).
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  int fd = open("/dev/null", O_WRONLY);
  if (argc > 2 && strcmp(argv[2], "stage2") == 0) {
    for (int i = 0; i < 20; i++) write(fd, "2", 1);
    return 0;
  }
  for (int i = 0; i < 10; i++) write(fd, "1", 1);
  const char* how = argc > 1 ? argv[1] : "execv";
  char* args[] = {argv[0], (char*)how, "stage2", NULL};
  if (strcmp(how, "execvp") == 0) execvp(argv[0], args);
  else if (strcmp(how, "execl") == 0) execl(argv[0], argv[0], how, "stage2", (char*)NULL);
  else if (strcmp(how, "scrub") == 0) {
    char* env[256];
    int n = 0;
    for (char** e = environ; *e && n < 255; e++)
      if (strncmp(*e, "LD_PRELOAD=", 11) != 0 && strncmp(*e, "VALLEY_", 7) != 0) env[n++] = *e;
    env[n] = NULL;
    execve(argv[0], args, env);
  } else execv(argv[0], args);
  perror("exec");
  return 1;
}

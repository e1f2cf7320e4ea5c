// Ground truth: small-writes in app::Sink::put (the SITE line), a member function that -O2
// inlines into the static template app::emit_all (the CALL line), itself inlined into main
// (the LOOP line): 3000 writes of 2 bytes to a file. crt1's _start, laid out after main, has
// no source line: the stack must not borrow the last line of main's unit for it.
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace app {
struct Sink {
  int fd;
  void put(const std::string& s) {
    if (write(fd, s.data(), s.size()) < 0) fd = -1; // SITE
  }
};

template <typename T> static void emit_all(Sink& s, const std::vector<T>& v) {
  for (const T& x : v) s.put(std::to_string(x % 10) + "\n"); // CALL
}
} // namespace app

int main(int argc, char** argv) {
  int fd = open(argc > 1 ? argv[1] : "digits.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 1;
  std::vector<int> v(3000);
  for (int i = 0; i < 3000; i++) v[i] = i;
  app::Sink s{fd};
  app::emit_all(s, v); // LOOP
  close(fd);
  return s.fd < 0;
}

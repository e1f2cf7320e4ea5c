// B-04: an exception nobody catches: std::terminate, then abort. The line written before
// must reach stdout.
#include <stdexcept>
#include <unistd.h>

int main() {
  write(1, "li", 2);
  write(1, "ne\n", 3);
  throw std::runtime_error("nobody catches this");
}

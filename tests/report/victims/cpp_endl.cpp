// Ground truth: small-writes at emit (the line marked SITE), language C++ streams: std::endl
// flushes the ofstream after each of 3000 short lines, so libstdc++ makes one write() per line.
#include <fstream>

static void emit(std::ofstream& f, int i) {
  f << "row " << i << std::endl; // SITE
}

int main(int argc, char** argv) {
  std::ofstream f(argc > 1 ? argv[1] : "rows.txt");
  for (int i = 0; i < 3000; i++) emit(f, i);
  return 0;
}

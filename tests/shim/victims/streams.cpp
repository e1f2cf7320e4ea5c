// Ground truth: emit_alpha and emit_beta each print 10 lines through std::cout (unsynced, so
// libstdc++'s own buffer calls write once per std::endl): 20 writes, all from libstdc++, that
// must split into two call sites, one per function.
#include <iostream>

__attribute__((noinline)) void emit_alpha() {
  for (int i = 0; i < 10; i++) std::cout << "alpha " << i << std::endl;
}

__attribute__((noinline)) void emit_beta() {
  for (int i = 0; i < 10; i++) std::cout << "beta " << i << std::endl;
}

int main() {
  std::ios::sync_with_stdio(false);
  emit_alpha();
  emit_beta();
  return 0;
}

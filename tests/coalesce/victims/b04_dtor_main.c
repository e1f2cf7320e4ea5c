// B-04: main writes and returns; the linked library's destructor writes after valley's.
#include <unistd.h>

void valley_coalesce_dtor_lib_linked(void);

int main(void) {
  valley_coalesce_dtor_lib_linked();
  write(1, "li", 2);
  write(1, "ne\n", 3);
  return 0;
}

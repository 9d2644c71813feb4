// Reads far beyond linear memory (address 0xFFFFFFF0) through a volatile
// pointer: expect trap "out of bounds memory access".
#include <stdio.h>
int main(void) {
  volatile int *p = (volatile int *)0xFFFFFFF0u;
  printf("%d\n", *p);
  return 0;
}

// Prints "spinning" (flushed), then busy-loops forever without ever calling
// the host: only epoch interruption, a timeout or a CPU budget can end it.
#include <stdio.h>
int main(void) {
  printf("spinning\n");
  fflush(stdout);
  volatile unsigned long n = 0;
  for (;;) n++;
}

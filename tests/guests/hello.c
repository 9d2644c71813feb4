// Prints "hello from wasm" and exits 0: the smallest end-to-end check.
#include <stdio.h>
int main(void) {
  printf("hello from wasm\n");
  return 0;
}

// Prints each argv element as argv[i]=...: argv reaches the guest unchanged.
#include <stdio.h>
int main(int argc, char **argv) {
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  return 0;
}

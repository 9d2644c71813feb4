// Counts to argv[1] (default 1000) in a volatile loop, then prints "counted":
// a fuel consumer (a small count finishes, a huge one runs out of fuel).
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000;
  volatile long i = 0;
  while (i < n) i++;
  printf("counted\n");
  return 0;
}

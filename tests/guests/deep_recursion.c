// Recurses argv[1] levels deep (default 1000) and prints "depth ok" once back
// up: 1000 succeeds, 100000000 ends in a clean "call stack exhausted" trap.
// (Same trick as trap_stackoverflow.c: a volatile function pointer.)
#include <stdio.h>
#include <stdlib.h>
static long depth(long n);
static long (*volatile next)(long) = depth;
static long depth(long n) { return n <= 0 ? 0 : next(n - 1) + 1; }
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000;
  if (next(n) != n) return 1;
  printf("depth ok\n");
  return 0;
}

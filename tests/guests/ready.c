// The readiness contract: prints "READY" (flushed), then idles in a 10 ms
// nanosleep loop argv[1] times (0 or absent = forever).
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
  long times = argc > 1 ? atol(argv[1]) : 0;
  printf("READY\n");
  fflush(stdout);
  struct timespec ts = {0, 10000000L};
  for (long i = 0; times == 0 || i < times; i++) nanosleep(&ts, NULL);
  return 0;
}

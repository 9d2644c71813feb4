// Prints "READY" (flushed), then sleeps argv[2] ms (default 10) argv[1] times
// (0 or absent = forever); with argv[3] == "verbose" prints "tick N" each time.
// Many of these at once test that sleeping guests cost no CPU.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
int main(int argc, char **argv) {
  long times = argc > 1 ? atol(argv[1]) : 0;
  long ms = argc > 2 ? atol(argv[2]) : 10;
  int verbose = argc > 3 && strcmp(argv[3], "verbose") == 0;
  printf("READY\n");
  fflush(stdout);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  for (long i = 1; times == 0 || i <= times; i++) {
    nanosleep(&ts, NULL);
    if (verbose) { printf("tick %ld\n", i); fflush(stdout); }
  }
  return 0;
}

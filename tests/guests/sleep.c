// Sleeps argv[1] ms (default 100) once with nanosleep, then prints "slept".
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
  long ms = argc > 1 ? atol(argv[1]) : 100;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  printf("slept\n");
  return 0;
}

// Realtime and monotonic clocks and random_get (via getentropy) work.
// Prints three lines; exits 1 if the realtime clock is implausibly early.
#include <stdio.h>
#include <time.h>
#include <unistd.h>
int main(void) {
  struct timespec r, m;
  unsigned char rnd[8];
  if (clock_gettime(CLOCK_REALTIME, &r) || clock_gettime(CLOCK_MONOTONIC, &m) || getentropy(rnd, sizeof rnd)) {
    perror("clock");
    return 1;
  }
  printf("realtime %lld.%09ld\n", (long long)r.tv_sec, r.tv_nsec);
  printf("monotonic %lld.%09ld\n", (long long)m.tv_sec, m.tv_nsec);
  printf("random ");
  for (size_t i = 0; i < sizeof rnd; i++) printf("%02x", rnd[i]);
  printf("\n");
  return r.tv_sec > 1700000000 ? 0 : 1;
}

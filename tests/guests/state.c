// Session state (wapp.toml `[runtime] persist_state = true`): counts its own
// starts in /state/count (written to a temp file, then renamed, so a stop
// mid-write never leaves half a number), prints "count=N" and READY, then
// idles. Without /state it prints "count=none".
#include <stdio.h>
#include <time.h>
int main(void) {
  long n = 0;
  FILE *f = fopen("/state/count", "r");
  if (f) {
    if (fscanf(f, "%ld", &n) != 1) n = 0;
    fclose(f);
  }
  FILE *w = fopen("/state/count.tmp", "w");
  if (!w) {
    printf("count=none\nREADY\n");
  } else {
    fprintf(w, "%ld\n", n + 1);
    fclose(w);
    rename("/state/count.tmp", "/state/count");
    printf("count=%ld\nREADY\n", n + 1);
  }
  fflush(stdout);
  struct timespec ts = {0, 10000000L};
  for (;;) nanosleep(&ts, NULL);
}

// The hello app's guest: a WASI Preview 1 command module.
// It counts its launches in /data (its fs:rw:app-data capability), tells weft
// it is ready the Preview 1 way (a READY line on stdout), then idles.
#include <stdio.h>
#include <unistd.h>

int main(void) {
  int visits = 0;
  FILE *f = fopen("/data/visits", "r");
  if (f) {
    if (fscanf(f, "%d", &visits) != 1) visits = 0;
    fclose(f);
  }
  visits++;
  f = fopen("/data/visits", "w");
  if (f) {
    fprintf(f, "%d\n", visits);
    fclose(f);
  }
  printf("READY\n");
  fflush(stdout);
  fprintf(stderr, "hello: launch number %d\n", visits);
  for (;;) sleep(1);
}

// Writes argv[2] to the file argv[1] (exit 0). If that is refused, e.g. in a
// read-only preopen, prints "error: <strerror>" to stderr and exits 2.
#include <errno.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: writefile PATH TEXT\n"); return 64; }
  FILE *f = fopen(argv[1], "w");
  if (!f || fputs(argv[2], f) < 0 || fclose(f) != 0) { fprintf(stderr, "error: %s\n", strerror(errno)); return 2; }
  return 0;
}

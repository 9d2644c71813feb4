// Prints the file argv[1]; "error: ..." and exit 1 when it cannot be read.
#include <errno.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  errno = EINVAL; // for a missing argument
  FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;
  if (!f) { printf("error: %s\n", strerror(errno)); return 1; }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  if (ferror(f)) { printf("error: %s\n", strerror(errno)); return 1; }
  fclose(f);
  return 0;
}

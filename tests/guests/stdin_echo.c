// Copies stdin to stdout until EOF, then prints "bytes=N" to stderr: stdin
// from a pipe or a file reaches the guest intact.
#include <stdio.h>
int main(void) {
  char buf[4096];
  size_t n, total = 0;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) { fwrite(buf, 1, n, stdout); total += n; }
  fprintf(stderr, "bytes=%zu\n", total);
  return 0;
}

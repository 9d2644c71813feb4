// Writes argv[1] KiB (default 1024) to stdout and to stderr, alternating
// 4 KiB writes, then "done" on stdout: both captured rings fill at once.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void all(int fd, const char *b, size_t n) {
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w <= 0) exit(1);
    b += w;
    n -= (size_t)w;
  }
}
int main(int argc, char **argv) {
  long kib = argc > 1 ? atol(argv[1]) : 1024;
  static char buf[4096];
  memset(buf, 'x', sizeof buf);
  for (long i = 0; i < kib / 4; i++) {
    all(1, buf, sizeof buf);
    all(2, buf, sizeof buf);
  }
  all(1, "done\n", 5);
  return 0;
}

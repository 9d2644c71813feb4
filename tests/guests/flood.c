// Writes argv[1] MiB (default 64) of "flood flood flood ...\n" lines to
// stdout in 64 KiB write() calls, then "done" on stderr: output
// back-pressure, and that no byte is lost (exactly argv[1] * 1048576 bytes).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 65536
static const char line[] = "flood flood flood flood flood flood flood flood flood flood flood\n";
static char buf[CHUNK + sizeof line];

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 64;
  size_t len = strlen(line);
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = line[i % len];
  size_t phase = 0; // where in the line the next chunk starts, so lines stay whole
  for (long i = 0; i < mib * (1048576 / CHUNK); i++) {
    size_t off = 0;
    while (off < CHUNK) {
      ssize_t n = write(1, buf + phase + off, CHUNK - off);
      if (n <= 0) { perror("flood: write"); return 1; }
      off += (size_t)n;
    }
    phase = (phase + CHUNK) % len;
  }
  fprintf(stderr, "done\n");
  return 0;
}

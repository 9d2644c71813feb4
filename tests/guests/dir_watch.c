// Uses a preopened directory through plain libc for as long as it works (a
// cell's [[dir]]: preopens stay for the run, docs/decisions/0006).
//   dir_watch DIR FILE   — DIR the preopen's guest path, FILE a file in it
// Keeps FILE open, and each 5 ms: reads it through the open fd (pread),
// opens it again by path, lists DIR. Prints "watching N" after every 20
// rounds that all worked; after the first failure, one line per kind of use
// with strerror, then whether the image root "/" still reads, and exits 0.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *try_pread(int fd) {
  char b[64];
  return pread(fd, b, sizeof b, 0) >= 0 ? NULL : strerror(errno);
}
static const char *try_open(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return strerror(errno);
  close(fd);
  return NULL;
}
static const char *try_list(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return strerror(errno);
  errno = 0;
  while (readdir(d)) {}
  const char *e = errno ? strerror(errno) : NULL;
  closedir(d);
  return e;
}

int main(int argc, char **argv) {
  if (argc != 3) return 64;
  setvbuf(stdout, NULL, _IOLBF, 0);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", argv[1], argv[2]);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return printf("open %s: %s\n", path, strerror(errno)), 1;
  for (unsigned rounds = 1;; rounds++) {
    const char *p = try_pread(fd), *o = try_open(path), *l = try_list(argv[1]);
    if (!p && !o && !l) {
      if (rounds % 20 == 1) printf("watching %u\n", rounds / 20 + 1);
      struct timespec ts = {0, 5000000};
      nanosleep(&ts, NULL);
      continue;
    }
    printf("pread (open before): %s\n", p ? p : "ok");
    printf("open: %s\n", o ? o : "ok");
    printf("list: %s\n", l ? l : "ok");
    printf("close: %s\n", close(fd) == 0 ? "ok" : strerror(errno));
    printf("root: %s\n", try_open("/bin/main.wasm") ? "refused" : "ok");
    return 0;
  }
}

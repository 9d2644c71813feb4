// Tries to keep a revocable preopen (a cell's [[dir]], docs/decisions/0007)
// past its revocation with raw WASI calls on fds obtained through it.
//   revoke_tricks DIR FILE   — DIR the preopen's guest path, FILE a file in it
// Before the revoke: opens FILE as a control fd; opens FILE again and
// renumbers that fd onto itself (fd_renumber(fd, fd)); renumbers the preopen
// itself onto itself; opens FILE and renumbers it to fd 100 (a free number);
// opens FILE and renumbers it over an fd of the image root (not revocable).
// Prints "ready" and polls the control fd every 2 ms until it is refused.
// Then one line per trick: `<trick>: refused` (ENOTCAPABLE) or
// `<trick>: ESCAPED` (the call still worked) or `<trick>: <errno>`; exit 0.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

static int preopen_fd(const char *dir) {
  for (int fd = 3; fd < 64; fd++) {
    __wasi_prestat_t ps;
    if (__wasi_fd_prestat_get(fd, &ps) != 0) continue;
    char name[256];
    size_t n = ps.u.dir.pr_name_len;
    if (n >= sizeof name || __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, n) != 0) continue;
    name[n] = 0;
    if (strcmp(name, dir) == 0) return fd;
  }
  return -1;
}

static int pread_errno(int fd) {
  char b[8];
  __wasi_iovec_t iov = {(uint8_t *)b, sizeof b};
  __wasi_size_t n;
  return __wasi_fd_pread(fd, &iov, 1, 0, &n);
}

static void report(const char *trick, int e) {
  printf("%s: %s\n", trick, e == __WASI_ERRNO_NOTCAPABLE ? "refused" : e == 0 ? "ESCAPED" : strerror(e));
}

int main(int argc, char **argv) {
  if (argc != 3) return 64;
  setvbuf(stdout, NULL, _IOLBF, 0);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", argv[1], argv[2]);
  int dir = preopen_fd(argv[1]);
  int control = open(path, O_RDONLY), self = open(path, O_RDONLY), moved = open(path, O_RDONLY), over = open(path, O_RDONLY);
  int image = open("/bin/main.wasm", O_RDONLY);
  if (dir < 0 || control < 0 || self < 0 || moved < 0 || over < 0 || image < 0) return printf("setup: %s\n", strerror(errno)), 1;
  printf("renumber self: %d\n", __wasi_fd_renumber(self, self));
  printf("renumber preopen self: %d\n", __wasi_fd_renumber(dir, dir));
  int e = __wasi_fd_renumber(moved, 100);
  printf("renumber to 100: %d\n", e);
  if (e == 0) moved = 100;
  printf("renumber over image fd: %d\n", __wasi_fd_renumber(over, image));
  over = image;
  printf("ready\n");
  for (;;) {
    int c = pread_errno(control);
    if (c == __WASI_ERRNO_NOTCAPABLE) break;
    if (c != 0) return printf("control: %s\n", strerror(c)), 1;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  report("self-renumbered file", pread_errno(self));
  __wasi_fd_t opened;
  report("self-renumbered preopen", __wasi_path_open(dir, 0, argv[2], 0, __WASI_RIGHTS_FD_READ, 0, 0, &opened));
  report("file renumbered to 100", pread_errno(moved));
  report("file renumbered over image fd", pread_errno(over));
  // poll(): a read subscription on a revoked fd must not report it readable
  // (nor its size, which is what Wasmtime puts in nbytes for a file).
  __wasi_subscription_t sub = {.userdata = 7, .u = {.tag = __WASI_EVENTTYPE_FD_READ, .u = {.fd_read = {control}}}};
  __wasi_event_t ev;
  __wasi_size_t nev = 0;
  e = __wasi_poll_oneoff(&sub, &ev, 1, &nev);
  if (e) report("poll", e);
  else if (nev != 1 || ev.userdata != 7) printf("poll: %u events\n", (unsigned)nev);
  else report("poll", ev.error == 0 ? 0 : ev.error);
  return 0;
}

// poll() on stdin: a poll_oneoff with an fd subscription, which weft's
// interruptible poll_oneoff hands on to Wasmtime's (decision 0001).
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  struct pollfd p = {0, POLLIN, 0};
  int n = poll(&p, 1, 5000);
  char buf[64];
  ssize_t got = n > 0 ? read(0, buf, sizeof buf) : 0;
  printf("poll %d readable %d read %d\n", n, (p.revents & POLLIN) != 0, (int)got);
  return 0;
}

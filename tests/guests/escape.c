// Tries to leave the preopen argv[1]: by "..", by "../..", by a deep run of
// ".." and by an absolute path. Prints "blocked <path>" or "OPENED <path>"
// for each; exits 0 if all were blocked, 3 otherwise.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: escape DIR\n"); return 64; }
  char p1[512], p2[512], p3[512];
  snprintf(p1, sizeof p1, "%s/../escape-probe", argv[1]);
  snprintf(p2, sizeof p2, "%s/../../etc/passwd", argv[1]);
  snprintf(p3, sizeof p3, "%s/../../../../../../../../etc/passwd", argv[1]);
  const char *paths[] = {p1, p2, p3, "/etc/passwd"};
  int opened = 0;
  for (int i = 0; i < 4; i++) {
    int fd = open(paths[i], O_RDONLY);
    printf("%s %s\n", fd >= 0 ? "OPENED" : "blocked", paths[i]);
    if (fd >= 0) { opened = 1; close(fd); }
  }
  return opened ? 3 : 0;
}

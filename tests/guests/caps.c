// Reports what a launched app can reach, one line each, then READY:
//   data: rw|ro|none   (its /data preopen: fs:rw:app-data / fs:read:app-data)
//   docs: rw|ro|none   (/xdg/documents: fs:*:xdg-documents)
//   host: none|VISIBLE (anything else, e.g. /etc/passwd)
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static const char *probe(const char *dir) {
  char path[256];
  snprintf(path, sizeof path, "%s/.weft-probe", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    close(fd);
    unlink(path);
    return "rw";
  }
  DIR *d = opendir(dir);
  if (d) {
    closedir(d);
    return "ro";
  }
  return "none";
}

int main(void) {
  printf("data: %s\n", probe("/data"));
  printf("docs: %s\n", probe("/xdg/documents"));
  int fd = open("/etc/passwd", O_RDONLY);
  printf("host: %s\n", fd >= 0 ? "VISIBLE" : "none");
  printf("READY\n");
  return 0;
}

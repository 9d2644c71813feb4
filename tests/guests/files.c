// File operations inside a preopened directory (argv[1], a guest path): write
// a.txt ("alpha"), read it back, rename it to b.txt, mkdir sub, write
// sub/c.txt, list the directory (sorted, "entry NAME"), stat b.txt
// ("size 5"), then print "ok". Any failure: "FAIL <step>: <strerror>", exit 1.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond, step) do { if (!(cond)) { printf("FAIL %s: %s\n", step, strerror(errno)); return 1; } } while (0)

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: files DIR\n"); return 64; }
  char a[512], b[512], sub[512], c[512], buf[64];
  snprintf(a, sizeof a, "%s/a.txt", argv[1]);
  snprintf(b, sizeof b, "%s/b.txt", argv[1]);
  snprintf(sub, sizeof sub, "%s/sub", argv[1]);
  snprintf(c, sizeof c, "%s/sub/c.txt", argv[1]);
  FILE *f = fopen(a, "w");
  CHECK(f, "create");
  CHECK(fputs("alpha", f) >= 0, "write");
  CHECK(fclose(f) == 0, "close");
  f = fopen(a, "r");
  CHECK(f, "reopen");
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  CHECK(strcmp(buf, "alpha") == 0, "read back");
  CHECK(rename(a, b) == 0, "rename");
  CHECK(mkdir(sub, 0755) == 0, "mkdir");
  f = fopen(c, "w");
  CHECK(f, "create in subdir");
  CHECK(fputs("gamma", f) >= 0, "write in subdir");
  CHECK(fclose(f) == 0, "close in subdir");
  DIR *d = opendir(argv[1]);
  CHECK(d, "opendir");
  char *names[64];
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d)) && count < 64) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[count++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, count, sizeof *names, cmp);
  for (int i = 0; i < count; i++) printf("entry %s\n", names[i]);
  struct stat st;
  CHECK(stat(b, &st) == 0, "stat");
  printf("size %lld\n", (long long)st.st_size);
  CHECK(st.st_size == 5, "size");
  printf("ok\n");
  return 0;
}

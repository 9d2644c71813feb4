// The bundled example: greets whoever is named in argv[1] and, when weft gave
// it a /data directory, says how many entries it holds. Try
//   bun bin/weft.ts exec examples/build/hello.wasm world
//   bun bin/weft.ts exec --dir .::/data:ro examples/build/hello.wasm world
#include <dirent.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *who = argc > 1 ? argv[1] : "there";
  printf("Hello, %s! This is WebAssembly running inside weft.\n", who);

  // A guest sees only the directories it was granted; without --dir, /data
  // does not exist for it and this is skipped.
  DIR *d = opendir("/data");
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  printf("Your /data directory has %d %s.\n", n, n == 1 ? "entry" : "entries");
  return 0;
}

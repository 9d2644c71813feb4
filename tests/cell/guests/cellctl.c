// A weft:cell test guest: one binary for pid0 and its children (pid0 spawns
// its own /bin/main.wasm), driven by argv. Every weft:cell error is printed
// as "... error: <message>" so tests see the host's exact words.
//
//   names                         print the capability names, one a line
//   epoch                         print the cell's epoch
//   read NAME PATH                acquire NAME, print the file
//   write NAME PATH TEXT          acquire NAME, write the file ("ok")
//   list NAME PATH                acquire NAME, print the entries
//   get NAME URL                  acquire NAME, GET the URL ("status N", body)
//   use-handle N PATH             read PATH through handle N without acquiring
//   echo                          copy stdin to stdout, "echo done" on stderr, exit 1
//   sleep MS                      sleep
//   spawn GRANTS MEM POOL STDIN ARGS...
//       spawn /bin/main.wasm with ARGS; GRANTS is "-" or a comma list of
//       PARENT=CHILD[:ro|:rw][:sub=DIR][:dom=A+B]; STDIN is written then
//       closed ("-" = nothing); relays the child's stdout as "child: LINE",
//       its stderr as "child-err: LINE", then "child exit N". Exit 1 if the
//       spawn is refused ("spawn error: ...").
//       MEM may be MEM,CPU_MS,TIMEOUT_MS (the child's cpu-ms and timeout-ms).
//   spawn-file DIR PATH GRANTS MEM POOL STDIN ARGS...
//       the same, the child read by the host from PATH in capability DIR
//       ("@image": handle 0, the process's own image)
//   getenv NAME                   print the variable's value (or "(unset)")
//   spawn-bytes FILE GRANTS MEM POOL STDIN ARGS...
//       the same, the child read from FILE (pid0's own tree) and passed as bytes
//   spin                          loop forever (CPU)
//   idle                          sleep forever, in short sleeps (a component
//                                 notices a stop only between WASI 0.2 sleeps)
//   hogs N MEM [spin]             spawn-file N children of /self/main.wasm
//                                 running "spin" (MEM as for spawn), print
//                                 "spawned N", then "hog K exit CODE" for
//                                 each; then spin too if asked
//   read-loop NAME PATH N         read PATH N times through one handle; print
//                                 each distinct outcome with its count:
//                                 "content TEXT: K" / "error MESSAGE: K"
//   revoke-watch NAME PATH        read through one handle until it goes stale
//                                 (polling), then acquire a fresh one
//   bomb MEM POOL [hold]          spawn children running "bomb MEM POOL hold"
//                                 (passing them "self", the directory of the
//                                 binary: pid0's "/self" grant) until refused;
//                                 "hold" ones then sleep forever.
//                                 pid0 prints "spawned N: <error>", kills all,
//                                 waits for them, prints "reaped N"
#define WEFT_CELL_IMPLEMENTATION
#include "weft_cell.h"
#include <time.h>
#include <unistd.h>

static void msleep(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/** The capability a process holds for its own binary's directory: pid0 "/self", a child "self". */
static const char *self_cap(void) {
  cell_res r = cell_acquire("/self");
  return r.ok ? "/self" : "self";
}

static uint8_t *self_wasm(size_t *n) {
  FILE *f = fopen("/bin/main.wasm", "rb");
  if (!f) { // a child sees no file system: read itself through the "self" capability
    cell_res a = cell_acquire("self");
    if (!a.ok) { printf("cannot read my own binary: %s\n", a.err); exit(70); }
    cell_res r = cell_read_file(a.u32, "main.wasm");
    if (!r.ok) { printf("cannot read my own binary: %s\n", r.err); exit(70); }
    *n = r.len;
    return r.bytes;
  }
  size_t cap = 1 << 16, len = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  *n = len;
  return buf;
}

static uint32_t acquire_or_die(const char *name) {
  cell_res r = cell_acquire(name);
  if (!r.ok) { printf("acquire error: %s\n", r.err); exit(3); }
  return r.u32;
}

static int parse_grants(char *spec, cell_grant *out) {
  if (strcmp(spec, "-") == 0) return 0;
  int n = 0;
  for (char *g = strtok(spec, ","); g; g = strtok(NULL, ",")) {
    cell_grant *c = &out[n++];
    memset(c, 0, sizeof *c);
    c->subdir = cell_s("");
    char *eq = strchr(g, '=');
    *eq = 0;
    char *rest = eq + 1, *opt = strchr(rest, ':');
    if (opt) *opt++ = 0;
    c->cap = acquire_or_die(g);
    c->name = cell_s(rest);
    while (opt) {
      char *next = strchr(opt, ':');
      if (next) *next++ = 0;
      if (strcmp(opt, "ro") == 0) c->read_only = 1;
      else if (strcmp(opt, "rw") == 0) c->read_only = 0;
      else if (strncmp(opt, "sub=", 4) == 0) c->subdir = cell_s(opt + 4);
      else if (strncmp(opt, "dom=", 4) == 0) {
        cell_str *doms = calloc(16, sizeof *doms);
        size_t k = 0;
        for (char *d = opt + 4, *plus; d && k < 16; d = plus) {
          plus = strchr(d, '+');
          if (plus) *plus++ = 0;
          doms[k++] = cell_s(d);
        }
        c->has_domains = 1;
        c->domains = doms;
        c->ndomains = k;
      }
      opt = next;
    }
  }
  return n;
}

/** "MEM" or "MEM,CPU_MS,TIMEOUT_MS", and POOL. */
static cell_limits limits_of(const char *mem, const char *pool) {
  cell_limits l = {0};
  char *end;
  l.memory_mib = strtoul(mem, &end, 10);
  if (*end == ',') l.cpu_ms = strtoul(end + 1, &end, 10);
  if (*end == ',') l.timeout_ms = strtoul(end + 1, &end, 10);
  l.pool_mib = strtoul(pool, NULL, 10);
  return l;
}

static cell_env child_env[1];

/** Spawns from bytes (wasm != NULL) or from PATH in the capability handle dir. */
static cell_res spawn_any(const uint8_t *wasm, size_t wlen, uint32_t dir, const char *path, cell_grant *grants, int ngrants, cell_limits l, char **args,
                          int nargs) {
  cell_str *a = calloc(nargs + 1, sizeof *a);
  for (int i = 0; i < nargs; i++) a[i] = cell_s(args[i]);
  child_env[0] = (cell_env){cell_s("ROLE"), cell_s("child")};
  CELL_RET;
  if (wasm) cell_spawn_raw(wasm, wlen, a, nargs, child_env, 1, grants, ngrants, l.memory_mib, l.pool_mib, l.cpu_ms, l.timeout_ms, ret);
  else cell_spawn_file_raw(dir, path, strlen(path), a, nargs, child_env, 1, grants, ngrants, l.memory_mib, l.pool_mib, l.cpu_ms, l.timeout_ms, ret);
  free(a);
  return cell_result(ret, 1);
}

static cell_res spawn_self(cell_grant *grants, int ngrants, cell_limits l, char **args, int nargs) {
  size_t wlen;
  uint8_t *wasm = self_wasm(&wlen);
  cell_res r = spawn_any(wasm, wlen, 0, NULL, grants, ngrants, l, args, nargs);
  free(wasm);
  return r;
}

/** Prints everything on one of the child's streams, line by line with a prefix. */
static void relay(uint32_t child, int which, const char *prefix) {
  char line[4096];
  size_t len = 0;
  for (;;) {
    cell_res r = cell_read(child, which, 1024);
    if (!r.ok) { printf("read error: %s\n", r.err); return; }
    if (r.len == 0) break;
    for (size_t i = 0; i < r.len; i++) {
      if (r.bytes[i] == '\n' || len == sizeof line - 1) {
        printf("%s%.*s\n", prefix, (int)len, line);
        len = 0;
      } else line[len++] = r.bytes[i];
    }
    free(r.bytes);
  }
  if (len) printf("%s%.*s\n", prefix, (int)len, line);
}

/** Feeds the child STDIN ("-" = nothing), relays its output, prints its exit code. */
static int run_child(cell_res s, const char *in) {
  if (!s.ok) { printf("spawn error: %s\n", s.err); return 1; }
  if (strcmp(in, "-") != 0) {
    size_t off = 0, n = strlen(in);
    while (off < n) {
      cell_res w = cell_write_stdin(s.u32, in + off, n - off);
      if (!w.ok) { printf("write-stdin error: %s\n", w.err); break; }
      off += w.u32;
      if (!w.u32) msleep(5);
    }
  }
  cell_close_stdin(s.u32);
  relay(s.u32, 1, "child: ");
  relay(s.u32, 2, "child-err: ");
  cell_res w = cell_wait(s.u32);
  if (!w.ok) { printf("wait error: %s\n", w.err); return 1; }
  printf("child exit %d\n", (int)w.u32);
  return 0;
}

static int cmd_spawn(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: spawn GRANTS MEM POOL STDIN ARGS...\n"); return 64; }
  cell_grant grants[16];
  int ng = parse_grants(argv[2], grants);
  return run_child(spawn_self(grants, ng, limits_of(argv[3], argv[4]), argv + 6, argc - 6), argv[5]);
}

static int cmd_spawn_file(int argc, char **argv) {
  if (argc < 8) { fprintf(stderr, "usage: spawn-file DIR PATH GRANTS MEM POOL STDIN ARGS...\n"); return 64; }
  uint32_t dir = strcmp(argv[2], "@image") == 0 ? 0 : acquire_or_die(argv[2]);
  cell_grant grants[16];
  int ng = parse_grants(argv[4], grants);
  return run_child(spawn_any(NULL, 0, dir, argv[3], grants, ng, limits_of(argv[5], argv[6]), argv + 8, argc - 8), argv[7]);
}

static int cmd_spawn_bytes(int argc, char **argv) {
  if (argc < 7) { fprintf(stderr, "usage: spawn-bytes FILE GRANTS MEM POOL STDIN ARGS...\n"); return 64; }
  FILE *f = fopen(argv[2], "rb");
  if (!f) { printf("cannot open %s\n", argv[2]); return 1; }
  fseek(f, 0, SEEK_END);
  size_t n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *wasm = malloc(n);
  if (fread(wasm, 1, n, f) != n) { printf("cannot read %s\n", argv[2]); return 1; }
  fclose(f);
  cell_grant grants[16];
  int ng = parse_grants(argv[3], grants);
  return run_child(spawn_any(wasm, n, 0, NULL, grants, ng, limits_of(argv[4], argv[5]), argv + 7, argc - 7), argv[6]);
}

static int cmd_hogs(int argc, char **argv) {
  int n = atoi(argv[2]);
  uint32_t self = acquire_or_die("/self");
  char *args[] = {"spin"};
  uint32_t kids[64];
  int k = 0;
  for (; k < n && k < 64; k++) {
    cell_res r = spawn_any(NULL, 0, self, "main.wasm", NULL, 0, limits_of(argv[3], "0"), args, 1);
    if (!r.ok) { printf("spawn error: %s\n", r.err); break; }
    kids[k] = r.u32;
  }
  printf("spawned %d\n", k);
  for (int i = 0; i < k; i++) {
    cell_res w = cell_wait(kids[i]);
    if (w.ok) printf("hog %d exit %d\n", i + 1, (int)w.u32);
    else printf("hog %d wait error: %s\n", i + 1, w.err);
  }
  if (argc > 4) for (volatile unsigned long i = 0;; i++) {}
  return 0;
}

static int cmd_bomb(int argc, char **argv) {
  uint32_t mem = atoi(argv[2]), pool = atoi(argv[3]);
  int hold = argc > 4;
  uint32_t kids[4096];
  int n = 0;
  char *args[] = {"bomb", argv[2], argv[3], "hold"};
  cell_grant self = {0};
  self.cap = acquire_or_die(self_cap());
  self.name = cell_s("self");
  self.read_only = 1;
  self.subdir = cell_s("");
  cell_res r;
  for (;;) {
    r = spawn_self(&self, 1, (cell_limits){mem, pool, 0, 0}, args, 4);
    if (!r.ok || n == 4096) break;
    kids[n++] = r.u32;
  }
  if (hold) for (;;) msleep(20); // short: a component notices a stop only between WASI 0.2 sleeps
  printf("spawned %d: %s\n", n, r.ok ? "(stopped at 4096)" : r.err);
  fflush(stdout);
  for (int i = 0; i < n; i++) cell_kill(kids[i]);
  int reaped = 0;
  for (int i = 0; i < n; i++) if (cell_wait(kids[i]).ok) reaped++;
  printf("reaped %d\n", reaped);
  return 0;
}

static int cmd_read_loop(char **argv) {
  uint32_t h = acquire_or_die(argv[2]);
  int n = atoi(argv[4]);
  char *seen[32];
  int count[32], nseen = 0;
  for (int i = 0; i < n; i++) {
    cell_res r = cell_read_file(h, argv[3]);
    char *what;
    if (r.ok) {
      what = malloc(r.len + 9);
      snprintf(what, r.len + 9, "content %s", (char *)r.bytes);
      free(r.bytes);
    } else {
      what = malloc(strlen(r.err) + 7);
      sprintf(what, "error %s", r.err);
      free(r.err);
    }
    int k = 0;
    while (k < nseen && strcmp(seen[k], what) != 0) k++;
    if (k == nseen && nseen < 32) seen[nseen] = what, count[nseen++] = 0;
    else free(what);
    if (k < 32) count[k]++;
  }
  for (int k = 0; k < nseen; k++) printf("%s: %d\n", seen[k], count[k]);
  return 0;
}

static int cmd_revoke_watch(char **argv) {
  uint32_t h = acquire_or_die(argv[2]);
  cell_res r = cell_read_file(h, argv[3]);
  if (!r.ok) { printf("read error: %s\n", r.err); return 1; }
  printf("epoch %llu: %s\n", (unsigned long long)cell_epoch(), r.bytes);
  fflush(stdout);
  for (;;) {
    msleep(10);
    r = cell_read_file(h, argv[3]);
    if (!r.ok) break;
    free(r.bytes);
  }
  printf("old handle: %s\n", r.err);
  cell_res a = cell_acquire(argv[2]);
  if (!a.ok) { printf("fresh acquire error: %s\n", a.err); return 0; }
  r = cell_read_file(a.u32, argv[3]);
  if (r.ok) printf("epoch %llu: %s\n", (unsigned long long)cell_epoch(), r.bytes);
  else printf("fresh read error: %s\n", r.err);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) { fprintf(stderr, "usage: cellctl COMMAND ...\n"); return 64; }
  const char *cmd = argv[1];
  if (strcmp(cmd, "names") == 0) {
    size_t n;
    char **names = cell_names(&n);
    for (size_t i = 0; i < n; i++) printf("%s\n", names[i]);
    return 0;
  }
  if (strcmp(cmd, "epoch") == 0) return printf("%llu\n", (unsigned long long)cell_epoch()), 0;
  if (strcmp(cmd, "read") == 0 && argc == 4) {
    cell_res r = cell_read_file(acquire_or_die(argv[2]), argv[3]);
    if (!r.ok) return printf("read error: %s\n", r.err), 2;
    return fwrite(r.bytes, 1, r.len, stdout), 0;
  }
  if (strcmp(cmd, "use-handle") == 0 && argc == 4) {
    cell_res r = cell_read_file(atoi(argv[2]), argv[3]);
    if (!r.ok) return printf("read error: %s\n", r.err), 2;
    return fwrite(r.bytes, 1, r.len, stdout), 0;
  }
  if (strcmp(cmd, "write") == 0 && argc == 5) {
    cell_res r = cell_write_file(acquire_or_die(argv[2]), argv[3], argv[4]);
    if (!r.ok) return printf("write error: %s\n", r.err), 2;
    return printf("ok\n"), 0;
  }
  if (strcmp(cmd, "list") == 0 && argc == 4) {
    CELL_RET;
    cell_list_dir_raw(acquire_or_die(argv[2]), argv[3], strlen(argv[3]), ret);
    if (ret[0]) return printf("list error: %s\n", cell_copy(ret + 4)), 2;
    const uint8_t *list = *(const uint8_t *const *)(ret + 4);
    size_t n = *(const uint32_t *)(ret + 8);
    for (size_t i = 0; i < n; i++) printf("%s\n", cell_copy(list + 8 * i));
    return 0;
  }
  if (strcmp(cmd, "get") == 0 && argc == 4) {
    cell_res r = cell_net_get(acquire_or_die(argv[2]), argv[3]);
    if (!r.ok) return printf("get error: %s\n", r.err), 2;
    printf("status %u\n", r.status);
    return fwrite(r.bytes, 1, r.len, stdout), 0;
  }
  if (strcmp(cmd, "echo") == 0) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
    fprintf(stderr, "echo done\n");
    return 1; // the Preview 1 adapter reports any failure as 1

  }
  if (strcmp(cmd, "sleep") == 0 && argc == 3) return msleep(atol(argv[2])), 0;
  if (strcmp(cmd, "spawn") == 0) return cmd_spawn(argc, argv);
  if (strcmp(cmd, "spawn-file") == 0) return cmd_spawn_file(argc, argv);
  if (strcmp(cmd, "spawn-bytes") == 0) return cmd_spawn_bytes(argc, argv);
  if (strcmp(cmd, "hogs") == 0 && argc >= 4) return cmd_hogs(argc, argv);
  if (strcmp(cmd, "getenv") == 0 && argc == 3) return printf("%s\n", getenv(argv[2]) ? getenv(argv[2]) : "(unset)"), 0;
  if (strcmp(cmd, "idle") == 0) for (;;) msleep(20);
  if (strcmp(cmd, "spin") == 0) {
    for (volatile unsigned long i = 0;; i++) {}
  }
  if (strcmp(cmd, "read-loop") == 0 && argc == 5) return cmd_read_loop(argv);
  if (strcmp(cmd, "revoke-watch") == 0 && argc == 4) return cmd_revoke_watch(argv);
  if (strcmp(cmd, "bomb") == 0 && argc >= 4) return cmd_bomb(argc, argv);
  fprintf(stderr, "cellctl: bad command line\n");
  return 64;
}

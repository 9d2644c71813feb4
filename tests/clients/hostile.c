// hostile: a misbehaving Wayland client for weft's robustness tests.
//
// Usage: hostile MODE [N]   (WAYLAND_DISPLAY selects the compositor)
// Prints one line saying how the compositor answered, then exits 0:
//   "error OBJECT CODE MESSAGE"  a wl_display.error event arrived (raw modes)
//   "error IFACE CODE"           libwayland-client saw a protocol error
//   "eof"                        the compositor closed the connection
//   "ok"                         nothing went wrong (flood modes)
// Exit 1 means the test itself could not run (no compositor, …).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <wayland-client.h>

// ---- raw wire: for what libwayland-client refuses to send ------------------
static int raw_connect(void) {
  const char *d = getenv("WAYLAND_DISPLAY");
  const char *rt = getenv("XDG_RUNTIME_DIR");
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (!d) return -1;
  if (d[0] == '/') snprintf(a.sun_path, sizeof a.sun_path, "%s", d);
  else snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", rt ? rt : "", d);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  return fd;
}

static void raw_send(int fd, uint32_t obj, uint16_t op, const uint32_t *args, int n) {
  uint32_t msg[64];
  msg[0] = obj;
  msg[1] = ((uint32_t)(8 + 4 * n) << 16) | op;
  memcpy(msg + 2, args, 4 * n);
  if (write(fd, msg, 8 + 4 * n) < 0) perror("write");
}

// Reads events until wl_display.error (object 1, opcode 0) or EOF.
static int raw_expect_error(int fd) {
  uint8_t buf[65536];
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, sizeof buf - have);
    if (n <= 0) {
      puts("eof");
      return 0;
    }
    have += n;
    while (have >= 8) {
      uint32_t obj, hdr;
      memcpy(&obj, buf, 4);
      memcpy(&hdr, buf + 4, 4);
      size_t size = hdr >> 16;
      if (size < 8 || have < size) break;
      if (obj == 1 && (hdr & 0xffff) == 0) {
        uint32_t eobj, code, slen;
        memcpy(&eobj, buf + 8, 4);
        memcpy(&code, buf + 12, 4);
        memcpy(&slen, buf + 16, 4);
        printf("error %u %u %.*s\n", eobj, code, (int)(slen ? slen - 1 : 0), (char *)buf + 20);
        return 0;
      }
      memmove(buf, buf + size, have - size);
      have -= size;
    }
  }
}

// ---- libwayland-client helpers ------------------------------------------------
struct globals {
  struct wl_compositor *compositor;
  struct wl_shm *shm;
  struct wl_data_device_manager *ddm;
  struct wl_seat *seat;
  struct wl_subcompositor *subcompositor;
};
static void reg_global(void *data, struct wl_registry *r, uint32_t name, const char *iface, uint32_t v) {
  struct globals *g = data;
  if (!strcmp(iface, "wl_compositor")) g->compositor = wl_registry_bind(r, name, &wl_compositor_interface, 4);
  if (!strcmp(iface, "wl_shm")) g->shm = wl_registry_bind(r, name, &wl_shm_interface, 1);
  if (!strcmp(iface, "wl_data_device_manager")) g->ddm = wl_registry_bind(r, name, &wl_data_device_manager_interface, 3);
  if (!strcmp(iface, "wl_seat")) g->seat = wl_registry_bind(r, name, &wl_seat_interface, 1);
  if (!strcmp(iface, "wl_subcompositor")) g->subcompositor = wl_registry_bind(r, name, &wl_subcompositor_interface, 1);
  (void)v;
}
static void reg_remove(void *d, struct wl_registry *r, uint32_t n) { (void)d, (void)r, (void)n; }
static const struct wl_registry_listener reg_listener = {reg_global, reg_remove};

static struct wl_display *connect_globals(struct globals *g) {
  struct wl_display *d = wl_display_connect(NULL);
  if (!d) {
    fprintf(stderr, "hostile: cannot connect\n");
    exit(1);
  }
  struct wl_registry *r = wl_display_get_registry(d);
  wl_registry_add_listener(r, &reg_listener, g);
  wl_display_roundtrip(d);
  if (!g->compositor || !g->shm) {
    fprintf(stderr, "hostile: missing globals\n");
    exit(1);
  }
  return d;
}

static int report(struct wl_display *d) {
  // Keep round-tripping until the error arrives (or the connection dies).
  for (int i = 0; i < 10 && wl_display_roundtrip(d) >= 0; i++) {}
  const struct wl_interface *iface = NULL;
  uint32_t id = 0;
  int code = wl_display_get_protocol_error(d, &iface, &id);
  int err = wl_display_get_error(d);
  if (iface) printf("error %s %d\n", iface->name, code);
  else if (err) printf("eof\n");
  else printf("ok\n");
  wl_display_disconnect(d);
  return 0;
}

// Flushes everything, waiting for the socket when the compositor is behind.
static void flush_all(struct wl_display *d) {
  while (wl_display_flush(d) < 0 && errno == EAGAIN) {
    struct pollfd p = {.fd = wl_display_get_fd(d), .events = POLLOUT};
    poll(&p, 1, -1);
  }
}

static int memfd(size_t size) {
  int fd = memfd_create("hostile", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, size) != 0) exit(1);
  return fd;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "bad-object")) {
    // A request to an object id that was never created.
    int fd = raw_connect();
    if (fd < 0) return 1;
    uint32_t a[] = {0};
    raw_send(fd, 4242, 0, a, 1);
    return raw_expect_error(fd);
  }
  if (!strcmp(mode, "bad-opcode")) {
    // wl_display has two requests; opcode 57 does not exist.
    int fd = raw_connect();
    if (fd < 0) return 1;
    raw_send(fd, 1, 57, NULL, 0);
    return raw_expect_error(fd);
  }
  if (!strcmp(mode, "bad-new-id")) {
    // get_registry with a new id far outside the client's range.
    int fd = raw_connect();
    if (fd < 0) return 1;
    uint32_t a[] = {0xff000000u};
    raw_send(fd, 1, 1, a, 1);
    return raw_expect_error(fd);
  }
  if (!strcmp(mode, "truncated")) {
    // A header announcing 64 bytes, then the connection's end.
    int fd = raw_connect();
    if (fd < 0) return 1;
    uint32_t msg[2] = {1, (64u << 16) | 1};
    if (write(fd, msg, 8) < 0) return 1;
    shutdown(fd, SHUT_WR);
    return raw_expect_error(fd);
  }
  if (!strcmp(mode, "destroyed-object")) {
    // Bind wl_compositor (name 2 in weft), make a surface, destroy it, commit on it.
    int fd = raw_connect();
    if (fd < 0) return 1;
    uint32_t reg[] = {2};
    raw_send(fd, 1, 1, reg, 1); // wl_display.get_registry(id 2)
    // wl_registry.bind(name, "wl_compositor", version 4, id 3): string is len + padded bytes
    uint32_t bind[] = {2, 14, 0, 0, 0, 0, 4, 3};
    memcpy(&bind[2], "wl_compositor", 14);
    raw_send(fd, 2, 0, bind, 8);
    uint32_t surf[] = {4};
    raw_send(fd, 3, 0, surf, 1); // create_surface(id 4)
    raw_send(fd, 4, 0, NULL, 0); // wl_surface.destroy
    raw_send(fd, 4, 6, NULL, 0); // wl_surface.commit on the destroyed id
    return raw_expect_error(fd);
  }
  if (!strcmp(mode, "shm-bad-fd")) {
    // A pool whose fd cannot be mapped (a pipe).
    struct globals g = {0};
    struct wl_display *d = connect_globals(&g);
    int p[2];
    if (pipe(p) != 0) return 1;
    wl_shm_create_pool(g.shm, p[0], 4096);
    return report(d);
  }
  if (!strcmp(mode, "shm-negative-size")) {
    struct globals g = {0};
    struct wl_display *d = connect_globals(&g);
    wl_shm_create_pool(g.shm, memfd(4096), -4096);
    return report(d);
  }
  if (!strcmp(mode, "shm-oversize")) {
    // The pool claims 4 MiB but the file has 4 KiB: reading the buffer faults.
    struct globals g = {0};
    struct wl_display *d = connect_globals(&g);
    struct wl_shm_pool *pool = wl_shm_create_pool(g.shm, memfd(4096), 4 << 20);
    struct wl_buffer *b = wl_shm_pool_create_buffer(pool, 0, 1024, 1024, 4096, WL_SHM_FORMAT_XRGB8888);
    struct wl_surface *s = wl_compositor_create_surface(g.compositor);
    // A surface without a role still gets its buffer read on commit.
    wl_surface_attach(s, b, 0, 0);
    wl_surface_damage(s, 0, 0, 1024, 1024);
    wl_surface_commit(s);
    return report(d);
  }
  if (!strcmp(mode, "buffer-outside-pool")) {
    struct globals g = {0};
    struct wl_display *d = connect_globals(&g);
    struct wl_shm_pool *pool = wl_shm_create_pool(g.shm, memfd(4096), 4096);
    wl_shm_pool_create_buffer(pool, 0, 64, 64, 256, WL_SHM_FORMAT_ARGB8888); // needs 16 KiB
    return report(d);
  }
  if (!strcmp(mode, "bad-format")) {
    struct globals g = {0};
    struct wl_display *d = connect_globals(&g);
    struct wl_shm_pool *pool = wl_shm_create_pool(g.shm, memfd(4096), 4096);
    wl_shm_pool_create_buffer(pool, 0, 16, 16, 64, 0x34325258 /* XR24 fourcc weft does not list */ + 1);
    return report(d);
  }
  if (!strcmp(mode, "dnd-bad-actions")) {
    // A drag source allowing an action that does not exist (bit 7).
    struct globals g = {0};
    struct wl_display *d = connect_globals(&g);
    struct wl_data_source *src = wl_data_device_manager_create_data_source(g.ddm);
    wl_data_source_set_actions(src, 0x80);
    return report(d);
  }
  if (!strcmp(mode, "dnd-source-reused")) {
    // start_drag without a held button is refused (the source is cancelled); the same source again is an error.
    struct globals g = {0};
    struct wl_display *d = connect_globals(&g);
    struct wl_data_device *dev = wl_data_device_manager_get_data_device(g.ddm, g.seat);
    struct wl_data_source *src = wl_data_device_manager_create_data_source(g.ddm);
    wl_data_source_offer(src, "text/plain");
    struct wl_surface *s = wl_compositor_create_surface(g.compositor);
    wl_data_device_start_drag(dev, src, s, NULL, 1);
    wl_display_roundtrip(d);
    wl_data_device_start_drag(dev, src, s, NULL, 1);
    return report(d);
  }
  if (!strcmp(mode, "dnd-icon-role")) {
    // A drag icon that is already a subsurface.
    struct globals g = {0};
    struct wl_display *d = connect_globals(&g);
    struct wl_data_device *dev = wl_data_device_manager_get_data_device(g.ddm, g.seat);
    struct wl_surface *parent = wl_compositor_create_surface(g.compositor);
    struct wl_surface *icon = wl_compositor_create_surface(g.compositor);
    wl_subcompositor_get_subsurface(g.subcompositor, icon, parent);
    wl_data_device_start_drag(dev, NULL, parent, icon, 1);
    return report(d);
  }
  if (!strcmp(mode, "flood-connect")) {
    // N connects, each doing a full round trip, then disconnecting.
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    for (int i = 0; i < n; i++) {
      struct wl_display *d = wl_display_connect(NULL);
      if (!d) {
        printf("connect failed at %d\n", i);
        return 0;
      }
      struct wl_registry *r = wl_display_get_registry(d);
      if (wl_display_roundtrip(d) < 0) {
        printf("roundtrip failed at %d\n", i);
        return 0;
      }
      wl_registry_destroy(r);
      wl_display_disconnect(d);
    }
    puts("ok");
    return 0;
  }
  if (!strcmp(mode, "flood-abrupt")) {
    // N raw connections that send half a message and vanish.
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    for (int i = 0; i < n; i++) {
      int fd = raw_connect();
      if (fd < 0) {
        printf("connect failed at %d\n", i);
        return 0;
      }
      uint32_t half[1] = {1};
      if (write(fd, half, 4) < 0) {}
      close(fd);
    }
    puts("ok");
    return 0;
  }
  if (!strcmp(mode, "request-flood")) {
    // N wl_region.add requests as fast as the socket takes them, then one round trip; prints the rate.
    int n = argc > 2 ? atoi(argv[2]) : 100000;
    struct globals g = {0};
    struct wl_display *d = connect_globals(&g);
    struct wl_region *reg = wl_compositor_create_region(g.compositor);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
      wl_region_add(reg, i % 64, i % 64, 64, 64);
      if (i % 128 == 0) flush_all(d);
    }
    wl_display_roundtrip(d);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("ok %.0f requests/s\n", n / s);
    wl_display_disconnect(d);
    return 0;
  }
  if (!strcmp(mode, "roundtrips")) {
    // N wl_display.sync round trips; prints p50 and p99 in microseconds.
    int n = argc > 2 ? atoi(argv[2]) : 2000;
    struct wl_display *d = wl_display_connect(NULL);
    if (!d) return 1;
    double *us = calloc(n, sizeof *us);
    for (int i = 0; i < n; i++) {
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      wl_display_roundtrip(d);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      us[i] = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
    }
    for (int i = 1; i < n; i++)
      for (int j = i; j > 0 && us[j - 1] > us[j]; j--) {
        double t = us[j];
        us[j] = us[j - 1];
        us[j - 1] = t;
      }
    printf("ok p50 %.1f p99 %.1f\n", us[n / 2], us[n * 99 / 100]);
    wl_display_disconnect(d);
    return 0;
  }
  fprintf(stderr, "usage: hostile MODE [N]\n");
  return 1;
}

// clipsource: a Wayland client that takes the clipboard and then answers
// paste requests badly, for testing how weft reads a client's selection.
//
// Usage: clipsource MODE [BYTES]
//   stall        offers text/plain;charset=utf-8, and on `send` keeps the
//                pipe open without writing (weft must give up on its own)
//   flood BYTES  offers text/plain;charset=utf-8, and on `send` writes BYTES
//                bytes of 'x' (or until the reader goes away), then closes
// It maps a 32×32 window (weft gives a new window keyboard focus, and only
// the focused client may set the selection), sets the selection on keyboard
// enter, prints `selection set`, then `send` for each request; runs until
// killed. Every line is flushed at once.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>
#include "xdg-shell-client-protocol.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct xdg_wm_base *wm_base;
static struct wl_seat *seat;
static struct wl_data_device_manager *ddm;
static struct wl_surface *surface;
static struct wl_data_device *device;
static int mode_stall;
static long flood_bytes;
static int selection_set;

static void say(const char *s) {
  printf("%s\n", s);
  fflush(stdout);
}

static void reg_global(void *d, struct wl_registry *r, uint32_t name, const char *iface, uint32_t v) {
  (void)d, (void)v;
  if (!strcmp(iface, "wl_compositor")) compositor = wl_registry_bind(r, name, &wl_compositor_interface, 4);
  else if (!strcmp(iface, "wl_shm")) shm = wl_registry_bind(r, name, &wl_shm_interface, 1);
  else if (!strcmp(iface, "xdg_wm_base")) wm_base = wl_registry_bind(r, name, &xdg_wm_base_interface, 1);
  else if (!strcmp(iface, "wl_seat")) seat = wl_registry_bind(r, name, &wl_seat_interface, 1);
  else if (!strcmp(iface, "wl_data_device_manager")) ddm = wl_registry_bind(r, name, &wl_data_device_manager_interface, 3);
}
static void reg_remove(void *d, struct wl_registry *r, uint32_t n) { (void)d, (void)r, (void)n; }
static const struct wl_registry_listener reg_listener = {reg_global, reg_remove};

static void src_target(void *d, struct wl_data_source *s, const char *m) { (void)d, (void)s, (void)m; }
static void src_send(void *d, struct wl_data_source *s, const char *mime, int32_t fd) {
  (void)d, (void)s, (void)mime;
  say("send");
  if (mode_stall) return; // keep fd open, write nothing
  char buf[65536];
  memset(buf, 'x', sizeof buf);
  long left = flood_bytes;
  while (left > 0) {
    ssize_t n = write(fd, buf, left < (long)sizeof buf ? (size_t)left : sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; // the reader went away (EPIPE)
    left -= n;
  }
  close(fd);
  say("sent");
}
static void src_cancelled(void *d, struct wl_data_source *s) { (void)d, (void)s, say("cancelled"); }
static void src_dnd_performed(void *d, struct wl_data_source *s) { (void)d, (void)s; }
static void src_dnd_finished(void *d, struct wl_data_source *s) { (void)d, (void)s; }
static void src_action(void *d, struct wl_data_source *s, uint32_t a) { (void)d, (void)s, (void)a; }
static const struct wl_data_source_listener src_listener = {src_target, src_send, src_cancelled, src_dnd_performed, src_dnd_finished, src_action};

static void kb_keymap(void *d, struct wl_keyboard *k, uint32_t f, int32_t fd, uint32_t s) { (void)d, (void)k, (void)f, (void)s, close(fd); }
static void kb_enter(void *d, struct wl_keyboard *k, uint32_t serial, struct wl_surface *s, struct wl_array *keys) {
  (void)d, (void)k, (void)s, (void)keys;
  if (selection_set) return;
  struct wl_data_source *src = wl_data_device_manager_create_data_source(ddm);
  wl_data_source_add_listener(src, &src_listener, NULL);
  wl_data_source_offer(src, "text/plain;charset=utf-8");
  wl_data_device_set_selection(device, src, serial);
  selection_set = 1;
  say("selection set");
}
static void kb_leave(void *d, struct wl_keyboard *k, uint32_t s, struct wl_surface *f) { (void)d, (void)k, (void)s, (void)f; }
static void kb_key(void *d, struct wl_keyboard *k, uint32_t s, uint32_t t, uint32_t key, uint32_t st) { (void)d, (void)k, (void)s, (void)t, (void)key, (void)st; }
static void kb_mods(void *d, struct wl_keyboard *k, uint32_t s, uint32_t a, uint32_t b, uint32_t c, uint32_t g) { (void)d, (void)k, (void)s, (void)a, (void)b, (void)c, (void)g; }
static void kb_repeat(void *d, struct wl_keyboard *k, int32_t r, int32_t dl) { (void)d, (void)k, (void)r, (void)dl; }
static const struct wl_keyboard_listener kb_listener = {kb_keymap, kb_enter, kb_leave, kb_key, kb_mods, kb_repeat};

static void ping(void *d, struct xdg_wm_base *b, uint32_t serial) { (void)d, xdg_wm_base_pong(b, serial); }
static const struct xdg_wm_base_listener wm_listener = {ping};

static void xs_configure(void *d, struct xdg_surface *xs, uint32_t serial) {
  (void)d;
  xdg_surface_ack_configure(xs, serial);
  int w = 32, h = 32, stride = w * 4;
  int fd = memfd_create("clipsource", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, stride * h) < 0) exit(1);
  void *px = mmap(NULL, stride * h, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (px == MAP_FAILED) exit(1);
  memset(px, 0x80, stride * h);
  struct wl_shm_pool *pool = wl_shm_create_pool(shm, fd, stride * h);
  struct wl_buffer *b = wl_shm_pool_create_buffer(pool, 0, w, h, stride, WL_SHM_FORMAT_XRGB8888);
  wl_shm_pool_destroy(pool);
  close(fd);
  wl_surface_attach(surface, b, 0, 0);
  wl_surface_damage(surface, 0, 0, w, h);
  wl_surface_commit(surface);
}
static const struct xdg_surface_listener xs_listener = {xs_configure};

int main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "stall") && strcmp(argv[1], "flood")) || (!strcmp(argv[1], "flood") && argc < 3)) {
    fprintf(stderr, "usage: clipsource stall | clipsource flood BYTES\n");
    return 2;
  }
  mode_stall = !strcmp(argv[1], "stall");
  if (!mode_stall) flood_bytes = atol(argv[2]);
  signal(SIGPIPE, SIG_IGN); // a reader that stops early is an EPIPE, not a death
  struct wl_display *dpy = wl_display_connect(NULL);
  if (!dpy) return 1;
  wl_registry_add_listener(wl_display_get_registry(dpy), &reg_listener, NULL);
  wl_display_roundtrip(dpy);
  if (!compositor || !shm || !wm_base || !seat || !ddm) return 1;
  xdg_wm_base_add_listener(wm_base, &wm_listener, NULL);
  device = wl_data_device_manager_get_data_device(ddm, seat);
  wl_keyboard_add_listener(wl_seat_get_keyboard(seat), &kb_listener, NULL);
  surface = wl_compositor_create_surface(compositor);
  struct xdg_surface *xs = xdg_wm_base_get_xdg_surface(wm_base, surface);
  xdg_surface_add_listener(xs, &xs_listener, NULL);
  struct xdg_toplevel *tl = xdg_surface_get_toplevel(xs);
  xdg_toplevel_set_title(tl, "clipsource");
  wl_surface_commit(surface);
  while (wl_display_dispatch(dpy) >= 0) {}
  return 0;
}

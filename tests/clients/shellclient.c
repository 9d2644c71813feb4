// shellclient: a scriptable test client for the protocols no Debian client
// speaks: zweft_shell_manager_v1, wp_single_pixel_buffer_manager_v1 +
// wp_viewporter, and wp_presentation feedback.
//
// Usage:
//   shellclient shell ROLE X Y W H RRGGBB   a weft shell window; commands on stdin:
//       commit | metadata TITLE ROLE | geometry X Y W H | destroy-window |
//       destroy-buffer (the one on screen) | destroy-manager | quit
//   shellclient pixel RRGGBB W H [max|full|popup]
//                                           an xdg toplevel showing one colour,
//                                           scaled by a viewport to W×H; "max"
//                                           and "full" ask to be maximized or
//                                           fullscreen (it then fills the size
//                                           configured); "popup" adds a grabbing
//                                           50×40 popup (colour inverted)
//                                           anchored at (10,10,20,20) bottom-right;
//                                           "resize-br"/"resize-tl" start an interactive
//                                           resize from that corner on a button press;
//                                           "nopong" never answers pings (until
//                                           the `pong` command answers the last)
//   shellclient transform T S               an xdg toplevel showing a 64×48 test
//                                           picture through buffer transform T
//                                           (0–7) and buffer scale S; prints
//                                           pointer enter/motion coordinates
// Every event is printed on stdout, one line each, flushed at once.
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <wayland-client.h>
#include "weft-shell-unstable-v1-client-protocol.h"
#include "xdg-shell-client-protocol.h"
#include "viewporter-client-protocol.h"
#include "single-pixel-buffer-v1-client-protocol.h"
#include "presentation-time-client-protocol.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct zweft_shell_manager_v1 *manager;
static struct xdg_wm_base *wm_base;
static struct wp_viewporter *viewporter;
static struct wp_single_pixel_buffer_manager_v1 *spb;
static struct wp_presentation *presentation;
static struct wl_surface *surface;
static struct wl_seat *seat;
static uint32_t color;
static int running = 1;
static const char *extra = "";
static uint32_t last_ping;

#define say(...) (printf(__VA_ARGS__), putchar('\n'), fflush(stdout))

static void global(void *d, struct wl_registry *r, uint32_t name, const char *iface, uint32_t v) {
  (void)d;
  if (!strcmp(iface, "wl_compositor")) compositor = wl_registry_bind(r, name, &wl_compositor_interface, 4);
  else if (!strcmp(iface, "wl_shm")) shm = wl_registry_bind(r, name, &wl_shm_interface, 1);
  else if (!strcmp(iface, "zweft_shell_manager_v1")) manager = wl_registry_bind(r, name, &zweft_shell_manager_v1_interface, v < 2 ? v : 2);
  else if (!strcmp(iface, "xdg_wm_base")) wm_base = wl_registry_bind(r, name, &xdg_wm_base_interface, 1);
  else if (!strcmp(iface, "wp_viewporter")) viewporter = wl_registry_bind(r, name, &wp_viewporter_interface, 1);
  else if (!strcmp(iface, "wp_single_pixel_buffer_manager_v1")) spb = wl_registry_bind(r, name, &wp_single_pixel_buffer_manager_v1_interface, 1);
  else if (!strcmp(iface, "wp_presentation")) presentation = wl_registry_bind(r, name, &wp_presentation_interface, 1);
  else if (!strcmp(iface, "wl_seat")) seat = wl_registry_bind(r, name, &wl_seat_interface, 1);
}
static void global_remove(void *d, struct wl_registry *r, uint32_t n) { (void)d, (void)r, (void)n; }
static const struct wl_registry_listener registry_listener = {global, global_remove};

// ---- presentation feedback -----------------------------------------------------
static void fb_sync_output(void *d, struct wp_presentation_feedback *f, struct wl_output *o) { (void)d, (void)f, (void)o; }
static void fb_presented(void *d, struct wp_presentation_feedback *f, uint32_t sec_hi, uint32_t sec_lo, uint32_t nsec, uint32_t refresh, uint32_t seq_hi, uint32_t seq_lo, uint32_t flags) {
  (void)d, (void)sec_hi, (void)seq_hi;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long age_us = ((long long)now.tv_sec - sec_lo) * 1000000 + ((long long)now.tv_nsec - nsec) / 1000;
  say("presented refresh %u seq %u flags %u age_us %lld", refresh, seq_lo, flags, age_us);
  wp_presentation_feedback_destroy(f);
}
static void fb_discarded(void *d, struct wp_presentation_feedback *f) {
  (void)d;
  say("discarded");
  wp_presentation_feedback_destroy(f);
}
static const struct wp_presentation_feedback_listener fb_listener = {fb_sync_output, fb_presented, fb_discarded};

static void commit_with_feedback(void) {
  if (presentation) wp_presentation_feedback_add_listener(wp_presentation_feedback(presentation, surface), &fb_listener, NULL);
  wl_surface_commit(surface);
}

// ---- shm buffer of one colour ------------------------------------------------------
static struct wl_buffer *solid_buffer(int w, int h) {
  int stride = w * 4, size = stride * h;
  int fd = memfd_create("shellclient", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, size) != 0) exit(1);
  uint32_t *px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  for (int i = 0; i < w * h; i++) px[i] = 0xff000000u | color;
  munmap(px, size);
  struct wl_shm_pool *pool = wl_shm_create_pool(shm, fd, size);
  struct wl_buffer *b = wl_shm_pool_create_buffer(pool, 0, w, h, stride, WL_SHM_FORMAT_XRGB8888);
  wl_shm_pool_destroy(pool);
  close(fd);
  return b;
}

// ---- weft shell window ----------------------------------------------------------------
static struct zweft_shell_window_v1 *window;
static struct wl_buffer *last_buffer;
static int win_w, win_h;
static void w_configure(void *d, struct zweft_shell_window_v1 *w, int32_t x, int32_t y, int32_t width, int32_t height, uint32_t state) {
  (void)d, (void)w;
  say("configure %d %d %d %d %u", x, y, width, height, state);
  if (width != win_w || height != win_h) {
    win_w = width, win_h = height;
    wl_surface_attach(surface, last_buffer = solid_buffer(width, height), 0, 0);
    wl_surface_damage(surface, 0, 0, width, height);
    commit_with_feedback();
  }
}
static void w_focus(void *d, struct zweft_shell_window_v1 *w, uint32_t f) { (void)d, (void)w, say("focus_changed %u", f); }
static void w_closed(void *d, struct zweft_shell_window_v1 *w) { (void)d, (void)w, say("window_closed"); }
static void w_presented(void *d, struct zweft_shell_window_v1 *w, uint32_t sec, uint32_t nsec, uint32_t refresh) {
  (void)d, (void)w, (void)sec, (void)nsec;
  say("presentation_feedback refresh %u", refresh);
}
static void w_gesture(void *d, struct zweft_shell_window_v1 *w, uint32_t type, uint32_t fingers, wl_fixed_t dx, wl_fixed_t dy) {
  (void)d, (void)w;
  say("navigation_gesture %u %u %d %d", type, fingers, wl_fixed_to_int(dx), wl_fixed_to_int(dy));
}
static const struct zweft_shell_window_v1_listener window_listener = {w_configure, w_focus, w_closed, w_presented, w_gesture};

static void command(struct wl_display *dpy, char *line) {
  char a[256], b[256];
  int x, y, w, h;
  if (!strncmp(line, "commit", 6) && surface) {
    wl_surface_damage(surface, 0, 0, 1, 1);
    commit_with_feedback();
  } else if (sscanf(line, "metadata %255s %255s", a, b) == 2) zweft_shell_window_v1_update_metadata(window, a, b);
  else if (sscanf(line, "geometry %d %d %d %d", &x, &y, &w, &h) == 4) zweft_shell_window_v1_set_geometry(window, x, y, w, h);
  else if (!strncmp(line, "destroy-window", 14)) zweft_shell_window_v1_destroy(window);
  else if (!strncmp(line, "destroy-buffer", 14) && last_buffer) wl_buffer_destroy(last_buffer), last_buffer = NULL;
  else if (!strncmp(line, "destroy-manager", 15)) zweft_shell_manager_v1_destroy(manager);
  else if (!strncmp(line, "quit", 4)) running = 0;
  else if (!strncmp(line, "pong", 4) && wm_base) xdg_wm_base_pong(wm_base, last_ping);
  wl_display_flush(dpy);
  say("done %s", strtok(line, "\n"));
}

// ---- xdg toplevel with a single-pixel buffer ------------------------------------------------
static int vp_w, vp_h;
static struct xdg_surface *toplevel_xdg;
static struct xdg_toplevel *toplevel;
static struct wp_viewport *viewport;
static uint32_t last_serial;

static void popup_configure(void *d, struct xdg_popup *p, int32_t x, int32_t y, int32_t w, int32_t h) { (void)d, (void)p, say("popup_configure %d %d %d %d", x, y, w, h); }
static void popup_done(void *d, struct xdg_popup *p) { (void)d, (void)p, say("popup_done"); }
static void popup_repositioned(void *d, struct xdg_popup *p, uint32_t t) { (void)d, (void)p, (void)t; }
static const struct xdg_popup_listener popup_listener = {popup_configure, popup_done, popup_repositioned};
static struct wl_surface *popup_surface;
static void popup_xs_configure(void *d, struct xdg_surface *xs, uint32_t serial) {
  (void)d;
  xdg_surface_ack_configure(xs, serial);
  uint32_t c = ~color & 0xffffff;
  struct wl_buffer *buf = wp_single_pixel_buffer_manager_v1_create_u32_rgba_buffer(spb, ((c >> 16) & 0xff) * 0x01010101u, ((c >> 8) & 0xff) * 0x01010101u, (c & 0xff) * 0x01010101u, 0xffffffffu);
  struct wp_viewport *vp = wp_viewporter_get_viewport(viewporter, popup_surface);
  wp_viewport_set_destination(vp, 50, 40);
  wl_surface_attach(popup_surface, buf, 0, 0);
  wl_surface_commit(popup_surface);
  say("popup_committed");
}
static const struct xdg_surface_listener popup_xs_listener = {popup_xs_configure};

static void open_popup(void) {
  struct xdg_positioner *pos = xdg_wm_base_create_positioner(wm_base);
  xdg_positioner_set_size(pos, 50, 40);
  xdg_positioner_set_anchor_rect(pos, 10, 10, 20, 20);
  xdg_positioner_set_anchor(pos, XDG_POSITIONER_ANCHOR_BOTTOM_RIGHT);
  xdg_positioner_set_gravity(pos, XDG_POSITIONER_GRAVITY_BOTTOM_RIGHT);
  popup_surface = wl_compositor_create_surface(compositor);
  struct xdg_surface *xs = xdg_wm_base_get_xdg_surface(wm_base, popup_surface);
  xdg_surface_add_listener(xs, &popup_xs_listener, NULL);
  struct xdg_popup *p = xdg_surface_get_popup(xs, toplevel_xdg, pos);
  xdg_popup_add_listener(p, &popup_listener, NULL);
  if (seat) xdg_popup_grab(p, seat, last_serial);
  xdg_positioner_destroy(pos);
  wl_surface_commit(popup_surface);
}

static void kb_keymap(void *d, struct wl_keyboard *k, uint32_t f, int32_t fd, uint32_t s) { (void)d, (void)k, (void)f, (void)s, close(fd); }
static void kb_enter(void *d, struct wl_keyboard *k, uint32_t serial, struct wl_surface *s, struct wl_array *keys) {
  (void)d, (void)k, (void)keys;
  last_serial = serial;
  say("keyboard_enter %s", s == surface ? "toplevel" : s == popup_surface ? "popup" : "other");
}
static void kb_leave(void *d, struct wl_keyboard *k, uint32_t serial, struct wl_surface *s) { (void)d, (void)k, (void)serial, (void)s; }
static void kb_key(void *d, struct wl_keyboard *k, uint32_t serial, uint32_t t, uint32_t key, uint32_t st) { (void)d, (void)k, (void)t, last_serial = serial, say("key %u %u", key, st); }
static void kb_mods(void *d, struct wl_keyboard *k, uint32_t serial, uint32_t a, uint32_t b, uint32_t c, uint32_t g) { (void)d, (void)k, (void)serial, (void)a, (void)b, (void)c, (void)g; }
static void kb_repeat(void *d, struct wl_keyboard *k, int32_t r, int32_t dl) { (void)d, (void)k, (void)r, (void)dl; }
static const struct wl_keyboard_listener kb_listener = {kb_keymap, kb_enter, kb_leave, kb_key, kb_mods, kb_repeat};
// "nopong" plays a hung client: it reads pings but answers only when told (the `pong` command).
// "resize-br" / "resize-tl": a press on the window starts an interactive resize from that corner.
static int transform = -1, buffer_scale = 1;
static void ptr_enter(void *d, struct wl_pointer *p, uint32_t serial, struct wl_surface *s, wl_fixed_t x, wl_fixed_t y) {
  (void)d, (void)p, (void)serial, (void)s;
  if (transform >= 0) say("pointer_enter %.1f %.1f", wl_fixed_to_double(x), wl_fixed_to_double(y));
}
static void ptr_leave(void *d, struct wl_pointer *p, uint32_t serial, struct wl_surface *s) { (void)d, (void)p, (void)serial, (void)s; }
static void ptr_motion(void *d, struct wl_pointer *p, uint32_t t, wl_fixed_t x, wl_fixed_t y) {
  (void)d, (void)p, (void)t;
  if (transform >= 0) say("pointer_motion %.1f %.1f", wl_fixed_to_double(x), wl_fixed_to_double(y));
}
static void ptr_button(void *d, struct wl_pointer *p, uint32_t serial, uint32_t t, uint32_t button, uint32_t state) {
  (void)d, (void)p, (void)t, (void)button;
  if (state != WL_POINTER_BUTTON_STATE_PRESSED || !toplevel) return;
  if (!strcmp(extra, "resize-br")) xdg_toplevel_resize(toplevel, seat, serial, XDG_TOPLEVEL_RESIZE_EDGE_BOTTOM_RIGHT), say("resize bottom_right");
  if (!strcmp(extra, "resize-tl")) xdg_toplevel_resize(toplevel, seat, serial, XDG_TOPLEVEL_RESIZE_EDGE_TOP_LEFT), say("resize top_left");
}
static void ptr_axis(void *d, struct wl_pointer *p, uint32_t t, uint32_t a, wl_fixed_t v) { (void)d, (void)p, (void)t, (void)a, (void)v; }
static const struct wl_pointer_listener ptr_listener = {ptr_enter, ptr_leave, ptr_motion, ptr_button, ptr_axis, NULL, NULL, NULL, NULL, NULL};

static void ping(void *d, struct xdg_wm_base *b, uint32_t serial) {
  (void)d;
  last_ping = serial;
  say("ping");
  if (strcmp(extra, "nopong")) xdg_wm_base_pong(b, serial);
}
static const struct xdg_wm_base_listener wm_listener = {ping};
// ---- "transform T S": a 64×48 picture drawn into its buffer turned by T, at scale S ----------
// The picture (surface coordinates): red top-left, green top-right, blue
// bottom-left, white bottom-right quadrant, and a black 4×4 square at
// (8, 8). The buffer holds it as the protocol describes the transform:
// flipped horizontally (T ≥ 4), then turned 90° counter-clockwise T % 4
// times, every pixel S×S.
#define PIC_W 64
#define PIC_H 48
static uint32_t picture(int x, int y) {
  if (x >= 8 && x < 12 && y >= 8 && y < 12) return 0xff000000u;
  int right = x >= PIC_W / 2, bottom = y >= PIC_H / 2;
  return bottom ? (right ? 0xffffffffu : 0xff0000ffu) : (right ? 0xff00ff00u : 0xffff0000u);
}
static struct wl_buffer *transformed_buffer(void) {
  int w = PIC_W * buffer_scale, h = PIC_H * buffer_scale;
  uint32_t *img = malloc(sizeof *img * w * h), *tmp = malloc(sizeof *img * w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) img[y * w + x] = picture(x / buffer_scale, y / buffer_scale);
  if (transform >= 4)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w / 2; x++) {
        uint32_t t = img[y * w + x];
        img[y * w + x] = img[y * w + w - 1 - x], img[y * w + w - 1 - x] = t;
      }
  for (int k = 0; k < transform % 4; k++) {
    // Counter-clockwise: the top-right corner becomes the top-left one.
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) tmp[(w - 1 - x) * h + y] = img[y * w + x];
    uint32_t *t = img;
    img = tmp, tmp = t;
    int s = w;
    w = h, h = s;
  }
  int stride = w * 4, size = stride * h;
  int fd = memfd_create("shellclient", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, size) != 0) exit(1);
  uint32_t *px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  memcpy(px, img, size);
  munmap(px, size);
  free(img), free(tmp);
  struct wl_shm_pool *pool = wl_shm_create_pool(shm, fd, size);
  struct wl_buffer *b = wl_shm_pool_create_buffer(pool, 0, w, h, stride, WL_SHM_FORMAT_XRGB8888);
  wl_shm_pool_destroy(pool);
  close(fd);
  say("buffer %d %d", w, h);
  return b;
}

static void xs_configure(void *d, struct xdg_surface *xs, uint32_t serial) {
  (void)d;
  xdg_surface_ack_configure(xs, serial);
  static int done;
  if (transform >= 0) {
    if (done++) return;
    wl_surface_set_buffer_transform(surface, transform);
    wl_surface_set_buffer_scale(surface, buffer_scale);
    wl_surface_attach(surface, transformed_buffer(), 0, 0);
    wl_surface_damage_buffer(surface, 0, 0, INT32_MAX, INT32_MAX);
    commit_with_feedback();
    say("committed");
    return;
  }
  if (done++) {
    // Later configures (maximize, activation): recommit at the configured size.
    if (viewport && vp_w > 0) wp_viewport_set_destination(viewport, vp_w, vp_h);
    wl_surface_commit(surface);
    return;
  }
  uint32_t r = (color >> 16) & 0xff, g = (color >> 8) & 0xff, bl = color & 0xff;
  struct wl_buffer *buf = wp_single_pixel_buffer_manager_v1_create_u32_rgba_buffer(spb, r * 0x01010101u, g * 0x01010101u, bl * 0x01010101u, 0xffffffffu);
  viewport = wp_viewporter_get_viewport(viewporter, surface);
  wp_viewport_set_destination(viewport, vp_w, vp_h);
  wl_surface_attach(surface, buf, 0, 0);
  wl_surface_damage(surface, 0, 0, vp_w, vp_h);
  commit_with_feedback();
  say("committed");
  if (!strcmp(extra, "popup")) open_popup();
}
static const struct xdg_surface_listener xs_listener = {xs_configure};
static void tl_configure(void *d, struct xdg_toplevel *t, int32_t w, int32_t h, struct wl_array *s) {
  (void)d, (void)t;
  char states[64] = "";
  uint32_t *st;
  wl_array_for_each(st, s) snprintf(states + strlen(states), sizeof states - strlen(states), " %u", *st);
  say("toplevel_configure %d %d%s", w, h, states);
  if (w > 0 && h > 0) vp_w = w, vp_h = h;
}
static void tl_close(void *d, struct xdg_toplevel *t) { (void)d, (void)t, say("close"); }
static void tl_bounds(void *d, struct xdg_toplevel *t, int32_t w, int32_t h) { (void)d, (void)t, (void)w, (void)h; }
static void tl_caps(void *d, struct xdg_toplevel *t, struct wl_array *c) { (void)d, (void)t, (void)c; }
static const struct xdg_toplevel_listener tl_listener = {tl_configure, tl_close, tl_bounds, tl_caps};

int main(int argc, char **argv) {
  struct wl_display *dpy = wl_display_connect(NULL);
  if (!dpy) return 1;
  wl_registry_add_listener(wl_display_get_registry(dpy), &registry_listener, NULL);
  wl_display_roundtrip(dpy);
  if (!compositor || !shm) return 1;
  surface = wl_compositor_create_surface(compositor);
  if (argc == 8 && !strcmp(argv[1], "shell") && manager) {
    color = strtoul(argv[7], NULL, 16);
    window = zweft_shell_manager_v1_create_window(manager, "test.shellclient", "shellclient", argv[2], surface, atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
    zweft_shell_window_v1_add_listener(window, &window_listener, NULL);
  } else if (((argc == 5 || argc == 6) && !strcmp(argv[1], "pixel") && wm_base && spb && viewporter) || (argc == 4 && !strcmp(argv[1], "transform") && wm_base)) {
    if (argc == 4) {
      transform = atoi(argv[2]), buffer_scale = atoi(argv[3]);
      if (seat) wl_pointer_add_listener(wl_seat_get_pointer(seat), &ptr_listener, NULL);
    } else {
      color = strtoul(argv[2], NULL, 16);
      vp_w = atoi(argv[3]), vp_h = atoi(argv[4]);
    }
    if (argc == 6) extra = argv[5];
    if (seat) wl_keyboard_add_listener(wl_seat_get_keyboard(seat), &kb_listener, NULL);
    if (seat && !strncmp(extra, "resize", 6)) wl_pointer_add_listener(wl_seat_get_pointer(seat), &ptr_listener, NULL);
    xdg_wm_base_add_listener(wm_base, &wm_listener, NULL);
    struct xdg_surface *xs = toplevel_xdg = xdg_wm_base_get_xdg_surface(wm_base, surface);
    xdg_surface_add_listener(xs, &xs_listener, NULL);
    struct xdg_toplevel *tl = toplevel = xdg_surface_get_toplevel(xs);
    xdg_toplevel_add_listener(tl, &tl_listener, NULL);
    xdg_toplevel_set_app_id(tl, "test.pixel");
    if (!strcmp(extra, "max")) xdg_toplevel_set_maximized(tl);
    if (!strcmp(extra, "full")) xdg_toplevel_set_fullscreen(tl, NULL);
    wl_surface_commit(surface);
  } else {
    fprintf(stderr, "usage: shellclient shell ROLE X Y W H RRGGBB | pixel RRGGBB W H [max|full|popup|resize-br|resize-tl|nopong] | transform T S\n");
    return 2;
  }
  say("ready");
  struct pollfd fds[2] = {{.fd = wl_display_get_fd(dpy), .events = POLLIN}, {.fd = 0, .events = POLLIN}};
  char line[512];
  while (running) {
    wl_display_flush(dpy);
    if (poll(fds, 2, -1) < 0) break;
    if (fds[0].revents & POLLIN) {
      if (wl_display_dispatch(dpy) < 0) {
        say("disconnected %d", wl_display_get_error(dpy));
        return 0;
      }
    }
    if (fds[0].revents & (POLLERR | POLLHUP)) break;
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      if (!fgets(line, sizeof line, stdin)) break;
      command(dpy, line);
    }
  }
  wl_display_roundtrip(dpy);
  wl_display_disconnect(dpy);
  return 0;
}

// fuzz: a client that sends random but well-typed requests to every
// interface weft offers, reconnecting whenever weft answers with a protocol
// error. libwayland validates the wire; this exercises weft's own handlers
// (roles, state machines, scene) with sequences no real client sends.
//
// Usage: fuzz SEED ITERATIONS   prints "ok CONNECTIONS ERRORS REQUESTS"
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>
#include "weft-shell-unstable-v1-client-protocol.h"
#include "xdg-shell-client-protocol.h"
#include "viewporter-client-protocol.h"
#include "single-pixel-buffer-v1-client-protocol.h"
#include "presentation-time-client-protocol.h"
#include "xdg-decoration-unstable-v1-client-protocol.h"
#include "xdg-output-unstable-v1-client-protocol.h"
#include "cursor-shape-v1-client-protocol.h"

#define MAXP 512
static struct wl_proxy *pool[MAXP];
static int npool;
static unsigned rng;
static unsigned rnd(void) { return rng = rng * 1103515245u + 12345u, rng >> 8; }

static const struct wl_interface *known[] = {
  &wl_compositor_interface, &wl_subcompositor_interface, &wl_shm_interface, &wl_output_interface, &wl_seat_interface,
  &wl_data_device_manager_interface, &xdg_wm_base_interface, &wp_viewporter_interface, &wp_presentation_interface,
  &wp_single_pixel_buffer_manager_v1_interface, &zweft_shell_manager_v1_interface, &zxdg_decoration_manager_v1_interface,
  &zxdg_output_manager_v1_interface, &wp_cursor_shape_manager_v1_interface,
};

static void add(struct wl_proxy *p) {
  if (!p) return;
  if (npool < MAXP) pool[npool++] = p;
}
static void drop(struct wl_proxy *p) {
  for (int i = 0; i < npool; i++)
    if (pool[i] == p) {
      pool[i] = pool[--npool];
      return;
    }
}
static struct wl_proxy *find(const struct wl_interface *iface) {
  int start = npool ? rnd() % npool : 0;
  for (int k = 0; k < npool; k++) {
    struct wl_proxy *p = pool[(start + k) % npool];
    if (!strcmp(wl_proxy_get_class(p), iface->name)) return p;
  }
  return NULL;
}

static void global(void *d, struct wl_registry *r, uint32_t name, const char *iface, uint32_t v) {
  (void)d;
  for (size_t i = 0; i < sizeof known / sizeof *known; i++)
    if (!strcmp(iface, known[i]->name)) {
      uint32_t ver = (uint32_t)known[i]->version < v ? (uint32_t)known[i]->version : v;
      add(wl_registry_bind(r, name, known[i], ver));
    }
}
static void global_remove(void *d, struct wl_registry *r, uint32_t n) { (void)d, (void)r, (void)n; }
static const struct wl_registry_listener reg_listener = {global, global_remove};

static int memfd(size_t size) {
  int fd = memfd_create("fuzz", MFD_CLOEXEC);
  if (fd >= 0 && ftruncate(fd, size) != 0) {}
  return fd;
}

// One random request on a random object. Returns 0 if nothing was sent.
static int poke(void) {
  if (!npool) return 0;
  struct wl_proxy *p = pool[rnd() % npool];
  const struct wl_interface *iface = NULL;
  for (size_t i = 0; i < sizeof known / sizeof *known && !iface; i++)
    if (!strcmp(wl_proxy_get_class(p), known[i]->name)) iface = known[i];
  // Created objects: look their interface up through the message types that made them.
  extern const struct wl_interface *lookup(const char *);
  if (!iface) iface = lookup(wl_proxy_get_class(p));
  if (!iface || iface->method_count == 0) return 0;
  int op = rnd() % iface->method_count;
  const struct wl_message *m = &iface->methods[op];
  if ((uint32_t)atoi(m->signature) > wl_proxy_get_version(p)) return 0;
  union wl_argument args[20];
  struct wl_array arr;
  wl_array_init(&arr);
  const struct wl_interface *new_iface = NULL;
  int fds[4], nfds = 0;
  int i = 0;
  for (const char *s = m->signature; *s; s++) {
    int nullable = 0;
    if (*s >= '0' && *s <= '9') continue;
    if (*s == '?') {
      nullable = 1;
      s++;
    }
    const struct wl_interface *t = m->types[i];
    switch (*s) {
      // Mostly plausible values (so sequences get deep), sometimes hostile ones.
      case 'i': args[i].i = rnd() % 10 ? (int)(rnd() % 300) : (int)(rnd() % 4000) - 2000; break;
      case 'u': args[i].u = rnd() % 10 ? rnd() % 9 : rnd(); break;
      case 'f': args[i].f = wl_fixed_from_int(rnd() % 10 ? (int)(rnd() % 300) : (int)(rnd() % 4000) - 2000); break;
      case 's': args[i].s = rnd() % 2 ? "panel" : "normal"; break;
      case 'a': args[i].a = &arr; break;
      case 'h': args[i].h = fds[nfds++] = memfd(4096 * (1 + rnd() % 64)); break;
      case 'n': args[i].n = 0, new_iface = t; break;
      case 'o': {
        struct wl_proxy *o = t ? find(t) : NULL;
        if (!o && !nullable) return 0;
        args[i].o = (nullable && rnd() % 4 == 0) ? NULL : (struct wl_object *)o;
        break;
      }
    }
    i++;
  }
  if (new_iface == NULL && strstr(m->signature, "n")) return 0; // untyped new_id (registry.bind)
  struct wl_proxy *made = wl_proxy_marshal_array_constructor_versioned(p, op, args, new_iface, wl_proxy_get_version(p));
  for (int k = 0; k < nfds; k++) close(fds[k]);
  if (made) add(made);
  // Destructors: the request name says so for every interface weft speaks.
  if (!strcmp(m->name, "destroy") || !strcmp(m->name, "release")) {
    drop(p);
    wl_proxy_destroy(p);
  }
  return 1;
}

// Interfaces reachable as new objects (for choosing their requests).
static const struct wl_interface *created[] = {
  &wl_surface_interface, &wl_region_interface, &wl_subsurface_interface, &wl_shm_pool_interface, &wl_buffer_interface,
  &wl_pointer_interface, &wl_keyboard_interface, &wl_touch_interface, &wl_data_source_interface, &wl_data_device_interface,
  &wl_callback_interface, &xdg_positioner_interface, &xdg_surface_interface, &xdg_toplevel_interface, &xdg_popup_interface,
  &wp_viewport_interface, &wp_presentation_feedback_interface, &zweft_shell_window_v1_interface,
  &zxdg_toplevel_decoration_v1_interface, &zxdg_output_v1_interface, &wp_cursor_shape_device_v1_interface,
};
const struct wl_interface *lookup(const char *name) {
  for (size_t i = 0; i < sizeof created / sizeof *created; i++)
    if (!strcmp(created[i]->name, name)) return created[i];
  return NULL;
}

int main(int argc, char **argv) {
  rng = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
  long iterations = argc > 2 ? atol(argv[2]) : 10000;
  long requests = 0, errors = 0, connections = 0;
  while (requests < iterations) {
    struct wl_display *d = wl_display_connect(NULL);
    if (!d) {
      printf("cannot connect after %ld connections\n", connections);
      return 1;
    }
    connections++;
    npool = 0;
    struct wl_registry *reg = wl_display_get_registry(d);
    wl_registry_add_listener(reg, &reg_listener, NULL);
    wl_display_roundtrip(d);
    int alive = 1;
    for (int k = 0; k < 400 && alive && requests < iterations; k++) {
      requests += poke();
      if (k % 16 == 15 && wl_display_roundtrip(d) < 0) alive = 0;
    }
    if (alive && wl_display_roundtrip(d) < 0) alive = 0;
    if (!alive) {
      if (wl_display_get_protocol_error(d, NULL, NULL) == 0 && wl_display_get_error(d) != 71) {
        // Not a protocol error: weft closed us for another reason — report it.
        printf("connection lost without a protocol error (errno %d)\n", wl_display_get_error(d));
        return 1;
      }
      errors++;
    }
    wl_display_disconnect(d);
  }
  printf("ok %ld %ld %ld\n", connections, errors, requests);
  return 0;
}

// frame_callbacks.c — wl_surface.frame callbacks kept in C, as weston keeps them.
//
// Why: a client that animates asks for one wl_callback per frame and gets it
// back (done, then destroyed) a frame later. As a JS Resource each cost an
// object, two map entries, a dispatcher, an event built in JS and a C→JS call
// when libwayland destroyed it — per frame, per animating surface, and JIT
// work for all of it in an animation's first seconds. Here a callback is a
// libwayland resource linked into a list the surface owns (through the
// resource's own link, wl_resource_get_link), and answering a list is one
// call. The JS side never holds a callback's pointer: a client that goes away
// destroys its callbacks, and each unlinks itself.
//
// libwayland is reached through dlopen of the copy ffi/wayland.ts loaded
// (RTLD_NOLOAD), like Wasmtime in weft_native.c: the helper does not link
// against it, so processes without a compositor never load it.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <wayland-server-core.h> // types only: every call goes through `wls`

static struct {
  struct wl_resource *(*resource_create)(struct wl_client *, const struct wl_interface *, int, uint32_t);
  void (*set_implementation)(struct wl_resource *, const void *, void *, wl_resource_destroy_func_t);
  struct wl_list *(*get_link)(struct wl_resource *);
  struct wl_resource *(*from_link)(struct wl_list *);
  void (*post_event_array)(struct wl_resource *, uint32_t, union wl_argument *);
  void (*destroy)(struct wl_resource *);
  void (*post_no_memory)(struct wl_client *);
} wls;

enum { WL_CALLBACK_DONE = 0 };

int weft_frames_init(void) {
  if (wls.resource_create) return 0;
  void *h = dlopen("libwayland-server.so.0", RTLD_NOW | RTLD_NOLOAD);
  if (!h) h = dlopen("libwayland-server.so.0", RTLD_NOW);
  if (!h) return -ENOENT;
#define WSYM(field, name) if (!(*(void **)&wls.field = dlsym(h, name))) return -ENOSYS;
  WSYM(set_implementation, "wl_resource_set_implementation")
  WSYM(get_link, "wl_resource_get_link")
  WSYM(from_link, "wl_resource_from_link")
  WSYM(post_event_array, "wl_resource_post_event_array")
  WSYM(destroy, "wl_resource_destroy")
  WSYM(post_no_memory, "wl_client_post_no_memory")
  WSYM(resource_create, "wl_resource_create") // last: it marks the table complete
#undef WSYM
  return 0;
}

// One list head; a surface has three (pending, cached for a synchronized
// subsurface, committed). The links are libwayland's resource links.
typedef struct weft_frames { struct wl_list head; } weft_frames;

static void link_init(struct wl_list *l) { l->prev = l->next = l; }
static int list_empty(const struct wl_list *h) { return h->next == h; }
static void link_remove(struct wl_list *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  link_init(l);
}
static void link_append(struct wl_list *h, struct wl_list *l) {
  l->prev = h->prev;
  l->next = h;
  h->prev->next = l;
  h->prev = l;
}

// Callbacks alive now, for tests: none may outlive their surface or client.
static size_t live;
size_t weft_frames_live(void) { return live; }

// libwayland calls this whenever the callback goes: answered, the surface
// gone, or its client disconnected.
static void callback_destroyed(struct wl_resource *r) {
  link_remove(wls.get_link(r));
  live--;
}

weft_frames *weft_frames_new(void) {
  weft_frames *f = malloc(sizeof *f);
  if (f) link_init(&f->head);
  return f;
}

// Creates wl_callback `id` for `client` in `f`. 0, or -ENOMEM after telling
// the client (libwayland then disconnects it).
int weft_frames_add(weft_frames *f, struct wl_client *client, const struct wl_interface *iface, uint32_t version, uint32_t id) {
  struct wl_resource *r = wls.resource_create(client, iface, (int)version, id);
  if (!r) {
    wls.post_no_memory(client);
    return -ENOMEM;
  }
  wls.set_implementation(r, NULL, NULL, callback_destroyed);
  live++;
  link_append(&f->head, wls.get_link(r));
  return 0;
}

// Moves every callback of `src` to the end of `dst`; returns whether `dst`
// holds any now.
int weft_frames_take(weft_frames *dst, weft_frames *src) {
  if (!list_empty(&src->head)) {
    struct wl_list *first = src->head.next, *last = src->head.prev;
    first->prev = dst->head.prev;
    dst->head.prev->next = first;
    last->next = &dst->head;
    dst->head.prev = last;
    link_init(&src->head);
  }
  return !list_empty(&dst->head);
}

// Sends done(time) to every callback in `f` and destroys it; returns how many.
uint32_t weft_frames_done(weft_frames *f, uint32_t time_ms) {
  uint32_t n = 0;
  while (!list_empty(&f->head)) {
    struct wl_resource *r = wls.from_link(f->head.next);
    union wl_argument a = {.u = time_ms};
    wls.post_event_array(r, WL_CALLBACK_DONE, &a);
    wls.destroy(r); // callback_destroyed unlinks it
    n++;
  }
  return n;
}

// The surface is gone: its callbacks will never be answered. Destroyed (the
// client learns through delete_id), as weston does, then the head is freed.
void weft_frames_free(weft_frames *f) {
  if (!f) return;
  while (!list_empty(&f->head)) wls.destroy(wls.from_link(f->head.next));
  free(f);
}

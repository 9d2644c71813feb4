// Drives ffi/native/frame_callbacks.c against the real libwayland-server,
// built with AddressSanitizer by frame-callbacks.test.ts: every way a
// callback can leave a list (answered, moved, freed with its surface, its
// client gone with callbacks still listed) must touch no freed memory.
// Prints one line per check; exits non-zero at the first failure.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wayland-server-core.h>

typedef struct weft_frames weft_frames;
int weft_frames_init(void);
weft_frames *weft_frames_new(void);
int weft_frames_add(weft_frames *, struct wl_client *, const struct wl_interface *, uint32_t, uint32_t);
int weft_frames_take(weft_frames *, weft_frames *);
uint32_t weft_frames_done(weft_frames *, uint32_t);
void weft_frames_free(weft_frames *);
size_t weft_frames_live(void);

// A surface-like object whose destroy frees its lists, as weft's Surface does.
static const struct wl_interface surface_iface = {"wl_surface", 6, 0, NULL, 0, NULL};
struct surface { weft_frames *pending, *current; };
static void surface_destroyed(struct wl_resource *r) {
  struct surface *s = wl_resource_get_user_data(r);
  weft_frames_free(s->pending);
  weft_frames_free(s->current);
}

// wl_callback as the protocol defines it: no requests, one event done(uint).
static const struct wl_message done_event[] = {{"done", "u", NULL}};
static const struct wl_interface callback_iface = {"wl_callback", 1, 0, NULL, 1, done_event};

#define CHECK(cond, ...) \
  if (!(cond)) { fprintf(stderr, "frame-callbacks: " __VA_ARGS__); fputc('\n', stderr); exit(1); }

static struct wl_client *client(struct wl_display *d, int *peer) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) exit(2);
  struct wl_client *c = wl_client_create(d, sv[0]);
  if (!c) exit(2);
  *peer = sv[1];
  return c;
}

int main(void) {
  CHECK(weft_frames_init() == 0, "init failed");
  struct wl_display *d = wl_display_create();
  int peer;
  struct wl_client *c = client(d, &peer);
  uint32_t id = 2; // 1 is the client's wl_display

  // Answered: done, then destroyed; the list is empty again.
  weft_frames *pending = weft_frames_new(), *cached = weft_frames_new(), *current = weft_frames_new();
  for (int i = 0; i < 3; i++) CHECK(weft_frames_add(pending, c, &callback_iface, 1, id++) == 0, "add");
  CHECK(weft_frames_live() == 3, "live %zu after 3 adds", weft_frames_live());
  CHECK(weft_frames_take(current, pending) == 1, "take into current");
  CHECK(weft_frames_take(current, pending) == 1, "take of an empty list keeps current");
  CHECK(weft_frames_done(pending, 1) == 0, "the moved-from list is empty");
  CHECK(weft_frames_done(current, 16) == 3, "three answered");
  CHECK(weft_frames_live() == 0 && weft_frames_take(current, pending) == 0, "none left after done");
  puts("answered");

  // Moved through all three lists in order, then answered together.
  weft_frames_add(pending, c, &callback_iface, 1, id++);
  weft_frames_take(cached, pending);
  weft_frames_add(pending, c, &callback_iface, 1, id++);
  weft_frames_take(cached, pending);
  weft_frames_take(current, cached);
  CHECK(weft_frames_done(cached, 0) == 0 && weft_frames_done(current, 33) == 2, "moved twice, answered once");
  puts("moved");

  // A surface that goes: its callbacks are destroyed with the lists.
  weft_frames_add(pending, c, &callback_iface, 1, id++);
  weft_frames_add(cached, c, &callback_iface, 1, id++);
  weft_frames_add(current, c, &callback_iface, 1, id++);
  weft_frames_free(pending);
  weft_frames_free(cached);
  weft_frames_free(current);
  CHECK(weft_frames_live() == 0, "live %zu after the surface's lists were freed", weft_frames_live());
  puts("freed");

  // The client goes while callbacks sit in lists: each unlinks itself, the
  // lists stay usable and empty.
  pending = weft_frames_new(), current = weft_frames_new();
  weft_frames_add(pending, c, &callback_iface, 1, id++);
  weft_frames_add(current, c, &callback_iface, 1, id++);
  weft_frames_add(current, c, &callback_iface, 1, id++);
  wl_client_destroy(c);
  CHECK(weft_frames_live() == 0, "live %zu after the client went", weft_frames_live());
  CHECK(weft_frames_take(current, pending) == 0 && weft_frames_done(current, 50) == 0, "lists empty after the client went");
  weft_frames_free(pending);
  weft_frames_free(current);
  puts("client gone");

  close(peer);

  // The client goes and the surface's destroy frees its lists while the
  // client's callbacks are being destroyed too: some have lower ids than the
  // surface (destroyed before it), some higher (destroyed by its lists).
  c = client(d, &peer);
  id = 2;
  struct surface s = {weft_frames_new(), weft_frames_new()};
  weft_frames_add(s.current, c, &callback_iface, 1, id++);
  weft_frames_add(s.current, c, &callback_iface, 1, id++);
  struct wl_resource *sr = wl_resource_create(c, &surface_iface, 6, id++);
  wl_resource_set_implementation(sr, NULL, &s, surface_destroyed);
  weft_frames_add(s.pending, c, &callback_iface, 1, id++);
  weft_frames_add(s.current, c, &callback_iface, 1, id++);
  wl_client_destroy(c);
  CHECK(weft_frames_live() == 0, "live %zu after the client and its surface went", weft_frames_live());
  puts("surface and client gone together");

  close(peer);
  wl_display_destroy(d);
  return 0;
}

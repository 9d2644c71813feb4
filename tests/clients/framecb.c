// framecb: frame callbacks through every place a compositor keeps them.
//
// A 100×100 xdg toplevel with a synchronized 20×20 subsurface (single-pixel
// buffers scaled by viewports), then, printing one line per step:
//   sub_cached_waits   a subsurface's callback committed into its cache is
//                      not answered by a frame that answers the parent's
//   sub_applied_done   it is answered once the parent's commit applies it
//   desync_flush_done  a cached callback is answered after set_desync
//   nested_desync_flush_done
//                      …and so is a grandchild's (desynchronized itself, held
//                      by its synchronized parent) when that parent goes
//                      desynchronized without a cache of its own
//   unshown_destroyed  callbacks of a surface that is never shown, pending
//                      and committed, do not outlive it (no error)
// then, with `abrupt`, leaves callbacks pending, cached and committed and
// exits without disconnecting (the compositor must drop them all).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wayland-client.h>
#include "xdg-shell-client-protocol.h"
#include "viewporter-client-protocol.h"
#include "single-pixel-buffer-v1-client-protocol.h"

static struct wl_compositor *compositor;
static struct wl_subcompositor *subcompositor;
static struct xdg_wm_base *wm_base;
static struct wp_viewporter *viewporter;
static struct wp_single_pixel_buffer_manager_v1 *spb;
static int configured;

#define say(...) (printf(__VA_ARGS__), putchar('\n'), fflush(stdout))
#define die(...) (fprintf(stderr, "framecb: " __VA_ARGS__), fputc('\n', stderr), exit(1))

static void global(void *d, struct wl_registry *r, uint32_t name, const char *iface, uint32_t v) {
  (void)d, (void)v;
  if (!strcmp(iface, "wl_compositor")) compositor = wl_registry_bind(r, name, &wl_compositor_interface, 4);
  else if (!strcmp(iface, "wl_subcompositor")) subcompositor = wl_registry_bind(r, name, &wl_subcompositor_interface, 1);
  else if (!strcmp(iface, "xdg_wm_base")) wm_base = wl_registry_bind(r, name, &xdg_wm_base_interface, 1);
  else if (!strcmp(iface, "wp_viewporter")) viewporter = wl_registry_bind(r, name, &wp_viewporter_interface, 1);
  else if (!strcmp(iface, "wp_single_pixel_buffer_manager_v1")) spb = wl_registry_bind(r, name, &wp_single_pixel_buffer_manager_v1_interface, 1);
}
static void global_remove(void *d, struct wl_registry *r, uint32_t name) { (void)d, (void)r, (void)name; }
static const struct wl_registry_listener registry_listener = {global, global_remove};

static void ping(void *d, struct xdg_wm_base *b, uint32_t serial) { (void)d, xdg_wm_base_pong(b, serial); }
static const struct xdg_wm_base_listener wm_listener = {ping};
static void xs_configure(void *d, struct xdg_surface *xs, uint32_t serial) { (void)d, xdg_surface_ack_configure(xs, serial), configured = 1; }
static const struct xdg_surface_listener xs_listener = {xs_configure};

// A frame callback and whether it was answered.
struct cb { struct wl_callback *cb; int done; };
static void cb_done(void *d, struct wl_callback *c, uint32_t t) { (void)t, ((struct cb *)d)->done = 1, wl_callback_destroy(c); }
static const struct wl_callback_listener cb_listener = {cb_done};
static void frame(struct wl_surface *s, struct cb *c) {
  c->done = 0;
  c->cb = wl_surface_frame(s);
  wl_callback_add_listener(c->cb, &cb_listener, c);
}

static void show(struct wl_surface *s, int w, int h, uint32_t rgb) {
  uint32_t r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;
  struct wl_buffer *buf = wp_single_pixel_buffer_manager_v1_create_u32_rgba_buffer(spb, r * 0x01010101u, g * 0x01010101u, b * 0x01010101u, 0xffffffffu);
  wp_viewport_set_destination(wp_viewporter_get_viewport(viewporter, s), w, h);
  wl_surface_attach(s, buf, 0, 0);
  wl_surface_damage(s, 0, 0, w, h);
}

static void wait_for(struct wl_display *dpy, const int *flag, const char *what) {
  while (!*flag)
    if (wl_display_dispatch(dpy) < 0) die("disconnected (error %d) waiting for %s", wl_display_get_error(dpy), what);
}

int main(int argc, char **argv) {
  int abrupt = argc > 1 && !strcmp(argv[1], "abrupt");
  struct wl_display *dpy = wl_display_connect(NULL);
  if (!dpy) die("cannot connect");
  wl_registry_add_listener(wl_display_get_registry(dpy), &registry_listener, NULL);
  wl_display_roundtrip(dpy);
  if (!compositor || !subcompositor || !wm_base || !viewporter || !spb) die("missing globals");
  xdg_wm_base_add_listener(wm_base, &wm_listener, NULL);

  struct wl_surface *parent = wl_compositor_create_surface(compositor);
  struct xdg_surface *xs = xdg_wm_base_get_xdg_surface(wm_base, parent);
  xdg_surface_add_listener(xs, &xs_listener, NULL);
  xdg_toplevel_set_app_id(xdg_surface_get_toplevel(xs), "test.framecb");
  wl_surface_commit(parent);
  wait_for(dpy, &configured, "configure");
  struct wl_surface *child = wl_compositor_create_surface(compositor);
  struct wl_subsurface *sub = wl_subcompositor_get_subsurface(subcompositor, child, parent);
  wl_subsurface_set_position(sub, 10, 10);
  show(child, 20, 20, 0x00ff00);
  wl_surface_commit(child); // cached: synchronized
  show(parent, 100, 100, 0xff0000);
  struct cb p, a, r, b;
  frame(parent, &p);
  wl_surface_commit(parent);
  wait_for(dpy, &p.done, "the first frame");

  // The parent's callback and the subsurface's cached one, in the same frame.
  frame(parent, &p);
  wl_surface_commit(parent);
  frame(child, &a);
  wl_surface_commit(child);
  wait_for(dpy, &p.done, "the parent's frame");
  wl_display_roundtrip(dpy);
  if (a.done) die("the cached callback was answered before its state was applied");
  say("sub_cached_waits");

  frame(parent, &r);
  wl_surface_commit(parent); // applies the cache
  wait_for(dpy, &r.done, "the parent's next frame");
  wl_display_roundtrip(dpy);
  if (!a.done) die("the callback was not answered with the state that applied it");
  say("sub_applied_done");

  frame(child, &b);
  wl_surface_commit(child); // cached again
  wl_subsurface_set_desync(sub); // …and applied now
  wait_for(dpy, &b.done, "the desynchronized subsurface's frame");
  say("desync_flush_done");

  wl_subsurface_set_sync(sub);
  struct wl_surface *grand = wl_compositor_create_surface(compositor);
  struct wl_subsurface *gsub = wl_subcompositor_get_subsurface(subcompositor, grand, child);
  wl_subsurface_set_desync(gsub); // its own mode; its parent still holds it synchronized
  show(grand, 8, 8, 0x0000ff);
  wl_surface_commit(grand); // cached
  wl_surface_commit(child); // cached
  struct cb g, q;
  frame(parent, &q);
  wl_surface_commit(parent); // applies both caches
  wait_for(dpy, &q.done, "the frame that shows the grandchild");
  frame(grand, &g);
  wl_surface_commit(grand); // cached again: the child is synchronized
  wl_subsurface_set_desync(sub); // the child has no cache; the grandchild's applies now
  wait_for(dpy, &g.done, "the grandchild's frame after its parent went desynchronized");
  say("nested_desync_flush_done");

  struct wl_surface *hidden = wl_compositor_create_surface(compositor);
  struct cb c, e;
  frame(hidden, &c);
  wl_surface_commit(hidden); // committed, never answered: never shown
  frame(hidden, &e);         // pending
  wl_surface_destroy(hidden);
  wl_display_roundtrip(dpy);
  if (c.done || e.done) die("a surface that was never shown got its frame answered");
  say("unshown_destroyed");

  if (abrupt) {
    wl_subsurface_set_sync(sub);
    struct cb x, y, z;
    frame(parent, &y);
    wl_surface_commit(parent); // committed
    frame(child, &x);
    wl_surface_commit(child); // cached
    frame(parent, &z);        // pending
    wl_display_flush(dpy);
    say("abrupt");
    _exit(0); // no disconnect, no cleanup
  }
  wl_display_disconnect(dpy);
  return 0;
}

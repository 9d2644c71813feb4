// weft_native.c — the one native helper: mechanism only, no policy.
//
// Why it exists (ARCHITECTURE.md, "The one rule"): Bun cannot watch an
// arbitrary fd, and a JSCallback invoked on any thread but the main one aborts
// the process. So everything that must happen off the main thread lives here,
// in C, and talks to the loop through one queue and one socket pair:
//
//   (a) an fd watcher thread: epoll on registered fds (oneshot), pushes
//       FD_READY events;
//   (b) guest worker threads: instantiate a prepared store's module or
//       component (start functions run there) and call its entry, with plain
//       synchronous Wasmtime calls at SCHED_IDLE; push GUEST_EXIT last;
//   (c) the epoch ticker: increments the engine epoch while any guest runs,
//       sleeps on a condition variable otherwise;
//   (d) stdout/stderr capture into bounded per-guest rings; a writer that
//       finds its ring full blocks (back-pressure, nothing lost) until the
//       loop drains it or the guest is stopped.
//
// The queue wakes the loop by writing ONE byte to the wake socket when it goes from
// empty to non-empty; the loop drains every event, so no wake-up is lost.
// Wasmtime is reached through dlopen of the same libwasmtime JS loaded, so
// there is one copy of the engine in the process.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "component_values.h"

// ---- Wasmtime, the few symbols we call (no headers ship with the wheel) ----
typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasm_trap_t wasm_trap_t;
typedef struct wasm_engine_t wasm_engine_t;
typedef struct wasmtime_linker wasmtime_linker_t;
typedef struct wasmtime_caller wasmtime_caller_t;
typedef struct wasm_functype_t wasm_functype_t;
typedef struct wasm_valtype_t wasm_valtype_t;
typedef struct { size_t size; wasm_valtype_t **data; } wasm_valtype_vec_t;
typedef struct { uint64_t store_id; void *private_; } wasmtime_func_t; // 16 bytes
// wasmtime_val_t and wasmtime_extern_t: a u8 kind, then a 24-byte union at 8.
typedef struct { uint8_t kind; uint8_t pad_[7]; union { int32_t i32; int64_t i64; uint8_t raw[24]; } of; } wasmtime_val_t;
typedef struct { uint8_t kind; uint8_t pad_[7]; union { wasmtime_func_t func; uint8_t raw[24]; } of; } wasmtime_extern_t;
typedef struct { uint64_t store_id; size_t private_; } wasmtime_instance_t; // 16 bytes
enum { EXTERN_FUNC = 0, EXTERN_MEMORY = 3, VALKIND_I32 = 0 };
typedef struct { uint8_t opaque[32]; } wasmtime_component_func_t; // 32 bytes
typedef struct { uint64_t store_id; uint32_t private_; } wasmtime_component_instance_t; // 16 bytes
typedef struct wasmtime_component_export_index wasmtime_component_export_index_t;
enum { COMPONENT_VAL_STRING = CV_STRING, COMPONENT_VAL_OPTION = CV_OPTION, COMPONENT_VAL_RESULT = CV_RESULT };
typedef struct wasmtime_component_linker wasmtime_component_linker_t;
typedef struct wasmtime_component_linker_instance wasmtime_component_linker_instance_t;
typedef struct wasmtime_component_func_type wasmtime_component_func_type_t;
typedef wasmtime_error_t *(*component_host_cb_t)(void *, wasmtime_context_t *, const wasmtime_component_func_type_t *,
                                                 wasmtime_component_val_t *, size_t, wasmtime_component_val_t *, size_t);
typedef wasmtime_error_t *(*epoch_cb_t)(wasmtime_context_t *, void *, uint64_t *, uint8_t *);
typedef wasm_trap_t *(*host_cb_t)(void *, wasmtime_caller_t *, const wasmtime_val_t *, size_t, wasmtime_val_t *, size_t);

static struct {
  wasmtime_context_t *(*store_context)(wasmtime_store_t *);
  wasmtime_error_t *(*func_call)(wasmtime_context_t *, const wasmtime_func_t *, const void *, size_t,
                                 void *, size_t, wasm_trap_t **);
  void (*epoch_deadline_callback)(wasmtime_store_t *, epoch_cb_t, void *, void (*)(void *));
  void (*set_epoch_deadline)(wasmtime_context_t *, uint64_t);
  void (*increment_epoch)(wasm_engine_t *);
  wasmtime_error_t *(*error_new)(const char *);
  void (*error_message)(const wasmtime_error_t *, wasm_byte_vec_t *);
  void (*error_delete)(wasmtime_error_t *);
  void (*byte_vec_delete)(wasm_byte_vec_t *);
  wasm_trap_t *(*trap_new)(const char *, size_t);
  bool (*linker_get)(const wasmtime_linker_t *, wasmtime_context_t *, const char *, size_t, const char *, size_t,
                     wasmtime_extern_t *);
  void (*linker_allow_shadowing)(wasmtime_linker_t *, int);
  wasmtime_error_t *(*linker_define_func)(wasmtime_linker_t *, const char *, size_t, const char *, size_t,
                                          const wasm_functype_t *, host_cb_t, void *, void (*)(void *));
  wasmtime_context_t *(*caller_context)(wasmtime_caller_t *);
  bool (*caller_export_get)(wasmtime_caller_t *, const char *, size_t, wasmtime_extern_t *);
  uint8_t *(*memory_data)(const wasmtime_context_t *, const void *);
  size_t (*memory_data_size)(const wasmtime_context_t *, const void *);
  wasm_valtype_t *(*valtype_new)(uint8_t);
  void (*valtype_vec_new)(wasm_valtype_vec_t *, size_t, wasm_valtype_t *const *);
  wasm_functype_t *(*functype_new)(wasm_valtype_vec_t *, wasm_valtype_vec_t *);
  wasmtime_error_t *(*component_func_call)(const wasmtime_component_func_t *, wasmtime_context_t *,
                                           const wasmtime_component_val_t *, size_t, wasmtime_component_val_t *, size_t);
  wasmtime_error_t *(*component_func_post_return)(const wasmtime_component_func_t *, wasmtime_context_t *);
  void (*component_val_delete)(wasmtime_component_val_t *);
  wasmtime_error_t *(*module_new)(wasm_engine_t *, const uint8_t *, size_t, void **);
  wasmtime_error_t *(*component_new)(wasm_engine_t *, const uint8_t *, size_t, void **);
  wasmtime_component_val_t *(*component_val_new)(wasmtime_component_val_t *);
  void (*byte_vec_new)(wasm_byte_vec_t *, size_t, const char *);
  wasmtime_component_linker_instance_t *(*component_linker_root)(wasmtime_component_linker_t *);
  wasmtime_error_t *(*component_linker_instance_add_instance)(wasmtime_component_linker_instance_t *, const char *, size_t,
                                                              wasmtime_component_linker_instance_t **);
  wasmtime_error_t *(*component_linker_instance_add_func)(wasmtime_component_linker_instance_t *, const char *, size_t,
                                                          component_host_cb_t, void *, void (*)(void *));
  void (*component_linker_instance_delete)(wasmtime_component_linker_instance_t *);
  void (*functype_delete)(wasm_functype_t *);
  wasmtime_error_t *(*instance_new)(wasmtime_context_t *, const void *, const wasmtime_extern_t *, size_t, wasmtime_instance_t *,
                                    wasm_trap_t **);
  bool (*instance_export_get)(wasmtime_context_t *, const wasmtime_instance_t *, const char *, size_t, wasmtime_extern_t *);
  wasmtime_error_t *(*instance_pre_instantiate)(const void *, wasmtime_context_t *, wasmtime_instance_t *, wasm_trap_t **);
  wasmtime_error_t *(*component_linker_instantiate)(const wasmtime_component_linker_t *, wasmtime_context_t *, const void *,
                                                    wasmtime_component_instance_t *);
  wasmtime_component_export_index_t *(*component_instance_get_export_index)(const wasmtime_component_instance_t *,
                                                                            wasmtime_context_t *,
                                                                            const wasmtime_component_export_index_t *,
                                                                            const char *, size_t);
  bool (*component_instance_get_func)(const wasmtime_component_instance_t *, wasmtime_context_t *,
                                      const wasmtime_component_export_index_t *, wasmtime_component_func_t *);
  void (*component_export_index_delete)(wasmtime_component_export_index_t *);
} wt;

// ---- event queue -----------------------------------------------------------
enum { EV_FD_READY = 1, EV_GUEST_EXIT = 2, EV_GUEST_OUTPUT = 3, EV_GUEST_READY = 4, EV_GUEST_IPC = 5, EV_COMPILED = 6,
       EV_HOST_CALL = 7 };
typedef struct { uint32_t kind; uint32_t id; uint64_t arg; } weft_event; // 16 bytes, read by JS

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static weft_event *q_buf;
static size_t q_len, q_cap;
static int wake_r = -1, wake_w = -1;
static int q_signalled; // a byte is in the wake socket and the loop has not drained yet

static void q_push(uint32_t kind, uint32_t id, uint64_t arg) {
  pthread_mutex_lock(&q_lock);
  if (q_len == q_cap) {
    // Each guest contributes at most one output and one exit event at a time,
    // and each fd at most one, so this stays small; growth is just slack.
    size_t cap = q_cap ? q_cap * 2 : 256;
    weft_event *nb = realloc(q_buf, cap * sizeof *nb);
    if (!nb) { pthread_mutex_unlock(&q_lock); abort(); }
    q_buf = nb;
    q_cap = cap;
  }
  q_buf[q_len++] = (weft_event){kind, id, arg};
  int wake = !q_signalled;
  q_signalled = 1;
  pthread_mutex_unlock(&q_lock);
  if (wake) {
    char b = 1;
    while (write(wake_w, &b, 1) < 0 && errno == EINTR) {}
  }
}

// Copies up to `max` events into `out`; returns how many. When it returns
// fewer than `max` the queue is empty and the next push writes a new byte.
size_t weft_drain(weft_event *out, size_t max) {
  pthread_mutex_lock(&q_lock);
  size_t n = q_len < max ? q_len : max;
  memcpy(out, q_buf, n * sizeof *out);
  memmove(q_buf, q_buf + n, (q_len - n) * sizeof *out);
  q_len -= n;
  if (q_len == 0) q_signalled = 0;
  pthread_mutex_unlock(&q_lock);
  return n;
}

// ---- (a) fd watcher ----------------------------------------------------------
static int ep_fd = -1;
static pthread_t watcher;

static void *watcher_main(void *arg) {
  (void)arg;
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(ep_fd, evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    for (int i = 0; i < n; i++) q_push(EV_FD_READY, (uint32_t)evs[i].data.u64, evs[i].events);
  }
}

// Oneshot: after an fd fires it stays quiet until weft_rearm_fd, so the loop
// dispatches it exactly once per readiness and never gets a storm of bytes.
int weft_watch_fd(int fd, uint32_t token) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = token};
  return epoll_ctl(ep_fd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}
int weft_rearm_fd(int fd, uint32_t token) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = token};
  return epoll_ctl(ep_fd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}
// Quiet without leaving the set: a MOD, not a DEL and a later ADD (adding an
// epoll fd — libwayland's — to another epoll runs the kernel's loop check,
// ~10 µs each way on a VM, per frame under decision 0008).
int weft_disarm_fd(int fd, uint32_t token) {
  struct epoll_event ev = {.events = EPOLLONESHOT, .data.u64 = token};
  return epoll_ctl(ep_fd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}
int weft_unwatch_fd(int fd) { return epoll_ctl(ep_fd, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : -errno; }

// ---- (c) epoch ticker --------------------------------------------------------
static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tick_cond = PTHREAD_COND_INITIALIZER;
static int running_guests;
static wasm_engine_t *tick_engines[8];
static int n_tick_engines;
static long tick_ns = 1000000;
static pthread_t ticker;

static void *ticker_main(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&tick_lock);
    while (running_guests == 0) pthread_cond_wait(&tick_cond, &tick_lock);
    int n = n_tick_engines;
    wasm_engine_t *engines[8];
    memcpy(engines, tick_engines, sizeof engines);
    pthread_mutex_unlock(&tick_lock);
    struct timespec ts = {0, tick_ns};
    nanosleep(&ts, NULL);
    for (int i = 0; i < n; i++) wt.increment_epoch(engines[i]);
  }
  return NULL;
}

int weft_ticker_add_engine(wasm_engine_t *engine) {
  pthread_mutex_lock(&tick_lock);
  int ok = n_tick_engines < 8;
  if (ok) tick_engines[n_tick_engines++] = engine;
  pthread_mutex_unlock(&tick_lock);
  return ok ? 0 : -ENOSPC;
}
void weft_ticker_set_period_ns(long ns) { tick_ns = ns > 100000 ? ns : 100000; }

static void running_delta(int d) {
  pthread_mutex_lock(&tick_lock);
  running_guests += d;
  if (running_guests > 0) pthread_cond_signal(&tick_cond);
  pthread_mutex_unlock(&tick_lock);
}

// ---- (b) guests + (d) output rings -----------------------------------------------
enum { STOP_NONE = 0, STOP_HOST = 1, STOP_CPU = 2 };

typedef struct {
  uint8_t *buf;
  size_t cap, head, len; // ring
} ring;

struct msg {
  struct msg *next;
  size_t len;
  char data[];
};

// A CPU budget shared by a tree of guests (a cell: pid0, its children,
// services). Each guest charges the CPU its thread used to its pool and every
// ancestor pool; a guest whose charge takes any of them past its limit stops
// (STOP_CPU), and so does every other guest under that pool at its next tick.
typedef struct weft_cpu_pool {
  struct weft_cpu_pool *parent;
  _Atomic uint64_t used_ns;
  uint64_t limit_ns; // 0 = no limit of its own
  int limited;       // this pool or an ancestor has a limit: guests must charge at every tick
  atomic_int refs;
} weft_cpu_pool;

typedef struct weft_guest {
  uint32_t id;
  pthread_t thread;
  int started, joined;
  wasmtime_store_t *store;
  wasmtime_context_t *ctx;
  wasm_engine_t *engine;
  // What the guest's thread instantiates (start functions run there too, so
  // they cannot hold up the loop) and then runs: _start, or wasi:cli/run's run.
  const void *instance_pre;                    // a core module, imports resolved (owned by the loop)
  const wasmtime_component_linker_t *clinker;  // or a component and the linker it is instantiated with
  const void *component;
  wasmtime_instance_t instance;                // the module's instance, once made (for its memory's size)
  int phase;                                   // PHASE_*: how far the thread got
  wasmtime_func_t func;
  int is_component;
  wasmtime_component_func_t cfunc; // wasi:cli/run's run: func() -> result
  int run_failed;                  // run returned err(_)
  atomic_int stop;           // STOP_*
  uint64_t cpu_budget_ns;    // 0 = unlimited
  uint32_t cpu_quota_permille; // share of one CPU, like CPUQuota=; 0 or >= 1000 = unthrottled
  uint64_t window_wall_ns, window_cpu_ns; // start of the current throttling window
  struct timespec cpu_at_start;
  clockid_t cpu_clock;
  // result, written by the worker before EV_GUEST_EXIT, read by the loop after
  wasmtime_error_t *error;
  wasm_trap_t *trap;
  uint64_t cpu_used_ns;
  weft_cpu_pool *pool;      // NULL = none
  uint64_t pool_charged_ns; // this guest's CPU already charged to its pools
  uint64_t pool_hit_ns;     // the limit of the pool that stopped it (0 = none did)
  // output
  pthread_mutex_t out_lock;
  pthread_cond_t out_space;
  pthread_cond_t wake; // CLOCK_MONOTONIC; signalled on stop, waited on by sleeps
  ring out[2];
  // weft:app/ipc: bounded queues of strings, both directions, under out_lock
  struct msg *inbox, *inbox_tail;   // loop → guest (ipc.recv)
  struct msg *outbox, *outbox_tail; // guest → loop (ipc.send)
  size_t inbox_n, outbox_n, inbox_bytes, outbox_bytes;
  int ipc_signalled;
  // Wasmtime's own WASI functions, reached through trampolines in a small
  // helper instance that imports this guest's memory (see "WASI trampolines").
  const wasmtime_linker_t *base_linker; // plain WASI
  const void *helper_module;            // wasmtime_module_t*, shared, owned by the loop
  int helper_state;                     // 0 not yet, 1 bound, -1 failed
  wasmtime_func_t *wasi_orig;           // per N_WASI_ORIG
  // Revocable WASI directories (a cell's [[dir]] preopens): fds tagged 1 are
  // such a preopen or were opened through one; once dirs_revoked is set, every
  // fd function on them fails with ENOTCAPABLE. Tags are touched on the guest
  // thread only (and before it starts).
  uint8_t *fd_tags;
  uint32_t fd_tags_cap;
  atomic_int dirs_revoked;
  atomic_uint dirs_refused;
  int out_signalled[2]; // an EV_GUEST_OUTPUT is pending for this ring
  atomic_int refs;      // the loop's, plus one per custom output stream Wasmtime holds
  // host call (at most one outstanding: the guest thread waits for it), under out_lock
  int hc_state;            // HC_*
  uint32_t hc_kind;
  uint64_t hc_seq;         // numbers each call, so a late answer to an abandoned one is dropped
  uint8_t *hc_req;         // encoded arguments, until the loop takes them
  size_t hc_req_len;
  size_t hc_req_refused;   // nonzero: the arguments were this large and were not sent
  uint8_t *hc_ans;
  size_t hc_ans_len;
  int hc_ans_ok;
} weft_guest;

static uint64_t ts_ns(struct timespec t) { return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec; }

static uint64_t guest_cpu_ns(weft_guest *g) {
  struct timespec now;
  if (clock_gettime(g->cpu_clock, &now) != 0) return 0;
  return ts_ns(now) - ts_ns(g->cpu_at_start);
}

static uint64_t now_ns(clockid_t c);

// CPU quota: in windows of 100 ms of wall time, a guest that has used more CPU
// than its share sleeps until it is back within it. The sleep waits on the
// guest's condition variable, so a stop still ends it at once.
#define QUOTA_WINDOW_NS 100000000ull
static void throttle(weft_guest *g, uint64_t cpu) {
  uint64_t wall = now_ns(CLOCK_MONOTONIC);
  if (wall - g->window_wall_ns > QUOTA_WINDOW_NS) {
    g->window_wall_ns = wall;
    g->window_cpu_ns = cpu;
    return;
  }
  uint64_t used = cpu - g->window_cpu_ns;
  uint64_t earned_until = g->window_wall_ns + used * 1000 / g->cpu_quota_permille; // when this much CPU is allowed
  if (earned_until <= wall) return;
  struct timespec until = {(time_t)(earned_until / 1000000000ull), (long)(earned_until % 1000000000ull)};
  pthread_mutex_lock(&g->out_lock);
  while (atomic_load(&g->stop) == STOP_NONE && now_ns(CLOCK_MONOTONIC) < earned_until)
    if (pthread_cond_timedwait(&g->wake, &g->out_lock, &until) == ETIMEDOUT) break;
  pthread_mutex_unlock(&g->out_lock);
}

void weft_guest_set_cpu_quota(weft_guest *g, uint32_t permille) { g->cpu_quota_permille = permille; }

weft_cpu_pool *weft_cpu_pool_new(weft_cpu_pool *parent, uint64_t limit_ns) {
  weft_cpu_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->parent = parent;
  if (parent) atomic_fetch_add(&parent->refs, 1);
  p->limit_ns = limit_ns;
  p->limited = limit_ns != 0 || (parent && parent->limited);
  atomic_store(&p->refs, 1);
  return p;
}
void weft_cpu_pool_release(weft_cpu_pool *p) {
  while (p && atomic_fetch_sub(&p->refs, 1) == 1) {
    weft_cpu_pool *parent = p->parent;
    free(p);
    p = parent;
  }
}
uint64_t weft_cpu_pool_used(weft_cpu_pool *p) { return atomic_load(&p->used_ns); }
// The pool's own count starts again (a service's next run); its ancestors keep what was charged.
void weft_cpu_pool_reset(weft_cpu_pool *p) { atomic_store(&p->used_ns, 0); }
// 1 when this pool or an ancestor is past its limit.
int weft_cpu_pool_exhausted(weft_cpu_pool *p) {
  for (; p; p = p->parent)
    if (p->limit_ns && atomic_load(&p->used_ns) > p->limit_ns) return 1;
  return 0;
}
// Before the guest starts (its thread has not run yet).
void weft_guest_set_cpu_pool(weft_guest *g, weft_cpu_pool *p) {
  if (p) atomic_fetch_add(&p->refs, 1);
  weft_cpu_pool_release(g->pool);
  g->pool = p;
}
uint64_t weft_guest_cpu_pool_hit_ns(weft_guest *g) { return g->pool_hit_ns; }

// Charges `d` ns to the guest's pool and its ancestors; 1 when one is past its limit.
static int pool_add(weft_guest *g, uint64_t d) {
  int over = 0;
  for (weft_cpu_pool *p = g->pool; p; p = p->parent) {
    uint64_t used = atomic_fetch_add(&p->used_ns, d) + d;
    if (p->limit_ns && used > p->limit_ns && !over) {
      over = 1;
      g->pool_hit_ns = p->limit_ns;
    }
  }
  return over;
}

// On the guest's thread: charges the CPU used since the last charge; 1 when a pool is past its limit.
static int pool_charge(weft_guest *g, uint64_t cpu) {
  uint64_t d = cpu > g->pool_charged_ns ? cpu - g->pool_charged_ns : 0;
  g->pool_charged_ns += d;
  return pool_add(g, d);
}

static void running_delta(int d);

// Runs on the guest's thread each time the engine epoch passes its deadline.
static wasmtime_error_t *epoch_cb(wasmtime_context_t *ctx, void *env, uint64_t *delta, uint8_t *kind) {
  (void)ctx;
  weft_guest *g = env;
  int stop = atomic_load(&g->stop);
  if (stop == STOP_HOST) return wt.error_new("stopped by host");
  int quota = g->cpu_quota_permille && g->cpu_quota_permille < 1000;
  int pooled = g->pool && g->pool->limited;
  // The thread CPU clock is a syscall: only read it when a limit needs it.
  uint64_t cpu = (g->cpu_budget_ns || quota || pooled) ? guest_cpu_ns(g) : 0;
  if (g->cpu_budget_ns && cpu > g->cpu_budget_ns) {
    atomic_store(&g->stop, STOP_CPU);
    return wt.error_new("cpu time limit exceeded");
  }
  if (pooled && pool_charge(g, cpu)) {
    atomic_store(&g->stop, STOP_CPU);
    return wt.error_new("shared cpu budget exhausted");
  }
  if (quota) throttle(g, cpu);
  if (atomic_load(&g->stop) == STOP_HOST) return wt.error_new("stopped by host");
  *delta = 1;
  *kind = 0; // WASMTIME_UPDATE_DEADLINE_CONTINUE
  return NULL;
}

// The guest whose wasm this thread runs: host functions are shared by all
// stores of a linker, so they find their guest here.
static __thread weft_guest *current_guest;

weft_guest *weft_guest_new(uint32_t id, wasmtime_store_t *store, wasm_engine_t *engine, size_t out_cap) {
  weft_guest *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->id = id;
  atomic_store(&g->refs, 1);
  if (out_cap == 0) out_cap = 1; // a ring of 0 bytes would divide by zero
  g->store = store;
  g->engine = engine;
  g->ctx = wt.store_context(store);
  pthread_mutex_init(&g->out_lock, NULL);
  pthread_cond_init(&g->out_space, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g->wake, &ca);
  pthread_condattr_destroy(&ca);
  // Rings are allocated on first write: most guests never print much, and
  // guests whose output is inherited or discarded never touch them.
  for (int i = 0; i < 2; i++) g->out[i].cap = out_cap;
  // Every store under epoch interruption needs a deadline and a callback, or
  // the first epoch tick traps it.
  wt.set_epoch_deadline(g->ctx, 1);
  wt.epoch_deadline_callback(store, epoch_cb, g, NULL);
  return g;
}

// The WASI stdout/stderr custom writer: called on the guest's thread.
static ptrdiff_t out_write(weft_guest *g, int which, const unsigned char *data, size_t n) {
  ring *r = &g->out[which];
  size_t done = 0;
  pthread_mutex_lock(&g->out_lock);
  if (!r->buf && !(r->buf = malloc(r->cap))) {
    pthread_mutex_unlock(&g->out_lock);
    return -ENOMEM;
  }
  while (done < n) {
    while (r->len == r->cap && atomic_load(&g->stop) == STOP_NONE) pthread_cond_wait(&g->out_space, &g->out_lock);
    if (atomic_load(&g->stop) != STOP_NONE) break;
    size_t tail = (r->head + r->len) % r->cap;
    size_t room = r->cap - r->len;
    size_t chunk = n - done < room ? n - done : room;
    if (chunk > r->cap - tail) chunk = r->cap - tail;
    memcpy(r->buf + tail, data + done, chunk);
    r->len += chunk;
    done += chunk;
    if (!g->out_signalled[which]) {
      g->out_signalled[which] = 1;
      pthread_mutex_unlock(&g->out_lock);
      q_push(EV_GUEST_OUTPUT, g->id, 0);
      pthread_mutex_lock(&g->out_lock);
    }
  }
  pthread_mutex_unlock(&g->out_lock);
  if (done == 0 && n > 0) return -EPIPE; // stopped: the guest sees a broken pipe
  return (ptrdiff_t)done;
}
static ptrdiff_t stdout_cb(void *env, const unsigned char *d, size_t n) { return out_write(env, 0, d, n); }
static ptrdiff_t stderr_cb(void *env, const unsigned char *d, size_t n) { return out_write(env, 1, d, n); }
void *weft_stdout_callback(void) { return (void *)stdout_cb; }
void *weft_stderr_callback(void) { return (void *)stderr_cb; }

// Called by the loop after EV_GUEST_OUTPUT: copies out what is buffered for
// `which` (0 stdout, 1 stderr) and frees room for a blocked writer.
size_t weft_guest_read(weft_guest *g, int which, uint8_t *out, size_t max) {
  ring *r = &g->out[which];
  pthread_mutex_lock(&g->out_lock);
  size_t n = r->len < max ? r->len : max; // 0 for a ring never allocated
  size_t first = r->cap - r->head < n ? r->cap - r->head : n;
  memcpy(out, r->buf + r->head, first);
  memcpy(out + first, r->buf, n - first);
  r->head = (r->head + n) % r->cap;
  r->len -= n;
  if (r->len == 0) g->out_signalled[which] = 0;
  pthread_cond_broadcast(&g->out_space);
  pthread_mutex_unlock(&g->out_lock);
  return n;
}

enum { PHASE_NONE = 0, PHASE_INSTANTIATE = 1, PHASE_NO_ENTRY = 2, PHASE_RUN = 3 };

// The export every wasi:cli/command component has; its version varies (0.2.0 … 0.2.x).
static int component_run_func(weft_guest *g, const wasmtime_component_instance_t *inst) {
  for (int patch = 20; patch >= 0; patch--) {
    char iface[32];
    int n = snprintf(iface, sizeof iface, "wasi:cli/run@0.2.%d", patch);
    wasmtime_component_export_index_t *ii = wt.component_instance_get_export_index(inst, g->ctx, NULL, iface, (size_t)n);
    if (!ii) continue;
    wasmtime_component_export_index_t *fi = wt.component_instance_get_export_index(inst, g->ctx, ii, "run", 3);
    wt.component_export_index_delete(ii);
    if (!fi) return 0;
    int ok = wt.component_instance_get_func(inst, g->ctx, fi, &g->cfunc);
    wt.component_export_index_delete(fi);
    return ok;
  }
  return 0;
}

// On the guest's thread: instantiate (start functions run here, with every
// limit of the guest), then find the entry. 0 when the entry is ready to run.
static int guest_instantiate(weft_guest *g) {
  g->phase = PHASE_INSTANTIATE;
  if (g->is_component) {
    wasmtime_component_instance_t inst;
    g->error = wt.component_linker_instantiate(g->clinker, g->ctx, g->component, &inst);
    if (g->error) return -1;
    g->phase = PHASE_NO_ENTRY;
    return component_run_func(g, &inst) ? 0 : -1;
  }
  g->error = wt.instance_pre_instantiate(g->instance_pre, g->ctx, &g->instance, &g->trap);
  if (g->error || g->trap) return -1;
  g->phase = PHASE_NO_ENTRY;
  wasmtime_extern_t ext;
  if (!wt.instance_export_get(g->ctx, &g->instance, "_start", 6, &ext) || ext.kind != EXTERN_FUNC) return -1;
  g->func = ext.of.func;
  return 0;
}

static void *guest_main(void *arg) {
  weft_guest *g = arg;
  // Lowest priority so the compositor and UI always win the CPU.
  struct sched_param sp = {0};
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
  // Let the kernel batch guests' timer wake-ups within 1 ms (about one epoch
  // tick): 1000 guests in 10 ms sleep loops cost measurably less CPU.
  prctl(PR_SET_TIMERSLACK, 1000000UL, 0, 0, 0);
  pthread_getcpuclockid(pthread_self(), &g->cpu_clock);
  current_guest = g;
  clock_gettime(g->cpu_clock, &g->cpu_at_start);
  if (atomic_load(&g->stop) == STOP_NONE && guest_instantiate(g) == 0) {
    g->phase = PHASE_RUN;
    if (g->is_component) {
      wasmtime_component_val_t result;
      memset(&result, 0, sizeof result);
      g->error = wt.component_func_call(&g->cfunc, g->ctx, NULL, 0, &result, 1);
      if (!g->error) {
        g->run_failed = result.kind == COMPONENT_VAL_RESULT && !result.of.result.is_ok;
        wt.component_val_delete(&result);
        g->error = wt.component_func_post_return(&g->cfunc, g->ctx);
      }
    } else {
      g->error = wt.func_call(g->ctx, &g->func, NULL, 0, NULL, 0, &g->trap);
    }
  }
  g->cpu_used_ns = guest_cpu_ns(g);
  if (g->pool) pool_charge(g, g->cpu_used_ns);
  running_delta(-1);
  q_push(EV_GUEST_EXIT, g->id, 0); // last: after this the loop may join and free
  return NULL;
}

static int guest_spawn(weft_guest *g, uint64_t cpu_budget_ns, size_t stack_bytes) {
  g->cpu_budget_ns = cpu_budget_ns;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_bytes);
  running_delta(1);
  int rc = pthread_create(&g->thread, &attr, guest_main, g);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    running_delta(-1);
    return -rc;
  }
  g->started = 1;
  return 0;
}

// Instantiates a core module (its imports resolved: wasmtime_instance_pre_t,
// which must outlive the guest) on the guest's own thread and runs its
// _start there. The thread stack must be larger than the engine's
// max_wasm_stack, so deep recursion traps cleanly.
int weft_guest_start(weft_guest *g, const void *instance_pre, uint64_t cpu_budget_ns, size_t stack_bytes) {
  g->instance_pre = instance_pre;
  return guest_spawn(g, cpu_budget_ns, stack_bytes);
}

// The same for a component, instantiated with `linker` (both must outlive the
// guest), then `run` of its wasi:cli/run export.
int weft_guest_start_component(weft_guest *g, const wasmtime_component_linker_t *linker, const void *component,
                               uint64_t cpu_budget_ns, size_t stack_bytes) {
  g->is_component = 1;
  g->clinker = linker;
  g->component = component;
  return guest_spawn(g, cpu_budget_ns, stack_bytes);
}
// How far the guest's thread got (PHASE_*), read after EV_GUEST_EXIT.
int weft_guest_phase(weft_guest *g) { return g->phase; }
// The module's instance (16 bytes), valid once phase > PHASE_INSTANTIATE.
const wasmtime_instance_t *weft_guest_instance(weft_guest *g) { return &g->instance; }
int weft_guest_run_failed(weft_guest *g) { return g->run_failed; }

// Stop request from the loop: flag, boost the thread back to normal priority
// (a starved SCHED_IDLE spinner would otherwise take long to notice; needs
// CAP_SYS_NICE, harmless without), wake a writer blocked on a full ring, and
// bump the epoch so a running guest reaches its callback now.
void weft_guest_stop(weft_guest *g) {
  int expected = STOP_NONE;
  atomic_compare_exchange_strong(&g->stop, &expected, STOP_HOST);
  if (g->started && !g->joined) {
    struct sched_param sp = {0};
    pthread_setschedparam(g->thread, SCHED_OTHER, &sp);
  }
  pthread_mutex_lock(&g->out_lock);
  pthread_cond_broadcast(&g->out_space);
  pthread_cond_broadcast(&g->wake);
  pthread_mutex_unlock(&g->out_lock);
  wt.increment_epoch(g->engine);
}

int weft_guest_stop_reason(weft_guest *g) { return atomic_load(&g->stop); }
wasmtime_error_t *weft_guest_error(weft_guest *g) { return g->error; }
wasm_trap_t *weft_guest_trap(weft_guest *g) { return g->trap; }
uint64_t weft_guest_cpu_ns(weft_guest *g) { return g->cpu_used_ns; }

// Only after EV_GUEST_EXIT: the thread has finished its last action.
void weft_guest_join(weft_guest *g) {
  if (g->started && !g->joined) pthread_join(g->thread, NULL);
  g->joined = 1;
}

// The store belongs to the loop; it deletes it (on the main thread) before this.
static void free_msgs(struct msg *m) {
  while (m) {
    struct msg *next = m->next;
    free(m);
    m = next;
  }
}

static void guest_release(weft_guest *g) {
  if (atomic_fetch_sub(&g->refs, 1) != 1) return;
  free_msgs(g->inbox);
  free_msgs(g->outbox);
  free(g->hc_req);
  free(g->hc_ans);
  free(g->fd_tags);
  free(g->wasi_orig);
  weft_cpu_pool_release(g->pool);
  for (int i = 0; i < 2; i++) free(g->out[i].buf);
  pthread_mutex_destroy(&g->out_lock);
  pthread_cond_destroy(&g->out_space);
  pthread_cond_destroy(&g->wake);
  free(g);
}

// Wasmtime calls custom stdout/stderr writers on its own tokio worker
// threads, which can still be inside a write after the guest's call ended.
// Each stream holds a reference, dropped by this finalizer when Wasmtime
// drops the stream, so the guest outlives every writer.
static void stream_finalizer(void *env) { guest_release(env); }
void *weft_stream_finalizer(void) { return (void *)stream_finalizer; }
void weft_guest_retain(weft_guest *g) { atomic_fetch_add(&g->refs, 1); }

// The loop is done with the guest (after EV_GUEST_EXIT, or if it never started).
void weft_guest_free(weft_guest *g) {
  weft_guest_join(g);
  // A writer thread still holding a stream must not wait for room nobody will make.
  pthread_mutex_lock(&g->out_lock);
  int none = STOP_NONE;
  atomic_compare_exchange_strong(&g->stop, &none, STOP_HOST);
  pthread_cond_broadcast(&g->out_space);
  pthread_mutex_unlock(&g->out_lock);
  guest_release(g);
}


// ---- WASI trampolines and revocable directories -----------------------------------
// Two of our Preview 1 shadows must hand calls on to Wasmtime's own WASI
// functions: poll_oneoff (anything but clocks, decision 0001) and, for a
// cell's revocable [[dir]] preopens, every function that takes an fd. Those
// functions read the guest's memory through their *caller*, and a host
// function calling them with wasmtime_func_call has none ("missing required
// memory export"). So each guest that needs them gets, on first use, a small
// helper instance (src/runtime/wasi-helper.ts builds the module from the
// table below) that imports the guest's own memory and the WASI functions
// and exports the memory plus one trampoline per function: called through a
// trampoline, Wasmtime's function sees a caller whose "memory" is the
// guest's.
//
// Revocation (docs/decisions/0007): the fd shadows refuse a call on a
// revoked fd (ENOTCAPABLE) and hand everything else on. Fds opened through a
// revocable one (path_open) inherit its tag; fd_renumber moves it; fd_close
// clears it (closing always works).
enum { WASI_ENOTCAPABLE = 76 };
enum { SH_PLAIN, SH_PATH_OPEN, SH_RENUMBER, SH_CLOSE };
static const struct fd_shadow {
  const char *name;
  const char *params; // 'i' i32, 'I' i64; every one returns an i32 errno
  int8_t fd[2];       // parameter positions that are fds (-1: none)
  uint8_t kind;
} FD_SHADOWS[] = {
    {"fd_advise", "iIIi", {0, -1}, SH_PLAIN},
    {"fd_allocate", "iII", {0, -1}, SH_PLAIN},
    {"fd_close", "i", {0, -1}, SH_CLOSE},
    {"fd_datasync", "i", {0, -1}, SH_PLAIN},
    {"fd_fdstat_get", "ii", {0, -1}, SH_PLAIN},
    {"fd_fdstat_set_flags", "ii", {0, -1}, SH_PLAIN},
    {"fd_fdstat_set_rights", "iII", {0, -1}, SH_PLAIN},
    {"fd_filestat_get", "ii", {0, -1}, SH_PLAIN},
    {"fd_filestat_set_size", "iI", {0, -1}, SH_PLAIN},
    {"fd_filestat_set_times", "iIIi", {0, -1}, SH_PLAIN},
    {"fd_pread", "iiiIi", {0, -1}, SH_PLAIN},
    {"fd_prestat_get", "ii", {0, -1}, SH_PLAIN},
    {"fd_prestat_dir_name", "iii", {0, -1}, SH_PLAIN},
    {"fd_pwrite", "iiiIi", {0, -1}, SH_PLAIN},
    {"fd_read", "iiii", {0, -1}, SH_PLAIN},
    {"fd_readdir", "iiiIi", {0, -1}, SH_PLAIN},
    {"fd_renumber", "ii", {0, 1}, SH_RENUMBER},
    {"fd_seek", "iIii", {0, -1}, SH_PLAIN},
    {"fd_sync", "i", {0, -1}, SH_PLAIN},
    {"fd_tell", "ii", {0, -1}, SH_PLAIN},
    {"fd_write", "iiii", {0, -1}, SH_PLAIN},
    {"path_create_directory", "iii", {0, -1}, SH_PLAIN},
    {"path_filestat_get", "iiiii", {0, -1}, SH_PLAIN},
    {"path_filestat_set_times", "iiiiIIi", {0, -1}, SH_PLAIN},
    {"path_link", "iiiiiii", {0, 4}, SH_PLAIN},
    {"path_open", "iiiiiIIii", {0, -1}, SH_PATH_OPEN},
    {"path_readlink", "iiiiii", {0, -1}, SH_PLAIN},
    {"path_remove_directory", "iii", {0, -1}, SH_PLAIN},
    {"path_rename", "iiiiii", {0, 3}, SH_PLAIN},
    {"path_symlink", "iiiii", {2, -1}, SH_PLAIN},
    {"path_unlink_file", "iii", {0, -1}, SH_PLAIN},
};
#define N_FD_SHADOWS (sizeof FD_SHADOWS / sizeof FD_SHADOWS[0])
#define N_WASI_ORIG (N_FD_SHADOWS + 1) // + poll_oneoff

// The helper module's contract, for src/runtime/wasi-helper.ts: import i is
// wasi_snapshot_preview1.<name i> with params <params i> -> i32, after
// env.memory; export "t<i>" is its trampoline.
size_t weft_wasi_orig_count(void) { return N_WASI_ORIG; }
const char *weft_wasi_orig_name(size_t i) { return i < N_FD_SHADOWS ? FD_SHADOWS[i].name : i == N_FD_SHADOWS ? "poll_oneoff" : NULL; }
const char *weft_wasi_orig_params(size_t i) { return i < N_FD_SHADOWS ? FD_SHADOWS[i].params : i == N_FD_SHADOWS ? "iiii" : NULL; }

// ---- interruptible sleeps: poll_oneoff for Preview 1 ------------------------------
// Wasmtime's synchronous WASI sleeps inside poll_oneoff, where a stop cannot
// reach the guest until the sleep ends. We shadow poll_oneoff: subscriptions
// that are all clocks (every sleep) wait on the guest's condition variable,
// which a stop signals; anything else (fds, CPU-time clocks) is handed to
// Wasmtime's own poll_oneoff for this store, so semantics stay Wasmtime's.
enum { WASI_EINVAL = 28, WASI_EFAULT = 21 };
#define SUB_SIZE 48
#define EVENT_SIZE 32

static uint64_t now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return ts_ns(t);
}

static wasm_trap_t *wasi_delegate(weft_guest *g, wasmtime_caller_t *caller, size_t which, const wasmtime_val_t *args, size_t nargs,
                                  wasmtime_val_t *results);
static int fd_tagged(weft_guest *g, int32_t fd);
#define POLL_ORIG N_FD_SHADOWS // the trampoline after the fd functions'

static wasm_trap_t *poll_delegate(weft_guest *g, wasmtime_caller_t *caller, const wasmtime_val_t *args,
                                  wasmtime_val_t *results) {
  return wasi_delegate(g, caller, POLL_ORIG, args, 4, results);
}

static wasm_trap_t *poll_oneoff_cb(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args, size_t nargs,
                                   wasmtime_val_t *results, size_t nresults) {
  (void)env; (void)nargs; (void)nresults;
  weft_guest *g = current_guest;
  if (!g) return wt.trap_new("poll_oneoff outside a guest thread", 34);
  uint32_t in = (uint32_t)args[0].of.i32, out = (uint32_t)args[1].of.i32;
  uint32_t nsubs = (uint32_t)args[2].of.i32, nevents_at = (uint32_t)args[3].of.i32;
  results[0].kind = VALKIND_I32;
  wasmtime_extern_t mem;
  if (!wt.caller_export_get(caller, "memory", 6, &mem) || mem.kind != EXTERN_MEMORY) return poll_delegate(g, caller, args, results);
  wasmtime_context_t *ctx = wt.caller_context(caller);
  uint8_t *base = wt.memory_data(ctx, &mem.of);
  uint64_t size = wt.memory_data_size(ctx, &mem.of);
  if (nsubs == 0) { results[0].of.i32 = WASI_EINVAL; return NULL; }
  if ((uint64_t)in + (uint64_t)nsubs * SUB_SIZE > size || (uint64_t)out + (uint64_t)nsubs * EVENT_SIZE > size ||
      (uint64_t)nevents_at + 4 > size) { results[0].of.i32 = WASI_EFAULT; return NULL; }
  // Revoked directories (decision 0007): a read or write subscription on a
  // revoked fd is due at once, with ENOTCAPABLE, like every other use of it
  // (handed on, Wasmtime would report it ready, with a file's size).
  if (atomic_load(&g->dirs_revoked)) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < nsubs; i++) {
      const uint8_t *s = base + in + (uint64_t)i * SUB_SIZE;
      int32_t fd;
      memcpy(&fd, s + 16, 4);
      if ((s[8] != 1 && s[8] != 2) || !fd_tagged(g, fd)) continue;
      uint8_t *e = base + out + (uint64_t)n++ * EVENT_SIZE;
      memset(e, 0, EVENT_SIZE);
      memcpy(e, s, 8);                               // userdata
      uint16_t err = WASI_ENOTCAPABLE;
      memcpy(e + 8, &err, 2);
      e[10] = s[8];                                  // type
    }
    if (n) {
      atomic_fetch_add(&g->dirs_refused, 1);
      memcpy(base + nevents_at, &n, 4);
      results[0].of.i32 = 0;
      return NULL;
    }
  }
  // Every deadline on the monotonic clock, computed once from the same "now".
  uint64_t mono = now_ns(CLOCK_MONOTONIC), real = now_ns(CLOCK_REALTIME);
  uint64_t *deadlines = malloc(nsubs * sizeof *deadlines);
  if (!deadlines) return wt.trap_new("out of host memory", 18);
  uint64_t earliest = UINT64_MAX;
  for (uint32_t i = 0; i < nsubs; i++) {
    const uint8_t *s = base + in + (uint64_t)i * SUB_SIZE;
    uint32_t clock_id; uint64_t timeout; uint16_t flags;
    memcpy(&clock_id, s + 16, 4); memcpy(&timeout, s + 24, 8); memcpy(&flags, s + 40, 2);
    // fd_read / fd_write, or a CPU-time clock: Wasmtime's own poll handles it.
    // Also an absolute monotonic deadline: the guest's monotonic clock counts
    // from its WASI context's creation, not the host's boot, so only Wasmtime
    // can place it.
    if (s[8] != 0 || clock_id > 1 || (clock_id == 1 && (flags & 1))) { free(deadlines); return poll_delegate(g, caller, args, results); }
    uint64_t rel = !(flags & 1) ? timeout : clock_id == 1 ? (timeout > mono ? timeout - mono : 0) : (timeout > real ? timeout - real : 0);
    deadlines[i] = rel > UINT64_MAX - mono ? UINT64_MAX : mono + rel;
    if (deadlines[i] < earliest) earliest = deadlines[i];
  }
  pthread_mutex_lock(&g->out_lock);
  struct timespec until = {(time_t)(earliest / 1000000000ull), (long)(earliest % 1000000000ull)};
  while (atomic_load(&g->stop) == STOP_NONE && now_ns(CLOCK_MONOTONIC) < earliest) {
    if (pthread_cond_timedwait(&g->wake, &g->out_lock, &until) == ETIMEDOUT) break;
  }
  pthread_mutex_unlock(&g->out_lock);
  if (atomic_load(&g->stop) != STOP_NONE) { free(deadlines); return wt.trap_new("stopped by host", 15); }
  // Report every subscription that is due (the earliest always is).
  mono = now_ns(CLOCK_MONOTONIC);
  uint32_t n = 0;
  for (uint32_t i = 0; i < nsubs; i++) {
    if (deadlines[i] > mono && deadlines[i] != earliest) continue;
    uint8_t *e = base + out + (uint64_t)n++ * EVENT_SIZE;
    memset(e, 0, EVENT_SIZE);
    memcpy(e, base + in + (uint64_t)i * SUB_SIZE, 8); // userdata; error 0, type 0 (clock)
  }
  free(deadlines);
  memcpy(base + nevents_at, &n, 4);
  results[0].of.i32 = 0;
  return NULL;
}

// Shadows wasi_snapshot_preview1.poll_oneoff in `linker` (which already has
// Wasmtime's WASI defined). Returns a wasmtime_error_t* or NULL.
wasmtime_error_t *weft_define_poll_oneoff(wasmtime_linker_t *linker) {
  wasm_valtype_t *params[4], *result[1];
  for (int i = 0; i < 4; i++) params[i] = wt.valtype_new(VALKIND_I32);
  result[0] = wt.valtype_new(VALKIND_I32);
  wasm_valtype_vec_t pv, rv;
  wt.valtype_vec_new(&pv, 4, params);
  wt.valtype_vec_new(&rv, 1, result);
  wasm_functype_t *ty = wt.functype_new(&pv, &rv);
  wt.linker_allow_shadowing(linker, 1);
  wasmtime_error_t *err = wt.linker_define_func(linker, "wasi_snapshot_preview1", 22, "poll_oneoff", 11, ty,
                                                poll_oneoff_cb, NULL, NULL);
  wt.functype_delete(ty);
  return err;
}

// Where the guest's WASI originals come from: `base` (a linker with plain
// WASI) and `helper` (the trampoline module, compiled for this engine). Main
// thread, before start; the helper is instantiated on first use.
int weft_guest_bind_wasi(weft_guest *g, const wasmtime_linker_t *base, const void *helper) {
  g->base_linker = base;
  g->helper_module = helper;
  return 0;
}

// On the guest's thread, inside a host call: instantiates the helper in the
// guest's store with the guest's memory (from the caller) and the originals.
static int helper_bind(weft_guest *g, wasmtime_caller_t *caller) {
  if (g->helper_state) return g->helper_state;
  g->helper_state = -1;
  if (!g->base_linker || !g->helper_module) return -1;
  wasmtime_context_t *ctx = wt.caller_context(caller);
  wasmtime_extern_t imports[N_WASI_ORIG + 1];
  if (!wt.caller_export_get(caller, "memory", 6, &imports[0]) || imports[0].kind != EXTERN_MEMORY) return -1;
  for (size_t i = 0; i < N_WASI_ORIG; i++) {
    const char *name = weft_wasi_orig_name(i);
    if (!wt.linker_get(g->base_linker, ctx, "wasi_snapshot_preview1", 22, name, strlen(name), &imports[i + 1]) ||
        imports[i + 1].kind != EXTERN_FUNC)
      return -1;
  }
  wasmtime_instance_t inst;
  wasm_trap_t *trap = NULL;
  wasmtime_error_t *err = wt.instance_new(ctx, g->helper_module, imports, N_WASI_ORIG + 1, &inst, &trap);
  if (err || trap) {
    if (err) wt.error_delete(err);
    return -1; // (a trap here cannot happen: the helper has no start function)
  }
  if (!(g->wasi_orig = calloc(N_WASI_ORIG, sizeof *g->wasi_orig))) return -1;
  for (size_t i = 0; i < N_WASI_ORIG; i++) {
    char name[8];
    int n = snprintf(name, sizeof name, "t%zu", i);
    wasmtime_extern_t ext;
    if (!wt.instance_export_get(ctx, &inst, name, (size_t)n, &ext) || ext.kind != EXTERN_FUNC) return -1;
    g->wasi_orig[i] = ext.of.func;
  }
  return g->helper_state = 1;
}

static wasm_trap_t *wasi_delegate(weft_guest *g, wasmtime_caller_t *caller, size_t which, const wasmtime_val_t *args, size_t nargs,
                                  wasmtime_val_t *results) {
  if (helper_bind(g, caller) != 1) return wt.trap_new("weft: WASI trampolines unavailable", 34);
  wasm_trap_t *trap = NULL;
  wasmtime_error_t *err = wt.func_call(wt.caller_context(caller), &g->wasi_orig[which], args, nargs, results, 1, &trap);
  if (err) {
    wasm_byte_vec_t msg;
    wt.error_message(err, &msg);
    trap = wt.trap_new(msg.data, msg.size);
    wt.byte_vec_delete(&msg);
    wt.error_delete(err);
  }
  return trap;
}

static int fd_tagged(weft_guest *g, int32_t fd) { return fd >= 0 && (uint32_t)fd < g->fd_tags_cap && g->fd_tags[fd]; }

static int fd_set_tag(weft_guest *g, int32_t fd, uint8_t tag) {
  if (fd < 0) return -EINVAL;
  if ((uint32_t)fd >= g->fd_tags_cap) {
    if (!tag) return 0;
    uint32_t cap = g->fd_tags_cap ? g->fd_tags_cap : 64;
    while (cap <= (uint32_t)fd) cap *= 2;
    uint8_t *t = realloc(g->fd_tags, cap);
    if (!t) return -ENOMEM;
    memset(t + g->fd_tags_cap, 0, cap - g->fd_tags_cap);
    g->fd_tags = t;
    g->fd_tags_cap = cap;
  }
  g->fd_tags[fd] = tag;
  return 0;
}

// Main thread, before start: `fd` (a preopen) is revocable.
int weft_guest_revocable_fd(weft_guest *g, int32_t fd) { return fd_set_tag(g, fd, 1); }
// From now on every revocable fd fails. Any thread.
void weft_guest_revoke_dirs(weft_guest *g) { atomic_store(&g->dirs_revoked, 1); }
uint32_t weft_guest_dirs_refused(weft_guest *g) { return atomic_load(&g->dirs_refused); }

static wasm_trap_t *fd_shadow_cb(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args, size_t nargs,
                                 wasmtime_val_t *results, size_t nresults) {
  (void)nresults;
  const struct fd_shadow *sh = env;
  weft_guest *g = current_guest;
  if (!g) return wt.trap_new("WASI call outside a guest thread", 32);
  results[0].kind = VALKIND_I32;
  if (atomic_load(&g->dirs_revoked) && sh->kind != SH_CLOSE) {
    for (int k = 0; k < 2; k++) {
      if (sh->fd[k] >= 0 && fd_tagged(g, args[(int)sh->fd[k]].of.i32)) {
        atomic_fetch_add(&g->dirs_refused, 1);
        results[0].of.i32 = WASI_ENOTCAPABLE;
        return NULL;
      }
    }
  }
  wasm_trap_t *trap = wasi_delegate(g, caller, (size_t)(sh - FD_SHADOWS), args, nargs, results);
  if (trap || results[0].of.i32 != 0) return trap;
  int32_t fd = args[0].of.i32;
  if (sh->kind == SH_CLOSE) fd_set_tag(g, fd, 0);
  else if (sh->kind == SH_RENUMBER && args[1].of.i32 != fd) {
    // (fd_renumber(fd, fd) succeeds and changes nothing: nor may the tags.)
    uint8_t tag = (uint8_t)fd_tagged(g, fd);
    if (fd_set_tag(g, args[1].of.i32, tag) != 0) return wt.trap_new("out of host memory", 18);
    fd_set_tag(g, fd, 0);
  } else if (sh->kind == SH_PATH_OPEN && fd_tagged(g, fd)) {
    wasmtime_context_t *ctx = wt.caller_context(caller);
    wasmtime_extern_t mem;
    uint32_t at = (uint32_t)args[8].of.i32;
    if (wt.caller_export_get(caller, "memory", 6, &mem) && mem.kind == EXTERN_MEMORY && (uint64_t)at + 4 <= wt.memory_data_size(ctx, &mem.of)) {
      int32_t opened;
      memcpy(&opened, wt.memory_data(ctx, &mem.of) + at, 4);
      if (fd_set_tag(g, opened, 1) != 0) return wt.trap_new("out of host memory", 18);
    }
  }
  return NULL;
}

// Shadows every Preview 1 function that takes an fd in `linker` (which has
// Wasmtime's WASI defined). Returns a wasmtime_error_t* or NULL.
wasmtime_error_t *weft_define_fd_shadows(wasmtime_linker_t *linker) {
  wt.linker_allow_shadowing(linker, 1);
  for (size_t i = 0; i < N_FD_SHADOWS; i++) {
    const struct fd_shadow *sh = &FD_SHADOWS[i];
    size_t n = strlen(sh->params);
    wasm_valtype_t *params[16], *result[1];
    for (size_t k = 0; k < n; k++) params[k] = wt.valtype_new(sh->params[k] == 'I' ? 1 /* WASM_I64 */ : VALKIND_I32);
    result[0] = wt.valtype_new(VALKIND_I32);
    wasm_valtype_vec_t pv, rv;
    wt.valtype_vec_new(&pv, n, params);
    wt.valtype_vec_new(&rv, 1, result);
    wasm_functype_t *ty = wt.functype_new(&pv, &rv);
    wasmtime_error_t *err = wt.linker_define_func(linker, "wasi_snapshot_preview1", 22, sh->name, strlen(sh->name), ty, fd_shadow_cb,
                                                  (void *)sh, NULL);
    wt.functype_delete(ty);
    if (err) return err;
  }
  return NULL;
}


// ---- weft:app@0.1.0 for components (spec §4) ---------------------------------------
// Native host functions, run on the guest's thread: they only touch the
// guest's queues and wake the loop (no JS off the main thread). IPC queues
// are bounded; a full queue is an err for send and backs nothing up.
#define IPC_MAX_MSGS 256
#define IPC_MAX_BYTES (1u << 20)

static wasmtime_error_t *set_string(wasmtime_component_val_t *v, const char *data, size_t len) {
  v->kind = COMPONENT_VAL_STRING;
  wt.byte_vec_new(&v->of.string, len, data);
  return NULL;
}

// result<_, string> (or result<T, string> answered with err)
static void set_result(wasmtime_component_val_t *v, int ok, const char *err) {
  v->kind = COMPONENT_VAL_RESULT;
  v->of.result.is_ok = (uint8_t)ok;
  v->of.result.val = NULL;
  if (!ok) {
    wasmtime_component_val_t e;
    memset(&e, 0, sizeof e);
    set_string(&e, err, strlen(err));
    v->of.result.val = wt.component_val_new(&e);
  }
}

static wasmtime_error_t *notify_ready(void *env, wasmtime_context_t *ctx, const wasmtime_component_func_type_t *ty,
                                      wasmtime_component_val_t *args, size_t nargs, wasmtime_component_val_t *res, size_t nres) {
  (void)env; (void)ctx; (void)ty; (void)args; (void)nargs; (void)res; (void)nres;
  weft_guest *g = current_guest;
  if (g) q_push(EV_GUEST_READY, g->id, 0);
  return NULL;
}

static wasmtime_error_t *ipc_send(void *env, wasmtime_context_t *ctx, const wasmtime_component_func_type_t *ty,
                                  wasmtime_component_val_t *args, size_t nargs, wasmtime_component_val_t *res, size_t nres) {
  (void)env; (void)ctx; (void)ty;
  weft_guest *g = current_guest;
  // Host functions are not type-checked at link time: a component may import
  // them with any signature, so check before touching res (it may be empty).
  if (nres != 1) return wt.error_new("weft:app/ipc.send: imported with the wrong signature");
  if (!g || nargs != 1 || args[0].kind != COMPONENT_VAL_STRING) return wt.error_new("ipc.send: bad arguments");
  size_t len = args[0].of.string.size;
  pthread_mutex_lock(&g->out_lock);
  if (g->outbox_n >= IPC_MAX_MSGS || g->outbox_bytes + len > IPC_MAX_BYTES) {
    pthread_mutex_unlock(&g->out_lock);
    set_result(&res[0], 0, "ipc queue full: the UI is not reading");
    return NULL;
  }
  struct msg *m = malloc(sizeof *m + len);
  if (!m) {
    pthread_mutex_unlock(&g->out_lock);
    set_result(&res[0], 0, "out of host memory");
    return NULL;
  }
  m->next = NULL;
  m->len = len;
  memcpy(m->data, args[0].of.string.data, len); // arguments are borrowed: copy
  if (g->outbox_tail) g->outbox_tail->next = m; else g->outbox = m;
  g->outbox_tail = m;
  g->outbox_n++;
  g->outbox_bytes += len;
  int wake = !g->ipc_signalled;
  g->ipc_signalled = 1;
  pthread_mutex_unlock(&g->out_lock);
  if (wake) q_push(EV_GUEST_IPC, g->id, 0);
  set_result(&res[0], 1, NULL);
  return NULL;
}

static wasmtime_error_t *ipc_recv(void *env, wasmtime_context_t *ctx, const wasmtime_component_func_type_t *ty,
                                  wasmtime_component_val_t *args, size_t nargs, wasmtime_component_val_t *res, size_t nres) {
  (void)env; (void)ctx; (void)ty; (void)args; (void)nargs;
  weft_guest *g = current_guest;
  if (nres != 1) return wt.error_new("weft:app/ipc.recv: imported with the wrong signature");
  res[0].kind = COMPONENT_VAL_OPTION;
  res[0].of.option = NULL;
  if (!g) return NULL;
  pthread_mutex_lock(&g->out_lock);
  struct msg *m = g->inbox;
  if (m) {
    g->inbox = m->next;
    if (!g->inbox) g->inbox_tail = NULL;
    g->inbox_n--;
    g->inbox_bytes -= m->len;
  }
  pthread_mutex_unlock(&g->out_lock);
  if (m) { // non-blocking (spec §4): none when nothing waits
    wasmtime_component_val_t s;
    memset(&s, 0, sizeof s);
    set_string(&s, m->data, m->len);
    res[0].of.option = wt.component_val_new(&s);
    free(m);
  }
  return NULL;
}

static wasmtime_error_t *add_funcs(wasmtime_component_linker_instance_t *root, const char *iface,
                                   const char *const *names, const component_host_cb_t *cbs, void *const *envs, int n) {
  wasmtime_component_linker_instance_t *inst = NULL;
  wasmtime_error_t *err = wt.component_linker_instance_add_instance(root, iface, strlen(iface), &inst);
  if (err) return err;
  for (int i = 0; i < n && !err; i++) err = wt.component_linker_instance_add_func(inst, names[i], strlen(names[i]), cbs[i], envs[i], NULL);
  wt.component_linker_instance_delete(inst);
  return err;
}

// Defines weft:app@0.1.0's notify and ipc in a component linker (fetch,
// notifications and clipboard are host calls the loop defines with
// weft_define_host_funcs). Returns a wasmtime_error_t* or NULL.
wasmtime_error_t *weft_define_weft_app(wasmtime_component_linker_t *linker) {
  wasmtime_component_linker_instance_t *root = wt.component_linker_root(linker);
  wasmtime_error_t *err = add_funcs(root, "weft:app/notify@0.1.0", (const char *const[]){"ready"},
                                    (const component_host_cb_t[]){notify_ready}, (void *const[]){NULL}, 1);
  if (!err) err = add_funcs(root, "weft:app/ipc@0.1.0", (const char *const[]){"send", "recv"},
                            (const component_host_cb_t[]){ipc_send, ipc_recv}, (void *const[]){NULL, NULL}, 2);
  wt.component_linker_instance_delete(root);
  return err;
}

// Loop → guest: queue one message for ipc.recv. 0, or -ENOSPC when the guest is not reading.
int weft_guest_ipc_push(weft_guest *g, const char *data, size_t len) {
  struct msg *m = malloc(sizeof *m + len);
  if (!m) return -ENOMEM;
  m->next = NULL;
  m->len = len;
  memcpy(m->data, data, len);
  pthread_mutex_lock(&g->out_lock);
  if (g->inbox_n >= IPC_MAX_MSGS || g->inbox_bytes + len > IPC_MAX_BYTES) {
    pthread_mutex_unlock(&g->out_lock);
    free(m);
    return -ENOSPC;
  }
  if (g->inbox_tail) g->inbox_tail->next = m; else g->inbox = m;
  g->inbox_tail = m;
  g->inbox_n++;
  g->inbox_bytes += len;
  pthread_mutex_unlock(&g->out_lock);
  return 0;
}

// Guest → loop: length of the next ipc.send message (-1 when none).
long weft_guest_ipc_peek(weft_guest *g) {
  pthread_mutex_lock(&g->out_lock);
  long n = g->outbox ? (long)g->outbox->len : -1;
  if (!g->outbox) g->ipc_signalled = 0;
  pthread_mutex_unlock(&g->out_lock);
  return n;
}

// Copies the next message into `out` (at least peek bytes) and drops it.
long weft_guest_ipc_take(weft_guest *g, char *out, size_t max) {
  pthread_mutex_lock(&g->out_lock);
  struct msg *m = g->outbox;
  if (!m || m->len > max) {
    pthread_mutex_unlock(&g->out_lock);
    return m ? -(long)m->len : -1;
  }
  g->outbox = m->next;
  if (!g->outbox) g->outbox_tail = NULL;
  g->outbox_n--;
  g->outbox_bytes -= m->len;
  pthread_mutex_unlock(&g->out_lock);
  long n = (long)m->len;
  memcpy(out, m->data, m->len);
  free(m);
  return n;
}

// ---- host calls: a guest thread asks the loop and waits for its answer -------------
// For host functions whose work must happen in JS (fetch, notifications, the
// compositor's clipboard, …), which cannot run on a guest's thread. The
// guest's thread encodes the arguments (component_values.c), posts
// EV_HOST_CALL and waits on its condition variable; the loop takes the
// request, computes the answer (asynchronously if it likes) and posts the
// encoded results back, which wakes the guest. A stop wakes it too: the call
// ends at once with "stopped by host", and an answer that arrives later finds
// a different sequence number and is dropped. One call per guest at a time
// (its thread is blocked in it); arguments over HC_MAX_REQUEST are not sent —
// the loop is told their size and answers with an error of its own choosing.
#define HC_MAX_REQUEST (1u << 20)
#define HC_MAX_ANSWER (64u << 20)
enum { HC_IDLE = 0, HC_POSTED, HC_TAKEN, HC_ANSWERED };
enum { HC_DONE = 0, HC_STOPPED = 1, HC_BUSY = 2 };

// Blocks the calling guest thread. Takes `req` (malloc'd, may be NULL). On
// HC_DONE, *ans (malloc'd, the caller frees it) holds the answer and *ok says
// whether the loop answered with results (1) or with a failure message (0).
static int host_call(weft_guest *g, uint32_t kind, uint8_t *req, size_t len, size_t refused, uint8_t **ans,
                     size_t *ans_len, int *ok) {
  pthread_mutex_lock(&g->out_lock);
  if (g->hc_state != HC_IDLE) {
    pthread_mutex_unlock(&g->out_lock);
    free(req);
    return HC_BUSY;
  }
  g->hc_state = HC_POSTED;
  g->hc_kind = kind;
  uint64_t seq = ++g->hc_seq;
  g->hc_req = req;
  g->hc_req_len = len;
  g->hc_req_refused = refused;
  pthread_mutex_unlock(&g->out_lock);
  q_push(EV_HOST_CALL, g->id, seq);
  pthread_mutex_lock(&g->out_lock);
  while (g->hc_state != HC_ANSWERED && atomic_load(&g->stop) == STOP_NONE) pthread_cond_wait(&g->wake, &g->out_lock);
  int rc = HC_STOPPED;
  if (g->hc_state == HC_ANSWERED) {
    rc = HC_DONE;
    *ans = g->hc_ans;
    *ans_len = g->hc_ans_len;
    *ok = g->hc_ans_ok;
    g->hc_ans = NULL;
  }
  free(g->hc_req); // still ours if the loop never took it
  g->hc_req = NULL;
  g->hc_state = HC_IDLE;
  pthread_mutex_unlock(&g->out_lock);
  return rc;
}

// A host function of a component defined by the loop: `env` names it and its kind.
typedef struct {
  uint32_t kind;
  char name[]; // "iface#func", for messages
} hc_func;

static wasmtime_error_t *errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static wasmtime_error_t *errorf(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return wt.error_new(buf);
}

static wasmtime_error_t *host_call_func(void *env, wasmtime_context_t *ctx, const wasmtime_component_func_type_t *ty,
                                        wasmtime_component_val_t *args, size_t nargs, wasmtime_component_val_t *res,
                                        size_t nres) {
  (void)ctx; (void)ty;
  hc_func *f = env;
  weft_guest *g = current_guest;
  // Only a guest's own thread may wait for the loop (it would deadlock on the loop thread).
  if (!g) return errorf("%s: host calls are only available on a guest's thread", f->name);
  long long size = cv_encoded_size(args, nargs);
  if (size < 0) return errorf("%s: resources cannot be passed to this host function", f->name);
  uint8_t *req = NULL;
  size_t refused = 0;
  if ((unsigned long long)size > HC_MAX_REQUEST) {
    refused = (size_t)size;
    size = 0;
  } else {
    if (!(req = malloc((size_t)size))) return errorf("%s: out of host memory", f->name);
    cv_encode(args, nargs, req);
  }
  uint8_t *ans = NULL;
  size_t ans_len = 0;
  int ok = 0;
  int rc = host_call(g, f->kind, req, (size_t)size, refused, &ans, &ans_len, &ok);
  if (rc == HC_STOPPED) return wt.error_new("stopped by host");
  if (rc == HC_BUSY) return errorf("%s: another host call is in progress on this guest", f->name);
  wasmtime_error_t *err = NULL;
  const char *why;
  if (!ok) err = errorf("%s: %.*s", f->name, (int)(ans_len > 400 ? 400 : ans_len), ans ? (const char *)ans : "");
  else if ((why = cv_check(ans, ans_len, nres))) err = errorf("%s: the host answered wrongly: %s", f->name, why);
  else cv_decode(ans, res, nres);
  free(ans);
  return err;
}

static void hc_func_free(void *env) { free(env); }

// Defines host functions that the loop answers, in instance `iface` of a
// component linker: `names` is NUL-separated and ends with an empty name;
// kinds[i] is what the loop sees for names' i-th. NULL or a wasmtime_error_t*.
wasmtime_error_t *weft_define_host_funcs(wasmtime_component_linker_t *linker, const char *iface, const char *names,
                                         const uint32_t *kinds) {
  wasmtime_component_linker_instance_t *root = wt.component_linker_root(linker), *inst = NULL;
  wasmtime_error_t *err = wt.component_linker_instance_add_instance(root, iface, strlen(iface), &inst);
  for (size_t i = 0; !err && *names; names += strlen(names) + 1, i++) {
    size_t n = strlen(iface) + 1 + strlen(names) + 1;
    hc_func *f = malloc(sizeof *f + n);
    if (!f) { err = wt.error_new("out of host memory"); break; }
    f->kind = kinds[i];
    snprintf(f->name, n, "%s#%s", iface, names);
    err = wt.component_linker_instance_add_func(inst, names, strlen(names), host_call_func, f, hc_func_free);
  }
  if (inst) wt.component_linker_instance_delete(inst);
  wt.component_linker_instance_delete(root);
  return err;
}

// After EV_HOST_CALL: takes the guest's pending request into `out`. Returns
// its length with meta = {kind, seq, refused size}; -1 when nothing is
// pending (the guest gave up: stopped); -2 when `out` is smaller than
// meta[3] (call again with a larger buffer).
long long weft_host_call_take(weft_guest *g, uint8_t *out, size_t max, uint64_t *meta) {
  pthread_mutex_lock(&g->out_lock);
  if (g->hc_state != HC_POSTED) {
    pthread_mutex_unlock(&g->out_lock);
    return -1;
  }
  if (g->hc_req_len > max) {
    meta[3] = g->hc_req_len;
    pthread_mutex_unlock(&g->out_lock);
    return -2;
  }
  long long n = (long long)g->hc_req_len;
  if (n) memcpy(out, g->hc_req, (size_t)n);
  free(g->hc_req);
  g->hc_req = NULL;
  meta[0] = g->hc_kind;
  meta[1] = g->hc_seq;
  meta[2] = g->hc_req_refused;
  g->hc_state = HC_TAKEN;
  pthread_mutex_unlock(&g->out_lock);
  return n;
}

// The loop's answer to call `seq`: encoded results (ok) or a failure message
// (!ok, the guest traps with it). 0; -ESTALE when the guest no longer waits
// for this call (dropped); -E2BIG over HC_MAX_ANSWER; -ENOMEM.
int weft_host_call_answer(weft_guest *g, uint64_t seq, int ok, const uint8_t *data, size_t len) {
  if (len > HC_MAX_ANSWER) return -E2BIG;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return -ENOMEM;
  if (len) memcpy(copy, data, len);
  pthread_mutex_lock(&g->out_lock);
  if (g->hc_state != HC_TAKEN || g->hc_seq != seq) {
    pthread_mutex_unlock(&g->out_lock);
    free(copy);
    return -ESTALE;
  }
  g->hc_ans = copy;
  g->hc_ans_len = len;
  g->hc_ans_ok = ok;
  g->hc_state = HC_ANSWERED;
  pthread_cond_broadcast(&g->wake);
  pthread_mutex_unlock(&g->out_lock);
  return 0;
}

size_t weft_host_call_max_request(void) { return HC_MAX_REQUEST; }
size_t weft_host_call_max_answer(void) { return HC_MAX_ANSWER; }

// ---- compiling off the loop -------------------------------------------------------
// Cranelift takes milliseconds for a small module and tens of seconds for a
// 12 MB JavaScript component; either would stall the loop. A compile job runs
// on its own thread and reports EV_COMPILED(token); the loop then reads the
// result with weft_compile_result and frees the job.
typedef struct {
  pthread_t thread;
  wasm_engine_t *engine;
  uint8_t *bytes;
  size_t len;
  int component;
  uint32_t token;
  void *result;
  wasmtime_error_t *error;
} compile_job;

static void *compile_main(void *arg) {
  compile_job *j = arg;
  j->error = j->component ? wt.component_new(j->engine, j->bytes, j->len, &j->result)
                          : wt.module_new(j->engine, j->bytes, j->len, &j->result);
  q_push(EV_COMPILED, j->token, 0);
  return NULL;
}

compile_job *weft_compile_start(wasm_engine_t *engine, const uint8_t *bytes, size_t len, int component, uint32_t token) {
  compile_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->bytes = malloc(len ? len : 1);
  if (!j->bytes) { free(j); return NULL; }
  memcpy(j->bytes, bytes, len); // the loop's buffer may move or go away meanwhile
  j->engine = engine;
  j->len = len;
  j->component = component;
  j->token = token;
  if (pthread_create(&j->thread, NULL, compile_main, j) != 0) { free(j->bytes); free(j); return NULL; }
  return j;
}

// After EV_COMPILED: joins, returns the module/component (or NULL and *error), frees the job.
void *weft_compile_result(compile_job *j, wasmtime_error_t **error) {
  pthread_join(j->thread, NULL);
  void *r = j->result;
  *error = j->error;
  free(j->bytes);
  free(j);
  return r;
}

// ---- init ---------------------------------------------------------------------
static int inited;

static int wasmtime_loaded;

// Binds the Wasmtime symbols the helper calls from `libwasmtime` — the path JS
// opened, so both sides share one engine library. Only the runtime needs it:
// a compositor-only weft never loads Wasmtime. 0 or -errno.
int weft_load_wasmtime(const char *libwasmtime) {
  if (wasmtime_loaded) return 0;
  void *h = dlopen(libwasmtime, RTLD_NOW | RTLD_GLOBAL);
  if (!h) return -ENOENT;
#define SYM(field, name) if (!(*(void **)&wt.field = dlsym(h, name))) return -ENOSYS;
  SYM(store_context, "wasmtime_store_context");
  SYM(func_call, "wasmtime_func_call");
  SYM(epoch_deadline_callback, "wasmtime_store_epoch_deadline_callback");
  SYM(set_epoch_deadline, "wasmtime_context_set_epoch_deadline");
  SYM(increment_epoch, "wasmtime_engine_increment_epoch");
  SYM(error_new, "wasmtime_error_new");
  SYM(error_message, "wasmtime_error_message");
  SYM(error_delete, "wasmtime_error_delete");
  SYM(byte_vec_delete, "wasm_byte_vec_delete");
  SYM(trap_new, "wasmtime_trap_new");
  SYM(linker_get, "wasmtime_linker_get");
  SYM(linker_allow_shadowing, "wasmtime_linker_allow_shadowing");
  SYM(linker_define_func, "wasmtime_linker_define_func");
  SYM(caller_context, "wasmtime_caller_context");
  SYM(caller_export_get, "wasmtime_caller_export_get");
  SYM(memory_data, "wasmtime_memory_data");
  SYM(memory_data_size, "wasmtime_memory_data_size");
  SYM(valtype_new, "wasm_valtype_new");
  SYM(valtype_vec_new, "wasm_valtype_vec_new");
  SYM(functype_new, "wasm_functype_new");
  SYM(functype_delete, "wasm_functype_delete");
  SYM(instance_new, "wasmtime_instance_new");
  SYM(instance_export_get, "wasmtime_instance_export_get");
  SYM(instance_pre_instantiate, "wasmtime_instance_pre_instantiate");
  SYM(component_linker_instantiate, "wasmtime_component_linker_instantiate");
  SYM(component_instance_get_export_index, "wasmtime_component_instance_get_export_index");
  SYM(component_instance_get_func, "wasmtime_component_instance_get_func");
  SYM(component_export_index_delete, "wasmtime_component_export_index_delete");
  SYM(component_func_call, "wasmtime_component_func_call");
  SYM(component_func_post_return, "wasmtime_component_func_post_return");
  SYM(component_val_delete, "wasmtime_component_val_delete");
  SYM(module_new, "wasmtime_module_new");
  SYM(component_new, "wasmtime_component_new");
  SYM(component_val_new, "wasmtime_component_val_new");
  SYM(byte_vec_new, "wasm_byte_vec_new");
  SYM(component_linker_root, "wasmtime_component_linker_root");
  SYM(component_linker_instance_add_instance, "wasmtime_component_linker_instance_add_instance");
  SYM(component_linker_instance_add_func, "wasmtime_component_linker_instance_add_func");
  SYM(component_linker_instance_delete, "wasmtime_component_linker_instance_delete");
#undef SYM
  if (cv_bind(h) != 0) return -ENOSYS;
  wasmtime_loaded = 1;
  return 0;
}

// Starts the watcher and ticker threads; returns the loop's end of the
// wake-up socket pair, or -errno. A socket (not a pipe) because Bun can adopt
// it as a socket, whose data callback wakes faster and cheaper than a stream
// read of a pipe (docs/decisions/0003-compositor.md).
int weft_init(void) {
  if (inited) return wake_r;
  int p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) return -errno;
  wake_r = p[0];
  wake_w = p[1];
  ep_fd = epoll_create1(EPOLL_CLOEXEC);
  if (ep_fd < 0) return -errno;
  if (pthread_create(&watcher, NULL, watcher_main, NULL) != 0) return -EAGAIN;
  if (pthread_create(&ticker, NULL, ticker_main, NULL) != 0) return -EAGAIN;
  pthread_setname_np(watcher, "weft-fdwatch");
  // The watcher wakes the loop for input and clients; like the loop thread it
  // runs at SCHED_RR 1 when allowed (docs/decisions/0002), else as it is.
  struct sched_param rt = {.sched_priority = 1};
  pthread_setschedparam(watcher, SCHED_RR | SCHED_RESET_ON_FORK, &rt);
  pthread_setname_np(ticker, "weft-epoch");
  inited = 1;
  return wake_r;
}

int weft_abi_version(void) { return 14; }

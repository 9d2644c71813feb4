// weft:cell@0.1.0 (wit/weft-cell.wit) for C guests, by hand against the
// component model's canonical ABI (no bindings generator): the core module
// imports each function under its interface's name; scripts/build-cell-guests.sh
// embeds the WIT and wraps the module with jco's Preview 1 command adapter.
//
// Canonical ABI facts used (wasm32, UTF-8): a string or list is (pointer,
// length); records are laid out like C structs with natural alignment (bool
// is one byte); an option is a discriminant byte then its payload at the
// payload's alignment; any result wider than one value is written by the host
// to a "retptr" passed last: a discriminant byte at 0, the payload at 4.
// Lists and strings the host returns are allocated through our exported
// cabi_realloc; we own them.
#ifndef WEFT_CELL_H
#define WEFT_CELL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL_IMPORT(iface, name) __attribute__((import_module("weft:cell/" iface "@0.1.0"), import_name(name)))

typedef struct { const char *ptr; size_t len; } cell_str;
typedef struct { cell_str key, value; } cell_env;
typedef struct {
  uint32_t cap;
  cell_str name;
  uint8_t read_only;
  cell_str subdir;
  uint8_t has_domains;
  const cell_str *domains;
  size_t ndomains;
} cell_grant; // 36 bytes: cap@0 name@4 read-only@12 subdir@16 domains@24 (option: tag@24, list@28)
_Static_assert(sizeof(cell_grant) == 36, "grant layout");

CELL_IMPORT("caps", "epoch") uint64_t cell_epoch(void);
CELL_IMPORT("caps", "names") void cell_names_raw(void *ret);
CELL_IMPORT("caps", "acquire") void cell_acquire_raw(const char *name, size_t len, void *ret);
CELL_IMPORT("fs", "read-file") void cell_read_file_raw(uint32_t dir, const char *path, size_t len, void *ret);
CELL_IMPORT("fs", "write-file") void cell_write_file_raw(uint32_t dir, const char *path, size_t len, const void *data, size_t dlen, void *ret);
CELL_IMPORT("fs", "list-dir") void cell_list_dir_raw(uint32_t dir, const char *path, size_t len, void *ret);
CELL_IMPORT("net", "get") void cell_net_get_raw(uint32_t domains, const char *url, size_t len, void *ret);
/** process.limits; a record of u32s is passed flat, one parameter per field. */
typedef struct { uint32_t memory_mib, pool_mib, cpu_ms, timeout_ms; } cell_limits;
CELL_IMPORT("process", "spawn")
void cell_spawn_raw(const void *wasm, size_t wasm_len, const cell_str *args, size_t nargs, const cell_env *env, size_t nenv, const cell_grant *grants,
                    size_t ngrants, uint32_t memory_mib, uint32_t pool_mib, uint32_t cpu_ms, uint32_t timeout_ms, void *ret);
CELL_IMPORT("process", "spawn-file")
void cell_spawn_file_raw(uint32_t dir, const char *path, size_t path_len, const cell_str *args, size_t nargs, const cell_env *env, size_t nenv,
                         const cell_grant *grants, size_t ngrants, uint32_t memory_mib, uint32_t pool_mib, uint32_t cpu_ms, uint32_t timeout_ms,
                         void *ret);
CELL_IMPORT("process", "write-stdin") void cell_write_stdin_raw(uint32_t child, const void *data, size_t len, void *ret);
CELL_IMPORT("process", "close-stdin") void cell_close_stdin_raw(uint32_t child, void *ret);
CELL_IMPORT("process", "read") void cell_read_raw(uint32_t child, uint32_t which, uint32_t max, void *ret);
CELL_IMPORT("process", "wait") void cell_wait_raw(uint32_t child, void *ret);
CELL_IMPORT("process", "kill") void cell_kill_raw(uint32_t child, void *ret);

/** Every call's outcome: ok, or err with a NUL-terminated message (free with free()). */
typedef struct {
  int ok;
  char *err;
  uint32_t u32;      // result<u32|s32, _>
  uint16_t status;   // net.get
  uint8_t *bytes;    // result<list<u8>, _> (NUL-terminated copy; free with free())
  size_t len;
} cell_res;

static inline char *cell_copy(const uint8_t *at) {
  char *p = *(char *const *)at;
  size_t n = *(const uint32_t *)(at + 4);
  char *s = malloc(n + 1);
  memcpy(s, p, n);
  s[n] = 0;
  if (n) free(p);
  return s;
}

/** Reads a result<T, string> at ret. kind: 0 unit, 1 u32/s32, 2 list<u8>, 3 tuple<u16, list<u8>>. */
static inline cell_res cell_result(const uint8_t *ret, int kind) {
  cell_res r = {0};
  r.ok = ret[0] == 0;
  if (!r.ok) {
    r.err = cell_copy(ret + 4);
    return r;
  }
  if (kind == 1) r.u32 = *(const uint32_t *)(ret + 4);
  if (kind == 2 || kind == 3) {
    const uint8_t *at = ret + (kind == 3 ? 8 : 4);
    r.len = *(const uint32_t *)(at + 4);
    r.bytes = (uint8_t *)cell_copy(at);
    if (kind == 3) r.status = *(const uint16_t *)(ret + 4);
  }
  return r;
}

#define CELL_RET _Alignas(8) uint8_t ret[16]
static inline cell_str cell_s(const char *s) { return (cell_str){s, strlen(s)}; }

static inline cell_res cell_acquire(const char *name) { CELL_RET; cell_acquire_raw(name, strlen(name), ret); return cell_result(ret, 1); }
static inline cell_res cell_read_file(uint32_t dir, const char *path) { CELL_RET; cell_read_file_raw(dir, path, strlen(path), ret); return cell_result(ret, 2); }
static inline cell_res cell_write_file(uint32_t dir, const char *path, const char *text) {
  CELL_RET; cell_write_file_raw(dir, path, strlen(path), text, strlen(text), ret); return cell_result(ret, 0);
}
static inline cell_res cell_net_get(uint32_t cap, const char *url) { CELL_RET; cell_net_get_raw(cap, url, strlen(url), ret); return cell_result(ret, 3); }
static inline cell_res cell_write_stdin(uint32_t c, const void *d, size_t n) { CELL_RET; cell_write_stdin_raw(c, d, n, ret); return cell_result(ret, 1); }
static inline cell_res cell_close_stdin(uint32_t c) { CELL_RET; cell_close_stdin_raw(c, ret); return cell_result(ret, 0); }
static inline cell_res cell_read(uint32_t c, int which, uint32_t max) { CELL_RET; cell_read_raw(c, which, max, ret); return cell_result(ret, 2); }
static inline cell_res cell_wait(uint32_t c) { CELL_RET; cell_wait_raw(c, ret); return cell_result(ret, 1); }
static inline cell_res cell_kill(uint32_t c) { CELL_RET; cell_kill_raw(c, ret); return cell_result(ret, 0); }

/** names(): count in *n; each a NUL-terminated string (free each and the array). */
static inline char **cell_names(size_t *n) {
  CELL_RET;
  cell_names_raw(ret);
  const uint8_t *list = *(const uint8_t *const *)ret;
  *n = *(const uint32_t *)(ret + 4);
  char **out = malloc((*n + 1) * sizeof *out);
  for (size_t i = 0; i < *n; i++) out[i] = cell_copy(list + 8 * i);
  if (*n) free((void *)list);
  return out;
}

__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size);

#ifdef WEFT_CELL_IMPLEMENTATION
// Our own _start (linked with -nostartfiles -Wl,--no-entry): linked as a
// normal command, wasm-ld wraps every export — cabi_realloc included — in
// the libc constructors/destructors, which would run on each allocation the
// host makes while lowering a result (and trap there).
extern void __wasm_call_ctors(void);
extern int __main_void(void); // wasi-libc: reads argv through WASI, calls main(argc, argv)
__attribute__((export_name("_start"))) void cell_start(void) {
  __wasm_call_ctors();
  exit(__main_void());
}
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
  (void)old_size;
  if (new_size == 0) return (void *)align; // valid and never dereferenced
  return realloc(old, new_size);            // malloc aligns to 16: enough for every canonical type
}
#endif
#endif

// weft:app@0.1.0 (wit/weft-app.wit, spec §4) for C guests, written by hand
// against the component model's canonical ABI, so a C app needs no bindings
// generator: the core module imports each function under the interface's
// name, and scripts/build-examples.sh embeds the WIT and wraps the module
// with jco's Preview 1 command adapter into a component.
//
// Canonical ABI facts used here (32-bit memory, UTF-8 strings):
// - a string or list is passed as (pointer, length);
// - an option<T> parameter is flattened to (0|1, T's fields...);
// - any result wider than one value is written by the host to a "retptr"
//   we pass as the last argument: a discriminant byte at offset 0, the
//   payload at offset 4 (all payloads here have 4-byte alignment);
// - strings and lists the host returns live in memory it obtained from our
//   exported cabi_realloc: the caller owns them and frees them with free().
#ifndef WEFT_APP_H
#define WEFT_APP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WEFT_IMPORT(iface, name) __attribute__((import_module("weft:app/" iface "@0.1.0"), import_name(name)))

WEFT_IMPORT("notify", "ready") void weft_notify_ready(void);
WEFT_IMPORT("ipc", "send") void weft_ipc_send_raw(const char *ptr, size_t len, void *ret);
WEFT_IMPORT("ipc", "recv") void weft_ipc_recv_raw(void *ret);
WEFT_IMPORT("notifications", "notify")
void weft_notifications_notify_raw(const char *title, size_t title_len, const char *body, size_t body_len, int has_icon, const char *icon,
                                   size_t icon_len, void *ret);
WEFT_IMPORT("fetch", "fetch")
void weft_fetch_raw(const char *url, size_t url_len, const char *method, size_t method_len, const void *headers, size_t headers_len,
                    int has_body, const void *body, size_t body_len, void *ret);

/** The host allocates returned strings through this (canonical ABI). */
__attribute__((export_name("cabi_realloc"))) void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size);
#ifdef WEFT_APP_IMPLEMENTATION
// Our own _start, linked with -nostartfiles -Wl,--no-entry (see
// scripts/build-examples.sh). Linked as a normal *command*, wasm-ld wraps
// every other export — cabi_realloc included — in __wasm_call_ctors /
// __wasm_call_dtors, so each string the host hands us would re-run
// wasi-libc's constructors (which call WASI imports: a trap, "cannot leave
// component instance", while the host is lowering) and close stdio after.
// Here constructors run once, before main, and exit() flushes stdio.
int main(void);
extern void __wasm_call_ctors(void);
__attribute__((export_name("_start"))) void weft_start(void) {
  __wasm_call_ctors();
  exit(main());
}

void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
  (void)old_size;
  if (new_size == 0) return (void *)align; // a valid, never-dereferenced pointer for an empty value
  return realloc(old, new_size);           // wasi-libc's malloc aligns to 16, enough for any canonical type
}
#endif

/** A string the host gave us (NUL-terminated copy made by weft_take; free with free()). */
typedef struct {
  int ok;      // result: 1 = ok, 0 = err; option: 1 = some, 0 = none
  char *text;  // the ok/some string, or the err string; NULL when there is none
} weft_str_result;

/** Copies a (ptr, len) the host wrote at ret+4 into a NUL-terminated string and frees the original. */
static inline char *weft_take(const uint8_t *ret, size_t off) {
  char *p = *(char *const *)(ret + off);
  size_t n = *(const uint32_t *)(ret + off + 4);
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, p, n);
    s[n] = 0;
  }
  if (n) free(p);
  return s;
}

/** ipc.send: ok (text NULL) or err (text = why). */
static inline weft_str_result weft_ipc_send(const char *payload) {
  _Alignas(4) uint8_t ret[12];
  weft_ipc_send_raw(payload, strlen(payload), ret);
  if (ret[0] == 0) return (weft_str_result){1, NULL};
  return (weft_str_result){0, weft_take(ret, 4)};
}

/** ipc.recv: some (ok 1, text = message) or none (ok 0). Non-blocking. */
static inline weft_str_result weft_ipc_recv(void) {
  _Alignas(4) uint8_t ret[12];
  weft_ipc_recv_raw(ret);
  if (ret[0] == 0) return (weft_str_result){0, NULL};
  return (weft_str_result){1, weft_take(ret, 4)};
}

/** notifications.notify: ok (text NULL) or err (text = why). icon may be NULL (none). */
static inline weft_str_result weft_notify(const char *title, const char *body, const char *icon) {
  _Alignas(4) uint8_t ret[12];
  weft_notifications_notify_raw(title, strlen(title), body, strlen(body), icon != NULL, icon ? icon : "", icon ? strlen(icon) : 0, ret);
  if (ret[0] == 0) return (weft_str_result){1, NULL};
  return (weft_str_result){0, weft_take(ret, 4)};
}

/** fetch's response record, or the error. */
typedef struct {
  int ok;
  uint16_t status;
  char *content_type;  // NUL-terminated
  uint8_t *body;       // body_len bytes (+ a NUL, so text bodies can be printed)
  size_t body_len;
  char *error;         // when !ok
} weft_fetch_result;

/** fetch.fetch with no headers and no body. */
static inline weft_fetch_result weft_fetch(const char *url, const char *method) {
  // result<response, string>: disc @0; response { status u16 @4, content-type string @8, body list<u8> @16 }; err string @4.
  _Alignas(4) uint8_t ret[24];
  weft_fetch_raw(url, strlen(url), method, strlen(method), NULL, 0, 0, NULL, 0, ret);
  weft_fetch_result r = {0};
  if (ret[0] != 0) {
    r.error = weft_take(ret, 4);
    return r;
  }
  r.ok = 1;
  r.status = *(const uint16_t *)(ret + 4);
  r.content_type = weft_take(ret, 8);
  r.body_len = *(const uint32_t *)(ret + 20);
  r.body = (uint8_t *)weft_take(ret, 16);
  return r;
}

/**
 * Appends `s` (n bytes) to out as a JSON string, quotes included; returns the
 * new length or -1 if it does not fit in cap (out is NUL-terminated).
 * Control characters are escaped; other bytes (UTF-8) are copied as they are.
 */
static inline long weft_json_string(char *out, size_t len, size_t cap, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i <= n + 1; i++) {
    char buf[7];
    size_t k = 0;
    if (i == 0 || i == n + 1) buf[k++] = '"';
    else {
      unsigned char c = (unsigned char)s[i - 1];
      if (c == '"' || c == '\\') buf[k++] = '\\', buf[k++] = (char)c;
      else if (c == '\n') buf[k++] = '\\', buf[k++] = 'n';
      else if (c < 0x20) buf[k++] = '\\', buf[k++] = 'u', buf[k++] = '0', buf[k++] = '0', buf[k++] = hex[c >> 4], buf[k++] = hex[c & 15];
      else buf[k++] = (char)c;
    }
    if (len + k + 1 > cap) return -1;
    memcpy(out + len, buf, k);
    len += k;
  }
  out[len] = 0;
  return (long)len;
}

#endif

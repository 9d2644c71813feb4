// component_values.c — component-model values as bytes, so a host function
// running on a guest's thread can hand its arguments to the loop (JS) and
// build its results from the loop's answer. The JS side is
// src/runtime/component-values.ts; the two must agree on this format:
//
//   values   := u32 count, value*
//   value    := u8 kind, payload            (kinds are Wasmtime's, CV_* below)
//   bool s8 u8                     1 byte
//   s16 u16                        2 bytes
//   s32 u32 f32 char               4 bytes
//   s64 u64 f64                    8 bytes
//   string enum                    u32 len, UTF-8 bytes
//   list tuple                     u32 count, value*
//   bytes (a list<u8>)             u32 len, raw bytes   (kind 64; one byte per element, not 33)
//   record                         u32 count, (u32 len, name, value)*
//   variant                        u32 len, case name, u8 has, [value]
//   option                         u8 has, [value]
//   result                         u8 ok, u8 has, [value]
//   flags                          u32 count, (u32 len, name)*
//   map                            u32 count, (value key, value value)*
//
// Little-endian (weft runs on x86-64 and arm64 Linux). Resources cannot
// cross: they belong to the store.
#define _GNU_SOURCE
#include "component_values.h"

#include <dlfcn.h>
#include <string.h>

static struct {
  void (*byte_vec_new)(wasm_byte_vec_t *, size_t, const char *);
  wasmtime_component_val_t *(*val_new)(wasmtime_component_val_t *);
  void (*list_new_uninit)(cv_vals *, size_t);
  void (*tuple_new_uninit)(cv_vals *, size_t);
  void (*record_new_uninit)(cv_record_vec *, size_t);
  void (*flags_new_uninit)(cv_flags_vec *, size_t);
  void (*map_new_uninit)(cv_map_vec *, size_t);
} w;

int cv_bind(void *h) {
#define SYM(field, name) if (!(*(void **)&w.field = dlsym(h, name))) return -1;
  SYM(byte_vec_new, "wasm_byte_vec_new");
  SYM(val_new, "wasmtime_component_val_new");
  SYM(list_new_uninit, "wasmtime_component_vallist_new_uninit");
  SYM(tuple_new_uninit, "wasmtime_component_valtuple_new_uninit");
  SYM(record_new_uninit, "wasmtime_component_valrecord_new_uninit");
  SYM(flags_new_uninit, "wasmtime_component_valflags_new_uninit");
  SYM(map_new_uninit, "wasmtime_component_valmap_new_uninit");
#undef SYM
  return 0;
}

// ---- encode ------------------------------------------------------------------------
static long long scalar_size(uint8_t kind) {
  switch (kind) {
    case CV_BOOL: case CV_S8: case CV_U8: return 1;
    case CV_S16: case CV_U16: return 2;
    case CV_S32: case CV_U32: case CV_F32: case CV_CHAR: return 4;
    case CV_S64: case CV_U64: case CV_F64: return 8;
  }
  return -1;
}

static int all_u8(const cv_vals *l) {
  if (l->size == 0) return 0;
  for (size_t i = 0; i < l->size; i++)
    if (l->data[i].kind != CV_U8) return 0;
  return 1;
}

static long long size_of(const wasmtime_component_val_t *v) {
  long long s = scalar_size(v->kind), t;
  if (s >= 0) return 1 + s;
  switch (v->kind) {
    case CV_STRING: case CV_ENUM: return 1 + 4 + (long long)v->of.string.size;
    case CV_LIST:
      if (all_u8(&v->of.list)) return 1 + 4 + (long long)v->of.list.size;
      /* fallthrough */
    case CV_TUPLE:
      s = 1 + 4;
      for (size_t i = 0; i < v->of.list.size; i++) {
        if ((t = size_of(&v->of.list.data[i])) < 0) return -1;
        s += t;
      }
      return s;
    case CV_RECORD:
      s = 1 + 4;
      for (size_t i = 0; i < v->of.record.size; i++) {
        if ((t = size_of(&v->of.record.data[i].val)) < 0) return -1;
        s += 4 + (long long)v->of.record.data[i].name.size + t;
      }
      return s;
    case CV_VARIANT:
      s = 1 + 4 + (long long)v->of.variant.discriminant.size + 1;
      if (v->of.variant.val) {
        if ((t = size_of(v->of.variant.val)) < 0) return -1;
        s += t;
      }
      return s;
    case CV_OPTION:
      if (!v->of.option) return 2;
      return (t = size_of(v->of.option)) < 0 ? -1 : 2 + t;
    case CV_RESULT:
      if (!v->of.result.val) return 3;
      return (t = size_of(v->of.result.val)) < 0 ? -1 : 3 + t;
    case CV_FLAGS:
      s = 1 + 4;
      for (size_t i = 0; i < v->of.flags.size; i++) s += 4 + (long long)v->of.flags.data[i].size;
      return s;
    case CV_MAP:
      s = 1 + 4;
      for (size_t i = 0; i < v->of.map.size; i++) {
        long long k = size_of(&v->of.map.data[i].key), x = size_of(&v->of.map.data[i].value);
        if (k < 0 || x < 0) return -1;
        s += k + x;
      }
      return s;
  }
  return -1; // a resource, or a kind this build does not know
}

long long cv_encoded_size(const wasmtime_component_val_t *vals, size_t n) {
  long long s = 4, t;
  for (size_t i = 0; i < n; i++) {
    if ((t = size_of(&vals[i])) < 0) return -1;
    s += t;
  }
  return s;
}

static uint8_t *put_u32(uint8_t *p, size_t n) {
  uint32_t v = (uint32_t)n;
  memcpy(p, &v, 4);
  return p + 4;
}
static uint8_t *put_name(uint8_t *p, const wasm_byte_vec_t *s) {
  p = put_u32(p, s->size);
  if (s->size) memcpy(p, s->data, s->size);
  return p + s->size;
}

static uint8_t *encode(const wasmtime_component_val_t *v, uint8_t *p) {
  long long s = scalar_size(v->kind);
  if (v->kind == CV_LIST && all_u8(&v->of.list)) {
    *p++ = CV_BYTES;
    p = put_u32(p, v->of.list.size);
    for (size_t i = 0; i < v->of.list.size; i++) *p++ = v->of.list.data[i].of.u8;
    return p;
  }
  *p++ = v->kind;
  if (s >= 0) {
    memcpy(p, &v->of, (size_t)s);
    return p + s;
  }
  switch (v->kind) {
    case CV_STRING: case CV_ENUM: return put_name(p, &v->of.string);
    case CV_LIST: case CV_TUPLE:
      p = put_u32(p, v->of.list.size);
      for (size_t i = 0; i < v->of.list.size; i++) p = encode(&v->of.list.data[i], p);
      return p;
    case CV_RECORD:
      p = put_u32(p, v->of.record.size);
      for (size_t i = 0; i < v->of.record.size; i++) {
        p = put_name(p, &v->of.record.data[i].name);
        p = encode(&v->of.record.data[i].val, p);
      }
      return p;
    case CV_VARIANT:
      p = put_name(p, &v->of.variant.discriminant);
      *p++ = v->of.variant.val != NULL;
      return v->of.variant.val ? encode(v->of.variant.val, p) : p;
    case CV_OPTION:
      *p++ = v->of.option != NULL;
      return v->of.option ? encode(v->of.option, p) : p;
    case CV_RESULT:
      *p++ = v->of.result.is_ok;
      *p++ = v->of.result.val != NULL;
      return v->of.result.val ? encode(v->of.result.val, p) : p;
    case CV_FLAGS:
      p = put_u32(p, v->of.flags.size);
      for (size_t i = 0; i < v->of.flags.size; i++) p = put_name(p, &v->of.flags.data[i]);
      return p;
    case CV_MAP:
      p = put_u32(p, v->of.map.size);
      for (size_t i = 0; i < v->of.map.size; i++) {
        p = encode(&v->of.map.data[i].key, p);
        p = encode(&v->of.map.data[i].value, p);
      }
      return p;
  }
  return p; // unreachable: cv_encoded_size refused it
}

void cv_encode(const wasmtime_component_val_t *vals, size_t n, uint8_t *out) {
  out = put_u32(out, n);
  for (size_t i = 0; i < n; i++) out = encode(&vals[i], out);
}

// ---- check, then decode --------------------------------------------------------------
// The answer comes from our own JS, but a bug there must end in an error, not
// in Wasmtime reading a half-built value: everything is checked before
// anything is allocated, so decoding cannot fail halfway.
#define MAX_DEPTH 64

typedef struct { const uint8_t *p, *end; } rd;

static int get_u32(rd *r, uint32_t *v) {
  if (r->end - r->p < 4) return -1;
  memcpy(v, r->p, 4);
  r->p += 4;
  return 0;
}
static int skip(rd *r, size_t n) {
  if ((size_t)(r->end - r->p) < n) return -1;
  r->p += n;
  return 0;
}
/* Wasmtime's C API unwraps String::from_utf8 and char::from_u32 and reads
 * bools as Rust bools: a bad one aborts the process or is undefined
 * behaviour, so answers are checked for them here. */
static int utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) { i++; continue; }
    if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07;
    else return 0;
    if (n - i < len) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0; /* overlong */
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += len;
  }
  return 1;
}

static int skip_name(rd *r) {
  uint32_t n;
  if (get_u32(r, &n) < 0 || (size_t)(r->end - r->p) < n) return -1;
  if (!utf8_valid(r->p, n)) return -1;
  return skip(r, n);
}

static int is_bool(uint8_t b) { return b == 0 || b == 1; }

static int check_val(rd *r, int depth) {
  if (depth > MAX_DEPTH || r->p >= r->end) return -1;
  uint8_t kind = *r->p++;
  long long s = scalar_size(kind);
  if (s >= 0 && (size_t)(r->end - r->p) < (size_t)s) return -1;
  if (kind == CV_BOOL && !is_bool(*r->p)) return -1;
  if (kind == CV_CHAR) {
    uint32_t c;
    memcpy(&c, r->p, 4);
    if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return -1;
  }
  if (s >= 0) return skip(r, (size_t)s);
  uint32_t n;
  uint8_t has;
  switch (kind) {
    case CV_STRING: case CV_ENUM: return skip_name(r);
    case CV_BYTES: return get_u32(r, &n) < 0 ? -1 : skip(r, n);
    case CV_LIST: case CV_TUPLE: case CV_MAP:
      if (get_u32(r, &n) < 0) return -1;
      if (kind == CV_MAP && n > UINT32_MAX / 2) return -1;
      for (uint64_t i = 0; i < (kind == CV_MAP ? 2ull * n : n); i++)
        if (check_val(r, depth + 1) < 0) return -1;
      return 0;
    case CV_RECORD:
      if (get_u32(r, &n) < 0) return -1;
      for (uint32_t i = 0; i < n; i++)
        if (skip_name(r) < 0 || check_val(r, depth + 1) < 0) return -1;
      return 0;
    case CV_VARIANT:
      if (skip_name(r) < 0 || r->p >= r->end || !is_bool(*r->p)) return -1;
      has = *r->p++;
      return has ? check_val(r, depth + 1) : 0;
    case CV_OPTION:
      if (r->p >= r->end || !is_bool(*r->p)) return -1;
      has = *r->p++;
      return has ? check_val(r, depth + 1) : 0;
    case CV_RESULT:
      if (r->end - r->p < 2 || !is_bool(r->p[0]) || !is_bool(r->p[1])) return -1;
      has = r->p[1];
      r->p += 2;
      return has ? check_val(r, depth + 1) : 0;
    case CV_FLAGS:
      if (get_u32(r, &n) < 0) return -1;
      for (uint32_t i = 0; i < n; i++)
        if (skip_name(r) < 0) return -1;
      return 0;
  }
  return -1;
}

const char *cv_check(const uint8_t *buf, size_t len, size_t n) {
  rd r = {buf, buf + len};
  uint32_t count;
  if (get_u32(&r, &count) < 0) return "truncated answer";
  if (count != n) return "answer has the wrong number of results";
  for (uint32_t i = 0; i < count; i++)
    if (check_val(&r, 0) < 0) return "malformed answer";
  if (r.p != r.end) return "trailing bytes after the answer";
  return NULL;
}

static uint32_t take_u32(const uint8_t **p) {
  uint32_t v;
  memcpy(&v, *p, 4);
  *p += 4;
  return v;
}
static void take_name(const uint8_t **p, wasm_byte_vec_t *out) {
  uint32_t n = take_u32(p);
  w.byte_vec_new(out, n, (const char *)*p);
  *p += n;
}

static void decode(const uint8_t **p, wasmtime_component_val_t *v);

static wasmtime_component_val_t *boxed(const uint8_t **p) {
  wasmtime_component_val_t tmp;
  decode(p, &tmp);
  return w.val_new(&tmp); // moves tmp into a heap value Wasmtime owns
}

static void decode(const uint8_t **p, wasmtime_component_val_t *v) {
  memset(v, 0, sizeof *v);
  uint8_t kind = *(*p)++;
  long long s = scalar_size(kind);
  v->kind = kind;
  if (s >= 0) {
    memcpy(&v->of, *p, (size_t)s);
    *p += s;
    return;
  }
  uint32_t n;
  switch (kind) {
    case CV_STRING: case CV_ENUM: take_name(p, &v->of.string); return;
    case CV_BYTES:
      v->kind = CV_LIST;
      n = take_u32(p);
      w.list_new_uninit(&v->of.list, n);
      for (uint32_t i = 0; i < n; i++) {
        memset(&v->of.list.data[i], 0, sizeof v->of.list.data[i]);
        v->of.list.data[i].kind = CV_U8;
        v->of.list.data[i].of.u8 = (*p)[i];
      }
      *p += n;
      return;
    case CV_LIST: case CV_TUPLE:
      n = take_u32(p);
      (kind == CV_LIST ? w.list_new_uninit : w.tuple_new_uninit)(&v->of.list, n);
      for (uint32_t i = 0; i < n; i++) decode(p, &v->of.list.data[i]);
      return;
    case CV_RECORD:
      n = take_u32(p);
      w.record_new_uninit(&v->of.record, n);
      for (uint32_t i = 0; i < n; i++) {
        take_name(p, &v->of.record.data[i].name);
        decode(p, &v->of.record.data[i].val);
      }
      return;
    case CV_VARIANT:
      take_name(p, &v->of.variant.discriminant);
      v->of.variant.val = *(*p)++ ? boxed(p) : NULL;
      return;
    case CV_OPTION:
      v->of.option = *(*p)++ ? boxed(p) : NULL;
      return;
    case CV_RESULT:
      v->of.result.is_ok = (*p)[0] != 0;
      *p += 2;
      v->of.result.val = (*p)[-1] ? boxed(p) : NULL;
      return;
    case CV_FLAGS:
      n = take_u32(p);
      w.flags_new_uninit(&v->of.flags, n);
      for (uint32_t i = 0; i < n; i++) take_name(p, &v->of.flags.data[i]);
      return;
    case CV_MAP:
      n = take_u32(p);
      w.map_new_uninit(&v->of.map, n);
      for (uint32_t i = 0; i < n; i++) {
        decode(p, &v->of.map.data[i].key);
        decode(p, &v->of.map.data[i].value);
      }
      return;
  }
}

void cv_decode(const uint8_t *buf, wasmtime_component_val_t *out, size_t n) {
  const uint8_t *p = buf + 4;
  for (size_t i = 0; i < n; i++) decode(&p, &out[i]);
}

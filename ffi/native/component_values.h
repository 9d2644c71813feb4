// component_values.h — Wasmtime's component value type (from its C API v49,
// wasmtime/component/val.h; no headers ship with the wheel) and weft's byte
// encoding of such values, used by host calls to carry a function's arguments
// to the loop and its results back (see component_values.c for the format).
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct { size_t size; char *data; } wasm_byte_vec_t;

enum {
  CV_BOOL = 0, CV_S8, CV_U8, CV_S16, CV_U16, CV_S32, CV_U32, CV_S64, CV_U64, CV_F32, CV_F64, CV_CHAR,
  CV_STRING = 12, CV_LIST = 13, CV_RECORD = 14, CV_TUPLE = 15, CV_VARIANT = 16, CV_ENUM = 17,
  CV_OPTION = 18, CV_RESULT = 19, CV_FLAGS = 20, CV_RESOURCE = 21, CV_MAP = 22,
  // Not a Wasmtime kind: a list<u8> packed as raw bytes in the encoding only.
  CV_BYTES = 64,
};

typedef struct wasmtime_component_val wasmtime_component_val_t;
typedef struct { size_t size; wasmtime_component_val_t *data; } cv_vals;          // list, tuple
typedef struct { size_t size; struct cv_record_entry *data; } cv_record_vec;
typedef struct { size_t size; wasm_byte_vec_t *data; } cv_flags_vec;
typedef struct { size_t size; struct cv_map_entry *data; } cv_map_vec;

// 32 bytes: a u8 kind, then a 24-byte union at offset 8.
struct wasmtime_component_val {
  uint8_t kind;
  uint8_t pad_[7];
  union {
    bool boolean;
    int8_t s8;
    uint8_t u8;
    int16_t s16;
    uint16_t u16;
    int32_t s32;
    uint32_t u32;
    int64_t s64;
    uint64_t u64;
    float f32;
    double f64;
    uint32_t character;
    wasm_byte_vec_t string;                                       // string, enum
    cv_vals list;                                                 // list, tuple
    cv_record_vec record;
    struct { wasm_byte_vec_t discriminant; wasmtime_component_val_t *val; } variant;
    wasmtime_component_val_t *option;                             // NULL = none
    struct { bool is_ok; wasmtime_component_val_t *val; } result; // val NULL = unit
    cv_flags_vec flags;
    cv_map_vec map;
    void *resource;
    uint8_t raw[24];
  } of;
};
struct cv_record_entry { wasm_byte_vec_t name; wasmtime_component_val_t val; };
struct cv_map_entry { wasmtime_component_val_t key, value; };

/** Binds the Wasmtime allocation functions the decoder uses (dlopen handle). 0 or -1. */
int cv_bind(void *libwasmtime);

/**
 * Bytes needed to encode `n` values (a u32 count, then each value), or -1
 * when one holds something that cannot leave the store (a resource).
 */
long long cv_encoded_size(const wasmtime_component_val_t *vals, size_t n);
/** Writes the encoding cv_encoded_size measured into `out`. */
void cv_encode(const wasmtime_component_val_t *vals, size_t n, uint8_t *out);

/** NULL when `buf` holds exactly `n` well-formed values; else why not. After NULL, cv_decode cannot fail. */
const char *cv_check(const uint8_t *buf, size_t len, size_t n);
/** Builds the `n` values of a checked encoding into `out` (owned by the caller, as Wasmtime expects of results). */
void cv_decode(const uint8_t *buf, wasmtime_component_val_t *out, size_t n);

;; world: minimal
;; minimal: the smallest weft app, written by hand in the canonical ABI.
;; Imports only weft:app/notify and weft:app/ipc (no other weft:app
;; interface, no WASI): calls notify.ready(), then ipc.send("hello from a
;; minimal component"), and returns ok — or err if send failed (exit 1).
(module
  (import "weft:app/notify@0.1.0" "ready" (func $ready))
  ;; send: func(payload: string) -> result<_, string>: (ptr, len, return area)
  (import "weft:app/ipc@0.1.0" "send" (func $send (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from a minimal component")
  (global $heap (mut i32) (i32.const 1024))
  ;; A bump allocator: the host writes send's err string through it.
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.xor (i32.sub (local.get $align) (i32.const 1)) (i32.const -1))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.get $p))
  ;; run: func() -> result: 0 = ok, 1 = err
  (func (export "wasi:cli/run@0.2.12#run") (result i32)
    (call $ready)
    (call $send (i32.const 16) (i32.const 30) (i32.const 64))
    (i32.load8_u (i32.const 64)))
)

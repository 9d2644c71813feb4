;; start_sleeps: a start function that sleeps 30 ms (poll_oneoff on one
;; monotonic-clock subscription) and writes "slept\n" to stdout; _start traps
;; if the sleep failed.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; subscription at 0 (48 bytes): userdata 0, tag 0 = clock; clock id 1 (monotonic) at 16, timeout at 24 (ns, relative)
  (data (i32.const 16) "\01")
  (data (i32.const 24) "\80\c3\c9\01") ;; 30 000 000
  ;; iovec at 200 -> 6 bytes at 300
  (data (i32.const 200) "\2c\01\00\00\06")
  (data (i32.const 300) "slept\n")
  (global $rc (mut i32) (i32.const -1))
  (func $start
    (global.set $rc (call $poll (i32.const 0) (i32.const 100) (i32.const 1) (i32.const 400)))
    (drop (call $write (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 404))))
  (start $start)
  (func (export "_start") (if (global.get $rc) (then unreachable))))

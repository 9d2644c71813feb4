;; world: minimal
;; spin-start: a component whose core module's start function never returns.
;; It runs while the component is instantiated, before run: weft must do that
;; on the guest's thread (the loop stays free) and a stop must end it.
(module
  (memory (export "memory") 1)
  (func $spin (loop $l (br $l)))
  (start $spin)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0))
  (func (export "wasi:cli/run@0.2.12#run") (result i32) (i32.const 0))
)

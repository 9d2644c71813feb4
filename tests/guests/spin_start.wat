;; spin_start: a start function that never returns (it runs while the module
;; is instantiated, before _start — on the guest's own thread). C cannot emit
;; a start section, hence WebAssembly text.
(module
  (func $spin (loop $l (br $l)))
  (start $spin)
  (func (export "_start")))

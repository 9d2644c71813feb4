;; world: no-run (not a command)
;; no-run: a valid component that is not a command — it exports no
;; wasi:cli/run, so there is nothing for weft to run.
(module
  (memory (export "memory") 1)
)

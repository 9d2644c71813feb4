;; big_memory: asks for 200 pages (12.5 MiB) of memory up front — refused at
;; instantiation when the guest's memory limit is lower.
(module
  (memory 200)
  (func (export "_start")))

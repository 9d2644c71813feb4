// Unbounded recursion: must end in Wasmtime's "call stack exhausted" trap.
// The call goes through a volatile function pointer and its result is used
// afterwards, so the optimizer can neither inline it nor turn it into a loop;
// no locals live in linear memory, so the wasm stack runs out first.
#include <stdio.h>
static int down(int n);
static int (*volatile next)(int) = down;
static int down(int n) { return next(n + 1) * 31 + n; }
int main(void) {
  printf("%d\n", next(0));
  return 0;
}

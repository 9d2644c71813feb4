// Integer division by zero: expect trap "integer divide by zero". Both
// operands are volatile: with a known dividend (say 1 / b) LLVM rewrites the
// division into a compare-and-select, since dividing by zero is undefined.
#include <stdio.h>
int main(void) {
  volatile int dividend = 1, divisor = 0;
  int q = dividend / divisor;
  printf("%d\n", q);
  return 0;
}

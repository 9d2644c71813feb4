// Allocates (and touches) 1 MiB chunks until malloc fails, reports how far it
// got, then aborts. "oom big" tries one 1 GiB allocation instead. Every block
// is linked into a list the program reads back, so the compiler cannot elide
// the allocations.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct block { struct block *next; char data[(1 << 20) - sizeof(void *)]; };
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "big") == 0) {
    char *volatile p = malloc(1u << 30);
    if (!p) { printf("1 GiB refused\n"); fflush(stdout); abort(); }
    p[0] = 1;
    printf("1 GiB granted\n");
    return 0;
  }
  struct block *head = NULL;
  for (;;) {
    struct block *b = malloc(sizeof *b);
    if (!b) break;
    memset(b->data, 1, sizeof b->data);
    b->next = head;
    head = b;
  }
  int mib = 0;
  for (struct block *b = head; b; b = b->next) mib += b->data[mib & 1023];
  printf("allocated %d MiB\n", mib);
  fflush(stdout);
  abort();
}

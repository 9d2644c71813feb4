// A child larger than a host call's arguments may be (1 MiB): 3 MiB of data
// section (non-zero at both ends, so the linker keeps it all). Prints its
// size and its arguments; spawned with process.spawn-file.
#define WEFT_CELL_IMPLEMENTATION
#include "weft_cell.h"

#define PAD (3u << 20)
static const volatile unsigned char pad[PAD] = {[0] = 7, [PAD / 2] = 8, [PAD - 1] = 9};

int main(int argc, char **argv) {
  printf("big child: %u bytes of data (%u %u %u)", PAD, pad[0], pad[PAD / 2], pad[PAD - 1]);
  for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
  printf("\n");
  return 0;
}
